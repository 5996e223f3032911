//! The transactional outbox: both ends of it.
//!
//! The writing end, [`Outbox`], is handed out by a [`Transaction`](super::Transaction): a
//! use case records its [`OutboxMessage`] there, and it is committed with the change that
//! caused it. The reading end, [`JobQueue`], is what the worker claims those messages from,
//! delivers them, and marks them done, failed or dead.
//!
//! Claims are leases. A claimed job is hidden from other claims until its lease runs out;
//! a worker that dies mid-job (a crash, a SIGKILL, a lost node) simply never reports, and
//! the job becomes claimable again when the lease expires. That is what makes delivery "at
//! least once": a job is never lost, and may, rarely, be delivered twice.
//!
//! Every report on a job carries its [`Claim`]: the attempt is a fencing token, so a
//! worker whose lease ran out, and whose job another worker has claimed since, changes
//! nothing by reporting late.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    error::InfraError,
    event::{JobKind, MessageId, OutboxMessage},
};

/// The outbox of one transaction.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Records `message` in the transaction; it becomes a job when the transaction commits,
    /// and never if it does not.
    ///
    /// Returns `false`, and records nothing, when a message with the same
    /// [`OutboxMessage::dedupe_key`] is already recorded (delivered, pending or dead). A
    /// message without a key is always recorded.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails; the transaction should then be
    /// dropped.
    async fn record(&self, message: &OutboxMessage) -> Result<bool, InfraError>;
}

/// Which job, and which attempt at it: what a worker reports with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claim {
    /// The job's message id.
    pub id: MessageId,
    /// The attempt this claim is: only the latest attempt's holder can report.
    pub attempt: u32,
}

/// A job claimed from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// What to deliver.
    pub message: OutboxMessage,
    /// Which attempt this is: 1 on the first claim. Also the claim's fencing token: only
    /// the holder of the latest attempt can report on the job.
    pub attempt: u32,
    /// When the message was recorded (committed with its change).
    pub recorded_at: DateTime<Utc>,
    /// The trace context of the change that recorded it (a W3C `traceparent`), when a
    /// trace was being recorded: what the delivery's span links to. Opaque here.
    pub trace_parent: Option<String>,
}

impl ClaimedJob {
    /// The claim to report with.
    pub fn claim(&self) -> Claim {
        Claim {
            id: self.message.id(),
            attempt: self.attempt,
        }
    }
}

/// A job that used up its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    /// The message's id; `backend jobs retry` takes it.
    pub id: MessageId,
    /// Its kind.
    pub kind: JobKind,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// When it was declared dead.
    pub died_at: DateTime<Utc>,
}

/// How full the queue is, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Jobs not yet delivered and not dead (including those claimed right now).
    pub backlog: u64,
    /// When the oldest of those was recorded.
    pub oldest_recorded_at: Option<DateTime<Utc>>,
    /// Dead jobs, waiting for a person.
    pub dead: u64,
}

/// Where the worker takes its jobs from.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Claims up to `limit` jobs that are due at `now` (never claimed, or whose retry time
    /// or lease has passed), oldest first, and leases them until `lease_until`.
    ///
    /// MUST hand each job to one claimer only: concurrent claims get disjoint jobs, and a
    /// claimed job is not handed out again before `lease_until`. MUST count the attempt.
    /// MUST keep the order of each [`OutboxMessage::ordering_key`]: a job is not handed
    /// out while a job recorded before it with the same key is neither delivered nor dead
    /// (claimed, waiting for a retry, or in this very claim). So one todo's events go out
    /// in the order they happened, whatever fails and however many workers there are.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails; then nothing is claimed.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, InfraError>;

    /// Marks the jobs of `claims` delivered at `now`, all in one call (one round trip for a
    /// group). Delivered jobs are never claimed again.
    ///
    /// MUST skip a claim that is not its job's latest attempt (its lease ran out and
    /// another worker has the job now), a job already delivered, and an unknown id.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn complete(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError>;

    /// Gives back the jobs of `claims`, whose work never started: each is claimable again
    /// from `now`. The attempt stays counted, so that no attempt number is ever handed out
    /// twice: it is the fencing token of every report.
    ///
    /// MUST change nothing for a claim that is not its job's latest attempt, or a job that
    /// is delivered or dead.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails; the jobs then come back when their
    /// lease ends.
    async fn release(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError>;

    /// Reports that `attempt` failed with `error`: the job is claimable again from
    /// `retry_at`, or dead when `retry_at` is `None`.
    ///
    /// MUST change nothing when the job was delivered meanwhile, or when `attempt` is not
    /// the job's latest (its lease ran out and another worker has it now).
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn fail(
        &self,
        id: MessageId,
        attempt: u32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError>;

    /// Up to `limit` dead jobs, most recently dead first.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn dead(&self, limit: u32) -> Result<Vec<DeadJob>, InfraError>;

    /// Brings a dead job back: claimable at `now`, with its attempts counted from zero.
    /// Returns `false` when no dead job has that id.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn retry(&self, id: MessageId, now: DateTime<Utc>) -> Result<bool, InfraError>;

    /// Deletes jobs delivered before `before` and returns how many. Pending and dead jobs
    /// are kept, however old.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, InfraError>;

    /// The queue's backlog, its oldest job and the number of dead jobs.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn stats(&self) -> Result<QueueStats, InfraError>;
}

/// Wakes the worker when jobs are recorded, so that a job is claimed when its transaction
/// commits rather than at the worker's next poll.
///
/// A hint, never the source of truth: the queue is. A signal can be lost (a dropped
/// connection, a restart), so the worker still polls, only rarely; and a signal can come
/// when there is nothing to claim (another worker got there first), which costs one empty
/// claim.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait JobSignal: Send + Sync {
    /// Waits until jobs may have become claimable since the last call returned: recorded
    /// by a commit, or freed by the delivery (or death) of an earlier job of their
    /// [`OutboxMessage::ordering_key`] that they waited for.
    ///
    /// MUST keep a signal that comes while nobody waits (the worker is delivering): the
    /// next call then returns at once. Many signals in that time return once, so a burst
    /// of commits costs one claim, not one each. MAY return when nothing was recorded. An
    /// adapter that cannot tell MUST never return: the worker's poll then does the work.
    async fn recorded(&self);
}

/// Remembers which ticks of which periodic job have run, so that with several workers each
/// tick runs on one of them only, and which have finished their work, so that a job can
/// catch up on what a failed or missed tick left undone.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ScheduleLedger: Send + Sync {
    /// Claims the run of `job` scheduled at `tick`. Returns `true` to exactly one caller
    /// per (job, tick), whoever asks first, and `false` to everyone after.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails; then the caller must not run the tick.
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<bool, InfraError>;

    /// Records that the run of `job` at `tick` finished its work.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails; the next run then does the work
    /// again, which a periodic job must allow.
    async fn complete_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<(), InfraError>;

    /// The latest tick of `job` whose run finished its work, if any.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn last_completed(&self, job: &str) -> Result<Option<DateTime<Utc>>, InfraError>;

    /// Forgets ticks scheduled before `before`, and returns how many. MUST keep each job's
    /// latest finished tick, however old: it is where the job catches up from.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError>;
}
