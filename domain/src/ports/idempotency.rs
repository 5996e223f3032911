//! Where remembered writes are kept: see [`crate::idempotency`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    error::{InfraError, RepositoryError},
    idempotency::{IdempotencyKey, IdempotencyRecord},
    user::UserId,
};

/// The remembered outcomes of writes, by user and key.
///
/// Records are written inside a [`Transaction`](super::Transaction), with the write they
/// guard, so a record exists exactly when its write was committed. Outside one, they are
/// read and purged.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait IdempotencyRecords: Send + Sync {
    /// Records `record`.
    ///
    /// # Errors
    /// MUST return [`RepositoryError::Duplicate`]`("idempotency_key")` when the user already
    /// has a record under the key. Inside a transaction, a record that a concurrent
    /// transaction is writing under the same key MUST be waited for: when that transaction
    /// commits, this one gets the duplicate; when it rolls back, this one records. So of
    /// any number of concurrent writes under one key, exactly one is kept. MUST return
    /// [`RepositoryError::Infra`] when storage fails.
    async fn record(&self, record: &IdempotencyRecord) -> Result<(), RepositoryError>;

    /// The record `user` has under `key`, if any; never another user's.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn find(
        &self,
        user: UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InfraError>;

    /// Forgets the records made before `before`, and returns how many.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, InfraError>;
}
