//! Every port in process memory: the embedded default when no database or Redis is
//! configured, and the reference fakes for the contract tests.
//!
//! They honour the same contracts as the real adapters (uniqueness, compare-and-set,
//! expiry, all-or-nothing transactions), so a use case behaves the same on either. Data is
//! lost when the process exits.

mod cache;
mod sessions;
mod store;

pub use cache::MemoryTodoCache;
pub use sessions::MemorySessionStore;
pub use store::{MemoryStore, MemoryTodoRepository, MemoryUnitOfWork, MemoryUserRepository};
