//! Where the time comes from.

use chrono::{DateTime, Utc};

/// The current time. A port, so that tests can fix or advance time.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    ///
    /// MUST be truncated to whole microseconds, the precision storage keeps, so that an
    /// entity read back from any adapter equals the one that was written.
    fn now(&self) -> DateTime<Utc>;
}
