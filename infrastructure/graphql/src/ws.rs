//! `GET /graphql/ws`: subscriptions over WebSocket, with the graphql-transport-ws protocol
//! (and the older graphql-ws one, which GraphiQL and many clients still speak).
//!
//! A browser cannot set headers on a WebSocket, so the bearer token travels in the
//! `connection_init` message's payload, `{"authorization": "Bearer <token>"}`, and is
//! checked there, once per connection, with the same `Authenticate` use case as every other
//! request. A connection without a valid token is refused at `connection_init`.

use std::sync::Arc;

use application::UseCases;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
};

use crate::{GraphqlSchema, auth::Caller};

/// What the WebSocket route needs.
#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) schema: GraphqlSchema,
    pub(crate) use_cases: Arc<UseCases>,
}

/// Upgrades to a GraphQL WebSocket and serves it until either side closes.
pub(crate) async fn subscribe(
    State(state): State<WsState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let use_cases = state.use_cases.clone();
            GraphQLWebSocket::new(socket, state.schema, protocol)
                .on_connection_init(move |payload| async move {
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
                })
                .serve()
        })
}
