//! Delivering claimed jobs, with retries and dead letters.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use domain::{
    error::InfraError,
    event::{JobKind, MessageId, OutboxMessage},
    ports::{ClaimedJob, Clock, EventPublisher, JobQueue, Notifier},
};

/// When to try a failed job again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last one fails, the job is dead.
    pub max_attempts: u32,
    /// The delay after the first failure; each further failure doubles it.
    pub base_delay: Duration,
    /// The longest delay, however many failures.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait before the attempt after `attempt` failed, or `None` when that was the
    /// last. Exponential, capped, with "equal jitter": half the delay is fixed and the
    /// other half spread over the jobs, so that jobs that failed together (Redis went
    /// down) do not all come back in the same instant.
    ///
    /// The spread is derived from the job's id and the attempt rather than drawn at
    /// random, so the same failure always gets the same delay: the use case needs no random
    /// source, and a test can predict it.
    pub fn delay(&self, id: MessageId, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let half = full / 2;
        // A UUIDv7 ends in 62 random bits; mixing in the attempt (splitmix64's constant)
        // gives each retry of each job its own point in [0, 1).
        let bits = (id.as_uuid().as_u128() as u64)
            ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let fraction =
            (bits.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 11) as f64 / (1u64 << 53) as f64;
        Some(half + half.mul_f64(fraction))
    }
}

/// The error and its causes on one line, as the job's `last_error` for operators (`backend
/// jobs dead`). Adapters keep secrets out of their errors, as they do for logs.
fn describe(error: &InfraError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What became of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered and marked done.
    Delivered,
    /// Failed; it will be tried again from this time.
    Retrying(DateTime<Utc>),
    /// Failed for the last time.
    Dead,
}

/// One job's outcome, for the worker's logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobOutcome {
    /// Which kind of job.
    pub kind: JobKind,
    /// Which attempt it was.
    pub attempt: u32,
    /// What became of it.
    pub delivery: Delivery,
    /// From the commit that recorded it to the end of this attempt.
    pub age: chrono::TimeDelta,
}

/// Claims a batch of due jobs and delivers each: events to the publisher, reminders to the
/// notifier. A job that fails is retried later by the [`RetryPolicy`], and dead when the
/// policy gives up; a job whose worker dies is claimed again when its lease runs out.
#[derive(Clone)]
pub struct DeliverJobs {
    queue: Arc<dyn JobQueue>,
    publisher: Arc<dyn EventPublisher>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    lease: chrono::TimeDelta,
    batch: u32,
}

impl std::fmt::Debug for DeliverJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverJobs")
            .field("policy", &self.policy)
            .field("lease", &self.lease)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl DeliverJobs {
    /// Builds the use case. `lease` must be longer than a whole batch's deliveries take
    /// (each adapter bounds its own call), or a slow batch is delivered twice.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        publisher: Arc<dyn EventPublisher>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
        lease: Duration,
        batch: u32,
    ) -> Self {
        Self {
            queue,
            publisher,
            notifier,
            clock,
            policy,
            lease: chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX),
            batch: batch.max(1),
        }
    }

    /// How many jobs one call claims at most.
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// Claims up to one batch and delivers it: the batch's events in one
    /// [`EventPublisher::publish_all`] call, in order, then each reminder; then marks
    /// everything that went out delivered, in one call. Returns what became of each job;
    /// an empty list means nothing was due.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the queue cannot be reached. A job that was delivered
    /// but could not be marked so stays claimed until its lease ends, and is delivered
    /// again then: that is the "at least once".
    #[tracing::instrument(name = "deliver_jobs", skip_all)]
    pub async fn run_once(&self) -> Result<Vec<JobOutcome>, InfraError> {
        let now = self.clock.now();
        let jobs = self.queue.claim(now, now + self.lease, self.batch).await?;
        // Split by kind, keeping each kind's order: events go out as one batch.
        let mut events = Vec::new();
        let mut batch = Vec::new();
        let mut reminders = Vec::new();
        for job in jobs {
            match &job.message {
                OutboxMessage::TodoEvent(event) => {
                    batch.push(event.clone());
                    events.push(job);
                }
                OutboxMessage::Reminder(reminder) => {
                    let reminder = reminder.clone();
                    reminders.push((job, reminder));
                }
            }
        }

        let mut results = Vec::with_capacity(events.len() + reminders.len());
        if !batch.is_empty() {
            let result = self
                .publisher
                .publish_all(&batch)
                .await
                .map_err(|e| describe(&e));
            results.extend(events.into_iter().map(|job| (job, result.clone())));
        }
        for (job, reminder) in reminders {
            let result = self
                .notifier
                .notify(&reminder)
                .await
                .map_err(|e| describe(&e));
            results.push((job, result));
        }

        let now = self.clock.now();
        let delivered: Vec<MessageId> = results
            .iter()
            .filter(|(_, result)| result.is_ok())
            .map(|(job, _)| job.message.id())
            .collect();
        self.queue.complete(&delivered, now).await?;
        let mut outcomes = Vec::with_capacity(results.len());
        for (job, result) in results {
            let delivery = match result {
                Ok(()) => Delivery::Delivered,
                Err(cause) => self.failed(&job, &cause, now).await?,
            };
            outcomes.push(JobOutcome {
                kind: job.message.kind(),
                attempt: job.attempt,
                delivery,
                age: now - job.recorded_at,
            });
        }
        Ok(outcomes)
    }

    /// Records a failed attempt: retried later, or dead after the last.
    async fn failed(
        &self,
        job: &ClaimedJob,
        cause: &str,
        now: DateTime<Utc>,
    ) -> Result<Delivery, InfraError> {
        let id = job.message.id();
        let kind = job.message.kind();
        let retry_at = self
            .policy
            .delay(id, job.attempt)
            .and_then(|d| chrono::TimeDelta::from_std(d).ok())
            .map(|d| now + d);
        self.queue
            .fail(id, job.attempt, cause, retry_at, now)
            .await?;
        Ok(match retry_at {
            Some(at) => {
                tracing::warn!(job_id = %id, %kind, attempt = job.attempt, retry_at = %at, error = %cause, "job failed; will retry");
                Delivery::Retrying(at)
            }
            None => {
                tracing::error!(job_id = %id, %kind, attempt = job.attempt, error = %cause, "job failed for the last time; it is dead");
                Delivery::Dead
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::{
        event::{Reminder, TodoChange, TodoEvent},
        ports::{MockEventPublisher, MockJobQueue, MockNotifier},
        todo::{DueDate, Title, TodoId, Version},
        user::UserId,
    };
    use uuid::Uuid;

    use super::*;
    use crate::test_support::*;

    fn event() -> OutboxMessage {
        OutboxMessage::TodoEvent(TodoEvent {
            id: MessageId::from_uuid(Uuid::now_v7()),
            occurred_at: T0,
            owner: UserId::from_uuid(Uuid::now_v7()),
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            version: Version::INITIAL,
            change: TodoChange::Created,
        })
    }

    fn reminder() -> OutboxMessage {
        OutboxMessage::Reminder(Reminder {
            id: MessageId::from_uuid(Uuid::now_v7()),
            owner: UserId::from_uuid(Uuid::now_v7()),
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            title: Title::new("Pay rent").unwrap(),
            due_date: DueDate::parse("2026-01-01").unwrap(),
        })
    }

    fn claimed(message: OutboxMessage, attempt: u32) -> ClaimedJob {
        ClaimedJob {
            message,
            attempt,
            recorded_at: T0 - chrono::TimeDelta::seconds(2),
        }
    }

    /// A queue that hands out `jobs` once and records every report.
    fn queue_of(jobs: Vec<ClaimedJob>, reports: Arc<Mutex<Vec<String>>>) -> MockJobQueue {
        let mut queue = MockJobQueue::new();
        let batch = Mutex::new(Some(jobs));
        queue
            .expect_claim()
            .withf(|now, lease_until, limit| {
                *now == T0 && *lease_until == T0 + chrono::TimeDelta::seconds(30) && *limit == 8
            })
            .returning(move |_, _, _| Ok(batch.lock().unwrap().take().unwrap_or_default()));
        let done = reports.clone();
        queue.expect_complete().times(1).returning(move |ids, at| {
            assert_eq!(at, T0);
            for id in ids {
                done.lock().unwrap().push(format!("done {id}"));
            }
            Ok(())
        });
        queue
            .expect_fail()
            .returning(move |id, attempt, error, retry_at, _| {
                reports.lock().unwrap().push(format!(
                    "fail {id} #{attempt} {error} {}",
                    retry_at.map_or("dead".into(), |t| t.to_rfc3339())
                ));
                Ok(())
            });
        queue
    }

    fn use_case(
        queue: MockJobQueue,
        publisher: MockEventPublisher,
        notifier: MockNotifier,
    ) -> DeliverJobs {
        DeliverJobs::new(
            Arc::new(queue),
            Arc::new(publisher),
            Arc::new(notifier),
            fixed_clock(),
            RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(60),
            },
            Duration::from_secs(30),
            8,
        )
    }

    #[tokio::test]
    async fn events_go_to_the_publisher_and_reminders_to_the_notifier_then_are_marked_done() {
        let (e, r) = (event(), reminder());
        let reports = Arc::new(Mutex::new(Vec::new()));
        let queue = queue_of(
            vec![claimed(e.clone(), 1), claimed(r.clone(), 1)],
            reports.clone(),
        );
        let mut publisher = MockEventPublisher::new();
        let published = e.clone();
        publisher
            .expect_publish_all()
            .withf(move |events| {
                events.len() == 1 && OutboxMessage::TodoEvent(events[0].clone()) == published
            })
            .times(1)
            .returning(|_| Ok(()));
        let mut notifier = MockNotifier::new();
        let sent = r.clone();
        notifier
            .expect_notify()
            .withf(move |reminder| OutboxMessage::Reminder(reminder.clone()) == sent)
            .times(1)
            .returning(|_| Ok(()));

        let outcomes = use_case(queue, publisher, notifier)
            .run_once()
            .await
            .unwrap();

        assert_eq!(
            outcomes
                .iter()
                .map(|o| (o.kind, o.delivery))
                .collect::<Vec<_>>(),
            [
                (JobKind::TodoEvent, Delivery::Delivered),
                (JobKind::Reminder, Delivery::Delivered)
            ]
        );
        assert_eq!(outcomes[0].age, chrono::TimeDelta::seconds(2));
        assert_eq!(
            *reports.lock().unwrap(),
            [format!("done {}", e.id()), format!("done {}", r.id())]
        );
    }

    #[tokio::test]
    async fn a_failure_is_retried_later_and_the_last_failure_is_dead() {
        let (early, last) = (event(), event());
        let reports = Arc::new(Mutex::new(Vec::new()));
        let queue = queue_of(
            vec![claimed(early.clone(), 1), claimed(last.clone(), 3)],
            reports.clone(),
        );
        let mut publisher = MockEventPublisher::new();
        publisher
            .expect_publish_all()
            .withf(|events| events.len() == 2)
            .times(1)
            .returning(|_| Err(infra_down()));

        let outcomes = use_case(queue, publisher, MockNotifier::new())
            .run_once()
            .await
            .unwrap();

        let Delivery::Retrying(at) = outcomes[0].delivery else {
            panic!("{outcomes:?}");
        };
        // Attempt 1 of a 2 s base: between 1 s and 2 s from now.
        let wait = at - T0;
        assert!(
            chrono::TimeDelta::seconds(1) <= wait && wait <= chrono::TimeDelta::seconds(2),
            "{wait}"
        );
        assert_eq!(outcomes[1].delivery, Delivery::Dead);
        let reports = reports.lock().unwrap();
        assert!(reports[0].starts_with(&format!("fail {} #1 test failed", early.id())));
        assert!(reports[0].contains("connection refused"), "{}", reports[0]);
        assert_eq!(
            reports[1],
            format!("fail {} #3 test failed: connection refused dead", last.id())
        );
    }

    #[tokio::test]
    async fn nothing_due_is_an_empty_batch() {
        let queue = queue_of(Vec::new(), Arc::default());
        let outcomes = use_case(queue, MockEventPublisher::new(), MockNotifier::new())
            .run_once()
            .await
            .unwrap();
        assert!(outcomes.is_empty());
    }

    #[tokio::test]
    async fn a_queue_that_cannot_be_reached_is_an_error() {
        let mut queue = MockJobQueue::new();
        queue.expect_claim().returning(|_, _, _| Err(infra_down()));
        let err = use_case(queue, MockEventPublisher::new(), MockNotifier::new())
            .run_once()
            .await;
        assert!(err.is_err());
    }

    #[test]
    fn delays_double_up_to_the_cap_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 20,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        };
        for _ in 0..200 {
            let id = MessageId::from_uuid(Uuid::now_v7());
            for (attempt, full) in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (19, 60)] {
                let delay = policy.delay(id, attempt).unwrap();
                let full = Duration::from_secs(full);
                assert!(
                    full / 2 <= delay && delay <= full,
                    "attempt {attempt}: {delay:?}"
                );
            }
            assert_eq!(policy.delay(id, 20), None, "the last attempt");
        }
    }

    #[test]
    fn jitter_spreads_jobs_that_failed_together() {
        let policy = RetryPolicy::default();
        let delays: std::collections::BTreeSet<Duration> = (0..100)
            .map(|_| {
                policy
                    .delay(MessageId::from_uuid(Uuid::now_v7()), 4)
                    .unwrap()
            })
            .collect();
        assert!(delays.len() > 90, "{} distinct delays", delays.len());
        let id = MessageId::from_uuid(Uuid::now_v7());
        assert_eq!(policy.delay(id, 4), policy.delay(id, 4), "deterministic");
    }
}
