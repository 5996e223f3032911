//! Where login sessions are kept.

use async_trait::async_trait;

use crate::{
    error::InfraError,
    session::{Session, SessionTokenHash},
};

/// Stores sessions by the hash of their token, until they expire.
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
}
