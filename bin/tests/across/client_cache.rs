//! Redis client-side caching (`REDIS_CLIENT_CACHE_ENTRIES`): sessions and cached todos are
//! kept in each replica's memory, and Redis' invalidations keep them exact across replicas.
//! Needs Postgres and Redis (`TEST_DATABASE_URL`, `TEST_REDIS_URL`).

use crate::support;

use std::time::Duration;

use chrono::Utc;
use domain::{
    ports::TodoCache,
    todo::{Tags, Title, Todo, TodoId, TodoSnapshot, Version},
    user::UserId,
};
use driven_redis::{CacheStatistics, ConnectionManager, RedisTodoCache};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{proxy::Proxy, server::spawn_app};
use test_servers::TestRedis;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::server::TestApp;

/// A second replica of `a`: its base URL, the token that stops it, and its connection
/// with client-side caching.
async fn replica_of(a: &TestApp) -> (String, CancellationToken, ConnectionManager) {
    let replica = a.replica(&[]).await;
    let tracked = replica.app.backends.redis_tracked.clone().unwrap();
    (replica.base, replica.shutdown, tracked)
}

fn statistics(tracked: &ConnectionManager) -> CacheStatistics {
    tracked
        .get_cache_statistics()
        .expect("a tracked connection")
}

/// Returns once `tracked` has dropped a value on Redis' word since `before`.
///
/// Redis sends the invalidation while it runs the write, before it answers the writer, so
/// it is already on its way when the write returns; but it reaches the other replica's
/// memory only when that process reads its socket, a few microseconds later. A request
/// that is served in between still gets the old value. This waits for that moment (and
/// fails if it never comes) instead of racing it.
async fn wait_until_invalidated(tracked: &ConnectionManager, before: usize) {
    for _ in 0..200 {
        if statistics(tracked).invalidate > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the replica was never told that the key changed");
}

async fn get(base: &str, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Reads the todo at `path` through the replica `b` until both the session and the todo
/// come from its memory, checking each answer's ETag.
///
/// That takes up to three reads: the first misses and puts the todo into the Redis cache
/// (a change of the key, which drops the miss `b` kept), the second fetches it again, the
/// third finds both in memory.
async fn read_until_kept_in_memory(
    b: &str,
    path: &str,
    token: &str,
    tracked: &ConnectionManager,
    etag: &str,
) {
    for _ in 0..3 {
        let hits = statistics(tracked).hit;
        let response = get(b, path, token).await;
        assert_eq!(response.headers()["etag"], etag);
        if statistics(tracked).hit - hits == 2 {
            return;
        }
    }
    panic!(
        "the replica never answered from memory: {:?}",
        statistics(tracked)
    );
}

#[tokio::test]
async fn a_logout_on_one_replica_is_refused_by_the_other_once_redis_tells_it() {
    let a = spawn_app().await;
    let (b, stop_b, tracked) = replica_of(&a).await;
    let token = a.user("mia@example.org").await;
    // B reads the session twice: from Redis, then from its own memory.
    for _ in 0..2 {
        assert_eq!(get(&b, "/v1/todos", &token).await.status(), StatusCode::OK);
    }
    let before = statistics(&tracked);
    assert!(before.hit >= 1, "B never answered from memory: {before:?}");

    let (status, _, _) = a
        .json(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    wait_until_invalidated(&tracked, before.invalidate).await;
    assert_eq!(
        get(&b, "/v1/todos", &token).await.status(),
        StatusCode::UNAUTHORIZED,
        "B still served a session that A ended"
    );
    stop_b.cancel();
    a.shutdown.cancel();
}

#[tokio::test]
async fn a_todo_changed_through_one_replica_is_read_fresh_through_the_other() {
    let a = spawn_app().await;
    let (b, stop_b, tracked) = replica_of(&a).await;
    let token = a.user("noor@example.org").await;
    let id = a.todo(&token, "before").await;
    let path = format!("/v1/todos/{id}");
    read_until_kept_in_memory(&b, &path, &token, &tracked, "\"1\"").await;

    let before = statistics(&tracked).invalidate;
    let (status, etag, _) = a
        .json(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", "\"1\"")],
            Some(json!({"title": "after"})),
        )
        .await;
    assert_eq!((status, etag.as_deref()), (StatusCode::OK, Some("\"2\"")));

    wait_until_invalidated(&tracked, before).await;
    let response = get(&b, &path, &token).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["title"], "after");
    read_until_kept_in_memory(&b, &path, &token, &tracked, "\"2\"").await;

    let before = statistics(&tracked).invalidate;
    let (status, _, _) = a
        .json(
            Method::DELETE,
            &path,
            Some(&token),
            &[("if-match", "\"2\"")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    wait_until_invalidated(&tracked, before).await;
    assert_eq!(get(&b, &path, &token).await.status(), StatusCode::NOT_FOUND);
    stop_b.cancel();
    a.shutdown.cancel();
}

fn todo(id: TodoId, title: &str, version: i64) -> Todo {
    let now = Utc::now();
    Todo::restore(TodoSnapshot {
        id,
        owner: UserId::from_uuid(Uuid::now_v7()),
        title: Title::new(title).unwrap(),
        description: None,
        tags: Tags::default(),
        due_date: None,
        completed_at: None,
        version: Version::new(version).unwrap(),
        created_at: now,
        updated_at: now,
    })
}

fn hits(manager: &ConnectionManager) -> usize {
    manager
        .get_cache_statistics()
        .expect("a tracked connection")
        .hit
}

#[tokio::test]
async fn repeated_reads_are_answered_from_memory_until_redis_says_the_key_changed() {
    let redis = TestRedis::new().await;
    let tracked = redis.tracked_manager(100, Duration::from_secs(60)).await;
    let cache = RedisTodoCache::new(tracked.clone(), redis.key_prefix(), Duration::from_secs(60));
    let id = TodoId::from_uuid(Uuid::now_v7());
    cache.put(&todo(id, "one", 1)).await.unwrap();

    let before = hits(&tracked);
    for _ in 0..3 {
        assert_eq!(cache.get(id).await.unwrap().unwrap().version().get(), 1);
    }
    assert_eq!(
        hits(&tracked) - before,
        2,
        "the first read fetches, the others hit"
    );

    // Another client changes the key: Redis pushes an invalidation, the next read fetches.
    let other = RedisTodoCache::new(
        redis.manager().await,
        redis.key_prefix(),
        Duration::from_secs(60),
    );
    other
        .invalidate(id, Version::new(2).unwrap())
        .await
        .unwrap();
    other.put(&todo(id, "two", 2)).await.unwrap();
    let after = hits(&tracked);
    assert_eq!(cache.get(id).await.unwrap().unwrap().version().get(), 2);
    assert_eq!(hits(&tracked), after, "a changed key is fetched again");
}

#[tokio::test]
async fn when_the_tracking_connection_drops_nothing_kept_before_is_served() {
    let redis = TestRedis::new().await;
    let mut url = url::Url::parse(redis.url()).unwrap();
    let target = url.socket_addrs(|| Some(6379)).unwrap()[0];
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    let cache_settings = driven_redis::ClientCacheSettings {
        entries: std::num::NonZeroUsize::new(100).unwrap(),
        ttl: Duration::from_secs(60),
    };
    let tracked = driven_redis::connect_tracked(url.as_str(), &redis.settings(), cache_settings)
        .await
        .unwrap();
    let cache = RedisTodoCache::new(tracked.clone(), redis.key_prefix(), Duration::from_secs(60));
    let direct = RedisTodoCache::new(
        redis.manager().await,
        redis.key_prefix(),
        Duration::from_secs(60),
    );
    let id = TodoId::from_uuid(Uuid::now_v7());
    direct.put(&todo(id, "kept", 1)).await.unwrap();
    for _ in 0..2 {
        assert_eq!(cache.get(id).await.unwrap().unwrap().version().get(), 1);
    }

    // The connection drops. The client learns it at its next round trip (here a PING,
    // retried until one fails); from then on, until the connection is back, no read
    // answers from memory: each fails, and the cache-aside caller goes to the database.
    proxy.cut();
    let mut conn = tracked.clone();
    let mut noticed = false;
    for _ in 0..250 {
        if redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_err()
        {
            noticed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(noticed, "a PING through a cut proxy kept succeeding");
    for attempt in 0..5 {
        assert!(
            cache.get(id).await.is_err(),
            "read {attempt} after the drop was known answered from memory"
        );
    }

    // A change made while it was down sends its invalidation to nobody...
    direct
        .invalidate(id, Version::new(2).unwrap())
        .await
        .unwrap();
    direct.put(&todo(id, "changed", 2)).await.unwrap();
    proxy.restore();

    // ...and yet the reconnected cache never answers the version it kept.
    for _ in 0..200 {
        match cache.get(id).await {
            Ok(found) => {
                let found = found.expect("the entry is in Redis");
                assert_eq!(found.version().get(), 2, "a stale entry was served");
                return;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the tracked connection never came back after the proxy was restored");
}
