//! The subscriber side of the Redis event stream: one reader per process, fanned out.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    event::TodoEvent,
    ports::{EventFeed, EventStream, FeedError},
};
use driven_records::TodoEventRecord;
use redis::{
    AsyncCommands, AsyncConnectionConfig,
    streams::{StreamReadOptions, StreamReadReply},
};
use tokio::{sync::broadcast, task::JoinHandle};

use crate::RedisEventPublisher;

/// How long one `XREAD` waits for new entries before asking again.
const BLOCK: Duration = Duration::from_secs(1);

/// [`EventFeed`] on the Redis stream that [`RedisEventPublisher`] writes, so a subscriber
/// on any replica sees the events that every replica's worker publishes.
///
/// One task per process reads the stream (`XREAD BLOCK` on a connection of its own: a
/// blocking read would stall every other command on a shared, multiplexed one) and hands
/// each event to a local broadcast channel, which every subscriber of this process reads.
/// So a thousand subscribers cost one Redis reader, and a slow subscriber only lags its own
/// channel slot: it gets [`FeedError::Lagged`], and nothing buffers without bound.
///
/// The reader remembers the last entry id it read. When Redis goes away it reconnects and
/// reads on from there, so a short outage loses nothing the stream still holds.
#[derive(Debug, Clone)]
pub struct RedisEventFeed {
    sender: broadcast::Sender<TodoEvent>,
    _reader: Arc<Reader>,
}

/// The reading task, stopped when the last clone of the feed is dropped.
#[derive(Debug)]
struct Reader(JoinHandle<()>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RedisEventFeed {
    /// Starts reading the stream `{key_prefix}todo-events` at `url` from its current end,
    /// keeping up to `capacity` events for a slow subscriber.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the URL is invalid or Redis cannot be reached.
    pub async fn start(url: &str, key_prefix: &str, capacity: usize) -> Result<Self, InfraError> {
        let client =
            redis::Client::open(url).map_err(|e| InfraError::internal("parse Redis URL", e))?;
        let mut conn = connect(&client).await?;
        let stream = format!("{key_prefix}{}", RedisEventPublisher::STREAM);
        // The stream's end now, as an id, rather than "$" at the reader's first read: an
        // event published between `start` returning and that read would be lost.
        let newest: redis::streams::StreamRangeReply = conn
            .xrevrange_count(&stream, "+", "-", 1)
            .await
            .map_err(|e| crate::classify("find the end of the event stream", e))?;
        let last = newest
            .ids
            .first()
            .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());
        let (sender, _) = broadcast::channel(capacity.max(1));
        let reader = tokio::spawn(read(client, conn, stream, last, sender.clone()));
        Ok(Self {
            sender,
            _reader: Arc::new(Reader(reader)),
        })
    }
}

async fn connect(client: &redis::Client) -> Result<redis::aio::MultiplexedConnection, InfraError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        // Longer than the blocking read, which answers after BLOCK at the latest.
        .set_response_timeout(Some(BLOCK + Duration::from_secs(2)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| crate::classify("connect the event reader to Redis", e))
}

/// Reads the stream for ever, after the entry `last`, and broadcasts each event.
async fn read(
    client: redis::Client,
    mut conn: redis::aio::MultiplexedConnection,
    stream: String,
    mut last: String,
    sender: broadcast::Sender<TodoEvent>,
) {
    let options = StreamReadOptions::default()
        .block(BLOCK.as_millis() as usize)
        .count(500);
    loop {
        let reply: Result<Option<StreamReadReply>, _> =
            conn.xread_options(&[&stream], &[&last], &options).await;
        match reply {
            Ok(reply) => {
                for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                    last.clone_from(&entry.id);
                    match decode(&entry) {
                        // Nobody listening is not an error: there is nobody to tell.
                        Some(event) => drop(sender.send(event)),
                        None => {
                            tracing::warn!(entry_id = %entry.id, "unreadable entry in the event stream; skipped")
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "the event stream reader lost Redis; reconnecting"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Ok(fresh) = connect(&client).await {
                    conn = fresh;
                }
            }
        }
    }
}

fn decode(entry: &redis::streams::StreamId) -> Option<TodoEvent> {
    let payload: String = entry.get("payload")?;
    let record: TodoEventRecord = serde_json::from_str(&payload).ok()?;
    TodoEvent::try_from(record).ok()
}

#[async_trait]
impl EventFeed for RedisEventFeed {
    async fn subscribe(&self) -> Result<EventStream, InfraError> {
        let receiver = self.sender.subscribe();
        Ok(Box::pin(futures_util::stream::unfold(
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
        )))
    }
}
