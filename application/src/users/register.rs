//! Registering a new user.

use std::{net::IpAddr, sync::Arc};

use domain::{
    error::{InfraError, RepositoryError},
    ports::{Clock, IdGenerator, PasswordHasher, UserRepository},
    user::{DisplayName, Email, Password, Role, User, UserId},
};

use crate::{
    AppError,
    error::codes,
    users::{Attempts, TooManyAttempts, attempts::AttemptError},
};

/// What a new user provides.
#[derive(Debug)]
pub struct Registration {
    /// The login email.
    pub email: Email,
    /// The name to show.
    pub display_name: DisplayName,
    /// The password, hashed before it is stored.
    pub password: Password,
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Another user already has this email.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Too many registrations from this address.
    #[error(transparent)]
    TooManyAttempts(#[from] TooManyAttempts),
    /// Storage or hashing failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Creates users: members through the public API, any role through the operator CLI.
#[derive(Clone)]
pub struct RegisterUser {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    attempts: Attempts,
}

impl RegisterUser {
    /// Builds the use case.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        attempts: Attempts,
    ) -> Self {
        Self {
            users,
            hasher,
            clock,
            ids,
            attempts,
        }
    }

    /// Registers a member, sent `from` a client address if the adapter knows it. This is
    /// what anyone may do through the API, so registrations are limited per address
    /// ([`AttemptLimits::register_per_address`]).
    pub async fn register(
        &self,
        registration: Registration,
        from: Option<IpAddr>,
    ) -> Result<User, RegisterError> {
        self.attempts.register(from).await.map_err(|e| match e {
            AttemptError::TooMany(e) => RegisterError::TooManyAttempts(e),
            AttemptError::Infra(e) => RegisterError::Infra(e),
        })?;
        self.create_with_role(registration, Role::Member).await
    }

    /// Creates a user with any role. Only trusted callers (the operator CLI) use this.
    #[tracing::instrument(name = "register_user", skip_all, fields(role = %role))]
    pub async fn create_with_role(
        &self,
        registration: Registration,
        role: Role,
    ) -> Result<User, RegisterError> {
        let password_hash = self.hasher.hash(&registration.password).await?;
        let user = User {
            id: UserId::from_uuid(self.ids.generate()),
            email: registration.email,
            display_name: registration.display_name,
            password_hash,
            role,
            created_at: self.clock.now(),
        };
        // No "does this email exist?" read first: the unique constraint decides, so two
        // concurrent registrations with one email cannot both succeed.
        match self.users.insert(&user).await {
            Ok(()) => Ok(user),
            Err(RepositoryError::Duplicate("email")) => Err(RegisterError::EmailTaken),
            Err(RepositoryError::Infra(e)) => Err(e.into()),
            Err(other) => Err(InfraError::internal("insert user", other).into()),
        }
    }
}

impl std::fmt::Debug for RegisterUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterUser").finish_non_exhaustive()
    }
}

impl From<RegisterError> for AppError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => {
                AppError::conflict(codes::EMAIL_TAKEN, "a user with this email already exists")
            }
            RegisterError::TooManyAttempts(e) => e.into(),
            RegisterError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{Admission, MockPasswordHasher, MockRateLimiter, MockUserRepository};

    use super::*;
    use crate::{test_support::*, users::AttemptLimits};

    fn registration() -> Registration {
        Registration {
            email: email("ann@example.org"),
            display_name: DisplayName::new("Ann").unwrap(),
            password: password("correct horse"),
        }
    }

    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|p| Ok(fake_hash(p.expose())));
        hasher
    }

    fn use_case(users: MockUserRepository, hasher: MockPasswordHasher) -> RegisterUser {
        RegisterUser::new(
            Arc::new(users),
            Arc::new(hasher),
            fixed_clock(),
            sequential_ids(),
            Attempts::new(no_rate_limit(), AttemptLimits::default()),
        )
    }

    #[tokio::test]
    async fn registrations_past_the_limit_per_address_are_refused_before_any_work() {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_admit()
            .withf(|key, quota| {
                key == "register:address:192.0.2.7"
                    && *quota == AttemptLimits::default().register_per_address
            })
            .returning(|_, _| {
                Ok(Admission::Limited {
                    retry_after: std::time::Duration::from_secs(30),
                })
            });
        let use_case = RegisterUser::new(
            Arc::new(MockUserRepository::new()),
            Arc::new(MockPasswordHasher::new()),
            fixed_clock(),
            sequential_ids(),
            Attempts::new(Arc::new(limiter), AttemptLimits::default()),
        );

        let err = use_case
            .register(registration(), Some("192.0.2.7".parse().unwrap()))
            .await
            .err()
            .unwrap();

        assert!(matches!(err, RegisterError::TooManyAttempts(_)), "{err:?}");
        assert_eq!(AppError::from(err).code(), "rate_limited");
    }

    #[tokio::test]
    async fn registering_stores_a_member_with_the_hashed_password() {
        let mut users = MockUserRepository::new();
        users
            .expect_insert()
            .withf(|u| {
                u.email.as_str() == "ann@example.org"
                    && u.role == Role::Member
                    && u.password_hash == fake_hash("correct horse")
                    && u.created_at == T0
            })
            .times(1)
            .returning(|_| Ok(()));

        let user = use_case(users, hasher())
            .register(registration(), None)
            .await
            .unwrap();

        assert_eq!(user.display_name.as_str(), "Ann");
        assert_eq!(user.role, Role::Member);
        assert_eq!(user.password_hash, fake_hash("correct horse"));
    }

    #[tokio::test]
    async fn the_cli_can_create_an_admin() {
        let mut users = MockUserRepository::new();
        users
            .expect_insert()
            .withf(|u| u.role == Role::Admin)
            .returning(|_| Ok(()));

        let user = use_case(users, hasher())
            .create_with_role(registration(), Role::Admin)
            .await
            .unwrap();

        assert!(user.is_admin());
    }

    #[tokio::test]
    async fn a_taken_email_is_reported_as_such() {
        let mut users = MockUserRepository::new();
        users
            .expect_insert()
            .returning(|_| Err(RepositoryError::Duplicate("email")));

        let err = use_case(users, hasher())
            .register(registration(), None)
            .await
            .unwrap_err();

        assert!(matches!(err, RegisterError::EmailTaken), "{err:?}");
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut users = MockUserRepository::new();
        users
            .expect_insert()
            .returning(|_| Err(RepositoryError::Infra(infra_down())));

        let err = use_case(users, hasher())
            .register(registration(), None)
            .await
            .unwrap_err();

        assert!(matches!(err, RegisterError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_unexpected_repository_answer_is_an_internal_error() {
        let mut users = MockUserRepository::new();
        users
            .expect_insert()
            .returning(|_| Err(RepositoryError::Duplicate("id")));

        let err = use_case(users, hasher())
            .register(registration(), None)
            .await
            .unwrap_err();

        assert!(matches!(err, RegisterError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_hashing_failure_stores_nothing() {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Err(infra_down()));
        let mut users = MockUserRepository::new();
        users.expect_insert().never();

        let err = use_case(users, hasher)
            .register(registration(), None)
            .await
            .unwrap_err();

        assert!(matches!(err, RegisterError::Infra(_)), "{err:?}");
    }
}
