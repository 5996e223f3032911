//! Counting todos per owner.

use std::collections::HashMap;

use domain::{error::InfraError, todo::TodoStatus, user::UserId};

use super::TodoPorts;
use crate::{Actor, AppError};

/// Why todos could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum CountTodosError {
    /// A member asked about someone else's todos; only administrators may.
    #[error("only administrators may count other users' todos")]
    Forbidden,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Counts the todos of many owners at once: what a page of users shows next to each user.
#[derive(Debug, Clone)]
pub struct CountTodos {
    ports: TodoPorts,
}

impl CountTodos {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// How many todos (with `status`, when given) each of `owners` has. Members may count
    /// their own only; administrators anyone's. One repository call, however many owners.
    #[tracing::instrument(name = "count_todos", skip_all, fields(user_id = %actor.id, owners = owners.len()))]
    pub async fn execute(
        &self,
        actor: &Actor,
        owners: &[UserId],
        status: Option<TodoStatus>,
    ) -> Result<HashMap<UserId, u64>, CountTodosError> {
        if !actor.is_admin() && owners.iter().any(|owner| *owner != actor.id) {
            return Err(CountTodosError::Forbidden);
        }
        Ok(self.ports.todos.count_by_owner(owners, status).await?)
    }
}

impl From<CountTodosError> for AppError {
    fn from(error: CountTodosError) -> Self {
        match error {
            CountTodosError::Forbidden => {
                AppError::forbidden("only administrators may count other users' todos")
            }
            CountTodosError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{MockTodoCache, MockTodoRepository};

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn an_admin_counts_many_owners_in_one_call() {
        let owners = [member().id, member().id, member().id];
        let mut todos = MockTodoRepository::new();
        todos
            .expect_count_by_owner()
            .withf(move |asked, status| asked == owners && *status == Some(TodoStatus::Open))
            .times(1)
            .returning(|asked, _| Ok(asked.iter().map(|o| (*o, 2)).collect()));

        let counts = CountTodos::new(todo_ports(todos, MockTodoCache::new()))
            .execute(&admin(), &owners, Some(TodoStatus::Open))
            .await
            .unwrap();

        assert_eq!(counts.len(), 3);
        assert!(counts.values().all(|n| *n == 2));
    }

    #[tokio::test]
    async fn a_member_counts_their_own_and_nobody_elses() {
        let actor = member();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_count_by_owner()
            .times(1)
            .returning(|asked, _| Ok(asked.iter().map(|o| (*o, 1)).collect()));
        let use_case = CountTodos::new(todo_ports(todos, MockTodoCache::new()));

        assert_eq!(
            use_case.execute(&actor, &[actor.id], None).await.unwrap()[&actor.id],
            1
        );
        let err = use_case
            .execute(&actor, &[actor.id, member().id], None)
            .await
            .unwrap_err();
        assert!(matches!(err, CountTodosError::Forbidden), "{err:?}");
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut todos = MockTodoRepository::new();
        todos
            .expect_count_by_owner()
            .returning(|_, _| Err(infra_down()));

        let err = CountTodos::new(todo_ports(todos, MockTodoCache::new()))
            .execute(&admin(), &[member().id], None)
            .await
            .unwrap_err();

        assert!(matches!(err, CountTodosError::Infra(_)), "{err:?}");
    }
}
