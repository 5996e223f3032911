//! Creating a todo.

use domain::{
    error::{InfraError, RepositoryError},
    event::TodoChange,
    todo::{NewTodo, Todo, TodoId},
};

use super::{TodoPorts, Write};
use crate::{Actor, AppError};

/// Why a todo could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTodoError {
    /// The actor's account no longer exists, though their session still does: they may
    /// not create anything until they log in again (which they cannot).
    #[error("the user of this session no longer exists")]
    OwnerGone,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Creates a todo owned by the actor.
#[derive(Debug, Clone)]
pub struct CreateTodo {
    ports: TodoPorts,
}

impl CreateTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Creates an open todo at version 1, and records its `todo.created` event with it.
    #[tracing::instrument(name = "create_todo", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(&self, actor: &Actor, new: NewTodo) -> Result<Todo, CreateTodoError> {
        let id = TodoId::from_uuid(self.ports.ids.generate());
        let todo = Todo::create(id, actor.id, new, self.ports.clock.now());
        match self
            .ports
            .write(Write::Insert(&todo), TodoChange::Created)
            .await
        {
            Ok(()) => Ok(todo),
            Err(RepositoryError::UnknownReference("owner")) => Err(CreateTodoError::OwnerGone),
            Err(RepositoryError::Infra(e)) => Err(e.into()),
            // The generator promises unique ids, so a duplicate is a broken adapter.
            Err(other) => Err(InfraError::internal("insert todo", other).into()),
        }
    }
}

impl From<CreateTodoError> for AppError {
    fn from(error: CreateTodoError) -> Self {
        match error {
            CreateTodoError::OwnerGone => {
                AppError::unauthenticated("the user of this session no longer exists")
            }
            CreateTodoError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{
        ports::{MockTodoCache, MockTodoRepository},
        todo::{DueDate, Tag, Tags, Title, TodoStatus, Version},
    };

    use super::*;
    use crate::test_support::*;

    fn ports(todos: MockTodoRepository) -> TodoPorts {
        todo_ports(todos, MockTodoCache::new())
    }

    fn new_todo() -> NewTodo {
        NewTodo {
            title: Title::new("File taxes").unwrap(),
            description: None,
            due_date: DueDate::parse("2026-04-15").ok(),
            tags: Tags::new([Tag::new("home").unwrap()]).unwrap(),
        }
    }

    #[tokio::test]
    async fn creates_an_open_todo_owned_by_the_actor() {
        let actor = member();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_insert()
            .withf(move |t| t.owner() == actor.id && t.version() == Version::INITIAL)
            .times(1)
            .returning(|_| Ok(()));

        let (ports, events) = todo_ports_recording(todos, MockTodoCache::new());

        let todo = CreateTodo::new(ports)
            .execute(&actor, new_todo())
            .await
            .unwrap();

        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].change, TodoChange::Created);
        assert_eq!(events[0].id.as_uuid(), uuid::Uuid::from_u128(2));
        assert_eq!(
            (events[0].todo_id, events[0].version),
            (todo.id(), Version::INITIAL)
        );
        assert_eq!((events[0].owner, events[0].occurred_at), (actor.id, T0));
        assert_eq!(todo.id().as_uuid(), uuid::Uuid::from_u128(1));
        assert_eq!(todo.status(), TodoStatus::Open);
        assert_eq!(todo.created_at(), T0);
        assert_eq!(todo.title().as_str(), "File taxes");
        assert_eq!(todo.tags().len(), 1);
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut todos = MockTodoRepository::new();
        todos
            .expect_insert()
            .returning(|_| Err(RepositoryError::Infra(infra_down())));

        let err = CreateTodo::new(ports(todos))
            .execute(&member(), new_todo())
            .await
            .unwrap_err();

        assert!(matches!(err, CreateTodoError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_owner_deleted_under_a_live_session_is_owner_gone() {
        let mut todos = MockTodoRepository::new();
        todos
            .expect_insert()
            .returning(|_| Err(RepositoryError::UnknownReference("owner")));

        let err = CreateTodo::new(ports(todos))
            .execute(&member(), new_todo())
            .await
            .unwrap_err();

        assert!(matches!(err, CreateTodoError::OwnerGone), "{err:?}");
    }

    #[tokio::test]
    async fn a_duplicate_id_is_an_internal_error() {
        let mut todos = MockTodoRepository::new();
        todos
            .expect_insert()
            .returning(|_| Err(RepositoryError::Duplicate("id")));

        let err = CreateTodo::new(ports(todos))
            .execute(&member(), new_todo())
            .await
            .unwrap_err();

        assert!(matches!(err, CreateTodoError::Infra(_)), "{err:?}");
    }
}
