//! Driven adapters: the implementations of the domain's ports.
//!
//! - [`memory`]: every port in process memory. The embedded default when no database is
//!   configured, and the reference fakes the contract tests hold the real adapters to.
//! - [`postgres`]: users, todos and the unit of work on PostgreSQL (sqlx), with migrations.
//! - [`redis`]: the session store and the todo read cache on Redis.
//! - [`no_cache`]: a todo cache that caches nothing, for `CACHE_TTL_SECS=0`.
//! - [`password`]: argon2id password hashing on the blocking thread pool.
//! - [`clock`], [`ids`] and [`tokens`]: the system clock, the UUIDv7 generator and the
//!   session-token generator.
//! - [`http`]: the REST adapter (axum), the first driving adapter.
//! - `testing` (feature `testing`): real Postgres and Redis servers for tests.
//!
//! Frameworks and drivers appear here and in `bin`, never in `domain` or `application`.

pub mod clock;
pub mod http;
pub mod ids;
pub mod memory;
pub mod no_cache;
pub mod password;
pub mod postgres;
pub mod redis;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;

mod stored;
