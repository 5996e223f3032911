//! `GET /graphql/ws`: subscriptions over WebSocket, with the graphql-transport-ws protocol
//! (and the older graphql-ws one, which many clients still speak).
//!
//! A browser cannot set headers on a WebSocket, so the bearer token travels in the
//! `connection_init` message's payload, `{"authorization": "Bearer <token>"}`, and is
//! checked there, once per connection, with the same `Authenticate` use case as every other
//! request. A connection without a valid token is refused at `connection_init`.
//!
//! async-graphql speaks the protocol; this module only carries its messages between the
//! socket and it, so that it can also say goodbye: when the server shuts down, each open
//! connection gets a close frame (1001, "going away") rather than a dropped socket.

use std::sync::Arc;

use application::UseCases;
use async_graphql::{
    Data,
    http::{WebSocket as Protocol, WebSocketProtocols, WsMessage},
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket, close_code},
    },
    http::{HeaderMap, StatusCode, header::SEC_WEBSOCKET_PROTOCOL},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::{GraphqlSchema, auth::Caller};

/// What the WebSocket route needs.
#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) schema: GraphqlSchema,
    pub(crate) use_cases: Arc<UseCases>,
    /// Cancelled when the server begins to shut down.
    pub(crate) closing: CancellationToken,
}

/// Upgrades to a GraphQL WebSocket and serves it until either side closes. The client
/// must offer `graphql-transport-ws` or `graphql-ws` in `Sec-WebSocket-Protocol`; the
/// first one it offers is the one spoken, as the handshake's answer says.
pub(crate) async fn subscribe(
    State(state): State<WsState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|name| name.trim().parse::<WebSocketProtocols>().ok());
    let Some(protocol) = offered else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws",
        )
            .into_response();
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

/// Carries one connection's messages until the client leaves, the protocol closes it, or
/// the server shuts down.
async fn serve(socket: WebSocket, state: WsState, protocol: WebSocketProtocols) {
    let (mut sink, stream) = socket.split();
    let incoming = stream
        .take_while(|message| std::future::ready(message.is_ok()))
        .filter_map(|message| {
            std::future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let use_cases = state.use_cases.clone();
    let mut outgoing = Protocol::new(state.schema, incoming, protocol).on_connection_init(
        move |payload| async move {
            let authorization = payload
                .get("authorization")
                .or_else(|| payload.get("Authorization"))
                .and_then(|v| v.as_str());
            match Caller::authenticate(authorization, &use_cases).await {
                caller @ Caller::User { .. } => {
                    let mut data = Data::default();
                    data.insert(caller);
                    Ok(data)
                }
                _ => Err(async_graphql::Error::new(
                    "unauthenticated: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                )),
            }
        },
    );
    loop {
        let message = tokio::select! {
            message = outgoing.next() => match message {
                Some(WsMessage::Text(text)) => Message::Text(text.into()),
                Some(WsMessage::Close(code, reason)) => Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
                None => break,
            },
            () = state.closing.cancelled() => Message::Close(Some(CloseFrame {
                code: close_code::AWAY,
                reason: "the server is shutting down; reconnect and subscribe with `after`".into(),
            })),
        };
        let last = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || last {
            break;
        }
    }
}
