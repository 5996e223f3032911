//! A read cache in front of the todo repository.

use async_trait::async_trait;

use crate::{
    error::InfraError,
    todo::{Todo, TodoId, Version},
};

/// Keeps recently read todos for cache-aside reads.
///
/// The cache is an optimisation, never the source of truth: callers treat every error as
/// a miss and carry on with the repository. A cache MAY forget any entry at any time (that
/// is what eviction is), but MUST NOT return an entry after it was invalidated or expired.
/// Entries expire after a bounded time, which also bounds how long a failed invalidation
/// can leave a stale entry behind.
///
/// **Versions only move forward.** A cache-aside reader can load version 1, stall, and
/// put it after a writer committed version 2 and invalidated the entry. A cache MUST NOT
/// store a version older than one already stored or invalidated for the same id, so such a
/// late put is ignored instead of serving version 1 (and refusing every `If-Match` the
/// client then sends) until the entry expires. Adapters keep the invalidated version as a
/// tombstone for as long as an entry would live.
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

    /// Caches `todo`, unless the cache holds a newer version of it or was invalidated at a
    /// newer version. A later `get` that hits MUST return an equal todo (every field,
    /// including version and times).
    ///
    /// MUST be atomic: of two concurrent puts, the newer version is the one kept.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the cache fails.
    async fn put(&self, todo: &Todo) -> Result<(), InfraError>;

    /// Drops the entry for `id`, if any, after a write that stored version `written` (for
    /// a deletion: the version after the deleted one). From then on, MUST ignore puts of any
    /// version older than `written`, for at least as long as an entry would live. MUST
    /// succeed when there is no entry.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the cache fails.
    async fn invalidate(&self, id: TodoId, written: Version) -> Result<(), InfraError>;
}
