//! Where todos are kept.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::{
    error::{InfraError, RepositoryError},
    todo::{DueDate, Tag, Todo, TodoId, TodoStatus, Version},
    user::UserId,
};

/// Which of a user's todos to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoQuery {
    /// The user whose todos to list.
    pub owner: UserId,
    /// Only todos with this status, when given.
    pub status: Option<TodoStatus>,
    /// Only todos with this tag, when given.
    pub tag: Option<Tag>,
    /// Only todos older than this one (the cursor), when given.
    pub before: Option<TodoId>,
    /// At most this many todos.
    pub limit: u32,
}

/// Stores todos.
///
/// The repository does not check ownership: it stores what the use cases, which do, hand it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TodoRepository: Send + Sync {
    /// Stores a new todo.
    ///
    /// # Errors
    /// - MUST return [`RepositoryError::Duplicate`]`("id")` when a todo with the same id
    ///   exists.
    /// - MUST return [`RepositoryError::UnknownReference`]`("owner")` when no user has the
    ///   todo's owner id (the account was deleted while a session of it lived on).
    /// - MUST return [`RepositoryError::Infra`] when storage fails.
    async fn insert(&self, todo: &Todo) -> Result<(), RepositoryError>;

    /// The todo with `id`, whoever owns it; MUST return `Ok(None)` when there is none.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError>;

    /// Replaces the stored todo with `todo`, but only if the stored version is still
    /// `expected` (compare-and-set).
    ///
    /// MUST be atomic: of any number of concurrent updates with the same `expected`, exactly
    /// one succeeds and the others get `VersionConflict`.
    ///
    /// # Errors
    /// - MUST return [`RepositoryError::NotFound`] when no todo has the id.
    /// - MUST return [`RepositoryError::VersionConflict`] when the stored version is not
    ///   `expected`, and change nothing.
    /// - MUST return [`RepositoryError::Infra`] when storage fails.
    async fn update(&self, todo: &Todo, expected: Version) -> Result<(), RepositoryError>;

    /// Deletes the todo with `id` if its stored version is still `expected`.
    ///
    /// # Errors
    /// - MUST return [`RepositoryError::NotFound`] when no todo has the id.
    /// - MUST return [`RepositoryError::VersionConflict`] when the stored version is not
    ///   `expected`, and delete nothing.
    /// - MUST return [`RepositoryError::Infra`] when storage fails.
    async fn delete(&self, id: TodoId, expected: Version) -> Result<(), RepositoryError>;

    /// Up to `query.limit` todos of `query.owner` that match the filters, newest first.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn list(&self, query: &TodoQuery) -> Result<Vec<Todo>, InfraError>;

    /// Up to `limit` open todos, of any owner, due on a day from `first` to `last`
    /// inclusive, with ids greater than `after` when given, in id order: one page of the
    /// reminder job's scan.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn open_due_between(
        &self,
        first: DueDate,
        last: DueDate,
        after: Option<TodoId>,
        limit: u32,
    ) -> Result<Vec<Todo>, InfraError>;

    /// How many todos each of `owners` has, only those with `status` when given: one
    /// round trip for many owners, so that a page of users never costs a query per user.
    ///
    /// MUST hold an entry for every owner asked for, 0 for those with no todos (or no
    /// account), and no other entry.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn count_by_owner(
        &self,
        owners: &[UserId],
        status: Option<TodoStatus>,
    ) -> Result<HashMap<UserId, u64>, InfraError>;
}
