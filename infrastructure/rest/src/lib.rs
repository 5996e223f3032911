//! Driving adapter: the REST API (axum), a thin layer that turns HTTP into use-case calls and
//! back. It knows the use cases and nothing behind them: no driver, no driven adapter.
//!
//! Handlers parse DTOs into domain types, call one use case, and turn the result into a
//! response. No business rule lives here: authorisation, ownership and concurrency are the
//! use cases' job, and every error is mapped to HTTP in exactly one place ([`error`]). The
//! cross-cutting layers (request ids, spans, metrics, the timeout, the body limit) are the
//! shared `driving-http` crate's; the composition root puts this router behind them.
//!
//! - [`router`]: every route.
//! - `error`: `ApiError`, mapped from the application's error vocabulary.
//! - `extract`: JSON bodies, the bearer token, `If-Match`, path ids.
//! - `dto`: request and response bodies, and their conversion at the edge.
//! - `handlers`: one function per route.
//! - `openapi`: the OpenAPI 3.1 document, generated from the handlers, and the docs page.

mod dto;
mod error;
mod extract;
mod handlers;
mod openapi;
mod rules;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use openapi::ApiDoc;

use std::sync::Arc;

use application::UseCases;
use axum::{
    Router,
    routing::{delete, get, post, put},
};

/// What every handler can reach. Cheap to clone: everything is behind an `Arc`.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub(crate) use_cases: Arc<UseCases>,
}

impl ApiState {
    /// State over `use_cases`.
    pub fn new(use_cases: Arc<UseCases>) -> Self {
        Self { use_cases }
    }
}

/// Every REST route, with the fallbacks that answer unknown paths (404) and methods (405)
/// with problems. Put it behind `driving_http::with_layers` to serve it.
pub fn router(state: ApiState) -> Router {
    use handlers::{todos, users};

    Router::new()
        .route("/v1/users", post(users::register).get(users::list))
        .route("/v1/users/me", get(users::me))
        .route(
            "/v1/sessions",
            post(users::log_in).delete(users::log_out_everywhere),
        )
        .route("/v1/sessions/current", delete(users::log_out))
        .route("/v1/todos", post(todos::create).get(todos::list))
        .route(
            "/v1/todos/{id}",
            get(todos::get).patch(todos::update).delete(todos::delete),
        )
        .route("/v1/todos/{id}/complete", post(todos::complete))
        .route("/v1/todos/{id}/reopen", post(todos::reopen))
        .route(
            "/v1/todos/{id}/tags/{tag}",
            put(todos::add_tag).delete(todos::remove_tag),
        )
        .merge(openapi::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
}
