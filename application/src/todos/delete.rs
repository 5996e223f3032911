//! Deleting a todo, against the version the client saw.

use domain::{
    error::{InfraError, RepositoryError},
    event::TodoChange,
    idempotency::{IdempotencyKey, Outcome},
    todo::{TodoId, Version},
};

use super::{
    Idempotent, KeyReused, TodoPorts, Write,
    idempotent::{Lookup, Retry},
};
use crate::{Actor, AppError};

/// Why a delete failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteTodoError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// The todo changed since the client read it.
    #[error("the todo was changed since version {expected}; current version is {current}", expected = .expected.get(), current = .current.get())]
    VersionConflict {
        /// The version the client sent.
        expected: Version,
        /// The version stored when the conflict was found.
        current: Version,
    },
    /// The idempotency key was sent before with another request.
    #[error(transparent)]
    KeyReused(#[from] KeyReused),
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Lookup> for DeleteTodoError {
    fn from(error: Lookup) -> Self {
        match error {
            Lookup::Reused(e) => e.into(),
            Lookup::Infra(e) => e.into(),
        }
    }
}

/// Deletes one of the actor's todos.
#[derive(Debug, Clone)]
pub struct DeleteTodo {
    ports: TodoPorts,
}

impl DeleteTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Deletes the todo if it is still at `expected`, so nobody deletes a change they
    /// have not seen.
    #[tracing::instrument(name = "delete_todo", skip_all, fields(user_id = %actor.id, todo_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
    ) -> Result<(), DeleteTodoError> {
        self.delete(actor, id, expected, None)
            .await
            .map(|deleted| deleted.value)
    }

    /// Like [`DeleteTodo::execute`], for a client that may send the request again: a
    /// later request with the same `key` for the same todo and version is answered as the
    /// first was, rather than "not found" (see [`super::idempotent`]).
    #[tracing::instrument(name = "delete_todo", skip_all, fields(user_id = %actor.id, todo_id = %id))]
    pub async fn execute_once(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
        key: IdempotencyKey,
    ) -> Result<Idempotent<()>, DeleteTodoError> {
        let retry = Retry::delete(key, id, expected);
        if let Some(outcome) = self.ports.remembered(actor, &retry).await? {
            return replayed(outcome);
        }
        match self.delete(actor, id, expected, Some(&retry)).await {
            // The first request may have committed after the look-up above.
            Err(DeleteTodoError::NotFound | DeleteTodoError::VersionConflict { .. })
                if let Some(outcome) = self.ports.remembered(actor, &retry).await? =>
            {
                replayed(outcome)
            }
            other => other,
        }
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
        retry: Option<&Retry>,
    ) -> Result<Idempotent<()>, DeleteTodoError> {
        // Reading first is what makes someone else's todo "not found" rather than a
        // conflict: the repository does not know owners.
        let todo = self
            .ports
            .load_owned(actor, id)
            .await?
            .ok_or(DeleteTodoError::NotFound)?;
        if todo.version() != expected {
            return Err(DeleteTodoError::VersionConflict {
                expected,
                current: todo.version(),
            });
        }
        let write = Write::Delete {
            todo: &todo,
            expected,
        };
        let remembered = retry.map(|retry| retry.record(&self.ports, actor, Outcome::Deleted));
        match self
            .ports
            .write(write, TodoChange::Deleted, remembered)
            .await
        {
            Ok(()) => {}
            Err(RepositoryError::Duplicate("idempotency_key")) => {
                return match retry {
                    Some(retry) => replayed(self.ports.taken(actor, retry).await?),
                    None => {
                        Err(InfraError::internal("delete todo", "a key taken without a key").into())
                    }
                };
            }
            Err(RepositoryError::NotFound) => return Err(DeleteTodoError::NotFound),
            Err(RepositoryError::VersionConflict) => {
                // Lost the race after our read; report the version that won if we can.
                let current = match self.ports.todos.get(id).await? {
                    Some(now) => now.version(),
                    None => return Err(DeleteTodoError::NotFound),
                };
                return Err(DeleteTodoError::VersionConflict { expected, current });
            }
            Err(RepositoryError::Infra(e)) => return Err(e.into()),
            Err(other) => return Err(InfraError::internal("delete todo", other).into()),
        }
        // Invalidated at the version after the deleted one: no copy of any version the todo
        // had may be cached again.
        self.ports.invalidate(id, expected.next()).await;
        Ok(Idempotent::fresh(()))
    }
}

/// The answer a deletion under the same key had.
fn replayed(outcome: Outcome) -> Result<Idempotent<()>, DeleteTodoError> {
    match outcome {
        Outcome::Deleted => Ok(Idempotent::replayed(())),
        // The fingerprint names the operation, so a deletion's key never holds a todo.
        Outcome::Todo(_) => {
            Err(InfraError::internal("replay a deletion", "the key holds a todo").into())
        }
    }
}

impl From<DeleteTodoError> for AppError {
    fn from(error: DeleteTodoError) -> Self {
        match error {
            DeleteTodoError::NotFound => AppError::not_found("no such todo"),
            DeleteTodoError::VersionConflict { current, .. } => {
                AppError::version_mismatch(Some(current))
            }
            DeleteTodoError::KeyReused(e) => e.into(),
            DeleteTodoError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{MockTodoCache, MockTodoRepository};

    use super::*;
    use crate::test_support::*;

    fn use_case(todos: MockTodoRepository, cache: MockTodoCache) -> DeleteTodo {
        DeleteTodo::new(todo_ports(todos, cache))
    }

    #[tokio::test]
    async fn deleting_at_the_current_version_removes_it_and_invalidates_the_cache() {
        let actor = member();
        let todo = todo_of(&actor);
        let id = todo.id();
        let mut todos = repo_holding(&todo);
        todos
            .expect_delete()
            .withf(move |i, v| *i == id && v.get() == 1)
            .times(1)
            .returning(|_, _| Ok(()));
        let mut cache = MockTodoCache::new();
        cache
            .expect_invalidate()
            .withf(move |i, written| *i == id && written.get() == 2)
            .times(1)
            .returning(|_, _| Ok(()));

        let (ports, events) = todo_ports_recording(todos, cache);

        DeleteTodo::new(ports)
            .execute(&actor, id, Version::INITIAL)
            .await
            .unwrap();

        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].change, TodoChange::Deleted);
        assert_eq!(
            (events[0].todo_id, events[0].version.get()),
            (id, 2),
            "a deletion carries the version after the deleted one"
        );
    }

    #[tokio::test]
    async fn a_stale_version_deletes_nothing() {
        let actor = member();
        let mut todo = todo_of(&actor);
        todo.complete(T0);
        let mut todos = repo_holding(&todo);
        todos.expect_delete().never();

        let err = use_case(todos, MockTodoCache::new())
            .execute(&actor, todo.id(), Version::INITIAL)
            .await
            .unwrap_err();

        assert!(
            matches!(err, DeleteTodoError::VersionConflict { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_repository_outcomes_map_to_the_use_case_errors() {
        let actor = member();
        let todo = todo_of(&actor);
        for (repo_error, check) in [
            (
                RepositoryError::NotFound,
                (|e: &DeleteTodoError| matches!(e, DeleteTodoError::NotFound))
                    as fn(&DeleteTodoError) -> bool,
            ),
            (RepositoryError::VersionConflict, |e| {
                matches!(e, DeleteTodoError::VersionConflict { .. })
            }),
            (RepositoryError::Infra(infra_down()), |e| {
                matches!(e, DeleteTodoError::Infra(_))
            }),
        ] {
            let mut todos = repo_holding(&todo);
            let slot = std::sync::Mutex::new(Some(repo_error));
            todos
                .expect_delete()
                .returning(move |_, _| Err(slot.lock().unwrap().take().unwrap()));
            let err = use_case(todos, MockTodoCache::new())
                .execute(&actor, todo.id(), Version::INITIAL)
                .await
                .unwrap_err();
            assert!(check(&err), "{err:?}");
        }
    }

    #[tokio::test]
    async fn someone_elses_or_a_missing_todo_is_not_found() {
        let todo = todo_of(&member());
        let mut todos = repo_holding(&todo);
        todos.expect_delete().never();
        let err = use_case(todos, MockTodoCache::new())
            .execute(&member(), todo.id(), Version::INITIAL)
            .await
            .unwrap_err();
        assert!(matches!(err, DeleteTodoError::NotFound), "{err:?}");

        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Ok(None));
        let err = use_case(todos, MockTodoCache::new())
            .execute(&member(), todo.id(), Version::INITIAL)
            .await
            .unwrap_err();
        assert!(matches!(err, DeleteTodoError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn a_read_failure_is_passed_on() {
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Err(infra_down()));

        let err = use_case(todos, MockTodoCache::new())
            .execute(
                &member(),
                TodoId::from_uuid(uuid::Uuid::now_v7()),
                Version::INITIAL,
            )
            .await
            .unwrap_err();

        assert!(matches!(err, DeleteTodoError::Infra(_)), "{err:?}");
    }
}
