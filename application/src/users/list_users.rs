//! Listing users, for administrators.

use std::sync::Arc;

use domain::{
    error::InfraError,
    pagination::{Page, PageSize},
    ports::UserRepository,
    user::{User, UserId},
};

use crate::{Actor, AppError};

/// Why users could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListUsersError {
    /// Only administrators may list users.
    #[error("only administrators may list users")]
    Forbidden,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Lists every user, newest first, one page at a time.
#[derive(Clone)]
pub struct ListUsers {
    users: Arc<dyn UserRepository>,
}

impl ListUsers {
    /// Builds the use case.
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// One page of users older than `cursor` (from the start when `None`).
    #[tracing::instrument(name = "list_users", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        cursor: Option<UserId>,
        size: PageSize,
    ) -> Result<Page<User, UserId>, ListUsersError> {
        if !actor.is_admin() {
            return Err(ListUsersError::Forbidden);
        }
        // One more than asked for tells whether a next page exists.
        let mut users = self.users.list(cursor, u32::from(size.get()) + 1).await?;
        let next_cursor = if users.len() > usize::from(size.get()) {
            users.truncate(usize::from(size.get()));
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(Page {
            items: users,
            next_cursor,
        })
    }
}

impl std::fmt::Debug for ListUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListUsers").finish_non_exhaustive()
    }
}

impl From<ListUsersError> for AppError {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Forbidden => AppError::forbidden("only administrators may list users"),
            ListUsersError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockUserRepository;

    use super::*;
    use crate::test_support::*;

    fn users(n: usize) -> Vec<User> {
        (0..n)
            .map(|i| user(&format!("u{i}@example.org"), "pw"))
            .collect()
    }

    #[tokio::test]
    async fn an_admin_gets_a_page_and_the_cursor_of_the_next() {
        let all = users(3);
        let expected_cursor = all[1].id;
        let mut repo = MockUserRepository::new();
        repo.expect_list()
            .withf(|before, limit| before.is_none() && *limit == 3)
            .returning(move |_, _| Ok(all.clone()));

        let page = ListUsers::new(Arc::new(repo))
            .execute(&admin(), None, PageSize::new(2).unwrap())
            .await
            .unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(expected_cursor));
    }

    #[tokio::test]
    async fn the_last_page_has_no_cursor_and_the_cursor_is_passed_down() {
        let cursor = UserId::from_uuid(uuid::Uuid::now_v7());
        let mut repo = MockUserRepository::new();
        repo.expect_list()
            .withf(move |before, _| *before == Some(cursor))
            .returning(|_, _| Ok(users(2)));

        let page = ListUsers::new(Arc::new(repo))
            .execute(&admin(), Some(cursor), PageSize::new(2).unwrap())
            .await
            .unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, None);
    }

    #[tokio::test]
    async fn a_member_is_forbidden_and_nothing_is_read() {
        let mut repo = MockUserRepository::new();
        repo.expect_list().never();

        let err = ListUsers::new(Arc::new(repo))
            .execute(&member(), None, PageSize::DEFAULT)
            .await
            .unwrap_err();

        assert!(matches!(err, ListUsersError::Forbidden), "{err:?}");
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut repo = MockUserRepository::new();
        repo.expect_list().returning(|_, _| Err(infra_down()));

        let err = ListUsers::new(Arc::new(repo))
            .execute(&admin(), None, PageSize::DEFAULT)
            .await
            .unwrap_err();

        assert!(matches!(err, ListUsersError::Infra(_)), "{err:?}");
    }
}
