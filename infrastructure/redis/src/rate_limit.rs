//! Rate limits shared by every replica, counted in Redis.

use std::{sync::LazyLock, time::Duration};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::{Admission, Quota, RateLimiter},
};
use redis::{Script, aio::ConnectionManager};

use crate::classify;

/// GCRA (the generic cell rate algorithm, the one governor uses in memory) in one atomic
/// script. The key holds the theoretical arrival time (TAT) in microseconds of Redis's own
/// clock, so replicas with skewed clocks still agree. An action is allowed when, counted,
/// the TAT stays within one window of now; the key expires when the count has fully
/// refilled, so an idle key costs nothing.
///
/// KEYS: the key. ARGV: the interval (window ÷ limit) and the window, both in µs.
/// Returns 0 when allowed, else the µs until it would be.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local interval = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then
            tat = now
        end
        local next_tat = tat + interval
        if next_tat - now > window then
            return next_tat - now - window
        end
        redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
        return 0
        ",
    )
});

/// [`RateLimiter`] on Redis: one key per (quota, key), under `{key_prefix}rate:`, so the
/// count is shared by every replica on the same Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    redis: ConnectionManager,
    key_prefix: String,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter on `redis`, with keys under `key_prefix`.
    pub fn new(redis: ConnectionManager, key_prefix: &str) -> Self {
        Self {
            redis,
            key_prefix: format!("{key_prefix}rate:"),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    #[tracing::instrument(target = "ports", level = "debug", name = "redis.rate_limit.admit", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn admit(&self, key: &str, quota: Quota) -> Result<Admission, InfraError> {
        let window = quota.window.as_micros().max(1);
        let interval = quota.interval().as_micros().max(1);
        // The quota is part of the key: the same key under two quotas is two counts.
        let key = format!("{}{}:{}:{key}", self.key_prefix, quota.limit, window);
        let mut conn = self.redis.clone();
        let wait: u64 = ADMIT
            .key(key)
            .arg(u64::try_from(interval).unwrap_or(u64::MAX))
            .arg(u64::try_from(window).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| classify("count a rate-limited action", e))?;
        Ok(match wait {
            0 => Admission::Allowed,
            micros => Admission::Limited {
                retry_after: Duration::from_micros(micros),
            },
        })
    }
}
