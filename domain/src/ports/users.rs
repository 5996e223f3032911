//! Where users are kept.

use async_trait::async_trait;

use crate::{
    error::{InfraError, RepositoryError},
    user::{Email, User, UserId},
};

/// Stores users.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// - MUST return [`RepositoryError::Duplicate`]`("email")` when another user has the same
    ///   email, and store nothing.
    /// - MUST return [`RepositoryError::Duplicate`]`("id")` when a user with the same id exists.
    /// - MUST return [`RepositoryError::Infra`] when storage fails.
    async fn insert(&self, user: &User) -> Result<(), RepositoryError>;

    /// The user with `id`; MUST return `Ok(None)` when there is none.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn get(&self, id: UserId) -> Result<Option<User>, InfraError>;

    /// The user whose email is `email`; MUST return `Ok(None)` when there is none.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, InfraError>;

    /// Up to `limit` users, newest first, only those older than `before` when it is given.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage fails.
    async fn list(&self, before: Option<UserId>, limit: u32) -> Result<Vec<User>, InfraError>;
}
