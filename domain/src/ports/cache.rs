//! A read cache in front of the todo repository.

use async_trait::async_trait;

use crate::{
    error::InfraError,
    todo::{Todo, TodoId},
};

/// Keeps recently read todos for cache-aside reads.
///
/// The cache is an optimisation, never the source of truth: callers treat every error as
/// a miss and carry on with the repository. A cache MAY forget any entry at any time (that
/// is what eviction is), but MUST NOT return an entry after it was invalidated or expired,
/// and what it returns MUST equal what was last put. Entries expire after a bounded time,
/// which also bounds how long a failed invalidation can leave a stale entry behind.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TodoCache: Send + Sync {
    /// The cached todo with `id`.
    ///
    /// MUST return `Ok(None)` for an id that was never put, was invalidated, or expired.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the cache cannot answer.
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError>;

    /// Caches `todo`, replacing any entry for its id. A later `get` that hits MUST return
    /// an equal todo (every field, including version and times).
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the cache fails.
    async fn put(&self, todo: &Todo) -> Result<(), InfraError>;

    /// Drops the entry for `id`, if any; MUST succeed when there is none.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the cache fails.
    async fn invalidate(&self, id: TodoId) -> Result<(), InfraError>;
}
