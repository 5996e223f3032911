//! Driven adapter: Redis. The session store, the todo read cache, the event publisher (a
//! stream) and its feed, the rate limiter and the readiness probe.
//!
//! Every adapter takes a [`ConnectionManager`]: a single multiplexed connection that
//! pipelines concurrent commands and reconnects by itself after a failure. Every key starts
//! with a configurable prefix, so several services (or parallel tests) can share one Redis.
//!
//! The session store and the todo cache can take a *tracked* connection instead
//! ([`connect_tracked`]): Redis' server-assisted client-side caching. Their reads are then
//! answered from process memory after the first one, and Redis pushes an invalidation as
//! soon as another client (or this one) changes a key that was read, so a logout on one
//! replica ends the session on every replica at once.

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
/// What a tracked connection ([`connect_tracked`]) counts: hits, misses, invalidations.
pub use redis::caching::CacheStatistics;
pub use sessions::RedisSessionStore;

use std::{num::NonZeroUsize, time::Duration};

use domain::error::InfraError;
use redis::{
    IntoConnectionInfo, ProtocolVersion,
    aio::ConnectionManagerConfig,
    caching::{CacheConfig, CacheMode},
};

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

impl RedisSettings {
    /// The longest one command can take, success or failure: a reconnect, then the
    /// response.
    pub fn longest_command(&self) -> Duration {
        self.connection_timeout + self.response_timeout
    }
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

/// How much the process keeps of what a tracked connection reads.
#[derive(Debug, Clone, Copy)]
pub struct ClientCacheSettings {
    /// At most this many values are kept; the least recently used one goes first. Each is
    /// one session or one todo, a few hundred bytes.
    pub entries: NonZeroUsize,
    /// The longest a value is kept without being read from Redis again, even if no
    /// invalidation came. It bounds how long a value can be stale in the one case that
    /// tracking does not cover: a write that races the read fetching a key. Redis pushes
    /// that write's invalidation right after the read's reply; if the connection handles
    /// the push before the reader has stored the reply (a window of microseconds),
    /// redis-rs finds nothing to drop and then stores the old value.
    pub ttl: Duration,
}

/// Connects to `url` and checks that the server answers.
///
/// # Errors
/// Returns [`InfraError`] when the URL is invalid or the server cannot be reached.
pub async fn connect(url: &str, settings: &RedisSettings) -> Result<ConnectionManager, InfraError> {
    let client =
        redis::Client::open(url).map_err(|e| InfraError::internal("parse Redis URL", e))?;
    manage(client, manager_config(settings)).await
}

/// Connects to `url` with server-assisted client-side caching (Redis 6 or later), and
/// checks that the server answers.
///
/// The connection speaks RESP3 and turns `CLIENT TRACKING` on in opt-in mode: only the
/// reads that ask for it (a session by token, a cached todo by id) are kept in process
/// memory and tracked by the server. Redis then pushes an invalidation on this same
/// connection when one of those keys changes or expires, and the value is dropped before
/// the next read. When the connection drops, invalidations may have been lost with it, so
/// everything kept before is discarded: the reconnected connection starts with an empty
/// cache (redis-rs moves to a new cache epoch on every reconnect).
///
/// # Errors
/// Returns [`InfraError`] when the URL is invalid or the server cannot be reached.
pub async fn connect_tracked(
    url: &str,
    settings: &RedisSettings,
    cache: ClientCacheSettings,
) -> Result<ConnectionManager, InfraError> {
    let info = url
        .into_connection_info()
        .map_err(|e| InfraError::internal("parse Redis URL", e))?;
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(resp3))
        .map_err(|e| InfraError::internal("parse Redis URL", e))?;
    let config = manager_config(settings).set_cache_config(
        CacheConfig::new()
            .set_mode(CacheMode::OptIn)
            .set_size(cache.entries)
            .set_default_client_ttl(cache.ttl),
    );
    manage(client, config).await
}

/// The reconnection policy every connection shares.
pub(crate) fn manager_config(settings: &RedisSettings) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(settings.response_timeout))
        .set_connection_timeout(Some(settings.connection_timeout))
        // Reconnect in the background a few times, then let commands fail fast until
        // Redis is back; callers degrade instead of waiting.
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2))
}

pub(crate) async fn manage(
    client: redis::Client,
    config: ConnectionManagerConfig,
) -> Result<ConnectionManager, InfraError> {
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

/// The read command `name`, marked as one that a tracked connection ([`connect_tracked`])
/// may answer from process memory. On an ordinary connection the mark does nothing.
pub(crate) fn cacheable(name: &str) -> redis::Cmd {
    let mut cmd = redis::cmd(name);
    cmd.set_cache_config(redis::CommandCacheConfig::new());
    cmd
}

/// After a write on `conn`, returns once what this process kept of the written keys is
/// gone, so that its next read cannot be answered with the old value.
///
/// Redis sends the invalidation for a client's own write *after* the write's reply, so the
/// write returning is not enough: the push may still be on its way. A `PING` on the same
/// connection is answered after that push, and the connection handles the push before it
/// hands the `PING`'s reply back. On a connection without client-side caching this costs
/// nothing: there is nothing kept to wait for.
pub(crate) async fn settle(
    conn: &mut ConnectionManager,
    operation: &'static str,
) -> Result<(), InfraError> {
    if conn.get_cache_statistics().is_none() {
        return Ok(());
    }
    redis::cmd("PING")
        .query_async::<()>(conn)
        .await
        .map_err(|e| classify(operation, e))
}
