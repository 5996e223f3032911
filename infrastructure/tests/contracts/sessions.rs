//! The `SessionStore` contract.

use std::{sync::Arc, time::Duration as StdDuration};

use chrono::{Duration, Utc};
use domain::{
    ports::{Clock, SessionStore},
    session::{Session, SessionToken},
    user::{Role, UserId},
};
use infrastructure::{
    clock::SystemClock,
    memory::MemorySessionStore,
    redis::RedisSessionStore,
    testing::{ManualClock, TestRedis},
};
use uuid::Uuid;

use crate::support::contract;

pub struct Fixture {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    /// Moves time forward: the manual clock for the in-memory store, real time for Redis
    /// (whose TTLs run on the server's clock).
    advance: Box<dyn Fn(StdDuration) -> Pause + Send + Sync>,
    _redis: Option<TestRedis>,
}

/// What `advance` returns: a future that completes once the time has passed.
type Pause = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

async fn memory() -> Fixture {
    let clock = ManualClock::new(Utc::now());
    let moved = clock.clone();
    Fixture {
        store: Arc::new(MemorySessionStore::new(Arc::new(clock.clone()))),
        clock: Arc::new(clock),
        advance: Box::new(move |by| {
            moved.advance(Duration::from_std(by).unwrap());
            Box::pin(async {})
        }),
        _redis: None,
    }
}

async fn redis() -> Fixture {
    let redis = TestRedis::new().await;
    let store = RedisSessionStore::new(
        redis.manager().await,
        redis.key_prefix(),
        Arc::new(SystemClock),
    );
    Fixture {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        advance: Box::new(|by| Box::pin(tokio::time::sleep(by))),
        _redis: Some(redis),
    }
}

fn session(clock: &dyn Clock, lifetime: Duration) -> (SessionToken, Session) {
    let token = SessionToken::generate();
    let now = clock.now();
    let session = Session {
        token_hash: token.hash(),
        user_id: UserId::from_uuid(Uuid::now_v7()),
        role: Role::Admin,
        created_at: now,
        expires_at: now + lifetime,
    };
    (token, session)
}

contract!(adapters: [memory, redis], checks: [
    a_created_session_reads_back_equal,
    an_unknown_hash_is_none,
    a_deleted_session_is_gone_and_deleting_again_is_fine,
    a_session_is_gone_once_it_expires,
    an_already_expired_session_is_never_returned,
]);

async fn a_created_session_reads_back_equal(f: &Fixture) {
    let (token, session) = session(f.clock.as_ref(), Duration::hours(1));
    f.store.create(&session).await.unwrap();

    assert_eq!(f.store.get(&token.hash()).await.unwrap(), Some(session));
}

async fn an_unknown_hash_is_none(f: &Fixture) {
    assert_eq!(
        f.store.get(&SessionToken::generate().hash()).await.unwrap(),
        None
    );
}

async fn a_deleted_session_is_gone_and_deleting_again_is_fine(f: &Fixture) {
    let (token, session) = session(f.clock.as_ref(), Duration::hours(1));
    f.store.create(&session).await.unwrap();

    f.store.delete(&token.hash()).await.unwrap();
    f.store.delete(&token.hash()).await.unwrap();

    assert_eq!(f.store.get(&token.hash()).await.unwrap(), None);
}

async fn a_session_is_gone_once_it_expires(f: &Fixture) {
    let (token, session) = session(f.clock.as_ref(), Duration::milliseconds(1_500));
    f.store.create(&session).await.unwrap();
    assert!(f.store.get(&token.hash()).await.unwrap().is_some());

    (f.advance)(StdDuration::from_millis(1_700)).await;

    assert_eq!(f.store.get(&token.hash()).await.unwrap(), None);
}

async fn an_already_expired_session_is_never_returned(f: &Fixture) {
    let (token, session) = session(f.clock.as_ref(), Duration::seconds(-1));
    f.store.create(&session).await.unwrap();

    assert_eq!(f.store.get(&token.hash()).await.unwrap(), None);
}
