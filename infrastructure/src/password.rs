//! Password hashing with argon2id.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{
        self, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
    },
};
use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::PasswordHasher,
    user::{Password, PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};

/// argon2id with OWASP's recommended parameters: 19 MiB of memory, 2 passes, 1 lane.
///
/// Hashing takes tens of milliseconds of CPU by design, so it runs on tokio's blocking pool:
/// on an async worker it would stall every other request on that thread. The caller's span
/// is carried into the blocking task, so its log lines stay attached to the request.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
}

impl Argon2Hasher {
    /// OWASP's minimum memory cost for argon2id, in KiB.
    pub const MEMORY_KIB: u32 = 19_456;
    /// OWASP's pass count for that memory cost.
    pub const ITERATIONS: u32 = 2;
    /// One lane: parallelism buys nothing on a busy server.
    pub const PARALLELISM: u32 = 1;

    /// A hasher with the OWASP parameters.
    pub fn new() -> Result<Self, InfraError> {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, None)
            .map_err(|e| InfraError::internal("configure argon2", e.to_string()))?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        })
    }

    /// Runs `work` on the blocking pool inside the caller's span.
    async fn blocking<T: Send + 'static>(
        operation: &'static str,
        work: impl FnOnce() -> Result<T, InfraError> + Send + 'static,
    ) -> Result<T, InfraError> {
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(work))
            .await
            .map_err(|e| InfraError::internal(operation, e))?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError> {
        // The blocking task needs its own copy; SecretString wipes it when dropped.
        let password = SecretString::from(password.expose());
        let argon2 = self.argon2.clone();
        Self::blocking("hash password", move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|hash| PasswordHash::new(hash.to_string()))
                .map_err(|e| InfraError::internal("hash password", e.to_string()))
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, InfraError> {
        let password = SecretString::from(password.expose());
        let phc = hash.as_str().to_owned();
        let argon2 = self.argon2.clone();
        Self::blocking("verify password", move || {
            let parsed = password_hash::PasswordHash::new(&phc)
                .map_err(|e| InfraError::internal("parse password hash", e.to_string()))?;
            // The parameters come from the stored hash, so hashes made with older settings
            // still verify.
            match argon2.verify_password(password.expose_secret().as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(password_hash::Error::Password) => Ok(false),
                Err(e) => Err(InfraError::internal("verify password", e.to_string())),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::new(s.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_only() {
        let hasher = Argon2Hasher::new().unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();

        assert!(
            hasher
                .verify(&password("correct horse"), &hash)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&password("correct horsE"), &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_owasp_parameters_and_a_fresh_salt() {
        let hasher = Argon2Hasher::new().unwrap();
        let a = hasher.hash(&password("same password")).await.unwrap();
        let b = hasher.hash(&password("same password")).await.unwrap();

        assert!(
            a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            a.as_str()
        );
        assert_ne!(a, b, "each hash gets its own salt");
    }

    #[tokio::test]
    async fn a_hash_that_is_not_phc_is_an_error_not_a_mismatch() {
        let hasher = Argon2Hasher::new().unwrap();
        let result = hasher
            .verify(
                &password("whatever1"),
                &PasswordHash::new("plain-text".into()),
            )
            .await;
        assert!(result.is_err());
    }
}
