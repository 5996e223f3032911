//! The `SessionStore` contract.

use std::{sync::Arc, time::Duration as StdDuration};

use chrono::{Duration, Utc};
use domain::{
    ports::{Clock, SessionStore, TokenGenerator},
    session::{Session, SessionToken},
    user::{Role, UserId},
};
use driven_memory::MemorySessionStore;
use driven_redis::{ConnectionManager, RedisSessionStore};
use driven_system::clock::SystemClock;
use driven_system::tokens::RandomTokenGenerator;
use test_servers::{ManualClock, TestRedis};
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
    let manager = redis.manager().await;
    redis_on(redis, manager)
}

/// The Redis store on a connection with client-side caching: the same contract must hold
/// when repeated reads are answered from process memory.
async fn redis_tracked() -> Fixture {
    let redis = TestRedis::new().await;
    let manager = redis
        .tracked_manager(1_000, StdDuration::from_secs(60))
        .await;
    redis_on(redis, manager)
}

fn redis_on(redis: TestRedis, manager: ConnectionManager) -> Fixture {
    let store = RedisSessionStore::new(manager, redis.key_prefix(), Arc::new(SystemClock));
    Fixture {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        advance: Box::new(|by| Box::pin(tokio::time::sleep(by))),
        _redis: Some(redis),
    }
}

fn session(clock: &dyn Clock, lifetime: Duration) -> (SessionToken, Session) {
    session_of(UserId::from_uuid(Uuid::now_v7()), clock, lifetime)
}

fn session_of(user: UserId, clock: &dyn Clock, lifetime: Duration) -> (SessionToken, Session) {
    let token = RandomTokenGenerator.generate();
    let now = clock.now();
    let session = Session {
        token_hash: token.hash(),
        user_id: user,
        role: Role::Admin,
        created_at: now,
        expires_at: now + lifetime,
    };
    (token, session)
}

contract!(adapters: [memory, redis, redis_tracked], checks: [
    a_created_session_reads_back_equal,
    an_unknown_hash_is_none,
    a_deleted_session_is_gone_and_deleting_again_is_fine,
    a_session_is_gone_once_it_expires,
    an_already_expired_session_is_never_returned,
    deleting_all_of_a_users_sessions_spares_everyone_else,
    deleting_all_of_a_users_sessions_covers_those_logged_out_or_expired_before,
    a_logout_by_this_process_is_seen_by_its_very_next_read,
]);

async fn a_created_session_reads_back_equal(f: &Fixture) {
    let (token, session) = session(f.clock.as_ref(), Duration::hours(1));
    f.store.create(&session).await.unwrap();

    assert_eq!(f.store.get(&token.hash()).await.unwrap(), Some(session));
}

async fn an_unknown_hash_is_none(f: &Fixture) {
    assert_eq!(
        f.store
            .get(&RandomTokenGenerator.generate().hash())
            .await
            .unwrap(),
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

async fn deleting_all_of_a_users_sessions_spares_everyone_else(f: &Fixture) {
    let (ann, bob) = (
        UserId::from_uuid(Uuid::now_v7()),
        UserId::from_uuid(Uuid::now_v7()),
    );
    let clock = f.clock.as_ref();
    let anns: Vec<_> = (0..3)
        .map(|_| session_of(ann, clock, Duration::hours(1)))
        .collect();
    let (bobs_token, bobs) = session_of(bob, clock, Duration::hours(1));
    for (_, session) in &anns {
        f.store.create(session).await.unwrap();
    }
    f.store.create(&bobs).await.unwrap();

    f.store.delete_all_of_user(ann).await.unwrap();
    f.store.delete_all_of_user(ann).await.unwrap();

    for (token, _) in &anns {
        assert_eq!(f.store.get(&token.hash()).await.unwrap(), None);
    }
    assert_eq!(f.store.get(&bobs_token.hash()).await.unwrap(), Some(bobs));
    // A login after the fact is a new session, and stays.
    let (later, session) = session_of(ann, clock, Duration::hours(1));
    f.store.create(&session).await.unwrap();
    assert_eq!(f.store.get(&later.hash()).await.unwrap(), Some(session));
}

async fn deleting_all_of_a_users_sessions_covers_those_logged_out_or_expired_before(f: &Fixture) {
    let ann = UserId::from_uuid(Uuid::now_v7());
    let clock = f.clock.as_ref();
    let (short_token, short) = session_of(ann, clock, Duration::milliseconds(1_200));
    let (gone_token, gone) = session_of(ann, clock, Duration::hours(1));
    let (kept_token, kept) = session_of(ann, clock, Duration::hours(1));
    for session in [&short, &gone, &kept] {
        f.store.create(session).await.unwrap();
    }
    f.store.delete(&gone_token.hash()).await.unwrap();
    (f.advance)(StdDuration::from_millis(1_400)).await;
    // A login after the short session expired, which the index forgets as it goes.
    let (new_token, new) = session_of(ann, f.clock.as_ref(), Duration::hours(1));
    f.store.create(&new).await.unwrap();

    f.store.delete_all_of_user(ann).await.unwrap();

    for token in [&short_token, &gone_token, &kept_token, &new_token] {
        assert_eq!(f.store.get(&token.hash()).await.unwrap(), None);
    }
}

/// Many times over, so that a reply that overtakes its invalidation shows: on a tracked
/// connection a session that was read (and so kept in memory) must be gone for the very
/// next read once `delete` or `delete_all_of_user` has returned.
async fn a_logout_by_this_process_is_seen_by_its_very_next_read(f: &Fixture) {
    for round in 0..50 {
        let (token, session) = session(f.clock.as_ref(), Duration::hours(1));
        f.store.create(&session).await.unwrap();
        for _ in 0..2 {
            assert_eq!(
                f.store.get(&token.hash()).await.unwrap(),
                Some(session.clone())
            );
        }

        if round % 2 == 0 {
            f.store.delete(&token.hash()).await.unwrap();
        } else {
            f.store.delete_all_of_user(session.user_id).await.unwrap();
        }
        assert_eq!(
            f.store.get(&token.hash()).await.unwrap(),
            None,
            "round {round}"
        );
    }
}
