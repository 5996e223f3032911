//! The `RateLimiter` contract: a burst of the limit, then a refusal that says how long to
//! wait, a place back after its interval, keys and quotas counted apart. On Redis, two
//! limiters (two replicas) share one count.

use std::{sync::Arc, time::Duration};

use domain::ports::{Admission, Quota, RateLimiter};
use driven_memory::MemoryRateLimiter;
use driven_redis::RedisRateLimiter;
use test_servers::TestRedis;

use crate::support::contract;

pub struct Fixture {
    limiter: Arc<dyn RateLimiter>,
    /// Another replica's limiter on the same store (the same one in memory).
    other: Arc<dyn RateLimiter>,
    _redis: Option<TestRedis>,
}

async fn memory() -> Fixture {
    let limiter = MemoryRateLimiter::new();
    Fixture {
        limiter: Arc::new(limiter.clone()),
        other: Arc::new(limiter),
        _redis: None,
    }
}

async fn redis() -> Fixture {
    let redis = TestRedis::new().await;
    Fixture {
        limiter: Arc::new(RedisRateLimiter::new(
            redis.manager().await,
            redis.key_prefix(),
        )),
        other: Arc::new(RedisRateLimiter::new(
            redis.manager().await,
            redis.key_prefix(),
        )),
        _redis: Some(redis),
    }
}

contract!(adapters: [memory, redis], checks: [
    a_burst_of_the_limit_is_allowed_then_refused_with_the_wait,
    a_place_comes_back_after_its_interval,
    keys_and_quotas_are_counted_apart,
    replicas_share_one_count,
]);

const MINUTE: Duration = Duration::from_secs(60);

fn quota(limit: u32, window: Duration) -> Quota {
    Quota { limit, window }
}

async fn a_burst_of_the_limit_is_allowed_then_refused_with_the_wait(f: &Fixture) {
    let q = quota(3, MINUTE);
    for n in 1..=3 {
        assert_eq!(
            f.limiter.admit("k", q).await.unwrap(),
            Admission::Allowed,
            "action {n} of 3"
        );
    }
    match f.limiter.admit("k", q).await.unwrap() {
        // One place comes back every 20 s; the first went a few calls ago (ten seconds
        // of margin for a slow machine between the calls).
        Admission::Limited { retry_after } => assert!(
            retry_after > Duration::from_secs(10) && retry_after <= Duration::from_secs(20),
            "{retry_after:?}"
        ),
        Admission::Allowed => panic!("a fourth action in the window was allowed"),
    }
    assert!(
        matches!(
            f.limiter.admit("k", q).await.unwrap(),
            Admission::Limited { .. }
        ),
        "a refusal is not counted, and does not make a place either"
    );
}

async fn a_place_comes_back_after_its_interval(f: &Fixture) {
    // One place every five seconds: waiting past the wait given brings exactly one back,
    // and the next admission, a round trip later, finds none. Five seconds is the margin:
    // a sleep that overran it, or two calls that far apart, would break it. (Two seconds
    // was overrun once, on a machine whose two cores were saturated by a load test.)
    let q = quota(2, Duration::from_secs(10));
    assert_eq!(f.limiter.admit("k", q).await.unwrap(), Admission::Allowed);
    assert_eq!(f.limiter.admit("k", q).await.unwrap(), Admission::Allowed);
    let Admission::Limited { retry_after } = f.limiter.admit("k", q).await.unwrap() else {
        panic!("the third action was allowed");
    };

    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;

    assert_eq!(f.limiter.admit("k", q).await.unwrap(), Admission::Allowed);
    assert!(matches!(
        f.limiter.admit("k", q).await.unwrap(),
        Admission::Limited { .. }
    ));
}

async fn keys_and_quotas_are_counted_apart(f: &Fixture) {
    let q = quota(1, MINUTE);
    assert_eq!(f.limiter.admit("a", q).await.unwrap(), Admission::Allowed);
    assert_eq!(f.limiter.admit("b", q).await.unwrap(), Admission::Allowed);
    assert_eq!(
        f.limiter.admit("a", quota(2, MINUTE)).await.unwrap(),
        Admission::Allowed,
        "another quota, another count"
    );
    assert!(matches!(
        f.limiter.admit("a", q).await.unwrap(),
        Admission::Limited { .. }
    ));
}

async fn replicas_share_one_count(f: &Fixture) {
    let q = quota(2, MINUTE);
    assert_eq!(f.limiter.admit("k", q).await.unwrap(), Admission::Allowed);
    assert_eq!(f.other.admit("k", q).await.unwrap(), Admission::Allowed);
    assert!(matches!(
        f.limiter.admit("k", q).await.unwrap(),
        Admission::Limited { .. }
    ));
    assert!(matches!(
        f.other.admit("k", q).await.unwrap(),
        Admission::Limited { .. }
    ));
}
