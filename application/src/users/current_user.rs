//! Who am I: the acting user's own record.

use std::sync::Arc;

use domain::{error::InfraError, ports::UserRepository, user::User};

use crate::{Actor, AppError};

/// Why the current user could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CurrentUserError {
    /// The session outlived its user (the account was removed).
    #[error("the user of this session no longer exists")]
    Gone,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Loads the acting user.
#[derive(Clone)]
pub struct CurrentUser {
    users: Arc<dyn UserRepository>,
}

impl CurrentUser {
    /// Builds the use case.
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// The record of `actor`.
    #[tracing::instrument(name = "current_user", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(&self, actor: &Actor) -> Result<User, CurrentUserError> {
        self.users
            .get(actor.id)
            .await?
            .ok_or(CurrentUserError::Gone)
    }
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser").finish_non_exhaustive()
    }
}

impl From<CurrentUserError> for AppError {
    fn from(error: CurrentUserError) -> Self {
        match error {
            CurrentUserError::Gone => {
                AppError::unauthenticated("the user of this session no longer exists")
            }
            CurrentUserError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockUserRepository;

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn returns_the_actors_own_record() {
        let ann = user("ann@example.org", "pw");
        let actor = actor_for(&ann);
        let stored = ann.clone();
        let mut users = MockUserRepository::new();
        users
            .expect_get()
            .withf(move |id| *id == actor.id)
            .returning(move |_| Ok(Some(stored.clone())));

        let me = CurrentUser::new(Arc::new(users))
            .execute(&actor)
            .await
            .unwrap();

        assert_eq!(me, ann);
    }

    #[tokio::test]
    async fn a_removed_user_is_gone() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Ok(None));

        let err = CurrentUser::new(Arc::new(users))
            .execute(&member())
            .await
            .unwrap_err();

        assert!(matches!(err, CurrentUserError::Gone), "{err:?}");
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(|_| Err(infra_down()));

        let err = CurrentUser::new(Arc::new(users))
            .execute(&member())
            .await
            .unwrap_err();

        assert!(matches!(err, CurrentUserError::Infra(_)), "{err:?}");
    }
}
