//! Completing and reopening a todo.

use std::convert::Infallible;

use domain::{
    error::InfraError,
    event::TodoChange,
    todo::{Todo, TodoId},
};

use super::{TodoPorts, modify::ModifyError};
use crate::{Actor, AppError};

/// Why a todo's status could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum StatusChangeError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// Other writers kept changing the todo; trying again later will likely work.
    #[error("the todo is being changed by others; try again")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<ModifyError<Infallible>> for StatusChangeError {
    fn from(error: ModifyError<Infallible>) -> Self {
        match error {
            ModifyError::NotFound => Self::NotFound,
            ModifyError::Contended => Self::Contended,
            ModifyError::Infra(e) => Self::Infra(e),
            ModifyError::Rule(never) => match never {},
        }
    }
}

/// Marks one of the actor's todos done. Completing a done todo changes nothing.
#[derive(Debug, Clone)]
pub struct CompleteTodo {
    ports: TodoPorts,
}

impl CompleteTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Completes the todo and returns it as stored.
    #[tracing::instrument(name = "complete_todo", skip_all, fields(user_id = %actor.id, todo_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: TodoId) -> Result<Todo, StatusChangeError> {
        Ok(self
            .ports
            .modify(actor, id, TodoChange::Completed, |todo, now| {
                Ok(todo.complete(now))
            })
            .await?)
    }
}

/// Marks one of the actor's todos open again. Reopening an open todo changes nothing.
#[derive(Debug, Clone)]
pub struct ReopenTodo {
    ports: TodoPorts,
}

impl ReopenTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Reopens the todo and returns it as stored.
    #[tracing::instrument(name = "reopen_todo", skip_all, fields(user_id = %actor.id, todo_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: TodoId) -> Result<Todo, StatusChangeError> {
        Ok(self
            .ports
            .modify(actor, id, TodoChange::Reopened, |todo, now| {
                Ok(todo.reopen(now))
            })
            .await?)
    }
}

impl From<StatusChangeError> for AppError {
    fn from(error: StatusChangeError) -> Self {
        match error {
            StatusChangeError::NotFound => AppError::not_found("no such todo"),
            StatusChangeError::Contended => super::contended(),
            StatusChangeError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{error::RepositoryError, todo::TodoStatus};

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn completing_then_reopening_round_trips_the_status() {
        let actor = member();
        let todo = todo_of(&actor);

        let done = CompleteTodo::new(ports_holding(&todo, Ok(())))
            .execute(&actor, todo.id())
            .await
            .unwrap();
        assert_eq!(done.status(), TodoStatus::Done);
        assert_eq!(done.completed_at(), Some(T0));

        let open = ReopenTodo::new(ports_holding(&done, Ok(())))
            .execute(&actor, done.id())
            .await
            .unwrap();
        assert_eq!(open.status(), TodoStatus::Open);
        assert_eq!(open.version().get(), 3);
    }

    /// A repository failure and a check of the error it must become.
    type Case = (fn() -> RepositoryError, fn(&StatusChangeError) -> bool);

    #[tokio::test]
    async fn each_failure_maps_to_its_own_error() {
        let actor = member();
        let todo = todo_of(&actor);
        let cases: [Case; 3] = [
            (
                || RepositoryError::NotFound,
                |e| matches!(e, StatusChangeError::NotFound),
            ),
            (
                || RepositoryError::VersionConflict,
                |e| matches!(e, StatusChangeError::Contended),
            ),
            (
                || RepositoryError::Infra(infra_down()),
                |e| matches!(e, StatusChangeError::Infra(_)),
            ),
        ];
        for (make, check) in cases {
            let err = CompleteTodo::new(ports_holding(&todo, Err(make)))
                .execute(&actor, todo.id())
                .await
                .unwrap_err();
            assert!(check(&err), "complete: {err:?}");
        }
        let mut done = todo.clone();
        done.complete(T0);
        for (make, check) in cases {
            let err = ReopenTodo::new(ports_holding(&done, Err(make)))
                .execute(&actor, done.id())
                .await
                .unwrap_err();
            assert!(check(&err), "reopen: {err:?}");
        }
    }
}
