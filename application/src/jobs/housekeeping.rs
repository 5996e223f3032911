//! The periodic housekeeping job: forget what is no longer needed.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use domain::{
    error::InfraError,
    ports::{IdempotencyRecords, JobQueue, ScheduleLedger},
};

/// The name of the housekeeping job in the schedule ledger.
pub const HOUSEKEEPING_JOB: &str = "housekeeping";

/// What one housekeeping run removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Delivered jobs older than the retention.
    pub jobs: u64,
    /// Schedule ticks older than the retention.
    pub ticks: u64,
    /// Idempotency keys older than their time to live.
    pub keys: u64,
}

/// Deletes delivered jobs, and claimed schedule ticks, older than the retention, and
/// idempotency keys older than their time to live. Pending and dead jobs are kept however
/// old: they are work not yet done.
#[derive(Clone)]
pub struct Housekeeping {
    queue: Arc<dyn JobQueue>,
    ledger: Arc<dyn ScheduleLedger>,
    keys: Arc<dyn IdempotencyRecords>,
    retention: TimeDelta,
    key_ttl: TimeDelta,
}

impl std::fmt::Debug for Housekeeping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Housekeeping")
            .field("retention", &self.retention)
            .field("key_ttl", &self.key_ttl)
            .finish_non_exhaustive()
    }
}

impl Housekeeping {
    /// Builds the use case.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        ledger: Arc<dyn ScheduleLedger>,
        keys: Arc<dyn IdempotencyRecords>,
        retention: TimeDelta,
        key_ttl: TimeDelta,
    ) -> Self {
        Self {
            queue,
            ledger,
            keys,
            retention,
            key_ttl,
        }
    }

    /// Runs the tick scheduled at `tick`, unless another worker has; `None` then.
    ///
    /// # Errors
    /// Returns [`InfraError`] when storage fails.
    #[tracing::instrument(name = "housekeeping", skip_all, fields(%tick))]
    pub async fn run(&self, tick: DateTime<Utc>) -> Result<Option<HousekeepingReport>, InfraError> {
        if !self.ledger.claim_tick(HOUSEKEEPING_JOB, tick).await? {
            return Ok(None);
        }
        let before = tick - self.retention;
        let report = HousekeepingReport {
            jobs: self.queue.purge_delivered(before).await?,
            ticks: self.ledger.purge(before).await?,
            keys: self.keys.purge(tick - self.key_ttl).await?,
        };
        self.ledger.complete_tick(HOUSEKEEPING_JOB, tick).await?;
        if report.jobs > 0 || report.keys > 0 {
            tracing::info!(
                jobs = report.jobs,
                ticks = report.ticks,
                keys = report.keys,
                "old delivered jobs and idempotency keys deleted"
            );
        }
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{MockIdempotencyRecords, MockJobQueue, MockScheduleLedger};

    use super::*;
    use crate::test_support::T0;

    #[tokio::test]
    async fn delivered_jobs_and_ticks_older_than_the_retention_are_deleted() {
        let before = T0 - TimeDelta::days(7);
        let mut queue = MockJobQueue::new();
        queue
            .expect_purge_delivered()
            .withf(move |at| *at == before)
            .times(1)
            .returning(|_| Ok(12));
        let mut ledger = MockScheduleLedger::new();
        ledger
            .expect_claim_tick()
            .withf(|job, at| job == HOUSEKEEPING_JOB && *at == T0)
            .returning(|_, _| Ok(true));
        ledger
            .expect_purge()
            .withf(move |at| *at == before)
            .returning(|_| Ok(3));
        ledger
            .expect_complete_tick()
            .withf(|job, at| job == HOUSEKEEPING_JOB && *at == T0)
            .times(1)
            .returning(|_, _| Ok(()));

        let mut keys = MockIdempotencyRecords::new();
        keys.expect_purge()
            .withf(|at| *at == T0 - TimeDelta::hours(24))
            .times(1)
            .returning(|_| Ok(5));

        let report = Housekeeping::new(
            Arc::new(queue),
            Arc::new(ledger),
            Arc::new(keys),
            TimeDelta::days(7),
            TimeDelta::hours(24),
        )
        .run(T0)
        .await
        .unwrap();

        assert_eq!(
            report,
            Some(HousekeepingReport {
                jobs: 12,
                ticks: 3,
                keys: 5
            })
        );
    }

    #[tokio::test]
    async fn a_tick_another_worker_claimed_deletes_nothing() {
        let mut queue = MockJobQueue::new();
        queue.expect_purge_delivered().never();
        let mut ledger = MockScheduleLedger::new();
        ledger.expect_claim_tick().returning(|_, _| Ok(false));
        ledger.expect_purge().never();
        let mut keys = MockIdempotencyRecords::new();
        keys.expect_purge().never();

        let report = Housekeeping::new(
            Arc::new(queue),
            Arc::new(ledger),
            Arc::new(keys),
            TimeDelta::days(7),
            TimeDelta::hours(24),
        )
        .run(T0)
        .await
        .unwrap();

        assert_eq!(report, None);
    }
}
