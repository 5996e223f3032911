//! The `IdempotencyRecords` contract, and the part of `UnitOfWork::write_todo` that records
//! a key with its write: on the in-memory adapter and on Postgres.

use std::sync::Arc;

use chrono::Duration;
use domain::{
    error::RepositoryError,
    event::{MessageId, OutboxMessage, TodoChange, TodoEvent},
    idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord, Outcome},
    ports::{IdempotencyRecords, JobQueue, TodoRepository, TodoWrite, UnitOfWork, UserRepository},
    todo::Todo,
    user::UserId,
};
use driven_memory::MemoryStore;
use driven_postgres::{
    PgIdempotencyRecords, PgJobQueue, PgTodoRepository, PgUnitOfWork, PgUserRepository,
};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::*;

pub struct Fixture {
    records: Arc<dyn IdempotencyRecords>,
    unit_of_work: Arc<dyn UnitOfWork>,
    users: Arc<dyn UserRepository>,
    todos: Arc<dyn TodoRepository>,
    queue: Arc<dyn JobQueue>,
    _db: Option<TestDatabase>,
}

async fn memory() -> Fixture {
    let store = MemoryStore::new();
    Fixture {
        records: Arc::new(store.idempotency()),
        unit_of_work: Arc::new(store.unit_of_work()),
        users: Arc::new(store.users()),
        todos: Arc::new(store.todos()),
        queue: Arc::new(store.job_queue()),
        _db: None,
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    Fixture {
        records: Arc::new(PgIdempotencyRecords::new(pool.clone())),
        unit_of_work: Arc::new(PgUnitOfWork::new(pool.clone())),
        users: Arc::new(PgUserRepository::new(pool.clone())),
        todos: Arc::new(PgTodoRepository::new(pool.clone())),
        queue: Arc::new(PgJobQueue::new(pool)),
        _db: Some(db),
    }
}

contract!(adapters: [memory, postgres], checks: [
    a_record_reads_back_equal_and_only_for_its_user_and_key,
    a_second_record_under_a_key_is_a_duplicate_and_changes_nothing,
    a_write_and_its_key_are_committed_together,
    a_write_under_a_taken_key_writes_nothing,
    of_twenty_concurrent_writes_under_one_key_exactly_one_is_kept,
    purging_forgets_only_old_records,
]);

/// A stored user: records refer to one.
async fn owner(f: &Fixture) -> UserId {
    let user = user(&unique_email());
    f.users.insert(&user).await.unwrap();
    user.id
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

fn record(user: UserId, key_text: &str, outcome: Outcome) -> IdempotencyRecord {
    IdempotencyRecord {
        user,
        key: key(key_text),
        fingerprint: Fingerprint::of("create_todo", &[key_text]),
        outcome,
        recorded_at: t0(),
    }
}

fn created(todo: &Todo) -> OutboxMessage {
    OutboxMessage::TodoEvent(TodoEvent::of(
        MessageId::from_uuid(Uuid::now_v7()),
        t0(),
        todo,
        TodoChange::Created,
    ))
}

async fn a_record_reads_back_equal_and_only_for_its_user_and_key(f: &Fixture) {
    let (ann, bob) = (owner(f).await, owner(f).await);
    let todo = full_todo(ann);
    let kept = record(ann, "k-1", Outcome::Todo(todo));
    f.records.record(&kept).await.unwrap();
    f.records
        .record(&record(ann, "k-2", Outcome::Deleted))
        .await
        .unwrap();

    assert_eq!(f.records.find(ann, &key("k-1")).await.unwrap(), Some(kept));
    assert_eq!(
        f.records
            .find(ann, &key("k-2"))
            .await
            .unwrap()
            .map(|r| r.outcome),
        Some(Outcome::Deleted)
    );
    // Another user's key of the same text is another key.
    assert_eq!(f.records.find(bob, &key("k-1")).await.unwrap(), None);
    assert_eq!(f.records.find(ann, &key("K-1")).await.unwrap(), None);
}

async fn a_second_record_under_a_key_is_a_duplicate_and_changes_nothing(f: &Fixture) {
    let (ann, bob) = (owner(f).await, owner(f).await);
    let first = record(ann, "once", Outcome::Deleted);
    f.records.record(&first).await.unwrap();
    let mut second = record(ann, "once", Outcome::Todo(plain_todo(ann, "second")));
    second.fingerprint = Fingerprint::of("update_todo", &["other"]);

    let err = f.records.record(&second).await.unwrap_err();
    assert!(
        matches!(err, RepositoryError::Duplicate("idempotency_key")),
        "{err:?}"
    );
    assert_eq!(
        f.records.find(ann, &key("once")).await.unwrap(),
        Some(first)
    );
    // The same key is free for another user.
    f.records
        .record(&record(bob, "once", Outcome::Deleted))
        .await
        .unwrap();
}

async fn a_write_and_its_key_are_committed_together(f: &Fixture) {
    let ann = owner(f).await;
    let todo = plain_todo(ann, "guarded");
    let kept = record(ann, "with-write", Outcome::Todo(todo.clone()));
    f.unit_of_work
        .write_todo(
            TodoWrite::Insert(todo.clone()),
            created(&todo),
            Some(kept.clone()),
        )
        .await
        .unwrap();

    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
    assert_eq!(
        f.records.find(ann, &key("with-write")).await.unwrap(),
        Some(kept)
    );
    assert_eq!(f.queue.stats().await.unwrap().backlog, 1, "and its event");
}

async fn a_write_under_a_taken_key_writes_nothing(f: &Fixture) {
    let ann = owner(f).await;
    let first = plain_todo(ann, "first");
    f.unit_of_work
        .write_todo(
            TodoWrite::Insert(first.clone()),
            created(&first),
            Some(record(ann, "taken", Outcome::Todo(first.clone()))),
        )
        .await
        .unwrap();
    let second = plain_todo(ann, "second");

    let err = f
        .unit_of_work
        .write_todo(
            TodoWrite::Insert(second.clone()),
            created(&second),
            Some(record(ann, "taken", Outcome::Todo(second.clone()))),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(err, RepositoryError::Duplicate("idempotency_key")),
        "{err:?}"
    );
    assert_eq!(f.todos.get(second.id()).await.unwrap(), None);
    assert_eq!(
        f.queue.stats().await.unwrap().backlog,
        1,
        "no event for the write that was not made"
    );
}

async fn of_twenty_concurrent_writes_under_one_key_exactly_one_is_kept(f: &Fixture) {
    let ann = owner(f).await;
    let writes = (0..20).map(|i| {
        let unit_of_work = f.unit_of_work.clone();
        let todo = plain_todo(ann, &format!("attempt {i}"));
        tokio::spawn(async move {
            let kept = record(ann, "burst", Outcome::Todo(todo.clone()));
            let result = unit_of_work
                .write_todo(TodoWrite::Insert(todo.clone()), created(&todo), Some(kept))
                .await;
            (todo, result)
        })
    });
    let results = join_all(writes).await;

    let kept: Vec<&Todo> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(todo, _)| todo)
        .collect();
    assert_eq!(kept.len(), 1, "exactly one write under the key");
    for (_, result) in &results {
        if let Err(err) = result {
            assert!(
                matches!(err, RepositoryError::Duplicate("idempotency_key")),
                "{err:?}"
            );
        }
    }
    for (todo, result) in &results {
        assert_eq!(
            f.todos.get(todo.id()).await.unwrap().is_some(),
            result.is_ok()
        );
    }
    assert_eq!(
        f.records
            .find(ann, &key("burst"))
            .await
            .unwrap()
            .map(|r| r.outcome),
        Some(Outcome::Todo(kept[0].clone()))
    );
}

async fn purging_forgets_only_old_records(f: &Fixture) {
    let ann = owner(f).await;
    let mut old = record(ann, "old", Outcome::Deleted);
    old.recorded_at = t0() - Duration::days(2);
    f.records.record(&old).await.unwrap();
    f.records
        .record(&record(ann, "new", Outcome::Deleted))
        .await
        .unwrap();

    assert_eq!(f.records.purge(t0() - Duration::days(1)).await.unwrap(), 1);
    assert_eq!(f.records.find(ann, &key("old")).await.unwrap(), None);
    assert!(f.records.find(ann, &key("new")).await.unwrap().is_some());
}
