//! Todo events broadcast within one process, with the most recent ones kept for resuming.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    event::TodoEvent,
    ports::{
        EventFeed, EventPublisher, EventStream, FeedError, FeedStart, PublishedEvent,
        SubscribeError,
    },
};
use futures_util::StreamExt;
use tokio::sync::broadcast;

/// A feed over a broadcast receiver: what both in-process and Redis-fed subscribers read.
/// A receiver that lagged says by how much and goes on; a closed channel ends the stream.
fn live(receiver: broadcast::Receiver<PublishedEvent>) -> EventStream {
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

/// [`EventPublisher`] and [`EventFeed`] over a tokio broadcast channel: every subscriber in
/// this process gets every event published after it subscribed. Nothing crosses to other
/// processes; with several replicas, use the Redis publisher and feed.
///
/// The channel keeps the last `capacity` events; a subscriber that falls further behind
/// skips what it missed and learns how many (`RecvError::Lagged`), so a slow subscriber
/// never holds memory without bound.
///
/// For [`FeedStart::After`], the bus also keeps the last `retained` events published, and
/// nothing older: that is its resume window.
#[derive(Debug, Clone)]
pub struct MemoryEventBus {
    sender: broadcast::Sender<PublishedEvent>,
    recent: Arc<Mutex<Recent>>,
}

/// The newest events, oldest first.
#[derive(Debug)]
struct Recent {
    events: VecDeque<PublishedEvent>,
    retained: usize,
}

impl MemoryEventBus {
    /// A bus that keeps up to `capacity` events for slow subscribers, and the last
    /// `retained` for subscribers that resume.
    pub fn new(capacity: usize, retained: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            sender,
            recent: Arc::new(Mutex::new(Recent {
                events: VecDeque::new(),
                retained,
            })),
        }
    }
}

#[async_trait]
impl EventPublisher for MemoryEventBus {
    /// A send on a broadcast channel never waits.
    fn longest_call(&self) -> std::time::Duration {
        std::time::Duration::from_millis(10)
    }

    async fn publish(&self, event: &TodoEvent) -> Result<(), InfraError> {
        // Kept and sent under one lock, so a subscriber that resumes (which reads the
        // kept events and subscribes under the same lock) sees each event exactly once.
        let published = PublishedEvent {
            event: event.clone(),
            trace_parent: trace_context::current(),
        };
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.retained > 0 {
            if recent.events.len() == recent.retained {
                recent.events.pop_front();
            }
            recent.events.push_back(published.clone());
        }
        // An error only means nobody listens right now, which is not a failure: a
        // broadcast has no one to deliver to later either.
        let _ = self.sender.send(published);
        Ok(())
    }
}

#[async_trait]
impl EventFeed for MemoryEventBus {
    async fn subscribe(&self, start: FeedStart) -> Result<EventStream, SubscribeError> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        match start {
            FeedStart::Now => Ok(live(self.sender.subscribe())),
            FeedStart::After(id) => {
                let seen = recent
                    .events
                    .iter()
                    .position(|published| published.event.id == id)
                    .ok_or(SubscribeError::NotRetained(id))?;
                let missed: Vec<_> = recent.events.iter().skip(seen + 1).cloned().collect();
                let receiver = self.sender.subscribe();
                Ok(Box::pin(
                    futures_util::stream::iter(missed.into_iter().map(Ok)).chain(live(receiver)),
                ))
            }
        }
    }
}
