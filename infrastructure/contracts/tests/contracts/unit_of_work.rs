//! The `UnitOfWork` contract.

use std::{sync::Arc, time::Duration};

use domain::{
    error::RepositoryError,
    event::{MessageId, OutboxMessage, TodoChange, TodoEvent},
    ports::{JobQueue, TodoRepository, TodoWrite, UnitOfWork, UserRepository},
    todo::{Title, Todo, TodoChanges, Version},
};
use driven_memory::MemoryStore;
use driven_postgres::{PgJobQueue, PgTodoRepository, PgUnitOfWork, PgUserRepository};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::*;

pub struct Fixture {
    unit_of_work: Arc<dyn UnitOfWork>,
    /// The ordinary repositories, outside any transaction.
    users: Arc<dyn UserRepository>,
    todos: Arc<dyn TodoRepository>,
    /// The outbox as the worker sees it: what was recorded.
    jobs: Arc<dyn JobQueue>,
    /// How the adapter keeps an open transaction from others, as its docs say: readers
    /// wait for it to end (a lock), or see the state before it (a snapshot).
    isolation: Isolation,
    _db: Option<TestDatabase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    ReadersWait,
    ReadersSeeTheStateBefore,
}

async fn memory() -> Fixture {
    let store = MemoryStore::new();
    Fixture {
        unit_of_work: Arc::new(store.unit_of_work()),
        users: Arc::new(store.users()),
        todos: Arc::new(store.todos()),
        jobs: Arc::new(store.job_queue()),
        isolation: Isolation::ReadersWait,
        _db: None,
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    Fixture {
        unit_of_work: Arc::new(PgUnitOfWork::new(pool.clone())),
        users: Arc::new(PgUserRepository::new(pool.clone())),
        todos: Arc::new(PgTodoRepository::new(pool.clone())),
        jobs: Arc::new(PgJobQueue::new(pool)),
        isolation: Isolation::ReadersSeeTheStateBefore,
        _db: Some(db),
    }
}

contract!(adapters: [memory, postgres], checks: [
    a_commit_makes_every_write_visible,
    dropping_a_transaction_keeps_none_of_its_writes,
    writes_are_invisible_to_others_until_commit,
    a_transaction_reads_its_own_writes,
    a_failed_write_inside_a_transaction_can_be_abandoned_cleanly,
    write_todo_keeps_each_change_with_its_event,
    write_todo_that_loses_its_compare_and_set_keeps_nothing,
    write_todo_whose_insert_fails_records_nothing,
    concurrent_writes_each_get_the_outcome_they_would_get_alone,
]);

async fn a_commit_makes_every_write_visible(f: &Fixture) {
    let owner = user(&unique_email());
    let todo = full_todo(owner.id);
    let tx = f.unit_of_work.begin().await.unwrap();
    tx.users().insert(&owner).await.unwrap();
    tx.todos().insert(&todo).await.unwrap();

    tx.commit().await.unwrap();

    assert_eq!(f.users.get(owner.id).await.unwrap(), Some(owner));
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
}

async fn dropping_a_transaction_keeps_none_of_its_writes(f: &Fixture) {
    let owner = user(&unique_email());
    let todo = full_todo(owner.id);
    {
        let tx = f.unit_of_work.begin().await.unwrap();
        tx.users().insert(&owner).await.unwrap();
        tx.todos().insert(&todo).await.unwrap();
    }

    assert_eq!(f.users.get(owner.id).await.unwrap(), None);
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), None);
}

async fn writes_are_invisible_to_others_until_commit(f: &Fixture) {
    let owner = user(&unique_email());
    let tx = f.unit_of_work.begin().await.unwrap();
    tx.users().insert(&owner).await.unwrap();

    let users = f.users.clone();
    let id = owner.id;
    let mut outside = tokio::spawn(async move { users.get(id).await.unwrap() });

    match f.isolation {
        Isolation::ReadersSeeTheStateBefore => {
            // Answered at once, without the uncommitted user.
            let seen = tokio::time::timeout(Duration::from_secs(10), &mut outside)
                .await
                .expect("a snapshot reader does not wait for the transaction")
                .unwrap();
            assert_eq!(seen, None, "seen before commit");
            tx.commit().await.unwrap();
        }
        Isolation::ReadersWait => {
            // Still waiting while the transaction is open (long enough for a reader that
            // was not blocked to have answered many times over), and answered with the
            // committed user once it ends.
            let waited = tokio::time::timeout(Duration::from_millis(300), &mut outside).await;
            assert!(waited.is_err(), "answered before commit: {waited:?}");
            tx.commit().await.unwrap();
            let seen = tokio::time::timeout(Duration::from_secs(10), outside)
                .await
                .expect("the reader is released at commit")
                .unwrap();
            assert_eq!(seen.as_ref(), Some(&owner));
        }
    }
    assert_eq!(f.users.get(owner.id).await.unwrap(), Some(owner));
}

async fn a_transaction_reads_its_own_writes(f: &Fixture) {
    let owner = user(&unique_email());
    let tx = f.unit_of_work.begin().await.unwrap();
    tx.users().insert(&owner).await.unwrap();

    assert_eq!(
        tx.users().find_by_email(&owner.email).await.unwrap(),
        Some(owner)
    );
}

async fn a_failed_write_inside_a_transaction_can_be_abandoned_cleanly(f: &Fixture) {
    let existing = user(&unique_email());
    f.users.insert(&existing).await.unwrap();
    let newcomer = user(&unique_email());
    let clash = domain::user::User {
        id: user("x@example.org").id,
        ..existing.clone()
    };
    {
        let tx = f.unit_of_work.begin().await.unwrap();
        tx.users().insert(&newcomer).await.unwrap();
        let err = tx.users().insert(&clash).await.unwrap_err();
        assert!(
            matches!(err, RepositoryError::Duplicate("email")),
            "{err:?}"
        );
    }

    assert_eq!(
        f.users.get(newcomer.id).await.unwrap(),
        None,
        "the transaction's other write is gone"
    );
    assert_eq!(f.users.get(existing.id).await.unwrap(), Some(existing));
}

/// What one of [`concurrent_writes_each_get_the_outcome_they_would_get_alone`]'s writes
/// must come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Written,
    Duplicate,
    UnknownOwner,
    VersionConflict,
}

/// 64 writes at once, of every kind, some of them bound to fail. Each gets the outcome it
/// would get alone, and exactly the writes that succeeded recorded their event. On Postgres
/// the creates among them share statements (group commit), so this is also the check that
/// a failing row does not fail its neighbours.
async fn concurrent_writes_each_get_the_outcome_they_would_get_alone(f: &Fixture) {
    let owner = user(&unique_email());
    f.users.insert(&owner).await.unwrap();
    let stored: Vec<Todo> = (0..16).map(|_| full_todo(owner.id)).collect();
    for todo in &stored {
        f.todos.insert(todo).await.unwrap();
    }
    let stranger = user(&unique_email()).id; // never stored
    let renamed = |todo: &Todo| {
        let mut todo = todo.clone();
        let changes = TodoChanges {
            title: Some(Title::new("Renamed").unwrap()),
            ..TodoChanges::default()
        };
        todo.apply(changes, t0());
        todo
    };

    let writes: Vec<(TodoWrite, OutboxMessage, Expected)> = (0..64)
        .map(|i| match (i % 8, &stored[i / 8], &stored[8 + i / 8]) {
            (0..=3, _, _) => {
                let todo = full_todo(owner.id);
                let event = event_of(&todo, TodoChange::Created);
                (TodoWrite::Insert(todo), event, Expected::Written)
            }
            (4, _, _) => {
                let orphan = full_todo(stranger);
                let event = event_of(&orphan, TodoChange::Created);
                (TodoWrite::Insert(orphan), event, Expected::UnknownOwner)
            }
            (5, _, again) => {
                let event = event_of(again, TodoChange::Created);
                (TodoWrite::Insert(again.clone()), event, Expected::Duplicate)
            }
            (6, current, _) => {
                let todo = renamed(current);
                let event = event_of(&todo, TodoChange::Updated);
                let expected = current.version();
                (
                    TodoWrite::Update { todo, expected },
                    event,
                    Expected::Written,
                )
            }
            (_, _, stale) => {
                let expected = Version::new(stale.version().get() + 1).unwrap();
                let write = TodoWrite::Delete {
                    id: stale.id(),
                    expected,
                };
                let event = event_of(stale, TodoChange::Deleted);
                (write, event, Expected::VersionConflict)
            }
        })
        .collect();

    let outcomes = join_all(writes.iter().cloned().map(|(write, event, _)| {
        let unit_of_work = f.unit_of_work.clone();
        tokio::spawn(async move { unit_of_work.write_todo(write, event, None).await })
    }))
    .await;

    for ((write, _, expected), outcome) in writes.iter().zip(outcomes) {
        let got = match outcome {
            Ok(()) => Expected::Written,
            Err(RepositoryError::Duplicate("id")) => Expected::Duplicate,
            Err(RepositoryError::UnknownReference("owner")) => Expected::UnknownOwner,
            Err(RepositoryError::VersionConflict) => Expected::VersionConflict,
            Err(other) => panic!("{write:?}: unexpected {other:?}"),
        };
        assert_eq!(got, *expected, "{write:?}");
        let (id, now) = match (write, expected) {
            (TodoWrite::Insert(todo), Expected::Written) => (todo.id(), Some(todo.clone())),
            (TodoWrite::Insert(todo), Expected::UnknownOwner) => (todo.id(), None),
            (TodoWrite::Update { todo, .. }, _) => (todo.id(), Some(todo.clone())),
            // A duplicate or a lost delete leaves the todo as it was stored.
            (TodoWrite::Insert(todo), _) => (todo.id(), Some(todo.clone())),
            (TodoWrite::Delete { id, .. }, _) => {
                (*id, stored.iter().find(|t| t.id() == *id).cloned())
            }
        };
        assert_eq!(f.todos.get(id).await.unwrap(), now, "{write:?}");
    }
    let succeeded = writes
        .iter()
        .filter(|(_, _, expected)| *expected == Expected::Written)
        .count();
    assert_eq!(succeeded, 40);
    assert_eq!(
        backlog(f).await,
        40,
        "one event for each write that succeeded, none for the others"
    );
}

/// The event of `change` to `todo`, as the use cases record it.
fn event_of(todo: &Todo, change: TodoChange) -> OutboxMessage {
    OutboxMessage::TodoEvent(TodoEvent::of(
        MessageId::from_uuid(Uuid::now_v7()),
        t0(),
        todo,
        change,
    ))
}

async fn backlog(f: &Fixture) -> u64 {
    f.jobs.stats().await.unwrap().backlog
}

async fn write_todo_keeps_each_change_with_its_event(f: &Fixture) {
    let owner = user(&unique_email());
    f.users.insert(&owner).await.unwrap();
    let todo = full_todo(owner.id);

    f.unit_of_work
        .write_todo(
            TodoWrite::Insert(todo.clone()),
            event_of(&todo, TodoChange::Created),
            None,
        )
        .await
        .unwrap();
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo.clone()));
    assert_eq!(backlog(f).await, 1);

    let mut renamed = todo.clone();
    renamed.apply(
        TodoChanges {
            title: Some(Title::new("Renamed").unwrap()),
            ..TodoChanges::default()
        },
        t0(),
    );
    f.unit_of_work
        .write_todo(
            TodoWrite::Update {
                todo: renamed.clone(),
                expected: todo.version(),
            },
            event_of(&renamed, TodoChange::Updated),
            None,
        )
        .await
        .unwrap();
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(renamed.clone()));
    assert_eq!(backlog(f).await, 2);

    f.unit_of_work
        .write_todo(
            TodoWrite::Delete {
                id: todo.id(),
                expected: renamed.version(),
            },
            event_of(&renamed, TodoChange::Deleted),
            None,
        )
        .await
        .unwrap();
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), None);
    assert_eq!(backlog(f).await, 3);
}

async fn write_todo_that_loses_its_compare_and_set_keeps_nothing(f: &Fixture) {
    let owner = user(&unique_email());
    f.users.insert(&owner).await.unwrap();
    let todo = full_todo(owner.id);
    f.todos.insert(&todo).await.unwrap();
    let stale = Version::new(todo.version().get() + 5).unwrap();

    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Update {
                todo: todo.clone(),
                expected: stale,
            },
            event_of(&todo, TodoChange::Updated),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::VersionConflict), "{err:?}");
    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Delete {
                id: todo.id(),
                expected: stale,
            },
            event_of(&todo, TodoChange::Deleted),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::VersionConflict), "{err:?}");
    let missing = full_todo(owner.id);
    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Delete {
                id: missing.id(),
                expected: missing.version(),
            },
            event_of(&missing, TodoChange::Deleted),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::NotFound), "{err:?}");

    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
    assert_eq!(
        backlog(f).await,
        0,
        "no event for a change that was not made"
    );
}

async fn write_todo_whose_insert_fails_records_nothing(f: &Fixture) {
    let owner = user(&unique_email());
    f.users.insert(&owner).await.unwrap();
    let todo = full_todo(owner.id);
    f.todos.insert(&todo).await.unwrap();
    let orphan = full_todo(user(&unique_email()).id);

    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Insert(todo.clone()),
            event_of(&todo, TodoChange::Created),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepositoryError::Duplicate("id")), "{err:?}");
    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Insert(orphan.clone()),
            event_of(&orphan, TodoChange::Created),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepositoryError::UnknownReference("owner")),
        "{err:?}"
    );

    assert_eq!(f.todos.get(orphan.id()).await.unwrap(), None);
    assert_eq!(
        backlog(f).await,
        0,
        "no event for a todo that was not stored"
    );
}
