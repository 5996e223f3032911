//! Idempotency records in memory.
//!
//! The records live beside the store's data, not in it, so a transaction does not copy
//! them. A transaction stages what it records and moves it in at commit, while it still
//! holds the store's write lock; transactions run one at a time, so a second write under a
//! key starts after the first has committed, and finds the key taken.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    error::{InfraError, RepositoryError},
    idempotency::{IdempotencyKey, IdempotencyRecord},
    ports::IdempotencyRecords,
    user::UserId,
};

type Records = HashMap<(UserId, IdempotencyKey), IdempotencyRecord>;

/// The committed records of one store.
pub(crate) type SharedRecords = Arc<Mutex<Records>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change is one map operation, so a panic cannot leave a half-made one.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`IdempotencyRecords`] in memory: the committed records, or one transaction's view.
#[derive(Debug, Clone)]
pub struct MemoryIdempotencyRecords {
    pub(crate) records: SharedRecords,
    /// In a transaction, what it recorded so far, moved in at commit.
    pub(crate) staged: Option<Arc<Mutex<Vec<IdempotencyRecord>>>>,
}

impl MemoryIdempotencyRecords {
    /// Moves `staged` into `records`; called at commit, under the store's write lock.
    pub(crate) fn apply(records: &SharedRecords, staged: Vec<IdempotencyRecord>) {
        let mut records = lock(records);
        for record in staged {
            records.insert((record.user, record.key.clone()), record);
        }
    }
}

#[async_trait]
impl IdempotencyRecords for MemoryIdempotencyRecords {
    async fn record(&self, record: &IdempotencyRecord) -> Result<(), RepositoryError> {
        let key = (record.user, record.key.clone());
        let mut records = lock(&self.records);
        if records.contains_key(&key) {
            return Err(RepositoryError::Duplicate("idempotency_key"));
        }
        match &self.staged {
            Some(staged) => {
                let mut staged = lock(staged);
                if staged
                    .iter()
                    .any(|r| r.user == record.user && r.key == record.key)
                {
                    return Err(RepositoryError::Duplicate("idempotency_key"));
                }
                staged.push(record.clone());
            }
            None => {
                records.insert(key, record.clone());
            }
        }
        Ok(())
    }

    async fn find(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InfraError> {
        Ok(lock(&self.records).get(&(user, key.clone())).cloned())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut records = lock(&self.records);
        let count = records.len();
        records.retain(|_, record| record.recorded_at >= before);
        Ok((count - records.len()) as u64)
    }
}
