//! Where login sessions are kept.

use async_trait::async_trait;

use crate::{
    error::InfraError,
    session::{Session, SessionTokenHash},
    user::UserId,
};

/// Stores sessions by the hash of their token, until they expire, with an index by user so
/// that all of one user's sessions can be ended at once.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores `session` until its `expires_at`.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the store fails; the session is then not stored.
    async fn create(&self, session: &Session) -> Result<(), InfraError>;

    /// The session stored under `token_hash`.
    ///
    /// MUST return `Ok(None)` for an unknown hash, a deleted session, and a session whose
    /// `expires_at` has passed.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the store cannot answer.
    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, InfraError>;

    /// Deletes the session stored under `token_hash`.
    ///
    /// MUST succeed when there is no such session (logging out twice is fine).
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the store fails.
    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<(), InfraError>;

    /// Deletes every session of `user`, and no session of anyone else ("log out
    /// everywhere"; also what a role change or an account deletion needs).
    ///
    /// MUST succeed when the user has no sessions. A session created after this call
    /// returns is not affected.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the store fails; some sessions may then remain.
    async fn delete_all_of_user(&self, user: UserId) -> Result<(), InfraError>;
}
