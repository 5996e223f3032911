//! Rate limits: how often one key (an email, a client address) may do something.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::InfraError;

/// At most `limit` actions per `window`, refilled evenly: after a burst of `limit`, one
/// more every `window / limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// The burst, and how many fit in one window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl Quota {
    /// The time one action's place takes to come back: `window / limit`.
    pub fn interval(&self) -> Duration {
        self.window / self.limit.max(1)
    }
}

/// Whether an action may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It may, and has been counted.
    Allowed,
    /// It may not; it would be allowed after this long. Nothing was counted.
    Limited {
        /// How long until it would be allowed.
        retry_after: Duration,
    },
}

/// Counts actions per key against a [`Quota`]. With several replicas, the adapter decides
/// whether the count is shared (Redis) or per process (memory).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one action for `key` if `quota` allows it.
    ///
    /// Keys of different purposes MUST be kept apart by the caller (a prefix such as
    /// `login:email:`); the same key with two quotas is two counts.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the count cannot be read or written.
    async fn admit(&self, key: &str, quota: Quota) -> Result<Admission, InfraError>;
}
