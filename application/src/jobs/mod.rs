//! The background work: delivering outbox jobs, and the periodic jobs that feed and tidy
//! the outbox.
//!
//! These are use cases like the others, driven by the worker in `bin` instead of by a
//! request. They hold no timers and spawn nothing: the worker decides when to call them,
//! which keeps them testable with mocks and a fixed clock.

mod dead;
mod deliver;
mod housekeeping;
mod reminders;

pub use dead::{ListDeadJobs, RetryDeadJob};
pub use deliver::{DeliverJobs, Delivery, JobOutcome, KeepGoing, LeaseTooShort, RetryPolicy};
pub use housekeeping::HOUSEKEEPING_JOB;
pub use housekeeping::{Housekeeping, HousekeepingReport};
pub use reminders::{EnqueueReminders, MAX_CATCH_UP, REMINDERS_JOB};
