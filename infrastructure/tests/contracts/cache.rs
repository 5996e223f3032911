//! The `TodoCache` contract.

use std::{sync::Arc, time::Duration};

use domain::{ports::TodoCache, todo::TodoId, user::UserId};
use infrastructure::{memory::MemoryTodoCache, redis::RedisTodoCache, testing::TestRedis};
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

fn owner() -> UserId {
    UserId::from_uuid(Uuid::now_v7())
}

contract!(adapters: [memory, redis], checks: [
    a_todo_never_put_is_a_miss,
    a_put_todo_reads_back_equal_with_every_field,
    a_second_put_replaces_the_first,
    an_invalidated_todo_is_a_miss_and_invalidating_again_is_fine,
    entries_expire_after_the_time_to_live,
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

    f.cache.invalidate(todo.id()).await.unwrap();
    f.cache.invalidate(todo.id()).await.unwrap();

    assert_eq!(f.cache.get(todo.id()).await.unwrap(), None);
}

async fn entries_expire_after_the_time_to_live(f: &Fixture) {
    let todo = plain_todo(owner(), "ephemeral");
    f.cache.put(&todo).await.unwrap();

    tokio::time::sleep(TTL + Duration::from_millis(1_100)).await;

    assert_eq!(f.cache.get(todo.id()).await.unwrap(), None);
}
