//! Driven adapter: Redis. The session store, the todo read cache, the event publisher (a
//! stream) and its feed, the rate limiter and the readiness probe.
//!
//! Both share one [`ConnectionManager`]: a single multiplexed connection that pipelines
//! concurrent commands and reconnects by itself after a failure. Every key starts with a
//! configurable prefix, so several services (or parallel tests) can share one Redis.

mod cache;
mod events;
mod feed;
mod rate_limit;
mod readiness;
mod sessions;

pub use cache::RedisTodoCache;
pub use events::RedisEventPublisher;
pub use feed::RedisEventFeed;
pub use rate_limit::RedisRateLimiter;
pub use readiness::RedisReadiness;
/// The connection type, re-exported so the composition root needs no redis dependency.
pub use redis::aio::ConnectionManager;
pub use sessions::RedisSessionStore;

use std::time::Duration;

use domain::error::InfraError;
use redis::aio::ConnectionManagerConfig;

/// How the Redis connection behaves.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// Prepended to every key, such as `"todo-app:"`.
    pub key_prefix: String,
    /// How long one command may take before it fails. Short, because the cache's whole
    /// point is to be faster than the database; a slow Redis should fail over to it.
    pub response_timeout: Duration,
    /// How long (re)connecting may take.
    pub connection_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            key_prefix: String::new(),
            response_timeout: Duration::from_millis(500),
            connection_timeout: Duration::from_secs(2),
        }
    }
}

/// Connects to `url` and checks that the server answers.
///
/// # Errors
/// Returns [`InfraError`] when the URL is invalid or the server cannot be reached.
pub async fn connect(url: &str, settings: &RedisSettings) -> Result<ConnectionManager, InfraError> {
    let client =
        redis::Client::open(url).map_err(|e| InfraError::internal("parse Redis URL", e))?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(settings.response_timeout))
        .set_connection_timeout(Some(settings.connection_timeout))
        // Reconnect in the background a few times, then let commands fail fast until
        // Redis is back; callers degrade instead of waiting.
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2));
    let manager = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| classify("connect to Redis", e))?;
    ping(&manager).await?;
    Ok(manager)
}

/// Checks that Redis answers; for readiness probes.
///
/// # Errors
/// Returns [`InfraError`] when it does not.
pub async fn ping(manager: &ConnectionManager) -> Result<(), InfraError> {
    let mut conn = manager.clone();
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| classify("ping Redis", e))
}

/// A Redis failure, classified as unavailable (connection trouble) or internal.
pub(crate) fn classify(operation: &'static str, error: redis::RedisError) -> InfraError {
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
    {
        InfraError::unavailable(operation, error)
    } else {
        InfraError::internal(operation, error)
    }
}
