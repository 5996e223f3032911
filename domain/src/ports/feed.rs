//! The subscriber side of the event publisher: a live feed of todo events, which can also
//! replay the recent past, so that a client that lost its connection resumes where it was.

use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

use crate::{
    error::InfraError,
    event::{MessageId, TodoEvent},
};

/// Why a feed skipped or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The subscriber fell this many events behind and they were dropped for it: nothing
    /// buffers without bound for a slow reader. The stream goes on after this item.
    #[error("the subscriber fell {0} events behind")]
    Lagged(u64),
    /// The feed lost its source (storage failed mid-replay, say) and ends here; resuming
    /// after the last event received picks up where it stopped.
    #[error("the feed was interrupted")]
    Interrupted,
}

/// An event as a feed hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// The event.
    pub event: TodoEvent,
    /// The trace context of its publish (a W3C `traceparent`), when one was traced: what a
    /// subscriber's delivery links to. Opaque here.
    pub trace_parent: Option<String>,
}

impl From<TodoEvent> for PublishedEvent {
    fn from(event: TodoEvent) -> Self {
        Self {
            event,
            trace_parent: None,
        }
    }
}

/// Every todo event, as it is published, in publishing order.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<PublishedEvent, FeedError>> + Send>>;

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedStart {
    /// With the next event published.
    #[default]
    Now,
    /// With the event published right after this one: the events published since it
    /// first, then the live ones, with none twice and none missing in between.
    After(MessageId),
}

/// Why a subscription could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// [`FeedStart::After`] named an event that the feed no longer keeps (or never
    /// published): what followed it cannot be replayed.
    #[error("the event {0} is no longer kept, so what followed it cannot be replayed")]
    NotRetained(MessageId),
    /// The feed could not be started.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Hands out live feeds of the events that an [`EventPublisher`](super::EventPublisher)
/// publishes, whichever process published them (for adapters that span processes).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// A feed of every event published from `start` on. Each subscriber gets every event,
    /// in the order they were published, until it drops the stream; one that falls too
    /// far behind gets [`FeedError::Lagged`] in place of what it missed.
    ///
    /// Every feed keeps a bounded window of recent events for [`FeedStart::After`]; the
    /// adapter documents how large.
    ///
    /// # Errors
    /// MUST return [`SubscribeError::NotRetained`] when `start` names an event outside
    /// that window, and [`SubscribeError::Infra`] when no feed can be started.
    async fn subscribe(&self, start: FeedStart) -> Result<EventStream, SubscribeError>;
}
