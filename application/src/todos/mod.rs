//! Use cases about todos. Every one takes the acting user and enforces ownership: another
//! user's todo is reported as not found, never as forbidden, so ids reveal nothing.

mod count;
mod create;
mod delete;
mod get;
mod idempotent;
mod input;
mod list;
mod modify;
mod status;
mod tags;
mod update;
mod watch;

pub use count::{CountTodos, CountTodosError};
pub use create::{CreateTodo, CreateTodoError};
pub use delete::{DeleteTodo, DeleteTodoError};
pub use get::{GetTodo, GetTodoError};
pub use idempotent::{Idempotent, KeyReused};
pub use input::{NewTodoInput, TodoEditsInput, TodoFilterInput};
pub use list::{ListTodos, ListTodosError, TodoFilter};
pub use status::{CompleteTodo, ReopenTodo, StatusChangeError};
pub use tags::{AddTag, AddTagError, RemoveTag, RemoveTagError};
pub use update::{UpdateTodo, UpdateTodoError};
pub use watch::{TodoEvents, Watch, WatchEnd, WatchError, WatchLimits, WatchTodos};

use std::sync::Arc;

use domain::{
    error::{InfraError, RepositoryError},
    event::{MessageId, OutboxMessage, TodoChange, TodoEvent},
    idempotency::IdempotencyRecord,
    ports::{
        Clock, IdGenerator, IdempotencyRecords, TodoCache, TodoRepository, TodoWrite, UnitOfWork,
    },
    todo::{Todo, TodoId, Version},
};

use crate::Actor;

/// The ports every todo use case draws from.
#[derive(Clone)]
pub struct TodoPorts {
    /// The source of truth, for reads. Writes go through [`TodoPorts::unit_of_work`].
    pub todos: Arc<dyn TodoRepository>,
    /// Every write, with the event it causes, in one transaction.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// The outcomes of writes sent with a key, looked up before writing again.
    pub idempotency: Arc<dyn IdempotencyRecords>,
    /// The read cache, invalidated after every write.
    pub cache: Arc<dyn TodoCache>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for TodoPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TodoPorts").finish_non_exhaustive()
    }
}

impl TodoPorts {
    /// The actor's todo with `id`, read from the repository (writes never trust the cache).
    /// Someone else's todo is `None`, exactly like a missing one.
    async fn load_owned(&self, actor: &Actor, id: TodoId) -> Result<Option<Todo>, InfraError> {
        Ok(self
            .todos
            .get(id)
            .await?
            .filter(|todo| todo.owner() == actor.id))
    }

    /// Makes `write` and records the event of `change`, and `remembered` when the client
    /// sent a key, atomically: all are committed, or none is. The event's version follows
    /// from the written todo (see [`TodoEvent::of`]).
    async fn write(
        &self,
        write: Write<'_>,
        change: TodoChange,
        remembered: Option<IdempotencyRecord>,
    ) -> Result<(), RepositoryError> {
        let (todo, write) = match write {
            Write::Insert(todo) => (todo, TodoWrite::Insert(todo.clone())),
            Write::Update { todo, expected } => (
                todo,
                TodoWrite::Update {
                    todo: todo.clone(),
                    expected,
                },
            ),
            Write::Delete { todo, expected } => (
                todo,
                TodoWrite::Delete {
                    id: todo.id(),
                    expected,
                },
            ),
        };
        let id = MessageId::from_uuid(self.ids.generate());
        let event = TodoEvent::of(id, self.clock.now(), todo, change);
        self.unit_of_work
            .write_todo(write, OutboxMessage::TodoEvent(event), remembered)
            .await
    }

    /// Drops the cached copy after a committed write that stored version `written` (for a
    /// deletion, the version after the deleted one), so that a reader still holding an
    /// older version cannot put it back. A failure is logged, not returned: the write has
    /// happened, and the entry's expiry bounds how long it can be stale.
    async fn invalidate(&self, id: TodoId, written: Version) {
        if let Err(error) = self.cache.invalidate(id, written).await {
            tracing::warn!(todo_id = %id, error = &error as &dyn std::error::Error, "todo cache invalidation failed; the entry stays until it expires");
        }
    }
}

/// One change to the todos table, made by [`TodoPorts::write`].
enum Write<'a> {
    /// Store a new todo.
    Insert(&'a Todo),
    /// Replace a todo that is still at `expected`.
    Update { todo: &'a Todo, expected: Version },
    /// Delete a todo that is still at `expected`.
    Delete { todo: &'a Todo, expected: Version },
}

/// The conflict of a change that carries no version, after every retry lost.
fn contended() -> crate::AppError {
    crate::AppError::conflict(
        crate::error::codes::CONTENDED,
        "the todo is being changed by others; try again",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::ports::{
        MockOutbox, MockTodoCache, MockTodoRepository, MockTransaction, MockUnitOfWork,
    };

    use super::*;
    use crate::test_support::*;

    /// Ports whose one transaction uses `todos` and `outbox`, and commits `commits` times
    /// with `commit` as the answer; the cache must not be touched.
    fn ports_with(
        todos: MockTodoRepository,
        outbox: MockOutbox,
        commits: usize,
        commit: fn() -> Result<(), InfraError>,
    ) -> TodoPorts {
        let todos: Arc<dyn TodoRepository> = Arc::new(todos);
        let outbox = Arc::new(outbox);
        let in_tx = todos.clone();
        let mut unit_of_work = MockUnitOfWork::new();
        unit_of_work.expect_begin().times(1).returning(move || {
            let mut tx = MockTransaction::new();
            let todos = in_tx.clone();
            tx.expect_todos().returning(move || todos.clone());
            let outbox = outbox.clone();
            tx.expect_outbox().returning(move || outbox.clone());
            tx.expect_commit().times(commits).returning(commit);
            Ok(Box::new(tx))
        });
        TodoPorts {
            todos,
            unit_of_work: Arc::new(Transactional(unit_of_work)),
            idempotency: Arc::new(domain::ports::MockIdempotencyRecords::new()),
            cache: Arc::new(MockTodoCache::new()),
            clock: fixed_clock(),
            ids: sequential_ids(),
        }
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_recorded_fails_the_write_uncommitted() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().times(1).returning(|_| Ok(()));
        let mut outbox = MockOutbox::new();
        outbox
            .expect_record()
            .times(1)
            .returning(|_| Err(infra_down()));

        let err = ports_with(todos, outbox, 0, || Ok(()))
            .write(Write::Insert(&todo), TodoChange::Created, None)
            .await
            .unwrap_err();

        assert!(matches!(err, RepositoryError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_failed_write_records_no_event() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = MockTodoRepository::new();
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::VersionConflict));
        let mut outbox = MockOutbox::new();
        outbox.expect_record().never();

        let err = ports_with(todos, outbox, 0, || Ok(()))
            .write(
                Write::Update {
                    todo: &todo,
                    expected: Version::INITIAL,
                },
                TodoChange::Updated,
                None,
            )
            .await
            .unwrap_err();

        assert!(matches!(err, RepositoryError::VersionConflict), "{err:?}");
    }

    #[tokio::test]
    async fn a_failed_commit_is_a_failed_write() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = MockTodoRepository::new();
        todos.expect_delete().returning(|_, _| Ok(()));
        let mut outbox = MockOutbox::new();
        outbox
            .expect_record()
            .withf(|message| message.kind() == domain::event::JobKind::TodoEvent)
            .times(1)
            .returning(|_| Ok(true));

        let err = ports_with(todos, outbox, 1, || Err(infra_down()))
            .write(
                Write::Delete {
                    todo: &todo,
                    expected: Version::INITIAL,
                },
                TodoChange::Deleted,
                None,
            )
            .await
            .unwrap_err();

        assert!(matches!(err, RepositoryError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_transaction_that_cannot_start_writes_nothing() {
        let mut unit_of_work = MockUnitOfWork::new();
        unit_of_work.expect_begin().returning(|| Err(infra_down()));
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().never();
        let ports = TodoPorts {
            unit_of_work: Arc::new(Transactional(unit_of_work)),
            ..todo_ports(todos, MockTodoCache::new())
        };

        let err = ports
            .write(
                Write::Insert(&todo_of(&member())),
                TodoChange::Created,
                None,
            )
            .await
            .unwrap_err();

        assert!(matches!(err, RepositoryError::Infra(_)), "{err:?}");
    }
}
