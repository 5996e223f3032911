//! The `TodoCache` contract.

use std::{sync::Arc, time::Duration};

use domain::{
    ports::TodoCache,
    todo::{Todo, TodoId},
    user::UserId,
};
use driven_memory::MemoryTodoCache;
use driven_redis::RedisTodoCache;
use test_servers::TestRedis;
use uuid::Uuid;

use crate::support::*;

/// Entries expire after this long in every fixture, so the expiry check stays short.
const TTL: Duration = Duration::from_secs(1);

pub struct Fixture {
    cache: Arc<dyn TodoCache>,
    _redis: Option<TestRedis>,
}

async fn memory() -> Fixture {
    Fixture {
        cache: Arc::new(MemoryTodoCache::new(1_000, TTL)),
        _redis: None,
    }
}

async fn redis() -> Fixture {
    let redis = TestRedis::new().await;
    let cache = RedisTodoCache::new(redis.manager().await, redis.key_prefix(), TTL);
    Fixture {
        cache: Arc::new(cache),
        _redis: Some(redis),
    }
}

/// The Redis adapter on a connection with client-side caching: the same contract must
/// hold when repeated reads are answered from process memory.
async fn redis_tracked() -> Fixture {
    let redis = TestRedis::new().await;
    let manager = redis.tracked_manager(1_000, Duration::from_secs(60)).await;
    let cache = RedisTodoCache::new(manager, redis.key_prefix(), TTL);
    Fixture {
        cache: Arc::new(cache),
        _redis: Some(redis),
    }
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::now_v7())
}

contract!(adapters: [memory, redis, redis_tracked], checks: [
    a_todo_never_put_is_a_miss,
    a_put_todo_reads_back_equal_with_every_field,
    a_second_put_replaces_the_first,
    an_invalidated_todo_is_a_miss_and_invalidating_again_is_fine,
    entries_expire_after_the_time_to_live,
    an_older_version_never_replaces_a_newer_one,
    a_late_put_of_a_version_older_than_an_invalidation_is_ignored,
    after_an_invalidation_the_written_version_can_be_cached,
    nothing_the_todo_had_can_be_cached_after_its_deletion,
    concurrent_puts_keep_the_newest_version,
    a_read_after_a_write_of_this_process_never_sees_what_it_replaced,
]);

async fn a_todo_never_put_is_a_miss(f: &Fixture) {
    assert_eq!(
        f.cache
            .get(TodoId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap(),
        None
    );
}

async fn a_put_todo_reads_back_equal_with_every_field(f: &Fixture) {
    let mut todo = full_todo(owner());
    todo.complete(t0());
    f.cache.put(&todo).await.unwrap();

    assert_eq!(f.cache.get(todo.id()).await.unwrap(), Some(todo));
}

async fn a_second_put_replaces_the_first(f: &Fixture) {
    let mut todo = plain_todo(owner(), "v1");
    f.cache.put(&todo).await.unwrap();
    todo.complete(t0());
    f.cache.put(&todo).await.unwrap();

    assert_eq!(f.cache.get(todo.id()).await.unwrap(), Some(todo));
}

async fn an_invalidated_todo_is_a_miss_and_invalidating_again_is_fine(f: &Fixture) {
    let todo = plain_todo(owner(), "soon gone");
    f.cache.put(&todo).await.unwrap();

    f.cache.invalidate(todo.id(), todo.version()).await.unwrap();
    f.cache.invalidate(todo.id(), todo.version()).await.unwrap();

    assert_eq!(f.cache.get(todo.id()).await.unwrap(), None);
}

async fn entries_expire_after_the_time_to_live(f: &Fixture) {
    let todo = plain_todo(owner(), "ephemeral");
    f.cache.put(&todo).await.unwrap();

    tokio::time::sleep(TTL).await;

    // Gone once the time to live has passed, give or take how long the store takes to
    // notice: Redis expires keys in a background cycle, and a client-side cache learns of
    // it from Redis. The margin is ten times the TTL, which no loaded machine reaches;
    // the check ends as soon as the entry is gone.
    let mut gone = false;
    for _ in 0..200 {
        if f.cache.get(todo.id()).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "an entry outlived its time to live by ten times over");
    assert_eq!(
        f.cache.get(todo.id()).await.unwrap(),
        None,
        "and stays gone"
    );
}

async fn an_older_version_never_replaces_a_newer_one(f: &Fixture) {
    // Two readers raced: the one holding version 2 filled the cache first, the one holding
    // version 1 comes late. The late put must lose.
    let v1 = plain_todo(owner(), "v1");
    let mut v2 = v1.clone();
    v2.complete(t0());
    f.cache.put(&v2).await.unwrap();

    f.cache.put(&v1).await.unwrap();

    assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(v2));
}

/// `todo` after `n` more changes: versions 2, 3, ...
fn changed(todo: &Todo, n: i64) -> Todo {
    let mut next = todo.clone();
    for i in 0..n {
        next.add_tag(tag(&format!("t{i}")), t0()).unwrap();
    }
    next
}

async fn a_late_put_of_a_version_older_than_an_invalidation_is_ignored(f: &Fixture) {
    // The race cache-aside is prone to: a reader loads version 1; a writer commits version
    // 2 and invalidates; the reader's put arrives last.
    let v1 = plain_todo(owner(), "read before the write");
    let v2 = changed(&v1, 1);

    f.cache.invalidate(v1.id(), v2.version()).await.unwrap();
    f.cache.put(&v1).await.unwrap();

    assert_eq!(f.cache.get(v1.id()).await.unwrap(), None);
}

async fn after_an_invalidation_the_written_version_can_be_cached(f: &Fixture) {
    let v1 = plain_todo(owner(), "cached");
    let v2 = changed(&v1, 1);
    f.cache.put(&v1).await.unwrap();

    f.cache.invalidate(v1.id(), v2.version()).await.unwrap();
    assert_eq!(f.cache.get(v1.id()).await.unwrap(), None);
    f.cache.put(&v2).await.unwrap();

    assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(v2));
}

async fn nothing_the_todo_had_can_be_cached_after_its_deletion(f: &Fixture) {
    let v1 = plain_todo(owner(), "deleted at version 2");
    let v2 = changed(&v1, 1);

    f.cache
        .invalidate(v1.id(), v2.version().next())
        .await
        .unwrap();
    f.cache.put(&v1).await.unwrap();
    f.cache.put(&v2).await.unwrap();

    assert_eq!(f.cache.get(v1.id()).await.unwrap(), None);
}

async fn concurrent_puts_keep_the_newest_version(f: &Fixture) {
    let v1 = plain_todo(owner(), "many readers");
    let versions: Vec<Todo> = (0..8).map(|n| changed(&v1, n)).collect();
    let newest = versions.last().unwrap().clone();
    let tasks = versions.into_iter().rev().map(|todo| {
        let cache = f.cache.clone();
        tokio::spawn(async move { cache.put(&todo).await.unwrap() })
    });

    join_all(tasks).await;

    assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(newest));
}

/// Read-your-writes, many times over, so that a reply that overtakes its invalidation shows.
/// On a tracked connection Redis sends the invalidation of the process's own write after
/// the write's reply; the adapter must not return until it has been handled.
async fn a_read_after_a_write_of_this_process_never_sees_what_it_replaced(f: &Fixture) {
    for _ in 0..100 {
        let v1 = plain_todo(owner(), "read your writes");
        let v2 = changed(&v1, 1);
        f.cache.put(&v1).await.unwrap();
        assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(v1.clone()));
        assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(v1.clone()));

        f.cache.invalidate(v1.id(), v2.version()).await.unwrap();
        assert_eq!(f.cache.get(v1.id()).await.unwrap(), None);
        f.cache.put(&v2).await.unwrap();
        assert_eq!(f.cache.get(v1.id()).await.unwrap(), Some(v2));
    }
}
