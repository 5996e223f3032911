//! Logging in: trading an email and password for a session token.

use std::{net::IpAddr, sync::Arc};

use chrono::Duration;
use domain::{
    error::InfraError,
    ports::{Clock, PasswordHasher, SessionStore, TokenGenerator, UserRepository},
    session::{Session, SessionToken},
    user::{Email, Password, User},
};

use crate::{
    AppError,
    users::{Attempts, TooManyAttempts, attempts::AttemptError},
};

/// What a user logs in with.
#[derive(Debug)]
pub struct Credentials {
    /// The login email.
    pub email: Email,
    /// The password.
    pub password: Password,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    /// The bearer token; this is the only time it exists outside the client.
    pub token: SessionToken,
    /// The stored session (only its hash of the token).
    pub session: Session,
    /// The user who logged in.
    pub user: User,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    /// The email is unknown or the password is wrong; deliberately one error for both, so a
    /// caller cannot find out which emails have accounts.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many attempts for this email or from this address.
    #[error(transparent)]
    TooManyAttempts(#[from] TooManyAttempts),
    /// Storage, hashing or the session store failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Checks credentials and starts a session.
#[derive(Clone)]
pub struct LogIn {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    sessions: Arc<dyn SessionStore>,
    tokens: Arc<dyn TokenGenerator>,
    clock: Arc<dyn Clock>,
    session_ttl: Duration,
    attempts: Attempts,
}

impl LogIn {
    /// Builds the use case; sessions last `session_ttl`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        sessions: Arc<dyn SessionStore>,
        tokens: Arc<dyn TokenGenerator>,
        clock: Arc<dyn Clock>,
        session_ttl: Duration,
        attempts: Attempts,
    ) -> Self {
        Self {
            users,
            hasher,
            sessions,
            tokens,
            clock,
            session_ttl,
            attempts,
        }
    }

    /// Logs in with `credentials`, sent `from` a client address if the adapter knows it.
    /// Attempts are limited per email and per address ([`AttemptLimits`]), before any
    /// password is checked.
    #[tracing::instrument(name = "log_in", skip_all)]
    pub async fn execute(
        &self,
        credentials: Credentials,
        from: Option<IpAddr>,
    ) -> Result<LoggedIn, LogInError> {
        self.attempts
            .log_in(&credentials.email, from)
            .await
            .map_err(|e| match e {
                AttemptError::TooMany(e) => LogInError::TooManyAttempts(e),
                AttemptError::Infra(e) => LogInError::Infra(e),
            })?;
        let Some(user) = self.users.find_by_email(&credentials.email).await? else {
            // Do the same argon2 work as a real check, so the response time does not tell
            // an unknown email from a wrong password.
            self.hasher.hash(&credentials.password).await?;
            return Err(LogInError::InvalidCredentials);
        };
        if !self
            .hasher
            .verify(&credentials.password, &user.password_hash)
            .await?
        {
            return Err(LogInError::InvalidCredentials);
        }

        let token = self.tokens.generate();
        let now = self.clock.now();
        let session = Session {
            token_hash: token.hash(),
            user_id: user.id,
            role: user.role,
            created_at: now,
            expires_at: now + self.session_ttl,
        };
        self.sessions.create(&session).await?;
        tracing::info!(user_id = %user.id, "user logged in");
        Ok(LoggedIn {
            token,
            session,
            user,
        })
    }
}

impl std::fmt::Debug for LogIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIn")
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl From<LogInError> for AppError {
    fn from(error: LogInError) -> Self {
        match error {
            LogInError::InvalidCredentials => {
                AppError::unauthenticated("invalid email or password")
            }
            LogInError::TooManyAttempts(e) => e.into(),
            LogInError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{
        Admission, MockPasswordHasher, MockRateLimiter, MockSessionStore, MockUserRepository,
    };
    use domain::session::{SessionToken, TOKEN_BYTES};

    use super::*;
    use crate::{test_support::*, users::AttemptLimits};

    fn credentials(password_text: &str) -> Credentials {
        Credentials {
            email: email("ann@example.org"),
            password: password(password_text),
        }
    }

    fn users_with_ann() -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_email()
            .withf(|e| e.as_str() == "ann@example.org")
            .returning(|_| Ok(Some(user("ann@example.org", "right password"))));
        users
    }

    /// A hasher whose "hash" is readable, so verify can be checked for real.
    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|p| Ok(fake_hash(p.expose())));
        hasher
            .expect_verify()
            .returning(|p, h| Ok(fake_hash(p.expose()) == *h));
        hasher
    }

    fn use_case(
        users: MockUserRepository,
        hasher: MockPasswordHasher,
        sessions: MockSessionStore,
    ) -> LogIn {
        LogIn::new(
            Arc::new(users),
            Arc::new(hasher),
            Arc::new(sessions),
            fixed_tokens(),
            fixed_clock(),
            Duration::hours(2),
            Attempts::new(no_rate_limit(), AttemptLimits::default()),
        )
    }

    #[tokio::test]
    async fn attempts_past_the_limit_per_address_or_per_email_are_refused_before_any_password_check()
     {
        for (limited, from) in [
            (
                "log_in:address:192.0.2.7",
                Some("192.0.2.7".parse().unwrap()),
            ),
            ("log_in:email:ann@example.org", None),
        ] {
            let mut limiter = MockRateLimiter::new();
            limiter.expect_admit().returning(move |key, quota| {
                let limits = AttemptLimits::default();
                let expected = if key.starts_with("log_in:address:") {
                    limits.log_in_per_address
                } else {
                    limits.log_in_per_email
                };
                assert_eq!(quota, expected, "{key}");
                Ok(if key == limited {
                    Admission::Limited {
                        retry_after: std::time::Duration::from_millis(2_500),
                    }
                } else {
                    Admission::Allowed
                })
            });
            // No repository, hasher or session store call is expected: mockall fails on any.
            let use_case = LogIn::new(
                Arc::new(MockUserRepository::new()),
                Arc::new(MockPasswordHasher::new()),
                Arc::new(MockSessionStore::new()),
                fixed_tokens(),
                fixed_clock(),
                Duration::hours(2),
                Attempts::new(Arc::new(limiter), AttemptLimits::default()),
            );

            let err = use_case
                .execute(credentials("right password"), from)
                .await
                .err()
                .unwrap();

            assert!(
                matches!(err, LogInError::TooManyAttempts(_)),
                "{limited}: {err:?}"
            );
            let app = AppError::from(err);
            assert_eq!(
                (app.kind(), app.code(), app.retry_after()),
                (
                    crate::ErrorKind::LimitExceeded,
                    "rate_limited",
                    Some(std::time::Duration::from_secs(3))
                ),
                "whole seconds, rounded up"
            );
        }
    }

    #[tokio::test]
    async fn the_right_password_starts_a_session_stored_under_the_token_hash() {
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_create()
            .withf(|s| s.created_at == T0 && s.expires_at == T0 + Duration::hours(2))
            .times(1)
            .returning(|_| Ok(()));

        let logged_in = use_case(users_with_ann(), hasher(), sessions)
            .execute(credentials("right password"), None)
            .await
            .unwrap();

        assert_eq!(
            logged_in.token,
            SessionToken::from_bytes([7; TOKEN_BYTES]),
            "the token is the generator's"
        );
        assert_eq!(logged_in.session.token_hash, logged_in.token.hash());
        assert_eq!(logged_in.session.user_id, logged_in.user.id);
        assert_eq!(logged_in.session.role, logged_in.user.role);
    }

    #[tokio::test]
    async fn a_wrong_password_is_invalid_credentials_and_starts_no_session() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_create().never();

        let err = use_case(users_with_ann(), hasher(), sessions)
            .execute(credentials("wrong password"), None)
            .await
            .unwrap_err();

        assert!(matches!(err, LogInError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn an_unknown_email_gives_the_same_error_after_doing_the_hashing_work() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .times(1)
            .returning(|p| Ok(fake_hash(p.expose())));
        let mut sessions = MockSessionStore::new();
        sessions.expect_create().never();

        let err = use_case(users, hasher, sessions)
            .execute(credentials("right password"), None)
            .await
            .unwrap_err();

        assert!(matches!(err, LogInError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn storage_hashing_and_session_failures_are_passed_on() {
        let mut broken_users = MockUserRepository::new();
        broken_users
            .expect_find_by_email()
            .returning(|_| Err(infra_down()));
        let err = use_case(broken_users, hasher(), MockSessionStore::new())
            .execute(credentials("right password"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, LogInError::Infra(_)), "{err:?}");

        let mut broken_hasher = MockPasswordHasher::new();
        broken_hasher
            .expect_verify()
            .returning(|_, _| Err(infra_down()));
        let err = use_case(users_with_ann(), broken_hasher, MockSessionStore::new())
            .execute(credentials("right password"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, LogInError::Infra(_)), "{err:?}");

        let mut broken_sessions = MockSessionStore::new();
        broken_sessions
            .expect_create()
            .returning(|_| Err(infra_down()));
        let err = use_case(users_with_ann(), hasher(), broken_sessions)
            .execute(credentials("right password"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, LogInError::Infra(_)), "{err:?}");
    }
}
