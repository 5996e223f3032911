//! The outbox, the job queue and the schedule ledger, in memory.
//!
//! One [`Queue`] holds every job. A transaction's [`MemoryOutbox`] stages its messages and
//! the transaction moves them into the queue when it commits, while it still holds the
//! store's write lock, so a reader never sees a change without its event or the reverse.
//! The queue has its own (synchronous) mutex: no `.await` ever happens while it is held.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    error::InfraError,
    event::{MessageId, OutboxMessage},
    ports::{ClaimedJob, DeadJob, JobQueue, Outbox, QueueStats, ScheduleLedger},
};

/// One job and where it stands.
#[derive(Debug, Clone)]
struct Entry {
    message: OutboxMessage,
    recorded_at: DateTime<Utc>,
    attempts: u32,
    /// Not claimable before this; `None` means at once.
    available_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    dead_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

impl Entry {
    fn pending(&self) -> bool {
        self.delivered_at.is_none() && self.dead_at.is_none()
    }
}

/// Every job, by id (so oldest first), and the dedupe keys ever used.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    jobs: BTreeMap<MessageId, Entry>,
    keys: HashSet<String>,
}

impl Queue {
    /// Adds committed messages. Their keys were checked when they were staged, under the
    /// store's write lock, so no other transaction can have used them since.
    pub(crate) fn push(&mut self, messages: Vec<OutboxMessage>, now: DateTime<Utc>) {
        for message in messages {
            if let Some(key) = message.dedupe_key() {
                self.keys.insert(key);
            }
            self.jobs.insert(
                message.id(),
                Entry {
                    message,
                    recorded_at: now,
                    attempts: 0,
                    available_at: None,
                    delivered_at: None,
                    dead_at: None,
                    last_error: None,
                },
            );
        }
    }
}

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
    pub(crate) staged: Arc<Mutex<Vec<OutboxMessage>>>,
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn record(&self, message: &OutboxMessage) -> Result<bool, InfraError> {
        let mut staged = self
            .staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(key) = message.dedupe_key() {
            let taken = lock(&self.queue).keys.contains(&key)
                || staged.iter().any(|m| m.dedupe_key().as_ref() == Some(&key));
            if taken {
                return Ok(false);
            }
        }
        staged.push(message.clone());
        Ok(true)
    }
}

/// [`JobQueue`] in memory.
#[derive(Debug, Clone)]
pub struct MemoryJobQueue {
    pub(crate) queue: SharedQueue,
}

#[async_trait]
impl JobQueue for MemoryJobQueue {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, InfraError> {
        let mut queue = lock(&self.queue);
        let mut claimed = Vec::new();
        for entry in queue.jobs.values_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            if entry.pending() && entry.available_at.is_none_or(|at| at <= now) {
                entry.attempts += 1;
                entry.available_at = Some(lease_until);
                claimed.push(ClaimedJob {
                    message: entry.message.clone(),
                    attempt: entry.attempts,
                    recorded_at: entry.recorded_at,
                });
            }
        }
        Ok(claimed)
    }

    async fn complete(&self, ids: &[MessageId], now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut queue = lock(&self.queue);
        for id in ids {
            if let Some(entry) = queue.jobs.get_mut(id) {
                entry.delivered_at.get_or_insert(now);
                entry.dead_at = None;
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
        let Some(entry) = queue.jobs.get_mut(&id) else {
            return Ok(());
        };
        if !entry.pending() || entry.attempts != attempt {
            return Ok(());
        }
        entry.last_error = Some(error.to_owned());
        match retry_at {
            Some(at) => entry.available_at = Some(at),
            None => entry.dead_at = Some(now),
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
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut queue = lock(&self.queue);
        let old: Vec<MessageId> = queue
            .jobs
            .iter()
            .filter(|(_, e)| e.delivered_at.is_some_and(|at| at < before))
            .map(|(id, _)| *id)
            .collect();
        for id in &old {
            // The key goes with the job, as the row does in Postgres. Retention is far
            // longer than the reminder window, so the key is never needed again.
            if let Some(key) = queue.jobs.remove(id).and_then(|e| e.message.dedupe_key()) {
                queue.keys.remove(&key);
            }
        }
        Ok(old.len() as u64)
    }

    async fn stats(&self) -> Result<QueueStats, InfraError> {
        let queue = lock(&self.queue);
        let mut stats = QueueStats::default();
        for entry in queue.jobs.values() {
            if entry.pending() {
                stats.backlog += 1;
                stats.oldest_recorded_at = Some(
                    stats
                        .oldest_recorded_at
                        .map_or(entry.recorded_at, |t| t.min(entry.recorded_at)),
                );
            } else if entry.dead_at.is_some() {
                stats.dead += 1;
            }
        }
        Ok(stats)
    }
}

/// A claimed run of a periodic job: when it was scheduled, and which job.
type Tick = (DateTime<Utc>, String);

/// [`ScheduleLedger`] in memory: one process, so a set is enough.
#[derive(Debug, Clone, Default)]
pub struct MemoryScheduleLedger {
    ticks: Arc<Mutex<BTreeSet<Tick>>>,
}

impl MemoryScheduleLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ScheduleLedger for MemoryScheduleLedger {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>) -> Result<bool, InfraError> {
        let mut ticks = self
            .ticks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(ticks.insert((tick, job.to_owned())))
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut ticks = self
            .ticks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before_len = ticks.len();
        ticks.retain(|(tick, _)| *tick >= before);
        Ok((before_len - ticks.len()) as u64)
    }
}
