//! Read-modify-write with optimistic concurrency, for changes that carry no client version.
//!
//! Completing, reopening and tagging do not depend on what else the todo holds, so when
//! another writer gets in between our read and our write, the right move is to read again
//! and re-apply, not to bother the client. The compare-and-set in the repository makes the
//! retry safe; the attempt limit keeps a hot todo from spinning forever.

use chrono::{DateTime, Utc};
use domain::{
    error::{InfraError, RepositoryError},
    event::TodoChange,
    todo::{Todo, TodoId},
};

use super::{TodoPorts, Write};
use crate::Actor;

/// How many times a change is tried before giving up with [`ModifyError::Contended`].
const MAX_ATTEMPTS: usize = 3;

/// What can go wrong in [`TodoPorts::modify`]; each use case maps it to its own error.
#[derive(Debug)]
pub(super) enum ModifyError<E> {
    /// No such todo, or it belongs to someone else.
    NotFound,
    /// Other writers won every attempt.
    Contended,
    /// The change broke a domain rule.
    Rule(E),
    /// Storage failed.
    Infra(InfraError),
}

impl TodoPorts {
    /// Applies `change` to the actor's todo and saves it if it changed anything.
    ///
    /// `change` returns whether it changed the todo; a no-op is returned as is, unsaved and
    /// with no event. A saved change records `event` in the same transaction.
    pub(super) async fn modify<E>(
        &self,
        actor: &Actor,
        id: TodoId,
        event: TodoChange,
        change: impl Fn(&mut Todo, DateTime<Utc>) -> Result<bool, E>,
    ) -> Result<Todo, ModifyError<E>> {
        for attempt in 1..=MAX_ATTEMPTS {
            let mut todo = self
                .load_owned(actor, id)
                .await
                .map_err(ModifyError::Infra)?
                .ok_or(ModifyError::NotFound)?;
            let read_version = todo.version();
            if !change(&mut todo, self.clock.now()).map_err(ModifyError::Rule)? {
                return Ok(todo);
            }
            let write = Write::Update {
                todo: &todo,
                expected: read_version,
            };
            match self.write(write, event.clone(), None).await {
                Ok(()) => {
                    self.invalidate(id, todo.version()).await;
                    return Ok(todo);
                }
                Err(RepositoryError::VersionConflict) => {
                    tracing::debug!(attempt, "todo changed concurrently; retrying");
                }
                Err(RepositoryError::NotFound) => return Err(ModifyError::NotFound),
                Err(RepositoryError::Infra(e)) => return Err(ModifyError::Infra(e)),
                Err(other) => {
                    return Err(ModifyError::Infra(InfraError::internal(
                        "update todo",
                        other,
                    )));
                }
            }
        }
        Err(ModifyError::Contended)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use domain::ports::{MockTodoCache, MockTodoRepository};

    use super::*;
    use crate::test_support::*;

    fn ports(todos: MockTodoRepository, cache: MockTodoCache) -> TodoPorts {
        todo_ports(todos, cache)
    }

    fn complete(todo: &mut Todo, now: DateTime<Utc>) -> Result<bool, Infallible> {
        Ok(todo.complete(now))
    }

    #[tokio::test]
    async fn a_conflict_is_retried_on_a_fresh_read() {
        let actor = member();
        let todo = todo_of(&actor);
        let stored = todo.clone();
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Some(stored.clone()))
        });
        let mut seq = mockall::Sequence::new();
        todos
            .expect_update()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(RepositoryError::VersionConflict));
        todos
            .expect_update()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let mut cache = MockTodoCache::new();
        cache
            .expect_invalidate()
            .withf(|_, written| written.get() == 2)
            .times(1)
            .returning(|_, _| Ok(()));

        let (ports, events) = todo_ports_recording(todos, cache);

        let done = ports
            .modify(&actor, todo.id(), TodoChange::Completed, complete)
            .await
            .unwrap();

        assert_eq!(done.version().get(), 2);
        let events = events.lock().unwrap();
        assert_eq!(
            events.len(),
            1,
            "only the attempt that won records its event"
        );
        assert_eq!(
            (&events[0].change, events[0].version.get()),
            (&TodoChange::Completed, 2)
        );
        assert_eq!(
            reads.load(Ordering::SeqCst),
            2,
            "the retry reads the todo again"
        );
    }

    #[tokio::test]
    async fn it_gives_up_after_three_conflicts() {
        let actor = member();
        let todo = todo_of(&actor);
        let stored = todo.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos
            .expect_update()
            .times(MAX_ATTEMPTS)
            .returning(|_, _| Err(RepositoryError::VersionConflict));

        let err = ports(todos, MockTodoCache::new())
            .modify(&actor, todo.id(), TodoChange::Completed, complete)
            .await
            .unwrap_err();

        assert!(matches!(err, ModifyError::Contended), "{err:?}");
    }

    #[tokio::test]
    async fn a_no_op_is_not_written() {
        let actor = member();
        let mut todo = todo_of(&actor);
        todo.complete(T0);
        let stored = todo.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos.expect_update().never();
        let (ports, events) = todo_ports_recording(todos, MockTodoCache::new());

        let same = ports
            .modify(&actor, todo.id(), TodoChange::Completed, complete)
            .await
            .unwrap();

        assert_eq!(same, todo);
        assert!(events.lock().unwrap().is_empty(), "a no-op has no event");
    }

    #[tokio::test]
    async fn a_broken_rule_is_returned_without_writing() {
        let actor = member();
        let todo = todo_of(&actor);
        let stored = todo.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos.expect_update().never();

        let err = ports(todos, MockTodoCache::new())
            .modify(&actor, todo.id(), TodoChange::Completed, |_, _| {
                Err::<bool, _>("nope")
            })
            .await
            .unwrap_err();

        assert!(matches!(err, ModifyError::Rule("nope")), "{err:?}");
    }

    #[tokio::test]
    async fn missing_foreign_and_vanishing_todos_are_not_found() {
        let actor = member();
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Ok(None));
        let err = ports(todos, MockTodoCache::new())
            .modify(
                &actor,
                TodoId::from_uuid(uuid::Uuid::now_v7()),
                TodoChange::Completed,
                complete,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ModifyError::NotFound), "{err:?}");

        let foreign = todo_of(&member());
        let stored = foreign.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        let err = ports(todos, MockTodoCache::new())
            .modify(&actor, foreign.id(), TodoChange::Completed, complete)
            .await
            .unwrap_err();
        assert!(matches!(err, ModifyError::NotFound), "{err:?}");

        let own = todo_of(&actor);
        let stored = own.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::NotFound));
        let err = ports(todos, MockTodoCache::new())
            .modify(&actor, own.id(), TodoChange::Completed, complete)
            .await
            .unwrap_err();
        assert!(matches!(err, ModifyError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn storage_failures_are_passed_on() {
        let actor = member();
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Err(infra_down()));
        let err = ports(todos, MockTodoCache::new())
            .modify(
                &actor,
                TodoId::from_uuid(uuid::Uuid::now_v7()),
                TodoChange::Completed,
                complete,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ModifyError::Infra(_)), "{err:?}");

        let own = todo_of(&actor);
        let stored = own.clone();
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos
            .expect_update()
            .returning(|_, _| Err(RepositoryError::Infra(infra_down())));
        let err = ports(todos, MockTodoCache::new())
            .modify(&actor, own.id(), TodoChange::Completed, complete)
            .await
            .unwrap_err();
        assert!(matches!(err, ModifyError::Infra(_)), "{err:?}");
    }
}
