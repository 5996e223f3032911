//! The outbox, the job queue and the schedule ledger on Postgres (see the outbox
//! migration for the table and why each index is there).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    error::InfraError,
    event::{JobKind, MessageId, OutboxMessage},
    ports::{Claim, ClaimedJob, DeadJob, JobQueue, Outbox, QueueStats, ScheduleLedger},
};
use driven_records::MessageRecord;
use sqlx::{PgPool, Row, types::Json};
use uuid::Uuid;

use crate::{db::Db, error};

/// The [`Outbox`] of one Postgres transaction: an `INSERT` on the transaction's connection.
#[derive(Debug, Clone)]
pub(crate) struct PgOutbox {
    pub(crate) db: Db,
}

#[async_trait]
impl Outbox for PgOutbox {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.outbox.record", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn record(&self, message: &OutboxMessage) -> Result<bool, InfraError> {
        let mut conn = self.db.conn().await?;
        // `ON CONFLICT` on the dedupe key only: two messages with the same id would be a
        // broken id generator, and that must fail loudly, not vanish.
        let inserted = sqlx::query(
            "INSERT INTO outbox (id, kind, dedupe_key, payload, trace_parent) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(message.id().as_uuid())
        .bind(message.kind().as_str())
        .bind(message.dedupe_key())
        .bind(Json(MessageRecord::from(message)))
        .bind(trace_context::current())
        .execute(&mut *conn)
        .await
        .map_err(|e| error::infra("record outbox message", e))?;
        Ok(inserted.rows_affected() == 1)
    }
}

/// [`JobQueue`] on Postgres.
#[derive(Debug, Clone)]
pub struct PgJobQueue {
    pool: PgPool,
}

impl PgJobQueue {
    /// A queue over the `outbox` table in `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn kind_of(name: &str) -> Result<JobKind, InfraError> {
    JobKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .ok_or_else(|| InfraError::internal("read outbox row", format!("unknown kind {name:?}")))
}

/// `claims` as the two arrays a statement unnests.
fn columns(claims: &[Claim]) -> (Vec<Uuid>, Vec<i32>) {
    claims
        .iter()
        .map(|c| (c.id.as_uuid(), i32::try_from(c.attempt).unwrap_or(i32::MAX)))
        .unzip()
}

fn attempts_of(n: i32) -> u32 {
    // The column has a CHECK (attempts >= 0).
    u32::try_from(n).unwrap_or(0)
}

#[async_trait]
impl JobQueue for PgJobQueue {
    // TRACE, not DEBUG like the other port calls: the worker claims on every poll and
    // mostly finds nothing, and an exporter would send a trace a second from an idle one.
    #[tracing::instrument(target = "ports", level = "trace", name = "db.jobs.claim", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, InfraError> {
        // One statement: pick the due rows nobody else is claiming right now (SKIP
        // LOCKED: concurrent workers take disjoint rows instead of waiting on each
        // other), then count the attempt and push the row out of sight until the lease
        // ends. The row locks last only as long as this statement's transaction. A row
        // with an earlier pending row of the same todo waits its turn, whoever holds that
        // one: the check reads it whether it is locked, leased or due.
        let rows = sqlx::query(
            "WITH due AS ( \
                 SELECT id FROM outbox o \
                 WHERE delivered_at IS NULL AND dead_at IS NULL \
                   AND (available_at IS NULL OR available_at <= $1) \
                   AND NOT EXISTS ( \
                       SELECT 1 FROM outbox e \
                       WHERE e.ordering_key = o.ordering_key AND e.id < o.id \
                         AND e.delivered_at IS NULL AND e.dead_at IS NULL) \
                 ORDER BY id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox o SET attempts = o.attempts + 1, available_at = $2 \
             FROM due WHERE o.id = due.id \
             RETURNING o.id, o.payload, o.attempts, o.recorded_at, o.trace_parent",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error::infra("claim jobs", e))?;
        let mut jobs = rows
            .into_iter()
            .map(|row| {
                let Json(record): Json<MessageRecord> = row
                    .try_get("payload")
                    .map_err(|e| error::infra("read outbox row", e))?;
                Ok(ClaimedJob {
                    message: OutboxMessage::try_from(record)?,
                    attempt: attempts_of(
                        row.try_get("attempts")
                            .map_err(|e| error::infra("read outbox row", e))?,
                    ),
                    recorded_at: row
                        .try_get("recorded_at")
                        .map_err(|e| error::infra("read outbox row", e))?,
                    trace_parent: row
                        .try_get("trace_parent")
                        .map_err(|e| error::infra("read outbox row", e))?,
                })
            })
            .collect::<Result<Vec<_>, InfraError>>()?;
        // RETURNING has no order of its own; deliver oldest first.
        jobs.sort_by_key(|job| job.message.id());
        Ok(jobs)
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.complete", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn complete(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError> {
        if claims.is_empty() {
            return Ok(());
        }
        let (ids, attempts) = columns(claims);
        // Each (id, attempt) pair as a row; a row whose attempt is no longer the job's
        // latest matches nothing.
        sqlx::query(
            "UPDATE outbox o SET delivered_at = $3, dead_at = NULL \
             FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt) \
             WHERE o.id = c.id AND o.attempts = c.attempt AND o.delivered_at IS NULL",
        )
        .bind(ids)
        .bind(attempts)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("mark job delivered", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.release", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn release(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError> {
        if claims.is_empty() {
            return Ok(());
        }
        let (ids, attempts) = columns(claims);
        sqlx::query(
            "UPDATE outbox o SET available_at = $3 \
             FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt) \
             WHERE o.id = c.id AND o.attempts = c.attempt \
               AND o.delivered_at IS NULL AND o.dead_at IS NULL",
        )
        .bind(ids)
        .bind(attempts)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("give back claimed jobs", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.fail", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn fail(
        &self,
        id: MessageId,
        attempt: u32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError> {
        let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
        sqlx::query(
            "UPDATE outbox SET last_error = $3, \
                 available_at = COALESCE($4, available_at), \
                 dead_at = CASE WHEN $4 IS NULL THEN $5 END \
             WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL AND dead_at IS NULL",
        )
        .bind(id.as_uuid())
        .bind(attempt)
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("record job failure", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.dead", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn dead(&self, limit: u32) -> Result<Vec<DeadJob>, InfraError> {
        let rows = sqlx::query(
            "SELECT id, kind, attempts, last_error, recorded_at, dead_at FROM outbox \
             WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error::infra("list dead jobs", e))?;
        rows.into_iter()
            .map(|row| {
                let read = |e| error::infra("read outbox row", e);
                let kind: String = row.try_get("kind").map_err(read)?;
                let last_error: Option<String> = row.try_get("last_error").map_err(read)?;
                Ok(DeadJob {
                    id: MessageId::from_uuid(row.try_get::<Uuid, _>("id").map_err(read)?),
                    kind: kind_of(&kind)?,
                    attempts: attempts_of(row.try_get("attempts").map_err(read)?),
                    last_error: last_error.unwrap_or_default(),
                    recorded_at: row.try_get("recorded_at").map_err(read)?,
                    died_at: row.try_get("dead_at").map_err(read)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.retry", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn retry(&self, id: MessageId, now: DateTime<Utc>) -> Result<bool, InfraError> {
        let done = sqlx::query(
            "UPDATE outbox SET dead_at = NULL, attempts = 0, available_at = $2 \
             WHERE id = $1 AND dead_at IS NOT NULL",
        )
        .bind(id.as_uuid())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("requeue dead job", e))?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.purge_delivered", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let done = sqlx::query("DELETE FROM outbox WHERE delivered_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(|e| error::infra("purge delivered jobs", e))?;
        Ok(done.rows_affected())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.jobs.stats", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn stats(&self) -> Result<QueueStats, InfraError> {
        // Both counts use the partial indexes; neither scans delivered rows.
        let row = sqlx::query(
            "SELECT \
                 (SELECT count(*) FROM outbox \
                  WHERE delivered_at IS NULL AND dead_at IS NULL) AS backlog, \
                 (SELECT min(recorded_at) FROM outbox \
                  WHERE delivered_at IS NULL AND dead_at IS NULL) AS oldest, \
                 (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL) AS dead",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error::infra("measure job queue", e))?;
        let read = |e| error::infra("read queue stats", e);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(QueueStats {
            backlog: count(row.try_get("backlog").map_err(read)?),
            oldest_recorded_at: row.try_get("oldest").map_err(read)?,
            dead: count(row.try_get("dead").map_err(read)?),
        })
    }
}

/// [`ScheduleLedger`] on Postgres: a row per tick, and the primary key decides who won.
#[derive(Debug, Clone)]
pub struct PgScheduleLedger {
    pool: PgPool,
}

impl PgScheduleLedger {
    /// A ledger in `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ScheduleLedger for PgScheduleLedger {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.schedule.claim_tick", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<bool, InfraError> {
        let done = sqlx::query(
            "INSERT INTO schedule_ticks (job, tick) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(job)
        .bind(tick)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("claim schedule tick", e))?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.schedule.complete_tick", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn complete_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<(), InfraError> {
        sqlx::query(
            "INSERT INTO schedule_ticks (job, tick, completed_at) VALUES ($1, $2, now()) \
             ON CONFLICT (job, tick) DO UPDATE SET completed_at = now()",
        )
        .bind(job)
        .bind(tick)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("mark schedule tick done", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.schedule.last_completed", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn last_completed(&self, job: &str) -> Result<Option<DateTime<Utc>>, InfraError> {
        sqlx::query_scalar(
            "SELECT max(tick) FROM schedule_ticks WHERE job = $1 AND completed_at IS NOT NULL",
        )
        .bind(job)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error::infra("read the last finished tick", e))
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.schedule.purge", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        // Each job's latest finished tick stays, however old: it is where a job that has
        // not run for a while catches up from.
        let done = sqlx::query(
            "DELETE FROM schedule_ticks t WHERE t.tick < $1 AND t.tick IS DISTINCT FROM ( \
                 SELECT max(tick) FROM schedule_ticks l \
                 WHERE l.job = t.job AND l.completed_at IS NOT NULL)",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(|e| error::infra("purge schedule ticks", e))?;
        Ok(done.rows_affected())
    }
}
