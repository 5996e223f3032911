//! Creating a todo.

use domain::{
    error::{InfraError, RepositoryError},
    event::TodoChange,
    idempotency::{IdempotencyKey, Outcome},
    todo::{NewTodo, Todo, TodoId},
};

use super::{
    Idempotent, KeyReused, TodoPorts, Write,
    idempotent::{Lookup, Retry},
};
use crate::{Actor, AppError};

/// Why a todo could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTodoError {
    /// The actor's account no longer exists, though their session still does: they may
    /// not create anything until they log in again (which they cannot).
    #[error("the user of this session no longer exists")]
    OwnerGone,
    /// The idempotency key was sent before with another request.
    #[error(transparent)]
    KeyReused(#[from] KeyReused),
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Lookup> for CreateTodoError {
    fn from(error: Lookup) -> Self {
        match error {
            Lookup::Reused(e) => e.into(),
            Lookup::Infra(e) => e.into(),
        }
    }
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
        self.create(actor, new, None)
            .await
            .map(|created| created.value)
    }

    /// Like [`CreateTodo::execute`], for a client that may send the request again: the
    /// first request with `key` creates the todo, and any later one with the same key and
    /// the same input gets that todo back, as it was created, without creating another
    /// (see [`super::idempotent`]).
    #[tracing::instrument(name = "create_todo", skip_all, fields(user_id = %actor.id))]
    pub async fn execute_once(
        &self,
        actor: &Actor,
        new: NewTodo,
        key: IdempotencyKey,
    ) -> Result<Idempotent<Todo>, CreateTodoError> {
        self.create(actor, new, Some(key)).await
    }

    async fn create(
        &self,
        actor: &Actor,
        new: NewTodo,
        key: Option<IdempotencyKey>,
    ) -> Result<Idempotent<Todo>, CreateTodoError> {
        let retry = key.map(|key| Retry::create(key, &new));
        if let Some(retry) = &retry
            && let Some(outcome) = self.ports.remembered(actor, retry).await?
        {
            return replayed(outcome);
        }
        let id = TodoId::from_uuid(self.ports.ids.generate());
        let todo = Todo::create(id, actor.id, new, self.ports.clock.now());
        let remembered = retry
            .as_ref()
            .map(|retry| retry.record(&self.ports, actor, Outcome::Todo(todo.clone())));
        match self
            .ports
            .write(Write::Insert(&todo), TodoChange::Created, remembered)
            .await
        {
            Ok(()) => Ok(Idempotent::fresh(todo)),
            // A request with the same key committed first, and this one waited for it.
            Err(RepositoryError::Duplicate("idempotency_key")) => match &retry {
                Some(retry) => replayed(self.ports.taken(actor, retry).await?),
                None => {
                    Err(InfraError::internal("insert todo", "a key taken without a key").into())
                }
            },
            Err(RepositoryError::UnknownReference("owner")) => Err(CreateTodoError::OwnerGone),
            Err(RepositoryError::Infra(e)) => Err(e.into()),
            // The generator promises unique ids, so a duplicate is a broken adapter.
            Err(other) => Err(InfraError::internal("insert todo", other).into()),
        }
    }
}

/// The todo a create under the same key made.
fn replayed(outcome: Outcome) -> Result<Idempotent<Todo>, CreateTodoError> {
    match outcome {
        Outcome::Todo(todo) => Ok(Idempotent::replayed(todo)),
        // The fingerprint names the operation, so a create's key never holds a deletion.
        Outcome::Deleted => {
            Err(InfraError::internal("replay a create", "the key holds a deletion").into())
        }
    }
}

impl From<CreateTodoError> for AppError {
    fn from(error: CreateTodoError) -> Self {
        match error {
            CreateTodoError::OwnerGone => {
                AppError::unauthenticated("the user of this session no longer exists")
            }
            CreateTodoError::KeyReused(e) => e.into(),
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

    /// Ports whose idempotency records hold `held` (for any user and key).
    fn ports_remembering(
        todos: MockTodoRepository,
        held: Vec<Option<domain::idempotency::IdempotencyRecord>>,
    ) -> TodoPorts {
        let mut records = domain::ports::MockIdempotencyRecords::new();
        let mut answers = held.into_iter();
        records
            .expect_find()
            .times(answers.len())
            .returning(move |_, _| Ok(answers.next().unwrap()));
        TodoPorts {
            idempotency: std::sync::Arc::new(records),
            ..ports(todos)
        }
    }

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::new(text).unwrap()
    }

    /// What the first request under `key` for `new_todo()` left.
    fn first_under(key_text: &str, todo: &Todo) -> domain::idempotency::IdempotencyRecord {
        domain::idempotency::IdempotencyRecord {
            user: todo.owner(),
            key: key(key_text),
            fingerprint: Retry::create(key(key_text), &new_todo()).fingerprint,
            outcome: Outcome::Todo(todo.clone()),
            recorded_at: T0,
        }
    }

    #[tokio::test]
    async fn a_first_request_with_a_key_creates_and_keeps_its_outcome_under_it() {
        let actor = member();
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().times(1).returning(|_| Ok(()));

        let created = CreateTodo::new(ports_remembering(todos, vec![None]))
            .execute_once(&actor, new_todo(), key("k-1"))
            .await
            .unwrap();

        assert!(!created.replayed);
        assert_eq!(created.value.title().as_str(), "File taxes");
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_and_request_is_the_first_answer_and_writes_nothing() {
        let actor = member();
        let first = todo_of(&actor);
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().never();

        let created = CreateTodo::new(ports_remembering(
            todos,
            vec![Some(first_under("k-1", &first))],
        ))
        .execute_once(&actor, new_todo(), key("k-1"))
        .await
        .unwrap();

        assert!(created.replayed);
        assert_eq!(created.value, first);
    }

    #[tokio::test]
    async fn a_key_used_for_another_request_is_refused_and_writes_nothing() {
        let actor = member();
        let mut other = first_under("k-1", &todo_of(&actor));
        other.fingerprint = domain::idempotency::Fingerprint::of("create_todo", &["else"]);
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().never();

        let err = CreateTodo::new(ports_remembering(todos, vec![Some(other)]))
            .execute_once(&actor, new_todo(), key("k-1"))
            .await
            .unwrap_err();

        assert!(matches!(err, CreateTodoError::KeyReused(_)), "{err:?}");
        assert_eq!(AppError::from(err).code(), "idempotency_key_reused");
    }

    #[tokio::test]
    async fn a_key_a_concurrent_request_took_first_answers_with_that_requests_outcome() {
        let actor = member();
        let winner = todo_of(&actor);
        // Not there at first; taken when this request writes; there when it looks again.
        let todos = MockTodoRepository::new();

        let created = CreateTodo::new(ports_remembering(
            todos,
            vec![None, Some(first_under("taken", &winner))],
        ))
        .execute_once(&actor, new_todo(), key("taken"))
        .await
        .unwrap();

        assert!(created.replayed);
        assert_eq!(created.value, winner);
    }
}
