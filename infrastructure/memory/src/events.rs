//! Todo events broadcast within one process.

use async_trait::async_trait;
use domain::{
    error::InfraError,
    event::TodoEvent,
    ports::{EventFeed, EventPublisher, EventStream, FeedError},
};
use tokio::sync::broadcast;

/// A feed over a broadcast receiver: what both in-process and Redis-fed subscribers read.
/// A receiver that lagged says by how much and goes on; a closed channel ends the stream.
fn feed_of(receiver: broadcast::Receiver<TodoEvent>) -> EventStream {
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move {
            match receiver.recv().await {
                Ok(event) => Some((Ok(event), receiver)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((Err(FeedError::Lagged(missed)), receiver))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        },
    ))
}

/// [`EventPublisher`] and [`EventFeed`] over a tokio broadcast channel: every subscriber in this process gets
/// every event published after it subscribed. Nothing crosses to other processes; with
/// several replicas, use the Redis publisher.
///
/// The channel keeps the last `capacity` events; a subscriber that falls further behind
/// skips what it missed and learns how many (`RecvError::Lagged`), so a slow subscriber
/// never holds memory without bound.
#[derive(Debug, Clone)]
pub struct MemoryEventBus {
    sender: broadcast::Sender<TodoEvent>,
}

impl MemoryEventBus {
    /// A bus that keeps up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TodoEvent> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl EventPublisher for MemoryEventBus {
    async fn publish(&self, event: &TodoEvent) -> Result<(), InfraError> {
        // An error only means nobody listens right now, which is not a failure: a
        // broadcast has no one to deliver to later either.
        let _ = self.sender.send(event.clone());
        Ok(())
    }
}

#[async_trait]
impl EventFeed for MemoryEventBus {
    async fn subscribe(&self) -> Result<EventStream, InfraError> {
        Ok(feed_of(self.sender.subscribe()))
    }
}
