//! The driven ports: everything the use cases need from the outside world, as traits.
//!
//! Each trait is a contract. Its docs say, in MUST language, what every adapter does, and
//! the contract test suites in `infrastructure/contracts/tests/contracts/` hold every adapter (the in-memory
//! fake and the real Postgres or Redis one) to it. The traits use `#[async_trait]` so they
//! stay object-safe and compose as `Arc<dyn Port>`: no generic parameters leak into the use
//! cases or the servers. With the `mocks` feature, mockall generates `Mock*` types for each.

mod cache;
mod clock;
mod delivery;
mod feed;
mod idempotency;
mod ids;
mod outbox;
mod password;
mod rate_limit;
mod readiness;
mod sessions;
mod todos;
mod tokens;
mod unit_of_work;
mod users;

pub use cache::TodoCache;
pub use clock::{Clock, Ticker, Ticks};
pub use delivery::{EventPublisher, Notifier};
pub use feed::{EventFeed, EventStream, FeedError, FeedStart, PublishedEvent, SubscribeError};
pub use idempotency::IdempotencyRecords;
pub use ids::IdGenerator;
pub use outbox::{
    Claim, ClaimedJob, DeadJob, JobQueue, JobSignal, Outbox, QueueStats, ScheduleLedger,
};
pub use password::PasswordHasher;
pub use rate_limit::{Admission, Quota, RateLimiter};
pub use readiness::ReadinessProbe;
pub use sessions::SessionStore;
pub use todos::{TodoQuery, TodoRepository};
pub use tokens::TokenGenerator;
pub use unit_of_work::{TodoWrite, Transaction, UnitOfWork, write_in};
pub use users::UserRepository;

#[cfg(feature = "mocks")]
pub use {
    cache::MockTodoCache, clock::MockClock, clock::MockTicker, delivery::MockEventPublisher,
    delivery::MockNotifier, feed::MockEventFeed, idempotency::MockIdempotencyRecords,
    ids::MockIdGenerator, outbox::MockJobQueue, outbox::MockJobSignal, outbox::MockOutbox,
    outbox::MockScheduleLedger, password::MockPasswordHasher, rate_limit::MockRateLimiter,
    readiness::MockReadinessProbe, sessions::MockSessionStore, todos::MockTodoRepository,
    tokens::MockTokenGenerator, unit_of_work::MockTransaction, unit_of_work::MockUnitOfWork,
    users::MockUserRepository,
};
