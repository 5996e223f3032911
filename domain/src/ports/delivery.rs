//! Where the worker delivers: the event publisher and the reminder notifier.
//!
//! Both are at-least-once targets. A delivery can be repeated (after a crash between
//! delivering and marking the job done), so each message carries its id for receivers to
//! drop repeats by.

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    error::InfraError,
    event::{Reminder, TodoEvent},
};

/// Publishes todo events to whoever listens (other replicas, live-update streams).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// The longest one call may take, success or failure: the worker leases a job for
    /// longer than this. MUST bound every call ([`Self::publish`], [`Self::publish_all`])
    /// by it.
    fn longest_call(&self) -> Duration;

    /// Publishes `event`.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the event may not have been published; the worker
    /// then tries again later.
    async fn publish(&self, event: &TodoEvent) -> Result<(), InfraError>;

    /// Publishes `events`, in this order. An adapter that can send them in one round trip
    /// should; this default publishes them one by one.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when any event may not have been published; the worker
    /// then tries them all again later (receivers drop repeats by event id).
    async fn publish_all(&self, events: &[TodoEvent]) -> Result<(), InfraError> {
        for event in events {
            self.publish(event).await?;
        }
        Ok(())
    }
}

/// Tells a todo's owner that it falls due soon.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The longest one call may take, retries included, success or failure: the worker
    /// leases a job for longer than this. MUST bound every [`Self::notify`] by it.
    fn longest_call(&self) -> Duration;

    /// Sends `reminder`.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the reminder may not have arrived; the worker then
    /// tries again later.
    async fn notify(&self, reminder: &Reminder) -> Result<(), InfraError>;
}
