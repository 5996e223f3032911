//! Password hashing.

use async_trait::async_trait;

use crate::{
    error::InfraError,
    user::{Password, PasswordHash},
};

/// Hashes passwords and checks them against stored hashes.
///
/// Both methods are deliberately slow and memory-hungry (that is the point of a password
/// hash), so adapters MUST NOT run them on an async worker thread, and MUST bound how many
/// run at once: anyone can ask for a login, so unbounded hashing is a denial of service.
/// Beyond the bound, an adapter fails fast with an unavailable [`InfraError`] that carries
/// a retry hint, rather than queueing without limit.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with a fresh random salt.
    ///
    /// # Errors
    /// MUST return [`InfraError`] if hashing fails, or (unavailable, with a retry hint) if
    /// no hashing slot frees up within the adapter's bound.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError>;

    /// True if `password` is the one `hash` was made from.
    ///
    /// MUST take about as long as [`PasswordHasher::hash`], so that callers can make a
    /// login for an unknown email cost the same as one for a known email.
    ///
    /// # Errors
    /// MUST return `Ok(false)` for a wrong password, and [`InfraError`] if `hash` is not a
    /// hash this hasher can read, or (unavailable, with a retry hint) if no hashing slot
    /// frees up within the adapter's bound.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, InfraError>;
}
