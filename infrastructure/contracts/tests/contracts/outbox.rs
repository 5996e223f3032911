//! The `Outbox`, `JobQueue` and `ScheduleLedger` contracts, and the reminder scan of the
//! `TodoRepository`: the two ends of the transactional outbox, checked together because
//! one is only observable through the other.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use domain::{
    event::{JobKind, MessageId, OutboxMessage, Reminder, TodoChange, TodoEvent},
    ports::{JobQueue, JobSignal, ScheduleLedger, TodoRepository, UnitOfWork, UserRepository},
    todo::{DueDate, Title, Todo, TodoId},
    user::UserId,
};
use driven_memory::{MemoryScheduleLedger, MemoryStore};
use driven_postgres::{
    PgJobQueue, PgJobSignal, PgScheduleLedger, PgTodoRepository, PgUnitOfWork, PgUserRepository,
};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::*;

pub struct Fixture {
    unit_of_work: Arc<dyn UnitOfWork>,
    queue: Arc<dyn JobQueue>,
    signal: Arc<dyn JobSignal>,
    ledger: Arc<dyn ScheduleLedger>,
    users: Arc<dyn UserRepository>,
    todos: Arc<dyn TodoRepository>,
    _db: Option<TestDatabase>,
}

async fn memory() -> Fixture {
    let store = MemoryStore::new();
    Fixture {
        unit_of_work: Arc::new(store.unit_of_work()),
        queue: Arc::new(store.job_queue()),
        signal: Arc::new(store.job_queue()),
        ledger: Arc::new(MemoryScheduleLedger::new()),
        users: Arc::new(store.users()),
        todos: Arc::new(store.todos()),
        _db: None,
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::new().await;
    let pool = db.pool().clone();
    Fixture {
        unit_of_work: Arc::new(PgUnitOfWork::new(pool.clone())),
        queue: Arc::new(PgJobQueue::new(pool.clone())),
        signal: Arc::new(PgJobSignal::new(&pool)),
        ledger: Arc::new(PgScheduleLedger::new(pool.clone())),
        users: Arc::new(PgUserRepository::new(pool.clone())),
        todos: Arc::new(PgTodoRepository::new(pool)),
        _db: Some(db),
    }
}

contract!(adapters: [memory, postgres], checks: [
    a_committed_transaction_leaves_exactly_one_job_per_message,
    a_rolled_back_transaction_leaves_no_job,
    a_message_with_a_taken_key_is_not_recorded,
    a_claimed_job_is_hidden_until_its_lease_ends,
    concurrent_claims_get_disjoint_jobs,
    claims_take_the_oldest_first_and_respect_the_limit,
    one_todos_jobs_are_handed_out_one_at_a_time_in_the_order_recorded,
    a_delivered_job_is_never_claimed_again,
    a_failed_job_comes_back_at_its_retry_time,
    a_failure_from_a_lost_lease_changes_nothing,
    a_completion_from_a_lost_lease_changes_nothing,
    a_released_job_is_claimable_at_once,
    a_job_out_of_attempts_is_dead_until_retried,
    purging_deletes_only_old_delivered_jobs,
    stats_count_the_backlog_its_oldest_job_and_the_dead,
    a_tick_is_claimed_by_one_caller_only,
    a_tick_counts_as_finished_only_when_completed_and_purging_keeps_the_last,
    the_reminder_scan_finds_open_todos_due_in_range_page_by_page,
    a_commit_that_records_jobs_signals_once_however_many_it_made,
    delivering_a_job_that_a_later_one_waits_for_signals,
]);

fn now() -> DateTime<Utc> {
    // Whole microseconds, as Postgres stores them.
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap()
}

fn event(change: TodoChange) -> OutboxMessage {
    OutboxMessage::TodoEvent(TodoEvent {
        id: MessageId::from_uuid(Uuid::now_v7()),
        occurred_at: t0(),
        owner: UserId::from_uuid(Uuid::now_v7()),
        todo_id: TodoId::from_uuid(Uuid::now_v7()),
        version: domain::todo::Version::INITIAL,
        change,
    })
}

fn reminder(todo_id: TodoId, due: &str) -> OutboxMessage {
    OutboxMessage::Reminder(Reminder {
        id: MessageId::from_uuid(Uuid::now_v7()),
        owner: UserId::from_uuid(Uuid::now_v7()),
        todo_id,
        title: Title::new("Pay rent").unwrap(),
        due_date: DueDate::parse(due).unwrap(),
    })
}

/// Records `messages` in one committed transaction.
async fn commit(f: &Fixture, messages: &[OutboxMessage]) {
    let tx = f.unit_of_work.begin().await.unwrap();
    for message in messages {
        assert!(tx.outbox().record(message).await.unwrap());
    }
    tx.commit().await.unwrap();
}

/// Claims up to `limit` jobs due at `at`, leased for `lease` from then.
async fn claim(
    f: &Fixture,
    at: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Vec<domain::ports::ClaimedJob> {
    f.queue.claim(at, at + lease, limit).await.unwrap()
}

/// Claims everything due now, with a lease of a minute.
async fn claim_all(f: &Fixture) -> Vec<domain::ports::ClaimedJob> {
    let now = now();
    claim(f, now, Duration::minutes(1), 100).await
}

async fn a_committed_transaction_leaves_exactly_one_job_per_message(f: &Fixture) {
    let owner = user(&unique_email());
    let todo = full_todo(owner.id);
    let created = event(TodoChange::Created);
    let tx = f.unit_of_work.begin().await.unwrap();
    tx.users().insert(&owner).await.unwrap();
    tx.todos().insert(&todo).await.unwrap();
    assert!(tx.outbox().record(&created).await.unwrap());
    tx.commit().await.unwrap();

    let jobs = claim_all(f).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].message, created);
    assert_eq!(jobs[0].attempt, 1);
    assert!(claim_all(f).await.is_empty(), "the job is handed out once");
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
}

async fn a_rolled_back_transaction_leaves_no_job(f: &Fixture) {
    let owner = user(&unique_email());
    {
        let tx = f.unit_of_work.begin().await.unwrap();
        tx.users().insert(&owner).await.unwrap();
        assert!(
            tx.outbox()
                .record(&event(TodoChange::Created))
                .await
                .unwrap()
        );
        // Dropped without a commit.
    }

    assert!(claim_all(f).await.is_empty());
    assert_eq!(f.queue.stats().await.unwrap().backlog, 0);
    assert_eq!(f.users.get(owner.id).await.unwrap(), None);
}

async fn a_message_with_a_taken_key_is_not_recorded(f: &Fixture) {
    let todo_id = TodoId::from_uuid(Uuid::now_v7());
    commit(f, &[reminder(todo_id, "2026-05-01")]).await;

    // A second transaction, and a repeat within one: neither records.
    let tx = f.unit_of_work.begin().await.unwrap();
    assert!(
        !tx.outbox()
            .record(&reminder(todo_id, "2026-05-01"))
            .await
            .unwrap()
    );
    let other_day = reminder(todo_id, "2026-05-02");
    assert!(tx.outbox().record(&other_day).await.unwrap());
    assert!(
        !tx.outbox()
            .record(&reminder(todo_id, "2026-05-02"))
            .await
            .unwrap()
    );
    // Events have no key: two are two.
    assert!(
        tx.outbox()
            .record(&event(TodoChange::Updated))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    assert_eq!(claim_all(f).await.len(), 3);
}

async fn a_claimed_job_is_hidden_until_its_lease_ends(f: &Fixture) {
    let message = event(TodoChange::Completed);
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    let lease = now + Duration::seconds(30);

    let first = f.queue.claim(now, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let during = now + Duration::seconds(29);
    assert!(claim(f, during, Duration::seconds(30), 10).await.is_empty());

    // The claimer died: after the lease, the job is claimable again, as attempt 2.
    let after = lease;
    let again = claim(f, after, Duration::seconds(30), 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].message.id(), again[0].attempt), (message.id(), 2));
}

async fn concurrent_claims_get_disjoint_jobs(f: &Fixture) {
    let messages: Vec<OutboxMessage> = (0..20).map(|_| event(TodoChange::Created)).collect();
    commit(f, &messages).await;

    let now = now();
    let claims = (0..6).map(|_| {
        let queue = f.queue.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = queue
                    .claim(now, now + Duration::minutes(1), 3)
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.message.id()));
            }
        })
    });
    let claimed: Vec<MessageId> = join_all(claims).await.into_iter().flatten().collect();

    let distinct: BTreeSet<MessageId> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 20, "every job claimed exactly once");
    assert_eq!(distinct, messages.iter().map(OutboxMessage::id).collect());
}

async fn claims_take_the_oldest_first_and_respect_the_limit(f: &Fixture) {
    let messages: Vec<OutboxMessage> = (0..5).map(|_| event(TodoChange::Reopened)).collect();
    // Recorded newest first, to show that the order is the ids', not the inserts'.
    let mut reversed = messages.clone();
    reversed.reverse();
    commit(f, &reversed).await;
    let now = now();

    let jobs = claim(f, now, Duration::minutes(1), 2).await;

    let ids: Vec<MessageId> = jobs.iter().map(|j| j.message.id()).collect();
    assert_eq!(ids, [messages[0].id(), messages[1].id()]);
}

fn event_of(todo_id: TodoId, change: TodoChange) -> OutboxMessage {
    OutboxMessage::TodoEvent(TodoEvent {
        id: MessageId::from_uuid(Uuid::now_v7()),
        occurred_at: t0(),
        owner: UserId::from_uuid(Uuid::now_v7()),
        todo_id,
        version: domain::todo::Version::INITIAL,
        change,
    })
}

async fn one_todos_jobs_are_handed_out_one_at_a_time_in_the_order_recorded(f: &Fixture) {
    let todo = TodoId::from_uuid(Uuid::now_v7());
    let first = event_of(todo, TodoChange::Created);
    let second = event_of(todo, TodoChange::Updated);
    let other = event(TodoChange::Created);
    let third = event_of(todo, TodoChange::Completed);
    // A reminder of the same todo waits for nothing.
    let reminder = reminder(todo, "2026-05-01");
    commit(
        f,
        &[
            first.clone(),
            second.clone(),
            other.clone(),
            third.clone(),
            reminder.clone(),
        ],
    )
    .await;
    let ids = |jobs: &[domain::ports::ClaimedJob]| -> Vec<MessageId> {
        jobs.iter().map(|j| j.message.id()).collect()
    };
    let now = now();

    let jobs = claim(f, now, Duration::seconds(5), 10).await;
    assert_eq!(ids(&jobs), [first.id(), other.id(), reminder.id()]);
    f.queue
        .complete(&[jobs[1].claim(), jobs[2].claim()], now)
        .await
        .unwrap();
    // While the first is leased, and then waits for its retry, the rest of its todo waits.
    assert!(claim(f, now, Duration::seconds(5), 10).await.is_empty());
    f.queue
        .fail(
            first.id(),
            1,
            "redis down",
            Some(now + Duration::seconds(10)),
            now,
        )
        .await
        .unwrap();
    assert!(
        claim(f, now + Duration::seconds(6), Duration::seconds(5), 10)
            .await
            .is_empty(),
        "the second event never overtakes the first"
    );
    let retried = claim(f, now + Duration::seconds(10), Duration::seconds(5), 10).await;
    assert_eq!(ids(&retried), [first.id()]);
    f.queue.complete(&[retried[0].claim()], now).await.unwrap();

    let later = now + Duration::seconds(20);
    let next = claim(f, later, Duration::seconds(5), 10).await;
    assert_eq!(ids(&next), [second.id()]);
    // A dead job holds nothing up: it waits for a person, the rest goes on.
    f.queue
        .fail(second.id(), next[0].attempt, "gave up", None, later)
        .await
        .unwrap();
    let last = claim(f, later, Duration::seconds(5), 10).await;
    assert_eq!(ids(&last), [third.id()]);
}

async fn a_delivered_job_is_never_claimed_again(f: &Fixture) {
    let message = event(TodoChange::Deleted);
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    let jobs = claim(f, now, Duration::seconds(1), 10).await;

    f.queue.complete(&[jobs[0].claim()], now).await.unwrap();
    // A late failure report from the same attempt cannot undo the delivery.
    f.queue
        .fail(message.id(), jobs[0].attempt, "late", Some(now), now)
        .await
        .unwrap();

    let later = now + Duration::hours(1);
    assert!(claim(f, later, Duration::seconds(1), 10).await.is_empty());
    assert_eq!(f.queue.stats().await.unwrap().backlog, 0);
}

async fn a_failed_job_comes_back_at_its_retry_time(f: &Fixture) {
    let message = event(TodoChange::Tagged(tag("home")));
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    let jobs = claim(f, now, Duration::seconds(1), 10).await;
    let retry_at = now + Duration::seconds(10);

    f.queue
        .fail(
            message.id(),
            jobs[0].attempt,
            "redis down",
            Some(retry_at),
            now,
        )
        .await
        .unwrap();

    let early = now + Duration::seconds(9);
    assert!(
        claim(f, early, Duration::seconds(1), 10).await.is_empty(),
        "not before its retry time, though the lease has ended"
    );
    let again = claim(f, retry_at, Duration::seconds(1), 10).await;
    assert_eq!((again[0].message.id(), again[0].attempt), (message.id(), 2));
}

async fn a_failure_from_a_lost_lease_changes_nothing(f: &Fixture) {
    let message = event(TodoChange::Untagged(tag("home")));
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    claim(f, now, Duration::seconds(1), 10).await;
    let later = now + Duration::seconds(2);
    let second = claim(f, later, Duration::minutes(1), 10).await;
    assert_eq!(second[0].attempt, 2);

    // The first claimer, back from a long pause, reports its attempt as dead.
    f.queue
        .fail(message.id(), 1, "stale", None, later)
        .await
        .unwrap();

    assert!(f.queue.dead(10).await.unwrap().is_empty());
    assert_eq!(f.queue.stats().await.unwrap().backlog, 1);
}

async fn a_completion_from_a_lost_lease_changes_nothing(f: &Fixture) {
    let message = event(TodoChange::Updated);
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    let first = claim(f, now, Duration::seconds(1), 10).await;
    let later = now + Duration::seconds(2);
    let second = claim(f, later, Duration::seconds(1), 10).await;

    // The first claimer, back from a long pause, reports its delivery.
    f.queue.complete(&[first[0].claim()], later).await.unwrap();
    assert_eq!(
        f.queue.stats().await.unwrap().backlog,
        1,
        "the job is the second claimer's to report"
    );
    let third = claim(f, later + Duration::seconds(1), Duration::seconds(1), 10).await;
    assert_eq!((third[0].message.id(), third[0].attempt), (message.id(), 3));

    // The latest claim's report counts; the second's no longer does.
    f.queue.complete(&[second[0].claim()], later).await.unwrap();
    assert_eq!(f.queue.stats().await.unwrap().backlog, 1);
    f.queue.complete(&[third[0].claim()], later).await.unwrap();
    assert_eq!(f.queue.stats().await.unwrap().backlog, 0);
}

async fn a_released_job_is_claimable_at_once(f: &Fixture) {
    let (kept, given_back) = (event(TodoChange::Created), event(TodoChange::Created));
    commit(f, &[kept.clone(), given_back.clone()]).await;
    let now = now();
    let jobs = claim(f, now, Duration::minutes(1), 10).await;
    assert_eq!(jobs.len(), 2);

    f.queue.release(&[jobs[1].claim()], now).await.unwrap();

    let again = claim(f, now, Duration::minutes(1), 10).await;
    assert_eq!(
        again
            .iter()
            .map(|j| (j.message.id(), j.attempt))
            .collect::<Vec<_>>(),
        [(given_back.id(), 2)],
        "back at once, as a new attempt; the other is still leased"
    );
    // A stale claim gives nothing back, and a delivered job stays delivered.
    f.queue.release(&[jobs[1].claim()], now).await.unwrap();
    assert!(claim(f, now, Duration::minutes(1), 10).await.is_empty());
    f.queue.complete(&[jobs[0].claim()], now).await.unwrap();
    f.queue.release(&[jobs[0].claim()], now).await.unwrap();
    let later = now + Duration::hours(1);
    let last = claim(f, later, Duration::minutes(1), 10).await;
    assert_eq!(
        last.iter()
            .map(|j| (j.message.id(), j.attempt))
            .collect::<Vec<_>>(),
        [(given_back.id(), 3)]
    );
}

async fn a_job_out_of_attempts_is_dead_until_retried(f: &Fixture) {
    let message = event(TodoChange::Created);
    commit(f, std::slice::from_ref(&message)).await;
    let now = now();
    let jobs = claim(f, now, Duration::seconds(1), 10).await;

    f.queue
        .fail(message.id(), jobs[0].attempt, "gave up", None, now)
        .await
        .unwrap();

    let dead = f.queue.dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].id, dead[0].kind, dead[0].attempts),
        (message.id(), JobKind::TodoEvent, 1)
    );
    assert_eq!(
        (dead[0].last_error.as_str(), dead[0].died_at),
        ("gave up", now)
    );
    let later = now + Duration::days(1);
    assert!(
        claim(f, later, Duration::seconds(1), 10).await.is_empty(),
        "a dead job is never claimed"
    );

    assert!(f.queue.retry(message.id(), later).await.unwrap());
    assert!(
        !f.queue.retry(message.id(), later).await.unwrap(),
        "no longer dead"
    );
    assert!(
        !f.queue
            .retry(MessageId::from_uuid(Uuid::now_v7()), later)
            .await
            .unwrap()
    );
    assert!(f.queue.dead(10).await.unwrap().is_empty());
    let again = claim(f, later, Duration::seconds(1), 10).await;
    assert_eq!(
        again[0].attempt, 1,
        "a retried job starts its attempts afresh"
    );
}

async fn purging_deletes_only_old_delivered_jobs(f: &Fixture) {
    // Reminders: what every adapter keeps of a delivered job is at least its key.
    let todo = TodoId::from_uuid(Uuid::now_v7());
    let (old, recent, pending) = (
        reminder(todo, "2026-05-01"),
        reminder(todo, "2026-05-02"),
        reminder(todo, "2026-05-03"),
    );
    commit(f, &[old.clone(), recent.clone(), pending.clone()]).await;
    let now = now();
    let jobs = claim(f, now, Duration::minutes(1), 2).await;
    f.queue
        .complete(&[jobs[0].claim()], now - Duration::days(8))
        .await
        .unwrap();
    f.queue
        .complete(&[jobs[1].claim()], now - Duration::days(1))
        .await
        .unwrap();

    assert_eq!(
        f.queue
            .purge_delivered(now - Duration::days(7))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        f.queue
            .purge_delivered(now - Duration::days(7))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        f.queue.stats().await.unwrap().backlog,
        1,
        "the pending one stays"
    );
    // The old one's key went with it; the recent one's is still taken.
    let tx = f.unit_of_work.begin().await.unwrap();
    assert!(
        tx.outbox()
            .record(&reminder(todo, "2026-05-01"))
            .await
            .unwrap()
    );
    assert!(
        !tx.outbox()
            .record(&reminder(todo, "2026-05-02"))
            .await
            .unwrap()
    );
}

async fn stats_count_the_backlog_its_oldest_job_and_the_dead(f: &Fixture) {
    assert_eq!(
        f.queue.stats().await.unwrap(),
        domain::ports::QueueStats::default()
    );
    let before = now() - Duration::seconds(5);
    let messages: Vec<OutboxMessage> = (0..3).map(|_| event(TodoChange::Updated)).collect();
    commit(f, &messages).await;
    let now = now();
    let jobs = claim(f, now, Duration::minutes(1), 1).await;
    f.queue
        .fail(jobs[0].message.id(), 1, "boom", None, now)
        .await
        .unwrap();

    let stats = f.queue.stats().await.unwrap();
    assert_eq!((stats.backlog, stats.dead), (2, 1));
    let oldest = stats.oldest_recorded_at.unwrap();
    assert!(
        before <= oldest && oldest <= now + Duration::seconds(5),
        "{oldest}"
    );
}

async fn a_tick_is_claimed_by_one_caller_only(f: &Fixture) {
    let tick = t0();
    let claims = (0..8).map(|_| {
        let ledger = f.ledger.clone();
        tokio::spawn(async move { ledger.claim_tick("reminders", tick).await.unwrap() })
    });
    let won = join_all(claims).await.into_iter().filter(|w| *w).count();
    assert_eq!(won, 1);

    // Another job, or another tick, is another claim.
    assert!(f.ledger.claim_tick("housekeeping", tick).await.unwrap());
    let next = tick + Duration::minutes(1);
    assert!(f.ledger.claim_tick("reminders", next).await.unwrap());

    assert_eq!(f.ledger.purge(next).await.unwrap(), 2);
    assert!(!f.ledger.claim_tick("reminders", next).await.unwrap());
}

async fn a_tick_counts_as_finished_only_when_completed_and_purging_keeps_the_last(f: &Fixture) {
    let tick = t0();
    let minute = Duration::minutes(1);
    assert_eq!(f.ledger.last_completed("reminders").await.unwrap(), None);
    assert!(f.ledger.claim_tick("reminders", tick).await.unwrap());
    assert_eq!(
        f.ledger.last_completed("reminders").await.unwrap(),
        None,
        "claimed is not finished"
    );
    f.ledger.complete_tick("reminders", tick).await.unwrap();
    // The next run fails halfway: claimed, never completed.
    assert!(
        f.ledger
            .claim_tick("reminders", tick + minute)
            .await
            .unwrap()
    );
    f.ledger
        .complete_tick("housekeeping", tick + minute)
        .await
        .unwrap();
    assert_eq!(
        f.ledger.last_completed("reminders").await.unwrap(),
        Some(tick)
    );
    assert_eq!(
        f.ledger.last_completed("housekeeping").await.unwrap(),
        Some(tick + minute),
        "each job has its own"
    );

    // Long after: every old tick goes but each job's last finished one.
    let much_later = tick + Duration::days(30);
    assert_eq!(f.ledger.purge(much_later).await.unwrap(), 1);
    assert_eq!(
        f.ledger.last_completed("reminders").await.unwrap(),
        Some(tick)
    );
    assert!(!f.ledger.claim_tick("reminders", tick).await.unwrap());
    assert!(
        f.ledger
            .claim_tick("reminders", tick + minute)
            .await
            .unwrap()
    );
}

async fn the_reminder_scan_finds_open_todos_due_in_range_page_by_page(f: &Fixture) {
    let owner = user(&unique_email());
    f.users.insert(&owner).await.unwrap();
    let due = |title: &str, date: Option<&str>, done: bool| {
        let mut todo = plain_todo(owner.id, title);
        let changes = domain::todo::TodoChanges {
            due_date: Some(date.map(|d| DueDate::parse(d).unwrap())),
            ..Default::default()
        };
        todo.apply(changes, t0());
        if done {
            todo.complete(t0());
        }
        todo
    };
    let wanted: Vec<Todo> = vec![
        due("a", Some("2026-05-01"), false),
        due("b", Some("2026-05-02"), false),
        due("c", Some("2026-05-01"), false),
    ];
    let unwanted = vec![
        due("done", Some("2026-05-01"), true),
        due("before", Some("2026-04-30"), false),
        due("after", Some("2026-05-03"), false),
        due("never", None, false),
    ];
    for todo in wanted.iter().chain(&unwanted) {
        f.todos.insert(todo).await.unwrap();
    }
    let (first, last) = (
        DueDate::parse("2026-05-01").unwrap(),
        DueDate::parse("2026-05-02").unwrap(),
    );

    let page1 = f
        .todos
        .open_due_between(first, last, None, 2)
        .await
        .unwrap();
    let cursor = page1.last().map(Todo::id);
    let page2 = f
        .todos
        .open_due_between(first, last, cursor, 2)
        .await
        .unwrap();

    let found: Vec<TodoId> = page1.iter().chain(&page2).map(Todo::id).collect();
    assert_eq!(found, wanted.iter().map(Todo::id).collect::<Vec<_>>());
    assert_eq!(page1[0], wanted[0]);
}

/// Whether the signal comes within `within`.
async fn signalled(f: &Fixture, within: std::time::Duration) -> bool {
    tokio::time::timeout(within, f.signal.recorded())
        .await
        .is_ok()
}

/// Takes the signals that may come unasked (an adapter MAY signal when nothing was
/// recorded, as Postgres's does once it starts listening), until a second passes without
/// one.
async fn settle(f: &Fixture) {
    while signalled(f, std::time::Duration::from_secs(1)).await {}
}

const AT_ONCE: std::time::Duration = std::time::Duration::from_secs(5);
const QUIET: std::time::Duration = std::time::Duration::from_millis(300);

async fn a_commit_that_records_jobs_signals_once_however_many_it_made(f: &Fixture) {
    settle(f).await;
    for _ in 0..3 {
        commit(f, &[event(TodoChange::Created), event(TodoChange::Created)]).await;
    }
    // Nobody waits while the signals arrive (Postgres delivers each a moment after its
    // commit): they fold into one.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        signalled(f, AT_ONCE).await,
        "commits made while nobody waited"
    );
    assert!(!signalled(f, QUIET).await, "three commits, one wake-up");

    let tx = f.unit_of_work.begin().await.unwrap();
    assert!(
        tx.outbox()
            .record(&event(TodoChange::Created))
            .await
            .unwrap()
    );
    drop(tx);
    assert!(!signalled(f, QUIET).await, "a transaction that rolled back");

    let waiting = signalled(f, AT_ONCE);
    let committing = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        commit(f, &[event(TodoChange::Created)]).await;
    };
    let (woken, ()) = tokio::join!(waiting, committing);
    assert!(woken, "a commit while the worker waits");
}

async fn delivering_a_job_that_a_later_one_waits_for_signals(f: &Fixture) {
    let todo_id = TodoId::from_uuid(Uuid::now_v7());
    commit(
        f,
        &[
            event_of(todo_id, TodoChange::Created),
            event_of(todo_id, TodoChange::Completed),
        ],
    )
    .await;
    settle(f).await;
    let first = claim_all(f).await;
    assert_eq!(first.len(), 1, "the second waits for the first");
    assert!(!signalled(f, QUIET).await, "a claim frees nothing");

    f.queue.complete(&[first[0].claim()], now()).await.unwrap();
    assert!(
        signalled(f, AT_ONCE).await,
        "the delivery freed the job that waited for it"
    );
    assert_eq!(claim_all(f).await.len(), 1);
}
