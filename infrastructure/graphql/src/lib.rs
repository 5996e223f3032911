//! Driving adapter: the GraphQL API (async-graphql) over the same use cases as REST.
//!
//! Resolvers hold no business rule. Each one parses its arguments into domain types, calls
//! one use case, and maps the result; every error goes through the application's error
//! vocabulary and [`error`]'s one mapping function, so GraphQL and REST always agree.
//!
//! - [`schema`]: the schema, its limits, and the SDL that is checked in as `schema.graphql`.
//! - [`admission`]: the gate every document passes before it runs, whichever way it came
//!   in: size, nesting, the operations each transport carries, expansion, introspection.
//! - `query` and `mutation`: the root fields.
//! - `types`: the output types (`Todo`, `User`, connections) and their enums.
//! - `inputs`: the input types, parsed into domain values at the edge.
//! - `loaders`: the DataLoader that counts todos for a page of users in one call.
//! - `auth`: the caller, from `Authorization: Bearer`, checked once per request.
//! - [`error`]: the mapping to GraphQL errors with `extensions.code`.
//! - `http`: `POST /graphql` and `GET /graphql` (queries only), following GraphQL over HTTP.
//! - [`subscription`] and `ws`: `todoEvents`, live, over WebSocket at `/graphql/ws`, each
//!   operation authorized against the session as it is now.
//! - `graphiql`: the GraphiQL page at `/graphiql`, with its assets compiled in.
//! - `app`: the example todo app at `/app` (`/` redirects there), a browser client of this
//!   API written as plain ES modules, compiled in too; `assets` serves both pages' files.

pub mod admission;
mod app;
mod assets;
mod auth;
pub mod error;
mod graphiql;
mod http;
mod inputs;
mod loaders;
mod mutation;
mod query;
mod replays;
pub mod schema;
mod settings;
pub mod subscription;
mod types;
mod ws;

pub use http::with_caller;
pub use mutation::Mutation;
pub use query::Query;
pub use schema::{GraphqlSchema, build_schema, sdl};
pub use settings::{GraphqlSettings, WsSettings};
pub use subscription::Subscription;

use std::sync::Arc;

use application::UseCases;
use axum::{Router, routing::get};
use tokio_util::sync::CancellationToken;

/// `/graphql` (POST for everything, GET for queries), subscriptions at `/graphql/ws`, the
/// GraphiQL page at `/graphiql` and the example app at `/app` (`/` redirects there). Put it
/// behind `driving_http::with_layers` to serve it.
/// When `closing` is cancelled, every open WebSocket is closed with 1001 (going away).
pub fn router(
    schema: GraphqlSchema,
    use_cases: Arc<UseCases>,
    settings: &GraphqlSettings,
    closing: CancellationToken,
) -> Router {
    let state = http::GraphqlState { schema, use_cases };
    let ws = ws::WsState {
        schema: state.schema.clone(),
        use_cases: state.use_cases.clone(),
        settings: settings.ws.clone(),
        closing,
    };
    Router::new()
        .route("/graphql", get(http::get).post(http::post))
        .with_state(state)
        .route("/graphql/ws", get(ws::subscribe).with_state(ws))
        .merge(graphiql::routes())
        .merge(app::routes())
}
