//! `GET /graphql/ws`: subscriptions over WebSocket, with the graphql-transport-ws protocol.
//!
//! The socket carries **subscriptions only**. Queries and mutations go over HTTP, where
//! every one of them meets the in-flight limit, the request timeout and the attempt
//! limits; a socket would carry them past all three. The gate in
//! [`admission`](crate::admission) refuses them with `operation_not_supported`.
//!
//! **Every operation is authorized against the session as it is now.** A browser cannot
//! set headers on a WebSocket, so the bearer token travels in `connection_init`'s payload,
//! `{"authorization": "Bearer <token>"}`. It is checked there, and again, with the same
//! `Authenticate` use case, for every `subscribe` and at every keep-alive ping: a socket
//! whose session was logged out or has expired is closed with 4403. The subscriptions it
//! runs check the session themselves, and end with `session_ended`.
//!
//! Every socket is bounded like every other way in:
//! - in size: a message over `GRAPHQL_WS_MAX_MESSAGE_BYTES` closes it with 1009;
//! - in time: `connection_init` must come within `GRAPHQL_WS_INIT_TIMEOUT_MS` (4408), and
//!   a peer that answers no ping within `HTTP_KEEPALIVE_TIMEOUT_SECS`, or takes no
//!   message within it, is dropped;
//! - in count: the socket keeps its connection's place among the server's open
//!   connections (`HTTP_MAX_CONNECTIONS`), and each subscription counts against
//!   `WATCH_MAX_PER_USER` and `WATCH_MAX_PER_INSTANCE`.
//!
//! The protocol's close codes: 4400 a message that is not the protocol's, 4401 `subscribe`
//! before the connection is acknowledged, 4403 a token refused (at init or later), 4408
//! no `connection_init` in time, 4409 a subscription id already running, 4429 a second
//! `connection_init`. When the server shuts down, each socket is closed with 1001 (going
//! away). async-graphql's own WebSocket server gets several of these wrong and has no init
//! timeout, which is why this module speaks the protocol itself and hands async-graphql
//! only the documents.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use application::{ErrorKind, UseCases};
use async_graphql::{Request, Response as GraphqlResponse, Variables};
use axum::{
    Extension,
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code},
    },
    http::{HeaderMap, StatusCode, header::SEC_WEBSOCKET_PROTOCOL},
    response::{IntoResponse, Response},
};
use driving_http::ConnectionSlot;
use futures_util::{SinkExt, Stream, StreamExt, stream::SplitSink};
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_stream::StreamMap;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    GraphqlSchema,
    admission::Transport,
    auth::{Caller, ClientAddress},
    settings::WsSettings,
};

/// The one subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";

/// What the WebSocket route needs.
#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) schema: GraphqlSchema,
    pub(crate) use_cases: Arc<UseCases>,
    pub(crate) settings: WsSettings,
    /// Cancelled when the server begins to shut down.
    pub(crate) closing: CancellationToken,
}

/// Upgrades to a GraphQL WebSocket and serves it until either side closes. The client
/// must offer `graphql-transport-ws` in `Sec-WebSocket-Protocol`.
pub(crate) async fn subscribe(
    State(state): State<WsState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim() == PROTOCOL);
    if !offered {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must offer graphql-transport-ws",
        )
            .into_response();
    }
    let from = client.map(|Extension(ConnectInfo(address))| ClientAddress(address.ip()));
    let slot = slot.map(|Extension(slot)| slot);
    let limit = state.settings.max_message_bytes;
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            // The socket keeps its connection's place until it closes.
            let _slot = slot;
            Socket::new(state, from).serve(socket).await;
        })
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

/// The operation a `subscribe` asks for.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
}

/// Why the server closes a socket: a close code and its reason.
struct Close(u16, String);

impl Close {
    /// A close frame's reason is at most 123 bytes (a control frame carries 125, two of
    /// them the code); a longer one would not be sent at all, so it is cut.
    const MAX_REASON: usize = 123;

    fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > Self::MAX_REASON {
            let mut end = Self::MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self(code, reason)
    }
}

/// What an operation's stream yields: a response and whether the request had been admitted
/// when it was made, or the end of the operation.
type OperationItem = Option<(GraphqlResponse, bool)>;

/// One socket's state.
struct Socket {
    state: WsState,
    from: Option<ClientAddress>,
    /// The bearer token from `connection_init`, once it authenticated.
    authorization: Option<String>,
    /// Whether `connection_init` arrived (a second one is refused).
    initialised: bool,
    /// The caller's W3C trace context from `connection_init` (`traceparent`, and
    /// `tracestate` if any): each subscription's span continues it.
    trace: Option<(String, Option<String>)>,
    /// The running operations, by the client's id.
    operations: StreamMap<String, std::pin::Pin<Box<dyn Stream<Item = OperationItem> + Send>>>,
}

impl Socket {
    fn new(state: WsState, from: Option<ClientAddress>) -> Self {
        Self {
            state,
            from,
            authorization: None,
            initialised: false,
            trace: None,
            operations: StreamMap::new(),
        }
    }

    /// Carries the socket until either side closes it or the server shuts down.
    async fn serve(mut self, socket: WebSocket) {
        let settings = self.state.settings.clone();
        let (mut sink, mut incoming) = socket.split();
        let init_deadline = tokio::time::sleep(settings.init_timeout);
        tokio::pin!(init_deadline);
        let mut pings = tokio::time::interval_at(
            Instant::now() + settings.keepalive_interval,
            settings.keepalive_interval,
        );
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // When the last ping went out with nothing heard since.
        let mut unanswered_since: Option<Instant> = None;

        let close = loop {
            let outgoing = tokio::select! {
                message = incoming.next() => {
                    unanswered_since = None;
                    match message {
                        Some(Ok(message)) => match self.receive(message).await {
                            Ok(replies) => replies,
                            Err(close) => break Some(close),
                        },
                        Some(Err(error)) => {
                            // Most often a message over the size limit; otherwise the
                            // connection is already broken and the close goes nowhere.
                            tracing::debug!(%error, "WebSocket read failed");
                            break Some(Close::new(close_code::SIZE, format!(
                                "messages are at most {} bytes", settings.max_message_bytes
                            )));
                        }
                        None => break None,
                    }
                }
                Some((id, item)) = self.operations.next(), if !self.operations.is_empty() => {
                    self.outcome(id, item)
                }
                () = &mut init_deadline, if !self.initialised => {
                    break Some(Close::new(4408, "Connection initialisation timeout"));
                }
                _ = pings.tick() => {
                    if unanswered_since.is_some_and(|sent| sent.elapsed() >= settings.keepalive_timeout) {
                        tracing::debug!("a WebSocket peer stopped answering pings");
                        break None;
                    }
                    if let Some(close) = self.recheck_session().await {
                        break Some(close);
                    }
                    unanswered_since.get_or_insert_with(Instant::now);
                    vec![Message::Ping(Default::default())]
                }
                () = self.state.closing.cancelled() => break Some(Close::new(
                    close_code::AWAY,
                    "the server is shutting down; reconnect and subscribe with `after`",
                )),
            };
            for message in outgoing {
                if !send(&mut sink, message, settings.keepalive_timeout).await {
                    return;
                }
            }
        };
        if let Some(Close(code, reason)) = close {
            let frame = Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            }));
            send(&mut sink, frame, settings.keepalive_timeout).await;
        }
    }

    /// Handles one frame from the client: the messages to send back, or why to close.
    async fn receive(&mut self, frame: Message) -> Result<Vec<Message>, Close> {
        let bytes = match frame {
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Binary(bytes) => bytes.to_vec(),
            // Pongs answer our pings; tungstenite answers pings itself.
            Message::Ping(_) | Message::Pong(_) => return Ok(Vec::new()),
            Message::Close(_) => return Err(Close::new(close_code::NORMAL, "bye")),
        };
        let received: ClientMessage = serde_json::from_slice(&bytes)
            .map_err(|error| Close::new(4400, format!("Invalid message received: {error}")))?;
        match received {
            ClientMessage::ConnectionInit { payload } => {
                if std::mem::replace(&mut self.initialised, true) {
                    return Err(Close::new(4429, "Too many initialisation requests"));
                }
                let authorization = payload
                    .as_ref()
                    .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                authenticate(&self.state.use_cases, authorization.as_deref()).await?;
                self.authorization = authorization;
                let text = |key: &str| {
                    payload
                        .as_ref()
                        .and_then(|p| p.get(key))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                };
                self.trace = text(trace_context::TRACEPARENT)
                    .map(|parent| (parent, text(trace_context::TRACESTATE)));
                Ok(vec![message(None, "connection_ack", None::<()>)])
            }
            ClientMessage::Ping {} => Ok(vec![message(None, "pong", None::<()>)]),
            ClientMessage::Pong {} => Ok(Vec::new()),
            ClientMessage::Subscribe { id, payload } => self.start(id, payload).await,
            ClientMessage::Complete { id } => {
                // The client stopped listening: nothing more goes out for this id.
                self.operations.remove(&id);
                Ok(Vec::new())
            }
        }
    }

    /// At every ping: the socket closes when its session has ended. A session store that
    /// does not answer is not a reason to drop a client.
    async fn recheck_session(&mut self) -> Option<Close> {
        let authorization = self.authorization.as_deref()?;
        match Caller::authenticate(Some(authorization), &self.state.use_cases).await {
            Caller::Rejected(error) if error.kind() == ErrorKind::Unauthenticated => {
                Some(Close::new(4403, "Forbidden: the session has ended"))
            }
            _ => None,
        }
    }

    /// Starts the subscription `id`: authorized against the session as it is now, run
    /// through the schema (and so through the admission gate).
    async fn start(
        &mut self,
        id: String,
        payload: SubscribePayload,
    ) -> Result<Vec<Message>, Close> {
        if self.authorization.is_none() {
            return Err(Close::new(4401, "Unauthorized"));
        }
        if self.operations.contains_key(&id) {
            return Err(Close::new(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        // The subscription's start, in the caller's trace when `connection_init` named one.
        let span = tracing::info_span!(
            "subscribe",
            otel.name = "graphql subscribe",
            otel.kind = "server",
            operation_id = %id,
        );
        if let Some((parent, state)) = &self.trace {
            trace_context::continue_from(&span, parent, state.as_deref());
        }
        let caller = authenticate(&self.state.use_cases, self.authorization.as_deref())
            .instrument(span)
            .await?;
        let mut request = Request::new(payload.query)
            .variables(Variables::from_json(
                payload.variables.unwrap_or(serde_json::Value::Null),
            ))
            .data(caller);
        if let Some(name) = payload.operation_name {
            request = request.operation_name(name);
        }
        if let Some(from) = self.from {
            request = request.data(from);
        }
        let responses = self
            .state
            .schema
            .run_stream(request, Some(Transport::WebSocket))
            .map(|ran| Some((ran.response, ran.admitted)))
            .chain(futures_util::stream::once(async { None }));
        self.operations.insert(id, Box::pin(responses));
        Ok(Vec::new())
    }

    /// What to send for one item of the operation `id`.
    fn outcome(&mut self, id: String, item: OperationItem) -> Vec<Message> {
        match item {
            // Refused before it ran (it does not parse, validate or pass the gate): the
            // protocol's `error`, which ends the operation.
            Some((response, false)) if response.is_err() => {
                self.operations.remove(&id);
                vec![message(Some(&id), "error", Some(response.errors))]
            }
            Some((response, _)) => vec![message(Some(&id), "next", Some(response))],
            None => vec![message(Some(&id), "complete", None::<()>)],
        }
    }
}

/// The caller `authorization` authenticates as now, or why the socket must close.
async fn authenticate(use_cases: &UseCases, authorization: Option<&str>) -> Result<Caller, Close> {
    match Caller::authenticate(authorization, use_cases).await {
        caller @ Caller::User { .. } => Ok(caller),
        Caller::Rejected(error) if error.kind() == ErrorKind::Unavailable => Err(Close::new(
            close_code::AGAIN,
            "the session store is unavailable; try again later",
        )),
        Caller::Rejected(_) | Caller::Anonymous => Err(Close::new(
            4403,
            "Forbidden: send {\"authorization\": \"Bearer <token>\"} for a live session in \
             connection_init",
        )),
    }
}

/// A protocol message of type `kind`, for the operation `id` if any, as a text frame.
fn message(id: Option<&str>, kind: &str, payload: Option<impl serde::Serialize>) -> Message {
    #[derive(serde::Serialize)]
    struct Envelope<'a, P> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<P>,
    }
    let body = serde_json::to_string(&Envelope { id, kind, payload }).unwrap_or_else(|_| {
        // Responses are plain values with string keys, which always serialise; should one
        // not, the client gets an opaque error rather than nothing.
        r#"{"type":"error","payload":[{"message":"internal error","extensions":{"code":"internal"}}]}"#
            .to_owned()
    });
    Message::Text(Utf8Bytes::from(body))
}

/// Sends `message`, within `limit`: a peer that takes nothing for that long is gone.
/// Returns whether it went out.
async fn send(sink: &mut SplitSink<WebSocket, Message>, message: Message, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, sink.send(message)).await,
        Ok(Ok(()))
    )
}
