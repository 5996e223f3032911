//! Delivering claimed jobs, with retries and dead letters.

use std::{sync::Arc, time::Duration};

use tracing::{Instrument, Span};

use crate::links::SpanLinks;

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

/// The lease cannot hold the work done under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a lease of {lease:?} is too short: it must be longer than {needed:?}, twice the longest \
     delivery (the webhook's timeout times its attempts, or the event publisher's)"
)]
pub struct LeaseTooShort {
    /// The lease asked for.
    pub lease: Duration,
    /// What it must exceed.
    pub needed: Duration,
}

/// Claims a batch of due jobs and delivers each: events to the publisher, reminders to the
/// notifier. A job that fails is retried later by the [`RetryPolicy`], and dead when the
/// policy gives up; a job whose worker dies is claimed again when its lease runs out.
///
/// **The one rule that keeps a job from being delivered twice by two live workers: a
/// delivery starts only when the lease has room for it twice over**, once for the delivery
/// at its longest (each target declares its `longest_call`) and once more as the margin for
/// marking it done. Each job is marked done as soon as its delivery ends, not with the rest
/// of the batch. Jobs of the batch that cannot start in time, or that would start after
/// the worker was asked to stop, are given back unstarted, claimable again at once (the
/// claim still counts as an attempt: attempt numbers are the claims' fencing tokens, and
/// are never reused).
/// So no lease ends under work in progress, and a stopping worker leaves nothing it sent
/// unmarked. The lease must therefore be longer than twice the longest delivery, which
/// [`DeliverJobs::new`] checks.
#[derive(Clone)]
pub struct DeliverJobs {
    queue: Arc<dyn JobQueue>,
    publisher: Arc<dyn EventPublisher>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    lease: chrono::TimeDelta,
    batch: u32,
    links: Option<Arc<dyn SpanLinks>>,
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

/// Whether the worker wants more work started: `false` once it is stopping.
pub type KeepGoing<'a> = &'a (dyn Fn() -> bool + Send + Sync);

impl DeliverJobs {
    /// Builds the use case, leasing each claimed job for `lease`.
    ///
    /// # Errors
    /// [`LeaseTooShort`] when `lease` is not longer than twice the longest delivery.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        publisher: Arc<dyn EventPublisher>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
        lease: Duration,
        batch: u32,
    ) -> Result<Self, LeaseTooShort> {
        let needed = publisher.longest_call().max(notifier.longest_call()) * 2;
        if lease <= needed {
            return Err(LeaseTooShort { lease, needed });
        }
        Ok(Self {
            queue,
            publisher,
            notifier,
            clock,
            policy,
            lease: chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX),
            batch: batch.max(1),
            links: None,
        })
    }

    /// How many jobs one call claims at most.
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// Links each delivery's span to the spans that recorded its jobs, with `links`.
    #[must_use]
    pub fn with_span_links(mut self, links: Arc<dyn SpanLinks>) -> Self {
        self.links = Some(links);
        self
    }

    /// Links `span` to the change that recorded each of `jobs`, where one was traced.
    fn link<'a>(&self, span: &Span, jobs: impl IntoIterator<Item = &'a ClaimedJob>) {
        if let Some(links) = &self.links {
            for parent in jobs
                .into_iter()
                .filter_map(|job| job.trace_parent.as_deref())
            {
                links.link(span, parent);
            }
        }
    }

    /// Whether a delivery that may take `longest` can start now under a lease that ends
    /// at `lease_end`: the rule above.
    fn may_start(
        &self,
        lease_end: DateTime<Utc>,
        longest: Duration,
        keep_going: KeepGoing<'_>,
    ) -> bool {
        let room = chrono::TimeDelta::from_std(longest * 2).unwrap_or(chrono::TimeDelta::MAX);
        keep_going() && self.clock.now() + room <= lease_end
    }

    /// Claims up to one batch and delivers it: the batch's events in one
    /// [`EventPublisher::publish_all`] call, in order, then each reminder, each marked done
    /// (or failed) as soon as it is delivered (or not). Returns what became of each job
    /// started; an empty list means nothing was due, or nothing could start.
    ///
    /// `keep_going` is asked before each delivery: once it says `false`, the rest of the
    /// batch is given back unstarted.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the queue cannot be reached. A job that was delivered
    /// but could not be marked so stays claimed until its lease ends, and is delivered
    /// again then: that is the "at least once".
    pub async fn run_once(&self, keep_going: KeepGoing<'_>) -> Result<Vec<JobOutcome>, InfraError> {
        let now = self.clock.now();
        let lease_end = now + self.lease;
        // The claim runs on every poll and mostly finds nothing: outside the span, so an
        // idle worker leaves no trace a second behind it.
        let jobs = self.queue.claim(now, lease_end, self.batch).await?;
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        self.deliver(jobs, lease_end, keep_going).await
    }

    /// Delivers `jobs`, claimed until `lease_end`: the work of [`Self::run_once`] once
    /// there is some.
    #[tracing::instrument(name = "deliver_jobs", skip_all, fields(jobs = jobs.len()))]
    async fn deliver(
        &self,
        jobs: Vec<ClaimedJob>,
        lease_end: DateTime<Utc>,
        keep_going: KeepGoing<'_>,
    ) -> Result<Vec<JobOutcome>, InfraError> {
        // Split by kind, keeping each kind's order: events go out as one batch.
        let mut events = Vec::new();
        let mut reminders = Vec::new();
        for job in jobs {
            match &job.message {
                OutboxMessage::TodoEvent(event) => {
                    let event = event.clone();
                    events.push((job, event));
                }
                OutboxMessage::Reminder(reminder) => {
                    let reminder = reminder.clone();
                    reminders.push((job, reminder));
                }
            }
        }

        let mut outcomes = Vec::with_capacity(events.len() + reminders.len());
        let mut unstarted = Vec::new();
        if !events.is_empty() {
            if self.may_start(lease_end, self.publisher.longest_call(), keep_going) {
                let batch: Vec<_> = events.iter().map(|(_, event)| event.clone()).collect();
                let span = tracing::info_span!("publish_events", events = batch.len());
                self.link(&span, events.iter().map(|(job, _)| job));
                // The call is made inside the span, so that the port's own span is its
                // child.
                let result = async { self.publisher.publish_all(&batch).await }
                    .instrument(span)
                    .await
                    .map_err(|e| describe(&e));
                let jobs: Vec<_> = events.into_iter().map(|(job, _)| job).collect();
                self.report(&jobs, result, &mut outcomes).await?;
            } else {
                unstarted.extend(events.iter().map(|(job, _)| job.claim()));
            }
        }
        for (job, reminder) in reminders {
            if !self.may_start(lease_end, self.notifier.longest_call(), keep_going) {
                unstarted.push(job.claim());
                continue;
            }
            let span = tracing::info_span!("send_reminder", job_id = %job.message.id());
            self.link(&span, [&job]);
            let result = async { self.notifier.notify(&reminder).await }
                .instrument(span)
                .await
                .map_err(|e| describe(&e));
            self.report(std::slice::from_ref(&job), result, &mut outcomes)
                .await?;
        }
        if !unstarted.is_empty() {
            tracing::debug!(
                jobs = unstarted.len(),
                "giving back jobs there is no lease (or no time) left to start"
            );
            self.queue.release(&unstarted, self.clock.now()).await?;
        }
        Ok(outcomes)
    }

    /// Marks `jobs`, delivered together with `result`, done or failed at once.
    async fn report(
        &self,
        jobs: &[ClaimedJob],
        result: Result<(), String>,
        outcomes: &mut Vec<JobOutcome>,
    ) -> Result<(), InfraError> {
        let now = self.clock.now();
        let outcome = |job: &ClaimedJob, delivery| JobOutcome {
            kind: job.message.kind(),
            attempt: job.attempt,
            delivery,
            age: now - job.recorded_at,
        };
        match result {
            Ok(()) => {
                let claims: Vec<_> = jobs.iter().map(ClaimedJob::claim).collect();
                self.queue.complete(&claims, now).await?;
                outcomes.extend(jobs.iter().map(|job| outcome(job, Delivery::Delivered)));
            }
            Err(cause) => {
                for job in jobs {
                    let delivery = self.failed(job, &cause, now).await?;
                    outcomes.push(outcome(job, delivery));
                }
            }
        }
        Ok(())
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
            trace_parent: None,
        }
    }

    /// A queue that hands out `jobs` once and records every report, in order, in `log`.
    fn queue_of(jobs: Vec<ClaimedJob>, log: Log) -> MockJobQueue {
        let mut queue = MockJobQueue::new();
        let batch = Mutex::new(Some(jobs));
        queue
            .expect_claim()
            .withf(|now, lease_until, limit| {
                *now == T0 && *lease_until == T0 + chrono::TimeDelta::seconds(60) && *limit == 8
            })
            .returning(move |_, _, _| Ok(batch.lock().unwrap().take().unwrap_or_default()));
        let done = log.clone();
        queue.expect_complete().returning(move |claims, _| {
            for claim in claims {
                done.push(format!("done {} #{}", claim.id, claim.attempt));
            }
            Ok(())
        });
        let released = log.clone();
        queue.expect_release().returning(move |claims, _| {
            for claim in claims {
                released.push(format!("released {} #{}", claim.id, claim.attempt));
            }
            Ok(())
        });
        queue
            .expect_fail()
            .returning(move |id, attempt, error, retry_at, _| {
                log.push(format!(
                    "fail {id} #{attempt} {error} {}",
                    retry_at.map_or("dead".into(), |t| t.to_rfc3339())
                ));
                Ok(())
            });
        queue
    }

    /// What happened, in order: deliveries and reports.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);

    impl Log {
        fn push(&self, line: String) {
            self.0.lock().unwrap().push(line);
        }
        fn lines(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    /// A clock that starts at T0 and moves only when told: deliveries "take" time.
    #[derive(Clone, Default)]
    struct ManualClock(Arc<Mutex<chrono::TimeDelta>>);

    impl ManualClock {
        fn advance(&self, by: chrono::TimeDelta) {
            *self.0.lock().unwrap() += by;
        }
        fn port(&self) -> Arc<dyn Clock> {
            let offset = self.0.clone();
            let mut clock = domain::ports::MockClock::new();
            clock
                .expect_now()
                .returning(move || T0 + *offset.lock().unwrap());
            Arc::new(clock)
        }
    }

    fn publisher(longest: Duration) -> MockEventPublisher {
        let mut publisher = MockEventPublisher::new();
        publisher.expect_longest_call().return_const(longest);
        publisher
    }

    fn notifier(longest: Duration) -> MockNotifier {
        let mut notifier = MockNotifier::new();
        notifier.expect_longest_call().return_const(longest);
        notifier
    }

    fn use_case_at(
        clock: Arc<dyn Clock>,
        queue: MockJobQueue,
        publisher: MockEventPublisher,
        notifier: MockNotifier,
    ) -> DeliverJobs {
        DeliverJobs::new(
            Arc::new(queue),
            Arc::new(publisher),
            Arc::new(notifier),
            clock,
            RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(60),
            },
            Duration::from_secs(60),
            8,
        )
        .unwrap()
    }

    fn use_case(
        queue: MockJobQueue,
        publisher: MockEventPublisher,
        notifier: MockNotifier,
    ) -> DeliverJobs {
        use_case_at(fixed_clock(), queue, publisher, notifier)
    }

    const ALWAYS: KeepGoing<'static> = &|| true;

    #[tokio::test]
    async fn events_go_to_the_publisher_and_reminders_to_the_notifier_each_marked_done_at_once() {
        let (e, r1, r2) = (event(), reminder(), reminder());
        let log = Log::default();
        let queue = queue_of(
            vec![
                claimed(e.clone(), 1),
                claimed(r1.clone(), 1),
                claimed(r2.clone(), 1),
            ],
            log.clone(),
        );
        let mut publisher = publisher(Duration::from_secs(1));
        let published = e.clone();
        let sent = log.clone();
        publisher
            .expect_publish_all()
            .withf(move |events| {
                events.len() == 1 && OutboxMessage::TodoEvent(events[0].clone()) == published
            })
            .times(1)
            .returning(move |events| {
                sent.push(format!("published {}", events[0].id));
                Ok(())
            });
        let mut notifier = notifier(Duration::from_secs(1));
        let sent = log.clone();
        notifier
            .expect_notify()
            .times(2)
            .returning(move |reminder| {
                sent.push(format!("notified {}", reminder.id));
                Ok(())
            });

        let outcomes = use_case(queue, publisher, notifier)
            .run_once(ALWAYS)
            .await
            .unwrap();

        assert_eq!(
            outcomes
                .iter()
                .map(|o| (o.kind, o.delivery))
                .collect::<Vec<_>>(),
            [
                (JobKind::TodoEvent, Delivery::Delivered),
                (JobKind::Reminder, Delivery::Delivered),
                (JobKind::Reminder, Delivery::Delivered),
            ]
        );
        assert_eq!(outcomes[0].age, chrono::TimeDelta::seconds(2));
        // Each delivery is marked done before the next one starts.
        assert_eq!(
            log.lines(),
            [
                format!("published {}", e.id()),
                format!("done {} #1", e.id()),
                format!("notified {}", r1.id()),
                format!("done {} #1", r1.id()),
                format!("notified {}", r2.id()),
                format!("done {} #1", r2.id()),
            ]
        );
    }

    #[tokio::test]
    async fn a_delivery_starts_only_while_the_lease_has_room_for_it_twice_over() {
        // Eight reminders of up to 10 s each, under a 60 s lease: one may start while at
        // least 20 s are left, so at 0, 10, 20, 30 and 40 s; the other three are given
        // back unstarted.
        let reminders: Vec<OutboxMessage> = (0..8).map(|_| reminder()).collect();
        let log = Log::default();
        let queue = queue_of(
            reminders.iter().map(|r| claimed(r.clone(), 1)).collect(),
            log.clone(),
        );
        let clock = ManualClock::default();
        let mut notifier = notifier(Duration::from_secs(10));
        let slow = clock.clone();
        notifier.expect_notify().returning(move |_| {
            slow.advance(chrono::TimeDelta::seconds(10));
            Ok(())
        });

        let outcomes = use_case_at(clock.port(), queue, publisher(Duration::ZERO), notifier)
            .run_once(ALWAYS)
            .await
            .unwrap();

        assert_eq!(outcomes.len(), 5);
        let lines = log.lines();
        assert_eq!(
            lines[5..],
            reminders[5..]
                .iter()
                .map(|r| format!("released {} #1", r.id()))
                .collect::<Vec<_>>()
        );
        assert!(
            lines[..5].iter().all(|line| line.starts_with("done")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn a_stopping_worker_finishes_the_delivery_in_hand_and_gives_back_the_rest() {
        let reminders: Vec<OutboxMessage> = (0..3).map(|_| reminder()).collect();
        let log = Log::default();
        let queue = queue_of(
            reminders.iter().map(|r| claimed(r.clone(), 1)).collect(),
            log.clone(),
        );
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut notifier = notifier(Duration::from_secs(1));
        let stop = stopping.clone();
        notifier.expect_notify().times(1).returning(move |_| {
            // SIGTERM arrives while the first reminder is being sent.
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let keep_going = move || !stopping.load(std::sync::atomic::Ordering::SeqCst);

        let outcomes = use_case(queue, publisher(Duration::ZERO), notifier)
            .run_once(&keep_going)
            .await
            .unwrap();

        assert_eq!(outcomes.len(), 1);
        assert_eq!(
            log.lines(),
            [
                format!("done {} #1", reminders[0].id()),
                format!("released {} #1", reminders[1].id()),
                format!("released {} #1", reminders[2].id()),
            ]
        );
    }

    #[test]
    fn a_lease_not_longer_than_twice_the_longest_delivery_is_refused() {
        let build = |lease: u64| {
            DeliverJobs::new(
                Arc::new(MockJobQueue::new()),
                Arc::new(publisher(Duration::from_secs(1))),
                Arc::new(notifier(Duration::from_secs(15))),
                fixed_clock(),
                RetryPolicy::default(),
                Duration::from_secs(lease),
                8,
            )
        };
        assert_eq!(
            build(30).unwrap_err(),
            LeaseTooShort {
                lease: Duration::from_secs(30),
                needed: Duration::from_secs(30)
            }
        );
        assert!(build(31).is_ok());
    }

    #[tokio::test]
    async fn a_failure_is_retried_later_and_the_last_failure_is_dead() {
        let (early, last) = (event(), event());
        let log = Log::default();
        let queue = queue_of(
            vec![claimed(early.clone(), 1), claimed(last.clone(), 3)],
            log.clone(),
        );
        let mut publisher = publisher(Duration::from_secs(1));
        publisher
            .expect_publish_all()
            .withf(|events| events.len() == 2)
            .times(1)
            .returning(|_| Err(infra_down()));

        let outcomes = use_case(queue, publisher, notifier(Duration::from_secs(1)))
            .run_once(ALWAYS)
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
        let reports = log.lines();
        assert!(reports[0].starts_with(&format!("fail {} #1 test failed", early.id())));
        assert!(reports[0].contains("connection refused"), "{}", reports[0]);
        assert_eq!(
            reports[1],
            format!("fail {} #3 test failed: connection refused dead", last.id())
        );
    }

    #[tokio::test]
    async fn nothing_due_is_an_empty_batch() {
        let queue = queue_of(Vec::new(), Log::default());
        let outcomes = use_case(queue, publisher(Duration::ZERO), notifier(Duration::ZERO))
            .run_once(ALWAYS)
            .await
            .unwrap();
        assert!(outcomes.is_empty());
    }

    #[tokio::test]
    async fn a_queue_that_cannot_be_reached_is_an_error() {
        let mut queue = MockJobQueue::new();
        queue.expect_claim().returning(|_, _, _| Err(infra_down()));
        let err = use_case(queue, publisher(Duration::ZERO), notifier(Duration::ZERO))
            .run_once(ALWAYS)
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
