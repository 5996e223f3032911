//! Todo events broadcast within one process.

use async_trait::async_trait;
use domain::{error::InfraError, event::TodoEvent, ports::EventPublisher};
use tokio::sync::broadcast;

/// [`EventPublisher`] over a tokio broadcast channel: every subscriber in this process gets
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
