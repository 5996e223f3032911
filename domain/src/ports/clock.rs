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

/// Ticks, one per period, as a stream: what a use case waits on to do something now and
/// then, without reaching for an async runtime's timer itself.
pub type Ticks = std::pin::Pin<Box<dyn futures_core::Stream<Item = ()> + Send>>;

/// Makes [`Ticks`]. A port, so that tests can tick by hand.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Ticker: Send + Sync {
    /// A tick every `period`, the first one `period` from now. A tick that comes late
    /// (a busy runtime, a slow consumer) delays the ones after it; none bunch up.
    fn every(&self, period: std::time::Duration) -> Ticks;
}
