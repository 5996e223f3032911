//! The subscriber side of the Redis event stream: one reader per process, fanned out, and
//! a replay of the stream's recent past for subscribers that resume.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    event::{MessageId, TodoEvent},
    ports::{EventFeed, EventStream, FeedError, FeedStart, PublishedEvent, SubscribeError},
};
use driven_records::TodoEventRecord;
use redis::{
    AsyncCommands, AsyncConnectionConfig,
    aio::ConnectionManager,
    streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply},
};
use tokio::{sync::broadcast, task::JoinHandle};

use crate::RedisEventPublisher;

/// How long one `XREAD` waits for new entries before asking again.
const BLOCK: Duration = Duration::from_secs(1);

/// Entries read per `XRANGE` while finding or replaying.
const PAGE: usize = 500;

/// The most entries a search for an event to resume after reads: from the moment the event
/// happened (less [`CLOCK_SKEW`]) on. An event is published moments after it happens, so
/// it is found in the first page; one that is not within this many entries was trimmed,
/// never existed, or was published very late (its outbox job waited out a long Redis
/// outage under a heavy stream), and is refused as not retained: the client re-reads.
/// Without the bound, an id that names no event walks the whole stream, on every call.
const MAX_SEARCH: usize = 10 * PAGE;

/// How far before an event's own timestamp the search for it starts: the event id's time
/// comes from the application's clock, the entry id's from Redis's, and the two may differ
/// by this much.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Where an entry sits in the stream: its id, `<milliseconds>-<sequence>`, as numbers, so
/// that positions compare in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Position(u64, u64);

impl Position {
    fn of(entry_id: &str) -> Option<Self> {
        let (ms, seq) = entry_id.split_once('-')?;
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The `XRANGE` start that begins right after this entry.
    fn exclusive(self) -> String {
        format!("({}-{}", self.0, self.1)
    }
}

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
///
/// **Resuming.** [`FeedStart::After`] finds the event's entry in the stream (by its
/// `event_id` field, starting from the event id's own timestamp, less a minute for clock
/// skew, and reading at most [`MAX_SEARCH`] entries), replays every entry after it with
/// `XRANGE`, and then joins the live broadcast where the replay ended, so nothing is seen
/// twice or missed in between. The window is what the stream keeps: about
/// `EVENT_STREAM_MAX_LEN` entries across all users (the publisher's `MAXLEN ~`), and only
/// while Redis keeps its data; an older event is [`SubscribeError::NotRetained`].
///
/// Searches and replays run on a connection of their own: a client that asks for many can
/// slow its own subscriptions, never the sessions, limits and probes that every request
/// needs.
#[derive(Clone)]
pub struct RedisEventFeed {
    sender: broadcast::Sender<(Position, PublishedEvent)>,
    /// For the searches and replays: a connection of their own.
    conn: ConnectionManager,
    stream: String,
    _reader: Arc<Reader>,
}

impl std::fmt::Debug for RedisEventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEventFeed")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
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
    /// keeping up to `capacity` events for a slow subscriber. Searches and replays for
    /// resuming subscribers get a connection of their own, with `settings`' timeouts.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the URL is invalid or Redis cannot be reached.
    pub async fn start(
        url: &str,
        settings: &crate::RedisSettings,
        key_prefix: &str,
        capacity: usize,
    ) -> Result<Self, InfraError> {
        let client =
            redis::Client::open(url).map_err(|e| InfraError::internal("parse Redis URL", e))?;
        let conn = crate::manage(client.clone(), crate::manager_config(settings)).await?;
        let mut reader_conn = connect(&client).await?;
        let stream = format!("{key_prefix}{}", RedisEventPublisher::STREAM);
        // The stream's end now, as an id, rather than "$" at the reader's first read: an
        // event published between `start` returning and that read would be lost.
        let newest: StreamRangeReply = reader_conn
            .xrevrange_count(&stream, "+", "-", 1)
            .await
            .map_err(|e| crate::classify("find the end of the event stream", e))?;
        let last = newest
            .ids
            .first()
            .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());
        let (sender, _) = broadcast::channel(capacity.max(1));
        let reader = tokio::spawn(read(
            client,
            reader_conn,
            stream.clone(),
            last,
            sender.clone(),
        ));
        Ok(Self {
            sender,
            conn,
            stream,
            _reader: Arc::new(Reader(reader)),
        })
    }

    /// The position of the event `id` in the stream, if the stream still holds it.
    async fn find(&self, id: MessageId) -> Result<Option<Position>, InfraError> {
        let wanted = id.to_string();
        let mut from = id
            .as_uuid()
            .get_timestamp()
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                let ms = secs * 1000 + u64::from(nanos / 1_000_000);
                format!("{}-0", ms.saturating_sub(CLOCK_SKEW.as_millis() as u64))
            })
            .unwrap_or_else(|| "-".to_owned());
        let mut conn = self.conn.clone();
        for _ in 0..MAX_SEARCH / PAGE {
            let page: StreamRangeReply = conn
                .xrange_count(&self.stream, &from, "+", PAGE)
                .await
                .map_err(|e| crate::classify("find an event in the event stream", e))?;
            for entry in &page.ids {
                if event_id_of(entry).as_deref() == Some(wanted.as_str()) {
                    return Ok(Position::of(&entry.id));
                }
            }
            match page.ids.last() {
                Some(last) if page.ids.len() == PAGE => from = format!("({}", last.id),
                _ => return Ok(None),
            }
        }
        Ok(None)
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
    sender: broadcast::Sender<(Position, PublishedEvent)>,
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
                    match Position::of(&entry.id).zip(decode(&entry)) {
                        // Nobody listening is not an error: there is nobody to tell.
                        Some(positioned) => drop(sender.send(positioned)),
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

/// The `event_id` field of an entry; entries written before it existed have it only in
/// their payload.
fn event_id_of(entry: &StreamId) -> Option<String> {
    entry
        .get::<String>("event_id")
        .or_else(|| decode(entry).map(|published| published.event.id.to_string()))
}

/// The event an entry holds, with the trace context of its publish when it has one.
fn decode(entry: &StreamId) -> Option<PublishedEvent> {
    let payload: String = entry.get("payload")?;
    let record: TodoEventRecord = serde_json::from_str(&payload).ok()?;
    Some(PublishedEvent {
        event: TodoEvent::try_from(record).ok()?,
        trace_parent: entry.get(trace_context::TRACEPARENT),
    })
}

#[async_trait]
impl EventFeed for RedisEventFeed {
    #[tracing::instrument(target = "ports", level = "debug", name = "redis.events.subscribe", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn subscribe(&self, start: FeedStart) -> Result<EventStream, SubscribeError> {
        // Subscribed before the replay is read, so the two overlap rather than leave a gap;
        // the overlap is dropped by position.
        let receiver = self.sender.subscribe();
        let after = match start {
            FeedStart::Now => None,
            FeedStart::After(id) => Some(
                self.find(id)
                    .await?
                    .ok_or(SubscribeError::NotRetained(id))?,
            ),
        };
        let state = Subscription {
            conn: self.conn.clone(),
            stream: self.stream.clone(),
            receiver,
            after,
            replayed: VecDeque::new(),
            replaying: after.is_some(),
        };
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            Subscription::next,
        )))
    }
}

/// One subscriber's place: replaying the stream after `after`, then live.
struct Subscription {
    conn: ConnectionManager,
    stream: String,
    receiver: broadcast::Receiver<(Position, PublishedEvent)>,
    /// The last position handed out (or resumed after); live events up to it are repeats.
    after: Option<Position>,
    /// Read by the replay, not yet handed out.
    replayed: VecDeque<(Position, PublishedEvent)>,
    /// Whether the replay has more to read.
    replaying: bool,
}

impl Subscription {
    async fn next(mut self) -> Option<(Result<PublishedEvent, FeedError>, Self)> {
        loop {
            if let Some((position, event)) = self.replayed.pop_front() {
                self.after = Some(position);
                return Some((Ok(event), self));
            }
            if let (true, Some(after)) = (self.replaying, self.after) {
                let page: Result<StreamRangeReply, _> = self
                    .conn
                    .xrange_count(&self.stream, after.exclusive(), "+", PAGE)
                    .await;
                let Ok(page) = page.inspect_err(|error| {
                    tracing::warn!(
                        error = error as &dyn std::error::Error,
                        "replaying the event stream failed; the subscription ends"
                    );
                }) else {
                    self.replaying = false;
                    return Some((Err(FeedError::Interrupted), self));
                };
                self.replaying = page.ids.len() == PAGE;
                self.replayed.extend(
                    page.ids
                        .iter()
                        .filter_map(|entry| Position::of(&entry.id).zip(decode(entry))),
                );
                if let Some(last) = page.ids.last().and_then(|entry| Position::of(&entry.id)) {
                    // Past an unreadable last entry too, so the next page starts after it.
                    if self.replayed.is_empty() {
                        self.after = Some(last);
                    }
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok((position, _)) if self.after.is_some_and(|after| position <= after) => {}
                Ok((position, event)) => {
                    self.after = Some(position);
                    return Some((Ok(event), self));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Some((Err(FeedError::Lagged(missed)), self));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
