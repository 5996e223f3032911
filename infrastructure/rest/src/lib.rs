//! Driving adapter: the REST API (axum), a thin layer that turns HTTP into use-case calls and
//! back. It knows the use cases and nothing behind them: no driver, no driven adapter.
//!
//! Handlers parse DTOs into domain types, call one use case, and turn the result into a
//! response. No business rule lives here: authorisation, ownership and concurrency are the
//! use cases' job, and every error is mapped to HTTP in exactly one place ([`error`]).
//!
//! - [`router`]: every route, with the cross-cutting layers (request id, tracing, metrics,
//!   timeout, body limit, CORS).
//! - `error`: `ApiError` and the RFC 9457 problem body.
//! - `extract`: JSON bodies, the bearer token, `If-Match`, path ids.
//! - `dto`: request and response bodies, and their conversion at the edge.
//! - `handlers`: one function per route.
//! - `observability`: the request span, request ids and Prometheus metrics.
//! - `openapi`: the OpenAPI 3.1 document, generated from the handlers, and the docs page.

mod dto;
mod error;
mod extract;
mod handlers;
mod observability;
mod openapi;

pub use observability::Metrics;
pub use openapi::ApiDoc;

use std::{sync::Arc, time::Duration};

use application::UseCases;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, header},
    middleware,
    routing::{delete, get, post, put},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

/// The largest request body accepted; larger ones get 413.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// HTTP settings that come from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Origins allowed to call the API from a browser; empty disables CORS.
    pub cors_allowed_origins: Vec<HeaderValue>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// What every handler can reach. Cheap to clone: everything is behind an `Arc`.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub(crate) use_cases: Arc<UseCases>,
    pub(crate) metrics: Arc<Metrics>,
}

impl ApiState {
    /// State over `use_cases`; `/readyz` runs their readiness check.
    pub fn new(use_cases: Arc<UseCases>) -> Self {
        Self {
            use_cases,
            metrics: Arc::new(Metrics::new()),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP API.
pub fn router(state: ApiState, settings: &HttpSettings) -> Router {
    use handlers::{health, todos, users};

    let api = Router::new()
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
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .merge(openapi::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES));

    // Layers run outside-in in the reverse of the order they are added: the request id is
    // set first, then the span and metrics see every request, then any bare error response
    // becomes a problem, then the timeout, then the check of the announced body size.
    let mut app = api
        .layer(middleware::from_fn_with_state(
            BODY_LIMIT_BYTES,
            observability::reject_oversized,
        ))
        .layer(middleware::from_fn_with_state(
            settings.request_timeout,
            observability::timeout,
        ))
        .layer(middleware::from_fn(observability::problems_only))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observability::observe,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state);
    if !settings.cors_allowed_origins.is_empty() {
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(settings.cors_allowed_origins.clone()))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::IF_MATCH,
                    REQUEST_ID,
                ])
                .expose_headers([header::ETAG, header::LOCATION, REQUEST_ID]),
        );
    }
    app
}
