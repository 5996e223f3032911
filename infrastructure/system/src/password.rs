//! Password hashing with argon2id, with a bound on how many hashes run at once.

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
use std::{sync::Arc, time::Duration};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much hashing may happen at once, and how long a caller waits for a turn.
#[derive(Debug, Clone, Copy)]
pub struct HashingLimits {
    /// The most hashes running at once. Each holds 19 MiB and a core for ~25 ms, so more
    /// than the number of cores only adds memory and queueing, not throughput.
    pub concurrency: usize,
    /// How long a hash waits for a free slot before it is refused as unavailable. Keeps the
    /// queue short: under a flood of logins, most are answered "try again" at once rather
    /// than all of them slowly.
    pub max_wait: Duration,
}

impl Default for HashingLimits {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            max_wait: Duration::from_secs(1),
        }
    }
}

/// What a refused caller is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// argon2id with OWASP's recommended parameters: 19 MiB of memory, 2 passes, 1 lane.
///
/// Hashing takes tens of milliseconds of CPU by design, so it runs on tokio's blocking pool:
/// on an async worker it would stall every other request on that thread. The caller's span
/// is carried into the blocking task, so its log lines stay attached to the request.
///
/// A semaphore bounds the hashes in progress ([`HashingLimits`]). Login and registration
/// need no account, so without it anyone could start hundreds of 19 MiB hashes at once.
/// The permit moves into the blocking task and is released only when the hash finishes:
/// a request that times out or disconnects cannot free its slot early while its hash
/// still runs, so the bound holds for the work actually being done.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    slots: Arc<Semaphore>,
    max_wait: Duration,
}

impl Argon2Hasher {
    /// OWASP's minimum memory cost for argon2id, in KiB.
    pub const MEMORY_KIB: u32 = 19_456;
    /// OWASP's pass count for that memory cost.
    pub const ITERATIONS: u32 = 2;
    /// One lane: parallelism buys nothing on a busy server.
    pub const PARALLELISM: u32 = 1;

    /// A hasher with the OWASP parameters, running at most `limits.concurrency` hashes at
    /// once (at least one).
    pub fn new(limits: HashingLimits) -> Result<Self, InfraError> {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, None)
            .map_err(|e| InfraError::internal("configure argon2", e.to_string()))?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            max_wait: limits.max_wait,
        })
    }

    /// A hashing slot, or unavailable (with a retry hint) when none frees up in time.
    async fn slot(&self, operation: &'static str) -> Result<OwnedSemaphorePermit, InfraError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treat it as a bug if it ever is.
            Ok(Err(closed)) => Err(InfraError::internal(operation, closed)),
            Err(_) => {
                // Not logged here: the driving adapter logs the refusal once, as it does
                // every unavailable answer.
                Err(
                    InfraError::unavailable(operation, "every password-hashing slot is busy")
                        .retry_after(RETRY_AFTER),
                )
            }
        }
    }

    /// Runs `work` on the blocking pool inside the caller's span, holding a hashing slot
    /// until it finishes.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce() -> Result<T, InfraError> + Send + 'static,
    ) -> Result<T, InfraError> {
        let permit = self.slot(operation).await?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            span.in_scope(work)
        })
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
        self.blocking("hash password", move || {
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
        self.blocking("verify password", move || {
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
        let hasher = Argon2Hasher::new(HashingLimits::default()).unwrap();
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
        let hasher = Argon2Hasher::new(HashingLimits::default()).unwrap();
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
        let hasher = Argon2Hasher::new(HashingLimits::default()).unwrap();
        let result = hasher
            .verify(
                &password("whatever1"),
                &PasswordHash::new("plain-text".into()),
            )
            .await;
        assert!(result.is_err());
    }
}

#[cfg(test)]
mod limit_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use domain::error::InfraErrorKind;

    use super::*;

    fn hasher(concurrency: usize, max_wait: Duration) -> Argon2Hasher {
        Argon2Hasher::new(HashingLimits {
            concurrency,
            max_wait,
        })
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_the_limit() {
        let hasher = hasher(2, Duration::from_secs(60));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (hasher, running, peak) = (hasher.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    hasher
                        .blocking("test", move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_waits_too_long_is_refused_with_a_retry_hint() {
        let hasher = hasher(1, Duration::from_millis(50));
        let busy = hasher.clone();
        let (started, started_rx) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn(async move {
            busy.blocking("test", move || {
                let _ = started.send(());
                std::thread::sleep(Duration::from_millis(500));
                Ok(())
            })
            .await
        });
        started_rx.await.unwrap();

        let refused = hasher.hash(&password("password-123")).await.unwrap_err();

        assert_eq!(refused.kind(), InfraErrorKind::Unavailable);
        assert_eq!(refused.retry_delay(), Some(RETRY_AFTER));
        holder.await.unwrap().unwrap();
        hasher.hash(&password("password-123")).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_hash_keeps_its_slot_until_it_finishes() {
        let hasher = hasher(1, Duration::from_millis(10));
        let (started, started_rx) = tokio::sync::oneshot::channel();
        let (release, release_rx) = std::sync::mpsc::channel::<()>();
        let busy = hasher.clone();
        let abandoned = tokio::spawn(async move {
            busy.blocking("test", move || {
                let _ = started.send(());
                let _ = release_rx.recv();
                Ok(())
            })
            .await
        });
        started_rx.await.unwrap();
        abandoned.abort(); // The request gave up; its hash is still running.

        assert!(hasher.hash(&password("password-123")).await.is_err());
        release.send(()).unwrap();
        // The slot frees once the blocking work is done.
        let mut freed = false;
        for _ in 0..100 {
            if hasher.slots.available_permits() == 1 {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(freed);
    }

    fn password(s: &str) -> Password {
        Password::new(s.to_owned()).unwrap()
    }
}
