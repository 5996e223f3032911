//! The outbox, the job queue and the schedule ledger, in memory.
//!
//! One [`Queue`] holds every job. A transaction's [`MemoryOutbox`] stages its messages and
//! the transaction moves them into the queue when it commits, while it still holds the
//! store's write lock, so a reader never sees a change without its event or the reverse.
//! The queue has its own (synchronous) mutex: no `.await` ever happens while it is held.
//!
//! Memory is bounded by the work not yet done. A delivered job leaves the queue at once:
//! of it, only its dedupe key stays (a reminder's, one per todo and due date), until
//! housekeeping purges it. Postgres keeps delivered rows for `OUTBOX_RETENTION_HOURS`, for
//! an operator to look at; a process's memory is not where anyone would look. And a claim
//! walks the pending jobs only, never the delivered or the dead.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    error::InfraError,
    event::{MessageId, OutboxMessage},
    ports::{Claim, ClaimedJob, DeadJob, JobQueue, JobSignal, Outbox, QueueStats, ScheduleLedger},
};

/// One job not yet delivered, and where it stands.
#[derive(Debug, Clone)]
struct Entry {
    message: OutboxMessage,
    recorded_at: DateTime<Utc>,
    trace_parent: Option<String>,
    attempts: u32,
    /// Not claimable before this; `None` means at once.
    available_at: Option<DateTime<Utc>>,
    dead_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// The jobs not yet delivered, and the dedupe keys ever used.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Pending and dead jobs, by id (so oldest first).
    jobs: BTreeMap<MessageId, Entry>,
    /// The ids of the pending ones: what a claim walks.
    pending: BTreeSet<MessageId>,
    /// Every dedupe key recorded, with when its job was delivered (`None` until then).
    keys: HashMap<String, Option<DateTime<Utc>>>,
    /// Told of every commit that recorded jobs: what [`MemoryJobQueue`]'s [`JobSignal`]
    /// waits on.
    recorded: Arc<Notify>,
}

impl Queue {
    /// Adds committed messages, each with the trace context it was recorded in. Their keys
    /// were checked when they were staged, under the store's write lock, so no other
    /// transaction can have used them since.
    pub(crate) fn push(&mut self, messages: Vec<Staged>, now: DateTime<Utc>) {
        if !messages.is_empty() {
            // One permit, kept until the worker waits: a burst of commits wakes it once.
            self.recorded.notify_one();
        }
        for (message, trace_parent) in messages {
            if let Some(key) = message.dedupe_key() {
                self.keys.insert(key, None);
            }
            self.pending.insert(message.id());
            self.jobs.insert(
                message.id(),
                Entry {
                    message,
                    recorded_at: now,
                    trace_parent,
                    attempts: 0,
                    available_at: None,
                    dead_at: None,
                    last_error: None,
                },
            );
        }
    }

    /// Wakes the worker when a pending job waits on `key`: the job just delivered or dead
    /// was what held it back.
    fn released(&self, key: Option<uuid::Uuid>) {
        let waits = key.is_some_and(|key| {
            self.pending.iter().any(|id| {
                self.jobs
                    .get(id)
                    .is_some_and(|entry| entry.message.ordering_key() == Some(key))
            })
        });
        if waits {
            self.recorded.notify_one();
        }
    }

    /// The pending job `claim` holds the latest attempt of, if any.
    fn held(&mut self, claim: &Claim) -> Option<&mut Entry> {
        if !self.pending.contains(&claim.id) {
            return None;
        }
        self.jobs
            .get_mut(&claim.id)
            .filter(|entry| entry.attempts == claim.attempt)
    }
}

/// A message recorded in a transaction not yet committed, with the trace context it was
/// recorded in.
pub(crate) type Staged = (OutboxMessage, Option<String>);

/// The queue shared by a store's outboxes and its job queue.
pub(crate) type SharedQueue = Arc<Mutex<Queue>>;

/// Locks the queue. A panic while it was held cannot have left it half-changed (every
/// change is one map operation), so a poisoned lock is taken over as is.
fn lock(queue: &SharedQueue) -> MutexGuard<'_, Queue> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The [`Outbox`] of one in-memory transaction.
#[derive(Debug, Clone)]
pub(crate) struct MemoryOutbox {
    pub(crate) queue: SharedQueue,
    pub(crate) staged: Arc<Mutex<Vec<Staged>>>,
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn record(&self, message: &OutboxMessage) -> Result<bool, InfraError> {
        let mut staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(key) = message.dedupe_key() {
            let taken = lock(&self.queue).keys.contains_key(&key)
                || staged
                    .iter()
                    .any(|(m, _)| m.dedupe_key().as_ref() == Some(&key));
            if taken {
                return Ok(false);
            }
        }
        staged.push((message.clone(), trace_context::current()));
        Ok(true)
    }
}

/// [`JobQueue`] in memory, and its [`JobSignal`].
#[derive(Debug, Clone)]
pub struct MemoryJobQueue {
    pub(crate) queue: SharedQueue,
}

#[async_trait]
impl JobSignal for MemoryJobQueue {
    async fn recorded(&self) {
        let recorded = lock(&self.queue).recorded.clone();
        recorded.notified().await;
    }
}

#[async_trait]
impl JobQueue for MemoryJobQueue {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, InfraError> {
        let mut guard = lock(&self.queue);
        let queue = &mut *guard;
        let mut claimed = Vec::new();
        // The keys with a pending job seen so far, oldest first: a later job of the same
        // key waits its turn.
        let mut waiting = HashSet::new();
        for id in &queue.pending {
            if claimed.len() >= limit as usize {
                break;
            }
            let Some(entry) = queue.jobs.get_mut(id) else {
                continue;
            };
            let key = entry.message.ordering_key();
            if key.is_some_and(|key| !waiting.insert(key)) {
                continue;
            }
            if entry.available_at.is_none_or(|at| at <= now) {
                entry.attempts += 1;
                entry.available_at = Some(lease_until);
                claimed.push(ClaimedJob {
                    message: entry.message.clone(),
                    attempt: entry.attempts,
                    recorded_at: entry.recorded_at,
                    trace_parent: entry.trace_parent.clone(),
                });
            }
        }
        Ok(claimed)
    }

    async fn complete(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut queue = lock(&self.queue);
        for claim in claims {
            if queue.held(claim).is_none() {
                continue;
            }
            queue.pending.remove(&claim.id);
            if let Some(entry) = queue.jobs.remove(&claim.id) {
                if let Some(key) = entry.message.dedupe_key() {
                    queue.keys.insert(key, Some(now));
                }
                queue.released(entry.message.ordering_key());
            }
        }
        Ok(())
    }

    async fn release(&self, claims: &[Claim], now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut queue = lock(&self.queue);
        for claim in claims {
            if let Some(entry) = queue.held(claim) {
                entry.available_at = Some(now);
            }
        }
        Ok(())
    }

    async fn fail(
        &self,
        id: MessageId,
        attempt: u32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError> {
        let mut queue = lock(&self.queue);
        let Some(entry) = queue.held(&Claim { id, attempt }) else {
            return Ok(());
        };
        entry.last_error = Some(error.to_owned());
        match retry_at {
            Some(at) => entry.available_at = Some(at),
            None => {
                entry.dead_at = Some(now);
                let key = entry.message.ordering_key();
                queue.pending.remove(&id);
                queue.released(key);
            }
        }
        Ok(())
    }

    async fn dead(&self, limit: u32) -> Result<Vec<DeadJob>, InfraError> {
        let queue = lock(&self.queue);
        let mut dead: Vec<DeadJob> = queue
            .jobs
            .values()
            .filter_map(|entry| {
                Some(DeadJob {
                    id: entry.message.id(),
                    kind: entry.message.kind(),
                    attempts: entry.attempts,
                    last_error: entry.last_error.clone().unwrap_or_default(),
                    recorded_at: entry.recorded_at,
                    died_at: entry.dead_at?,
                })
            })
            .collect();
        dead.sort_by(|a, b| b.died_at.cmp(&a.died_at).then(b.id.cmp(&a.id)));
        dead.truncate(limit as usize);
        Ok(dead)
    }

    async fn retry(&self, id: MessageId, now: DateTime<Utc>) -> Result<bool, InfraError> {
        let mut queue = lock(&self.queue);
        match queue.jobs.get_mut(&id) {
            Some(entry) if entry.dead_at.is_some() => {
                entry.dead_at = None;
                entry.attempts = 0;
                entry.available_at = Some(now);
                queue.pending.insert(id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        // Delivered jobs left at once; what is left of them is their keys. Retention is
        // far longer than the reminder window, so a purged key is never needed again.
        let mut queue = lock(&self.queue);
        let count = queue.keys.len();
        queue
            .keys
            .retain(|_, delivered| delivered.is_none_or(|at| at >= before));
        Ok((count - queue.keys.len()) as u64)
    }

    async fn stats(&self) -> Result<QueueStats, InfraError> {
        let queue = lock(&self.queue);
        let mut stats = QueueStats::default();
        for entry in queue.jobs.values() {
            if entry.dead_at.is_some() {
                stats.dead += 1;
            } else {
                stats.backlog += 1;
                stats.oldest_recorded_at = Some(
                    stats
                        .oldest_recorded_at
                        .map_or(entry.recorded_at, |t| t.min(entry.recorded_at)),
                );
            }
        }
        Ok(stats)
    }
}

/// Each claimed (job, tick), and whether its run finished.
type Ticks = BTreeMap<(String, DateTime<Utc>), bool>;

/// [`ScheduleLedger`] in memory: one process, so a map is enough.
#[derive(Debug, Clone, Default)]
pub struct MemoryScheduleLedger {
    ticks: Arc<Mutex<Ticks>>,
}

impl MemoryScheduleLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Ticks> {
        self.ticks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The latest finished tick of `job` in `ticks`.
fn last_done(ticks: &Ticks, job: &str) -> Option<DateTime<Utc>> {
    ticks
        .iter()
        .rev()
        .find(|((name, _), done)| name == job && **done)
        .map(|((_, tick), _)| *tick)
}

#[async_trait]
impl ScheduleLedger for MemoryScheduleLedger {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<bool, InfraError> {
        let mut ticks = self.lock();
        let key = (job.to_owned(), tick);
        if ticks.contains_key(&key) {
            return Ok(false);
        }
        ticks.insert(key, false);
        Ok(true)
    }

    async fn complete_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<(), InfraError> {
        self.lock().insert((job.to_owned(), tick), true);
        Ok(())
    }

    async fn last_completed(&self, job: &str) -> Result<Option<DateTime<Utc>>, InfraError> {
        Ok(last_done(&self.lock(), job))
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut ticks = self.lock();
        let jobs: BTreeSet<String> = ticks.keys().map(|(job, _)| job.clone()).collect();
        let keep: BTreeSet<(String, DateTime<Utc>)> = jobs
            .into_iter()
            .filter_map(|job| last_done(&ticks, &job).map(|tick| (job, tick)))
            .collect();
        let count = ticks.len();
        ticks.retain(|key, _| key.1 >= before || keep.contains(key));
        Ok((count - ticks.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use domain::{
        event::{TodoChange, TodoEvent},
        todo::{TodoId, Version},
        user::UserId,
    };
    use uuid::Uuid;

    use super::*;

    fn event() -> OutboxMessage {
        OutboxMessage::TodoEvent(TodoEvent {
            id: MessageId::from_uuid(Uuid::now_v7()),
            occurred_at: Utc::now(),
            owner: UserId::from_uuid(Uuid::now_v7()),
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            version: Version::INITIAL,
            change: TodoChange::Created,
        })
    }

    #[tokio::test]
    async fn delivered_events_leave_the_queue_at_once_and_a_claim_walks_only_the_pending() {
        let shared = SharedQueue::default();
        let queue = MemoryJobQueue {
            queue: shared.clone(),
        };
        let now = Utc::now();
        lock(&shared).push((0..1_000).map(|_| (event(), None)).collect(), now);
        let lease = now + chrono::TimeDelta::minutes(1);
        let jobs = queue.claim(now, lease, 1_000).await.unwrap();
        let claims: Vec<Claim> = jobs.iter().map(ClaimedJob::claim).collect();
        queue.complete(&claims, now).await.unwrap();

        let held = lock(&shared);
        assert_eq!(
            (held.jobs.len(), held.pending.len(), held.keys.len()),
            (0, 0, 0),
            "nothing is kept of a delivered event"
        );
    }

    /// Whether `recorded()` returns within a moment.
    async fn signalled(queue: &MemoryJobQueue) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(50), queue.recorded())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn commits_made_while_the_worker_is_busy_wake_it_once_and_only_then() {
        let shared = SharedQueue::default();
        let queue = MemoryJobQueue {
            queue: shared.clone(),
        };
        assert!(!signalled(&queue).await, "nothing recorded yet");

        // Three commits while nobody waits: kept, as one wake-up.
        for _ in 0..3 {
            lock(&shared).push(vec![(event(), None)], Utc::now());
        }
        assert!(signalled(&queue).await, "a commit made while busy is kept");
        assert!(
            !signalled(&queue).await,
            "a burst of commits wakes the worker once"
        );

        // A commit that recorded nothing wakes nobody.
        lock(&shared).push(Vec::new(), Utc::now());
        assert!(!signalled(&queue).await);

        // A commit while the worker waits wakes it.
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.recorded().await }
        });
        tokio::task::yield_now().await;
        lock(&shared).push(vec![(event(), None)], Utc::now());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
    }
}
