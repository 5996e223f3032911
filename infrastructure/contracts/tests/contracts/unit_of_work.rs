//! The `UnitOfWork` contract.

use std::{sync::Arc, time::Duration};

use domain::{
    error::RepositoryError,
    ports::{TodoRepository, UnitOfWork, UserRepository},
};
use driven_memory::MemoryStore;
use driven_postgres::{PgTodoRepository, PgUnitOfWork, PgUserRepository};
use test_servers::TestDatabase;

use crate::support::*;

pub struct Fixture {
    unit_of_work: Arc<dyn UnitOfWork>,
    /// The ordinary repositories, outside any transaction.
    users: Arc<dyn UserRepository>,
    todos: Arc<dyn TodoRepository>,
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
        todos: Arc::new(PgTodoRepository::new(pool)),
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
