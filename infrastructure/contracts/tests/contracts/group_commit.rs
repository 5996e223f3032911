//! Group commit in the Postgres unit of work, seen from inside. The contract
//! (`unit_of_work::concurrent_writes_each_get_the_outcome_they_would_get_alone`) shows that
//! callers cannot tell it is there; these checks show that it is: concurrent creates do
//! share statements, also when one of their rows fails.
//!
//! With one slot, the first of 64 concurrent creates is written alone, and the others
//! queue up behind it and go in batches.

use std::sync::Arc;

use domain::{
    error::RepositoryError,
    event::{MessageId, OutboxMessage, TodoChange, TodoEvent},
    ports::{JobQueue, TodoRepository, TodoWrite, UnitOfWork, UserRepository},
    todo::Todo,
};
use driven_postgres::{
    GroupCommitSettings, GroupCommitStats, PgJobQueue, PgTodoRepository, PgUnitOfWork,
    PgUserRepository,
};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::*;

const SETTINGS: GroupCommitSettings = GroupCommitSettings {
    max_batch: 64,
    in_flight: 1,
};

/// Writes `todos` as concurrent creates and returns each one's outcome, in order, with
/// what group commit did meanwhile.
async fn create_all(
    unit_of_work: &Arc<PgUnitOfWork>,
    todos: &[Todo],
) -> (Vec<Result<(), RepositoryError>>, GroupCommitStats) {
    let tasks: Vec<_> = todos
        .iter()
        .map(|todo| {
            let unit_of_work = unit_of_work.clone();
            let write = TodoWrite::Insert(todo.clone());
            let event = OutboxMessage::TodoEvent(TodoEvent::of(
                MessageId::from_uuid(Uuid::now_v7()),
                t0(),
                todo,
                TodoChange::Created,
            ));
            tokio::spawn(async move { unit_of_work.write_todo(write, event, None).await })
        })
        .collect();
    let outcomes = join_all(tasks).await;
    (outcomes, unit_of_work.group_commit_stats().unwrap())
}

#[tokio::test]
async fn concurrent_creates_share_one_statement() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let owner = user(&unique_email());
    PgUserRepository::new(pool.clone())
        .insert(&owner)
        .await
        .unwrap();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let todos: Vec<Todo> = (0..64).map(|_| full_todo(owner.id)).collect();

    let (outcomes, stats) = create_all(&unit_of_work, &todos).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(stats.alone + stats.batched, 64, "{stats:?}");
    assert!(
        stats.alone >= 1,
        "the first create finds the slot free: {stats:?}"
    );
    assert!(stats.largest > 1, "creates shared a statement: {stats:?}");
    assert!(
        stats.alone + stats.batches < 64,
        "fewer statements than creates: {stats:?}"
    );
    assert_eq!(stats.retried, 0, "{stats:?}");
    let stored = PgTodoRepository::new(pool.clone());
    for todo in &todos {
        assert_eq!(stored.get(todo.id()).await.unwrap().as_ref(), Some(todo));
    }
    assert_eq!(PgJobQueue::new(pool).stats().await.unwrap().backlog, 64);
}

#[tokio::test]
async fn a_failing_row_sends_its_batch_on_alone_and_fails_only_itself() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let owner = user(&unique_email());
    PgUserRepository::new(pool.clone())
        .insert(&owner)
        .await
        .unwrap();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let stranger = user(&unique_email()).id; // never stored
    let todos: Vec<Todo> = (0..64)
        .map(|i| full_todo(if i == 37 { stranger } else { owner.id }))
        .collect();

    let (outcomes, stats) = create_all(&unit_of_work, &todos).await;

    // The orphan's batch failed as a whole; then each of its creates was written alone.
    assert_eq!(stats.retried, 1, "{stats:?}");
    assert!(stats.largest > 1, "{stats:?}");
    let stored = PgTodoRepository::new(pool.clone());
    for (i, (todo, outcome)) in todos.iter().zip(&outcomes).enumerate() {
        if i == 37 {
            assert!(
                matches!(outcome, Err(RepositoryError::UnknownReference("owner"))),
                "{outcome:?}"
            );
            assert_eq!(stored.get(todo.id()).await.unwrap(), None);
        } else {
            assert!(outcome.is_ok(), "create {i}: {outcome:?}");
            assert_eq!(stored.get(todo.id()).await.unwrap().as_ref(), Some(todo));
        }
    }
    assert_eq!(PgJobQueue::new(pool).stats().await.unwrap().backlog, 63);
}

#[tokio::test]
async fn a_lone_create_is_written_at_once_with_its_own_error() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let orphan = full_todo(user(&unique_email()).id);

    let (outcomes, stats) = create_all(&unit_of_work, std::slice::from_ref(&orphan)).await;

    assert!(
        matches!(
            outcomes[..],
            [Err(RepositoryError::UnknownReference("owner"))]
        ),
        "{outcomes:?}"
    );
    assert_eq!(
        stats,
        GroupCommitStats {
            alone: 1,
            ..GroupCommitStats::default()
        }
    );
    assert_eq!(PgJobQueue::new(pool).stats().await.unwrap().backlog, 0);
}

#[tokio::test]
async fn a_batch_of_one_turns_group_commit_off() {
    let db = TestDatabase::new().await;
    let off = GroupCommitSettings {
        max_batch: 1,
        in_flight: 1,
    };
    let unit_of_work = PgUnitOfWork::with_group_commit(db.pool().clone(), off);
    assert_eq!(unit_of_work.group_commit_stats(), None);
}

#[tokio::test]
async fn a_create_abandoned_halfway_gives_its_slot_back() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let owner = user(&unique_email());
    PgUserRepository::new(pool.clone())
        .insert(&owner)
        .await
        .unwrap();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let create = |todo: &Todo| {
        let event = OutboxMessage::TodoEvent(TodoEvent::of(
            MessageId::from_uuid(Uuid::now_v7()),
            t0(),
            todo,
            TodoChange::Created,
        ));
        unit_of_work.write_todo(TodoWrite::Insert(todo.clone()), event, None)
    };

    // The first create takes the only slot and starts its statement; then its caller
    // goes away (a client that disconnected).
    let mut abandoned = Box::pin(create(&full_todo(owner.id)));
    assert!(futures_util::poll!(abandoned.as_mut()).is_pending());
    drop(abandoned);

    // The slot is free again: the next create is written at once, not queued for ever.
    let next = full_todo(owner.id);
    tokio::time::timeout(std::time::Duration::from_secs(10), create(&next))
        .await
        .expect("the abandoned create kept its slot")
        .unwrap();
    assert_eq!(unit_of_work.group_commit_stats().unwrap().alone, 1);
    let stored = PgTodoRepository::new(pool);
    assert_eq!(stored.get(next.id()).await.unwrap(), Some(next));
}

/// Holds a lock on `owner`'s row, as a `DELETE` of the user would, until the returned
/// transaction ends: a create for them waits in its foreign key check meanwhile.
async fn lock_owner(
    pool: &driven_postgres::PgPool,
    owner: domain::user::UserId,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(owner.as_uuid())
        .execute(&mut *lock)
        .await
        .unwrap();
    lock
}

fn created(todo: &Todo) -> (TodoWrite, OutboxMessage) {
    let event = OutboxMessage::TodoEvent(TodoEvent::of(
        MessageId::from_uuid(Uuid::now_v7()),
        t0(),
        todo,
        TodoChange::Created,
    ));
    (TodoWrite::Insert(todo.clone()), event)
}

#[tokio::test]
async fn a_create_stuck_on_a_lock_does_not_hold_up_the_others() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let users = PgUserRepository::new(pool.clone());
    let (stuck_owner, other_owner) = (user(&unique_email()), user(&unique_email()));
    users.insert(&stuck_owner).await.unwrap();
    users.insert(&other_owner).await.unwrap();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let lock = lock_owner(&pool, stuck_owner.id).await;

    // The stuck create takes the only slot and waits for the lock.
    let (write, event) = created(&full_todo(stuck_owner.id));
    let stuck = tokio::spawn({
        let unit_of_work = unit_of_work.clone();
        async move { unit_of_work.write_todo(write, event, None).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Another user's create queues behind it, and is written once the stuck one has had
    // its slot for SLOT_PATIENCE, long before the lock ends.
    let other = full_todo(other_owner.id);
    let (write, event) = created(&other);
    tokio::time::timeout(
        driven_postgres::SLOT_PATIENCE * 20,
        unit_of_work.write_todo(write, event, None),
    )
    .await
    .expect("the other create waited for the stuck one")
    .unwrap();
    assert!(!stuck.is_finished(), "the lock is still held");
    let stats = unit_of_work.group_commit_stats().unwrap();
    assert_eq!((stats.slow, stats.batched), (1, 1), "{stats:?}");

    lock.rollback().await.unwrap();
    stuck.await.unwrap().unwrap();
    assert_eq!(
        PgTodoRepository::new(pool).get(other.id()).await.unwrap(),
        Some(other)
    );
}

#[tokio::test]
async fn a_queued_create_whose_caller_has_gone_is_not_written() {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    let users = PgUserRepository::new(pool.clone());
    let (stuck_owner, other_owner) = (user(&unique_email()), user(&unique_email()));
    users.insert(&stuck_owner).await.unwrap();
    users.insert(&other_owner).await.unwrap();
    let unit_of_work = Arc::new(PgUnitOfWork::with_group_commit(pool.clone(), SETTINGS));
    let lock = lock_owner(&pool, stuck_owner.id).await;
    let (write, event) = created(&full_todo(stuck_owner.id));
    let stuck = tokio::spawn({
        let unit_of_work = unit_of_work.clone();
        async move { unit_of_work.write_todo(write, event, None).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Queued behind the stuck create, then given up (a client that disconnected).
    let gone = full_todo(other_owner.id);
    let (write, event) = created(&gone);
    let mut queued = Box::pin(unit_of_work.write_todo(write, event, None));
    assert!(futures_util::poll!(queued.as_mut()).is_pending());
    drop(queued);
    // The stuck create hands its slot on after SLOT_PATIENCE; the queue it finds holds only
    // the create whose caller has gone.
    tokio::time::sleep(driven_postgres::SLOT_PATIENCE * 3).await;

    let stats = unit_of_work.group_commit_stats().unwrap();
    assert_eq!((stats.abandoned, stats.batches), (1, 0), "{stats:?}");
    lock.rollback().await.unwrap();
    stuck.await.unwrap().unwrap();
    let stored = PgTodoRepository::new(pool.clone());
    assert_eq!(stored.get(gone.id()).await.unwrap(), None);
    assert_eq!(PgJobQueue::new(pool).stats().await.unwrap().backlog, 1);
}
