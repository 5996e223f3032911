//! Driven adapter: every storage port in process memory. The embedded default when no
//! database or Redis is configured, and the reference fakes for the contract tests.
//!
//! They honour the same contracts as the real adapters (uniqueness, foreign keys,
//! compare-and-set, expiry, all-or-nothing transactions), so a use case behaves the same on
//! either. Data is lost when the process exits.
//!
//! - `store`: users, todos and the unit of work over one data set.
//! - `queue`: the outbox, the job queue it fills, and the schedule ledger.
//! - `sessions`: the session store.
//! - `cache`: the todo read cache, on moka.
//! - `events`: the event publisher, as an in-process broadcast.
//! - `no_cache`: a todo cache that caches nothing, for `CACHE_TTL_SECS=0`.

mod cache;
mod events;
mod idempotency;
mod no_cache;
mod queue;
mod rate_limit;
mod sessions;
mod store;

pub use cache::MemoryTodoCache;
pub use events::MemoryEventBus;
pub use idempotency::MemoryIdempotencyRecords;
pub use no_cache::NoTodoCache;
pub use queue::{MemoryJobQueue, MemoryScheduleLedger};
pub use rate_limit::MemoryRateLimiter;
pub use sessions::MemorySessionStore;
pub use store::{MemoryStore, MemoryTodoRepository, MemoryUnitOfWork, MemoryUserRepository};
