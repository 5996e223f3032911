//! Editing a todo's title, description and due date, against the version the client saw.

use domain::{
    error::{InfraError, RepositoryError},
    event::TodoChange,
    idempotency::{IdempotencyKey, Outcome},
    todo::{Todo, TodoChanges, TodoId, Version},
};

use super::{
    Idempotent, KeyReused, TodoPorts, Write,
    idempotent::{Lookup, Retry},
};
use crate::{Actor, AppError};

/// Why an edit failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateTodoError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// The todo changed since the client read it; the client must re-read and decide again.
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

impl From<Lookup> for UpdateTodoError {
    fn from(error: Lookup) -> Self {
        match error {
            Lookup::Reused(e) => e.into(),
            Lookup::Infra(e) => e.into(),
        }
    }
}

/// Edits the plain fields of one of the actor's todos.
#[derive(Debug, Clone)]
pub struct UpdateTodo {
    ports: TodoPorts,
}

impl UpdateTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Applies `changes` if the todo is still at `expected`.
    ///
    /// No retry: the client decided on the edit while looking at `expected`, so a newer
    /// version means the decision must be made again, by the client. Two clients editing with
    /// the same version never both succeed; the repository's compare-and-set decides.
    #[tracing::instrument(name = "update_todo", skip_all, fields(user_id = %actor.id, todo_id = %id, expected = expected.get()))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
        changes: TodoChanges,
    ) -> Result<Todo, UpdateTodoError> {
        self.update(actor, id, expected, changes, None)
            .await
            .map(|updated| updated.value)
    }

    /// Like [`UpdateTodo::execute`], for a client that may send the request again: a
    /// later request with the same `key` and the same input gets the first one's todo
    /// back, as that edit left it, rather than a version mismatch (see
    /// [`super::idempotent`]).
    #[tracing::instrument(name = "update_todo", skip_all, fields(user_id = %actor.id, todo_id = %id, expected = expected.get()))]
    pub async fn execute_once(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
        changes: TodoChanges,
        key: IdempotencyKey,
    ) -> Result<Idempotent<Todo>, UpdateTodoError> {
        let retry = Retry::update(key, id, expected, &changes);
        if let Some(outcome) = self.ports.remembered(actor, &retry).await? {
            return replayed(outcome);
        }
        match self
            .update(actor, id, expected, changes, Some(&retry))
            .await
        {
            // The first request may have committed after the look-up above: then this one
            // finds the todo changed (or, a deletion's, gone), and the key holds its answer.
            Err(UpdateTodoError::NotFound | UpdateTodoError::VersionConflict { .. })
                if let Some(outcome) = self.ports.remembered(actor, &retry).await? =>
            {
                replayed(outcome)
            }
            other => other,
        }
    }

    async fn update(
        &self,
        actor: &Actor,
        id: TodoId,
        expected: Version,
        changes: TodoChanges,
        retry: Option<&Retry>,
    ) -> Result<Idempotent<Todo>, UpdateTodoError> {
        let mut todo = self
            .ports
            .load_owned(actor, id)
            .await?
            .ok_or(UpdateTodoError::NotFound)?;
        if todo.version() != expected {
            return Err(UpdateTodoError::VersionConflict {
                expected,
                current: todo.version(),
            });
        }
        let changed = todo.apply(changes, self.ports.clock.now());
        let remembered =
            retry.map(|retry| retry.record(&self.ports, actor, Outcome::Todo(todo.clone())));
        if !changed {
            // Nothing to write; a client with a key still gets this answer on a retry.
            return match (retry, remembered) {
                (Some(retry), Some(record)) => {
                    let kept = self.ports.remember_only(actor, retry, record).await?;
                    Ok(Idempotent {
                        value: replayed(kept.value)?.value,
                        replayed: kept.replayed,
                    })
                }
                _ => Ok(Idempotent::fresh(todo)),
            };
        }
        let write = Write::Update {
            todo: &todo,
            expected,
        };
        match self
            .ports
            .write(write, TodoChange::Updated, remembered)
            .await
        {
            Ok(()) => {}
            Err(RepositoryError::Duplicate("idempotency_key")) => {
                return match retry {
                    Some(retry) => replayed(self.ports.taken(actor, retry).await?),
                    None => {
                        Err(InfraError::internal("update todo", "a key taken without a key").into())
                    }
                };
            }
            Err(RepositoryError::NotFound) => return Err(UpdateTodoError::NotFound),
            Err(RepositoryError::VersionConflict) => {
                // Lost the race after our read; report the version that won if we can.
                let current = match self.ports.todos.get(id).await? {
                    Some(now) => now.version(),
                    None => return Err(UpdateTodoError::NotFound),
                };
                return Err(UpdateTodoError::VersionConflict { expected, current });
            }
            Err(RepositoryError::Infra(e)) => return Err(e.into()),
            Err(other) => return Err(InfraError::internal("update todo", other).into()),
        }
        self.ports.invalidate(id, todo.version()).await;
        Ok(Idempotent::fresh(todo))
    }
}

/// The todo an edit under the same key left.
fn replayed(outcome: Outcome) -> Result<Idempotent<Todo>, UpdateTodoError> {
    match outcome {
        Outcome::Todo(todo) => Ok(Idempotent::replayed(todo)),
        // The fingerprint names the operation, so an edit's key never holds a deletion.
        Outcome::Deleted => {
            Err(InfraError::internal("replay an edit", "the key holds a deletion").into())
        }
    }
}

impl From<UpdateTodoError> for AppError {
    fn from(error: UpdateTodoError) -> Self {
        match error {
            UpdateTodoError::NotFound => AppError::not_found("no such todo"),
            UpdateTodoError::VersionConflict { current, .. } => {
                AppError::version_mismatch(Some(current))
            }
            UpdateTodoError::KeyReused(e) => e.into(),
            UpdateTodoError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{
        ports::{MockTodoCache, MockTodoRepository},
        todo::Title,
    };

    use super::*;
    use crate::test_support::*;

    fn use_case(todos: MockTodoRepository, cache: MockTodoCache) -> UpdateTodo {
        UpdateTodo::new(todo_ports(todos, cache))
    }

    fn rename(to: &str) -> TodoChanges {
        TodoChanges {
            title: Some(Title::new(to).unwrap()),
            ..TodoChanges::default()
        }
    }

    #[tokio::test]
    async fn an_edit_at_the_current_version_is_saved_with_compare_and_set_and_invalidates_the_cache()
     {
        let actor = member();
        let todo = todo_of(&actor);
        let id = todo.id();
        let mut todos = repo_holding(&todo);
        todos
            .expect_update()
            .withf(|t, expected| {
                expected.get() == 1 && t.version().get() == 2 && t.title().as_str() == "Renamed"
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let mut cache = MockTodoCache::new();
        cache
            .expect_invalidate()
            .withf(move |i, written| *i == id && written.get() == 2)
            .times(1)
            .returning(|_, _| Ok(()));

        let (ports, events) = todo_ports_recording(todos, cache);

        let updated = UpdateTodo::new(ports)
            .execute(&actor, id, Version::INITIAL, rename("Renamed"))
            .await
            .unwrap();

        assert_eq!(updated.version().get(), 2);
        assert_eq!(updated.updated_at(), T0);
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].change, TodoChange::Updated);
        assert_eq!((events[0].todo_id, events[0].version.get()), (id, 2));
        assert_eq!(events[0].owner, actor.id);
    }

    #[tokio::test]
    async fn a_lost_race_records_no_event() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::VersionConflict));
        let (ports, events) = todo_ports_recording(todos, MockTodoCache::new());

        UpdateTodo::new(ports)
            .execute(&actor, todo.id(), Version::INITIAL, rename("Renamed"))
            .await
            .unwrap_err();

        assert!(events.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_stale_version_is_a_conflict_and_nothing_is_written() {
        let actor = member();
        let mut todo = todo_of(&actor);
        todo.complete(T0);
        let mut todos = repo_holding(&todo);
        todos.expect_update().never();

        let err = use_case(todos, MockTodoCache::new())
            .execute(&actor, todo.id(), Version::INITIAL, rename("Renamed"))
            .await
            .unwrap_err();

        assert!(
            matches!(err, UpdateTodoError::VersionConflict { current, .. } if current.get() == 2),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn losing_the_race_after_reading_is_a_conflict() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::VersionConflict));
        let mut cache = MockTodoCache::new();
        cache.expect_invalidate().never();

        let err = use_case(todos, cache)
            .execute(&actor, todo.id(), Version::INITIAL, rename("Renamed"))
            .await
            .unwrap_err();

        assert!(
            matches!(err, UpdateTodoError::VersionConflict { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_todo_deleted_under_us_is_not_found() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::NotFound));

        let err = use_case(todos, MockTodoCache::new())
            .execute(&actor, todo.id(), Version::INITIAL, rename("Renamed"))
            .await
            .unwrap_err();

        assert!(matches!(err, UpdateTodoError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn an_edit_that_changes_nothing_writes_nothing() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos.expect_update().never();

        let same = use_case(todos, MockTodoCache::new())
            .execute(
                &actor,
                todo.id(),
                Version::INITIAL,
                rename("Water the plants"),
            )
            .await
            .unwrap();

        assert_eq!(same, todo);
    }

    #[tokio::test]
    async fn someone_elses_todo_is_not_found() {
        let todo = todo_of(&member());
        let mut todos = repo_holding(&todo);
        todos.expect_update().never();

        let err = use_case(todos, MockTodoCache::new())
            .execute(&member(), todo.id(), Version::INITIAL, rename("Mine now"))
            .await
            .unwrap_err();

        assert!(matches!(err, UpdateTodoError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn a_failed_invalidation_does_not_fail_the_edit() {
        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos.expect_update().returning(|_, _| Ok(()));
        let mut cache = MockTodoCache::new();
        cache
            .expect_invalidate()
            .returning(|_, _| Err(infra_down()));

        let updated = use_case(todos, cache)
            .execute(&actor, todo.id(), Version::INITIAL, rename("Renamed"))
            .await
            .unwrap();

        assert_eq!(updated.title().as_str(), "Renamed");
    }

    #[tokio::test]
    async fn storage_failures_are_passed_on() {
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Err(infra_down()));
        let err = use_case(todos, MockTodoCache::new())
            .execute(
                &member(),
                TodoId::from_uuid(uuid::Uuid::now_v7()),
                Version::INITIAL,
                rename("x"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, UpdateTodoError::Infra(_)), "{err:?}");

        let actor = member();
        let todo = todo_of(&actor);
        let mut todos = repo_holding(&todo);
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::Infra(infra_down())));
        let err = use_case(todos, MockTodoCache::new())
            .execute(&actor, todo.id(), Version::INITIAL, rename("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, UpdateTodoError::Infra(_)), "{err:?}");
    }
}
