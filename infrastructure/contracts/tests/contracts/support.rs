//! Builders for the values the suites store, and the macro that instantiates them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{
    todo::{Description, DueDate, NewTodo, Tag, Tags, Title, Todo, TodoId},
    user::{DisplayName, Email, PasswordHash, Role, User, UserId},
};
use uuid::Uuid;

/// A fixed, microsecond-precise point in time.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 8, 30, 0).unwrap() + Duration::microseconds(123_456)
}

pub fn user(email: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        display_name: DisplayName::new("Contract Tester").unwrap(),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        role: Role::Member,
        created_at: t0(),
    }
}

/// A unique email, so suites never collide with each other's users.
pub fn unique_email() -> String {
    format!("u{}@example.org", Uuid::now_v7().simple())
}

pub fn tag(s: &str) -> Tag {
    Tag::new(s).unwrap()
}

/// A todo of `owner` with every optional field set.
pub fn full_todo(owner: UserId) -> Todo {
    let new = NewTodo {
        title: Title::new("Renew passport").unwrap(),
        description: Some(Description::new("Photo booth first.\nThen the form.").unwrap()),
        due_date: DueDate::parse("2026-06-30").ok(),
        tags: Tags::new([tag("admin"), tag("travel")]).unwrap(),
    };
    Todo::create(TodoId::from_uuid(Uuid::now_v7()), owner, new, t0())
}

/// A todo of `owner` with only a title.
pub fn plain_todo(owner: UserId, title: &str) -> Todo {
    let new = NewTodo {
        title: Title::new(title).unwrap(),
        description: None,
        due_date: None,
        tags: Tags::default(),
    };
    Todo::create(TodoId::from_uuid(Uuid::now_v7()), owner, new, t0())
}

/// Awaits every spawned task and collects the results, in order.
pub async fn join_all<T>(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks.into_iter().collect::<Vec<_>>() {
        results.push(task.await.unwrap());
    }
    results
}

/// Instantiates a suite: for each adapter, a module with one test per check. Each test
/// gets a fresh fixture from the function named like the adapter.
macro_rules! contract {
    (adapters: [$($adapter:ident),+ $(,)?], checks: $checks:tt) => {
        $( contract!(@one $adapter, $checks); )+
    };
    (@one $adapter:ident, [$($check:ident),* $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let fixture = super::$adapter().await;
                    super::$check(&fixture).await;
                }
            )*
        }
    };
}
pub(crate) use contract;
