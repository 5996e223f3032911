//! Todo events published to a Redis Stream.

use async_trait::async_trait;
use domain::{error::InfraError, event::TodoEvent, ports::EventPublisher};
use driven_records::TodoEventRecord;
use redis::{aio::ConnectionManager, streams::StreamMaxlen};

/// [`EventPublisher`] on a Redis Stream (`XADD`), one stream for all todo events.
///
/// A stream rather than pub/sub because a stream keeps what it was given: a subscriber
/// that was disconnected for a moment (a deploy, a network blip) reads on from the last
/// entry id it saw, and one that joins later can still read back within the retention.
/// Pub/sub forgets a message the instant it has no listener. The stream is trimmed to
/// about `max_len` entries (`MAXLEN ~`, which trims whole blocks and costs nearly nothing),
/// so its memory is bounded.
///
/// Each entry has four fields: `event` (the name, such as `todo.created`), `event_id` and
/// `owner_id` (for finding and filtering without parsing) and `payload` (the whole event as
/// JSON, see [`TodoEventRecord`]). Delivery is at least once: a consumer drops repeats by the
/// event's id, which is in the payload.
#[derive(Clone)]
pub struct RedisEventPublisher {
    conn: ConnectionManager,
    stream: String,
    max_len: usize,
    longest_call: std::time::Duration,
}

impl std::fmt::Debug for RedisEventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEventPublisher")
            .field("stream", &self.stream)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl RedisEventPublisher {
    /// The name of the stream under the key prefix.
    pub const STREAM: &'static str = "todo-events";

    /// A publisher to the stream `{key_prefix}todo-events`, trimmed to about `max_len`,
    /// over a connection whose commands end within `longest_call` (its connection and
    /// response timeouts: see [`RedisSettings::longest_command`](crate::RedisSettings)).
    pub fn new(
        conn: ConnectionManager,
        key_prefix: &str,
        max_len: usize,
        longest_call: std::time::Duration,
    ) -> Self {
        Self {
            conn,
            stream: format!("{key_prefix}{}", Self::STREAM),
            max_len,
            longest_call,
        }
    }

    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }
}

#[async_trait]
impl EventPublisher for RedisEventPublisher {
    fn longest_call(&self) -> std::time::Duration {
        self.longest_call
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.events.publish", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn publish(&self, event: &TodoEvent) -> Result<(), InfraError> {
        self.publish_all(std::slice::from_ref(event)).await
    }

    /// One pipeline of `XADD`s: one round trip for the whole batch, and Redis applies them
    /// in order.
    #[tracing::instrument(target = "ports", level = "debug", name = "redis.events.publish_all", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn publish_all(&self, events: &[TodoEvent]) -> Result<(), InfraError> {
        if events.is_empty() {
            return Ok(());
        }
        // The publish's trace context rides in each entry, so that a subscriber's delivery
        // can link back to it (and through it to the request that made the change).
        let trace_parent = trace_context::current();
        let mut pipe = redis::pipe();
        for event in events {
            let payload = serde_json::to_string(&TodoEventRecord::from(event))
                .map_err(|e| InfraError::internal("encode todo event", e))?;
            let (event_id, owner_id) = (event.id.to_string(), event.owner.to_string());
            let mut fields = vec![
                ("event", event.change.name()),
                ("event_id", event_id.as_str()),
                ("owner_id", owner_id.as_str()),
                ("payload", payload.as_str()),
            ];
            if let Some(parent) = &trace_parent {
                fields.push((trace_context::TRACEPARENT, parent.as_str()));
            }
            pipe.xadd_maxlen(
                &self.stream,
                StreamMaxlen::Approx(self.max_len),
                "*",
                &fields,
            )
            .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| crate::classify("publish todo events", e))
    }
}
