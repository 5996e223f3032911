//! The subscriber side of the event publisher: a live feed of todo events.

use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

use crate::{error::InfraError, event::TodoEvent};

/// Why a feed skipped or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The subscriber fell this many events behind and they were dropped for it: nothing
    /// buffers without bound for a slow reader. The stream goes on after this item.
    #[error("the subscriber fell {0} events behind")]
    Lagged(u64),
}

/// Every todo event, as it is published, in publishing order.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<TodoEvent, FeedError>> + Send>>;

/// Hands out live feeds of the events that an [`EventPublisher`](super::EventPublisher)
/// publishes, whichever process published them (for adapters that span processes).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// A feed of every event published from now on. Each subscriber gets every event, in
    /// the order they were published, until it drops the stream; one that falls too far
    /// behind gets [`FeedError::Lagged`] in place of what it missed.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when no feed can be started.
    async fn subscribe(&self) -> Result<EventStream, InfraError>;
}
