//! Dead jobs, for operators: list them, and bring one back.

use std::sync::Arc;

use domain::{
    error::InfraError,
    event::MessageId,
    ports::{Clock, DeadJob, JobQueue},
};

/// Lists the dead jobs, most recently dead first.
#[derive(Clone)]
pub struct ListDeadJobs {
    queue: Arc<dyn JobQueue>,
}

impl std::fmt::Debug for ListDeadJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListDeadJobs").finish_non_exhaustive()
    }
}

impl ListDeadJobs {
    /// Builds the use case.
    pub fn new(queue: Arc<dyn JobQueue>) -> Self {
        Self { queue }
    }

    /// Up to `limit` dead jobs.
    ///
    /// # Errors
    /// Returns [`InfraError`] when storage fails.
    pub async fn execute(&self, limit: u32) -> Result<Vec<DeadJob>, InfraError> {
        self.queue.dead(limit).await
    }
}

/// Requeues one dead job, with a fresh set of attempts.
#[derive(Clone)]
pub struct RetryDeadJob {
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RetryDeadJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryDeadJob").finish_non_exhaustive()
    }
}

impl RetryDeadJob {
    /// Builds the use case.
    pub fn new(queue: Arc<dyn JobQueue>, clock: Arc<dyn Clock>) -> Self {
        Self { queue, clock }
    }

    /// Makes the dead job `id` due now. Returns `false` when no dead job has that id.
    ///
    /// # Errors
    /// Returns [`InfraError`] when storage fails.
    #[tracing::instrument(name = "retry_dead_job", skip_all, fields(job_id = %id))]
    pub async fn execute(&self, id: MessageId) -> Result<bool, InfraError> {
        let requeued = self.queue.retry(id, self.clock.now()).await?;
        if requeued {
            tracing::info!("dead job requeued");
        }
        Ok(requeued)
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockJobQueue;
    use uuid::Uuid;

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn a_retry_is_due_at_once() {
        let id = MessageId::from_uuid(Uuid::now_v7());
        let mut queue = MockJobQueue::new();
        queue
            .expect_retry()
            .withf(move |i, now| *i == id && *now == T0)
            .times(1)
            .returning(|_, _| Ok(true));
        assert!(
            RetryDeadJob::new(Arc::new(queue), fixed_clock())
                .execute(id)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_dead_are_listed_as_the_queue_has_them() {
        let mut queue = MockJobQueue::new();
        queue
            .expect_dead()
            .withf(|limit| *limit == 50)
            .returning(|_| Ok(Vec::new()));
        assert!(
            ListDeadJobs::new(Arc::new(queue))
                .execute(50)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
