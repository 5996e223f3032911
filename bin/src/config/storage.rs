//! The backing services. Leaving `DATABASE_URL` or `REDIS_URL` unset is a choice (the
//! in-memory adapters), not a mistake; the other settings of a section apply only when its
//! URL is set.

use std::time::Duration;

use clap::Args;

use super::values::{UrlWithSecrets, at_least, millis, parsed, seconds};
use crate::secret_url::SecretUrl;

/// Postgres.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// The Postgres URL (a secret: printed with its password and query values redacted).
    /// Unset: the in-memory repositories, lost on exit.
    #[arg(id = "DATABASE_URL", long, hide_env_values = true, value_parser = UrlWithSecrets { schemes: &["postgres", "postgresql"], hint: "" })]
    pub url: Option<SecretUrl>,
    /// The pool size.
    #[arg(id = "DATABASE_MAX_CONNECTIONS", long, default_value = "16", value_parser = at_least(1u32))]
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it fails as unavailable.
    #[arg(id = "DATABASE_ACQUIRE_TIMEOUT_MS", long, default_value = "3000", value_parser = millis(0))]
    pub acquire_timeout: Duration,
    /// Postgres cancels any statement running longer.
    #[arg(id = "DATABASE_STATEMENT_TIMEOUT_MS", long, default_value = "5000", value_parser = millis(0))]
    pub statement_timeout: Duration,
    /// Group commit: the most todo creates written with one statement, and so one commit.
    /// Creates that arrive while earlier batches are being written wait and go together;
    /// a lone create never waits. 1 turns it off.
    #[arg(id = "DATABASE_GROUP_COMMIT_MAX_BATCH", long, default_value = "64", value_parser = at_least(1usize))]
    pub group_commit_max_batch: usize,
    /// Group commit: the most statements of creates written at once, each on a pooled
    /// connection. One is fastest with this schema: the outbox's NOTIFY lets one
    /// transaction commit at a time, so more only makes each batch smaller.
    #[arg(id = "DATABASE_GROUP_COMMIT_IN_FLIGHT", long, default_value = "1", value_parser = at_least(1usize))]
    pub group_commit_in_flight: usize,
}

/// Redis.
#[derive(Debug, Clone, Args)]
pub struct RedisConfig {
    /// The Redis URL (a secret: printed with its password redacted). Unset: sessions, the
    /// todo cache, rate limits and events in memory, for this process only.
    #[arg(id = "REDIS_URL", long, hide_env_values = true, value_parser = UrlWithSecrets { schemes: &["redis", "rediss"], hint: "" })]
    pub url: Option<SecretUrl>,
    /// Prepended to every Redis key.
    #[arg(id = "REDIS_KEY_PREFIX", long, default_value = "todo-app:", value_parser = parsed::<String>)]
    pub key_prefix: String,
    /// How long one command may take; a slow cache falls back to the database.
    #[arg(id = "REDIS_TIMEOUT_MS", long, default_value = "500", value_parser = millis(0))]
    pub timeout: Duration,
    /// Sessions and cached todos each process keeps in memory (an LRU), tracked by Redis
    /// so that a change anywhere drops them at once (client-side caching). 0 turns it off.
    #[arg(id = "REDIS_CLIENT_CACHE_ENTRIES", long, default_value = "10000", value_parser = at_least(0usize))]
    pub client_cache_entries: usize,
    /// The longest a value stays in process memory without being read from Redis again,
    /// even without an invalidation. It bounds the one stale case tracking leaves open (an
    /// invalidation that arrives while the read it concerns is being stored); a hot key
    /// costs one fetch per period. At least 1: `REDIS_CLIENT_CACHE_ENTRIES=0` turns the
    /// cache off.
    #[arg(id = "REDIS_CLIENT_CACHE_TTL_SECS", long, default_value = "10", value_parser = seconds(1))]
    pub client_cache_ttl: Duration,
}
