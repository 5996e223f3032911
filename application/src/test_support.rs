//! Fixtures shared by the use-case unit tests.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};

use chrono::{DateTime, TimeZone, Utc};
use domain::{
    error::{InfraError, RepositoryError},
    event::{OutboxMessage, TodoEvent},
    ports::{
        MockClock, MockIdGenerator, MockOutbox, MockRateLimiter, MockTodoCache, MockTodoRepository,
        MockTokenGenerator, MockTransaction, MockUnitOfWork, TodoRepository, Transaction,
        UnitOfWork,
    },
    session::{SessionToken, TOKEN_BYTES},
    todo::{NewTodo, Tags, Title, Todo, TodoId},
    user::{DisplayName, Email, Password, PasswordHash, Role, User, UserId},
};
use uuid::Uuid;

use crate::{Actor, todos::TodoPorts};

/// The time every fixed clock reports.
pub(crate) const T0: DateTime<Utc> = match DateTime::from_timestamp(1_767_258_000, 0) {
    Some(t) => t,
    None => panic!("valid timestamp"),
};

pub(crate) fn fixed_clock() -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(T0);
    Arc::new(clock)
}

/// A rate limiter that allows everything.
pub(crate) fn no_rate_limit() -> Arc<MockRateLimiter> {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_admit()
        .returning(|_, _| Ok(domain::ports::Admission::Allowed));
    Arc::new(limiter)
}

/// Ids 1, 2, 3, ... as UUIDs, so tests can predict them.
pub(crate) fn sequential_ids() -> Arc<MockIdGenerator> {
    let next = AtomicU64::new(1);
    let mut ids = MockIdGenerator::new();
    ids.expect_generate()
        .returning(move || Uuid::from_u128(u128::from(next.fetch_add(1, Ordering::Relaxed))));
    Arc::new(ids)
}

/// Always the token made of bytes 7, 7, 7, ...
pub(crate) fn fixed_tokens() -> Arc<MockTokenGenerator> {
    let mut tokens = MockTokenGenerator::new();
    tokens
        .expect_generate()
        .returning(|| SessionToken::from_bytes([7; TOKEN_BYTES]));
    Arc::new(tokens)
}

/// A token made of `seed` bytes; distinct seeds give distinct tokens.
pub(crate) fn token(seed: u8) -> SessionToken {
    SessionToken::from_bytes([seed; TOKEN_BYTES])
}

pub(crate) fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub(crate) fn password(s: &str) -> Password {
    Password::new(s.to_owned()).unwrap()
}

/// A stand-in for a real hash that tests can compute and compare.
pub(crate) fn fake_hash(password: &str) -> PasswordHash {
    PasswordHash::new(format!("fake-hash:{password}"))
}

pub(crate) fn user(email_text: &str, password_text: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: email(email_text),
        display_name: DisplayName::new("Someone").unwrap(),
        password_hash: fake_hash(password_text),
        role: Role::Member,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
    }
}

pub(crate) fn actor_for(user: &User) -> Actor {
    Actor {
        id: user.id,
        role: user.role,
    }
}

pub(crate) fn member() -> Actor {
    Actor {
        id: UserId::from_uuid(Uuid::now_v7()),
        role: Role::Member,
    }
}

pub(crate) fn admin() -> Actor {
    Actor {
        id: UserId::from_uuid(Uuid::now_v7()),
        role: Role::Admin,
    }
}

pub(crate) fn infra_down() -> InfraError {
    InfraError::unavailable("test", "connection refused")
}

/// An open todo owned by `owner`, created at T0 - 1 day.
pub(crate) fn todo_of(owner: &Actor) -> Todo {
    let new = NewTodo {
        title: Title::new("Water the plants").unwrap(),
        description: None,
        due_date: None,
        tags: Tags::default(),
    };
    Todo::create(
        TodoId::from_uuid(Uuid::now_v7()),
        owner.id,
        new,
        T0 - chrono::Duration::days(1),
    )
}

/// A repository whose `get` returns `todo`, whatever the id.
pub(crate) fn repo_holding(todo: &Todo) -> MockTodoRepository {
    let stored = todo.clone();
    let mut todos = MockTodoRepository::new();
    todos
        .expect_get()
        .returning(move |_| Ok(Some(stored.clone())));
    todos
}

/// A unit of work whose transactions hand out `todos` (the same mock the reads use, so one
/// set of expectations covers both) and `outbox`, and commit successfully.
pub(crate) fn unit_of_work_over(
    todos: Arc<dyn TodoRepository>,
    outbox: Arc<MockOutbox>,
) -> MockUnitOfWork {
    let mut unit_of_work = MockUnitOfWork::new();
    unit_of_work.expect_begin().returning(move || {
        let mut tx = MockTransaction::new();
        let todos = todos.clone();
        tx.expect_todos().returning(move || todos.clone());
        let outbox = outbox.clone();
        tx.expect_outbox().returning(move || outbox.clone());
        // A key is taken unless the test says otherwise: a stored key for "taken" makes
        // the record a duplicate.
        tx.expect_idempotency().returning(|| {
            let mut records = domain::ports::MockIdempotencyRecords::new();
            records.expect_record().returning(|record| {
                if record.key.as_str() == "taken" {
                    Err(RepositoryError::Duplicate("idempotency_key"))
                } else {
                    Ok(())
                }
            });
            Arc::new(records)
        });
        tx.expect_commit().returning(|| Ok(()));
        Ok(Box::new(tx))
    });
    unit_of_work
}

/// A unit of work that takes its transactions from a mock and keeps the trait's own
/// [`UnitOfWork::write_todo`] (a mock would replace it too), so that the tests set their
/// expectations on the repositories and the outbox each write goes through.
pub(crate) struct Transactional(pub(crate) MockUnitOfWork);

#[async_trait::async_trait]
impl UnitOfWork for Transactional {
    async fn begin(&self) -> Result<Box<dyn Transaction>, InfraError> {
        self.0.begin().await
    }
}

/// The events recorded in a [`recording_outbox`], in order.
pub(crate) type Recorded = Arc<Mutex<Vec<TodoEvent>>>;

/// An outbox that accepts every todo event and keeps it for the test to inspect.
pub(crate) fn recording_outbox() -> (MockOutbox, Recorded) {
    let recorded = Recorded::default();
    let sink = recorded.clone();
    let mut outbox = MockOutbox::new();
    outbox
        .expect_record()
        .returning(move |message| match message {
            OutboxMessage::TodoEvent(event) => {
                sink.lock().unwrap().push(event.clone());
                Ok(true)
            }
            OutboxMessage::Reminder(_) => panic!("a todo use case recorded a reminder"),
        });
    (outbox, recorded)
}

/// Todo ports over `todos` and `cache`, with the fixed clock and sequential ids, and a unit
/// of work over the same `todos` whose outbox accepts anything.
pub(crate) fn todo_ports(todos: MockTodoRepository, cache: MockTodoCache) -> TodoPorts {
    todo_ports_recording(todos, cache).0
}

/// [`todo_ports`], and the events their writes record.
pub(crate) fn todo_ports_recording(
    todos: MockTodoRepository,
    cache: MockTodoCache,
) -> (TodoPorts, Recorded) {
    let (outbox, recorded) = recording_outbox();
    let todos: Arc<dyn TodoRepository> = Arc::new(todos);
    let ports = TodoPorts {
        unit_of_work: Arc::new(Transactional(unit_of_work_over(
            todos.clone(),
            Arc::new(outbox),
        ))),
        todos,
        idempotency: Arc::new(domain::ports::MockIdempotencyRecords::new()),
        cache: Arc::new(cache),
        clock: fixed_clock(),
        ids: sequential_ids(),
    };
    (ports, recorded)
}

/// Ports over a repository holding `todo` whose `update` answers `update`, and a cache that
/// accepts invalidations.
pub(crate) fn ports_holding(todo: &Todo, update: Result<(), fn() -> RepositoryError>) -> TodoPorts {
    let mut todos = repo_holding(todo);
    todos
        .expect_update()
        .returning(move |_, _| update.map_err(|make| make()));
    let mut cache = MockTodoCache::new();
    cache.expect_invalidate().returning(|_, _| Ok(()));
    todo_ports(todos, cache)
}
