//! Idempotency records on Postgres (see the `idempotency_keys` migration).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    error::{InfraError, RepositoryError},
    idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord, Outcome},
    ports::IdempotencyRecords,
    user::UserId,
};
use driven_records::OutcomeRecord;
use sqlx::{PgPool, Row, types::Json};

use crate::{db::Db, error};

/// [`IdempotencyRecords`] on Postgres: on the pool, or inside a transaction.
#[derive(Debug, Clone)]
pub struct PgIdempotencyRecords {
    db: Db,
}

impl PgIdempotencyRecords {
    /// Records read and purged on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::Pool(pool) }
    }

    pub(crate) fn in_transaction(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl IdempotencyRecords for PgIdempotencyRecords {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.idempotency.record", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn record(&self, record: &IdempotencyRecord) -> Result<(), RepositoryError> {
        let mut conn = self.db.conn().await?;
        // A plain insert: under a key a concurrent transaction holds, Postgres makes it
        // wait for that transaction, then fails it on the primary key or lets it in.
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, outcome, recorded_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.user.as_uuid())
        .bind(record.key.as_str())
        .bind(record.fingerprint.as_bytes().as_slice())
        .bind(Json(OutcomeRecord::from(&record.outcome)))
        .bind(record.recorded_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| error::write("record an idempotency key", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.idempotency.find", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn find(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InfraError> {
        let mut conn = self.db.conn().await?;
        let row = sqlx::query(
            "SELECT fingerprint, outcome, recorded_at FROM idempotency_keys \
             WHERE user_id = $1 AND key = $2",
        )
        .bind(user.as_uuid())
        .bind(key.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| error::infra("read an idempotency key", e))?;
        let Some(row) = row else { return Ok(None) };
        let read = |e| error::infra("read an idempotency key", e);
        let fingerprint: Vec<u8> = row.try_get("fingerprint").map_err(read)?;
        let fingerprint: [u8; 32] = fingerprint.try_into().map_err(|_| {
            InfraError::internal("read an idempotency key", "a fingerprint is not 32 bytes")
        })?;
        let Json(outcome): Json<OutcomeRecord> = row.try_get("outcome").map_err(read)?;
        Ok(Some(IdempotencyRecord {
            user,
            key: key.clone(),
            fingerprint: Fingerprint::from_bytes(fingerprint),
            outcome: Outcome::try_from(outcome)?,
            recorded_at: row.try_get("recorded_at").map_err(read)?,
        }))
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.idempotency.purge", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut conn = self.db.conn().await?;
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE recorded_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(|e| error::infra("purge idempotency keys", e))?;
        Ok(done.rows_affected())
    }
}
