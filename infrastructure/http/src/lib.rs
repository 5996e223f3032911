//! The HTTP layers shared by the driving adapters that sit on the one listener (REST and
//! GraphQL; gRPC has its own status codes but shares the listener).
//!
//! - [`with_layers`]: wraps a router in every cross-cutting layer, in the right order.
//! - `observability`: request ids, the per-request span, and Prometheus [`Metrics`].
//! - `limits`: the request timeout and the body limit.
//! - `connections`: the [`ConnectionSlot`] a request's connection holds, which a WebSocket
//!   keeps for as long as it lives.
//! - [`operations`]: `/healthz`, `/readyz` and `/metrics`, which every build serves.
//! - [`problem`]: RFC 9457 problem bodies, and the guarantee that every error response is
//!   one, whoever made it.
//! - [`browser_page_headers`] and [`strict_browser_page_headers`]: the security headers of
//!   the pages a browser renders; [`BodyInBinary`] marks their compiled-in assets.
//!
//! Nothing here knows a use case: the adapters do, and this crate knows only HTTP.

mod connections;
mod limits;
mod observability;
pub mod operations;
mod pages;
pub mod problem;

pub use connections::ConnectionSlot;
pub use limits::{InFlightLimit, InFlightPermit};
pub use observability::{Metrics, current_request_id};
pub use pages::{BodyInBinary, browser_page_headers, strict_browser_page_headers};
pub use problem::{FieldError, Problem};

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, header},
    middleware,
};
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

/// The largest request body accepted; larger ones get 413.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// The request id header: taken from the client when sent, made otherwise, and echoed on
/// every answer that passes the shared layers (a CORS preflight is answered before them).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client, in bytes. The id goes into every log line
/// and span of its request: a longer one (or an empty one, or one that is not visible
/// ASCII) is replaced by a fresh UUID, on REST and gRPC alike.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The client's request id in `value`, if it is one this service keeps (see
/// [`MAX_REQUEST_ID_BYTES`]).
pub fn usable_request_id(value: &HeaderValue) -> Option<&str> {
    // Visible ASCII only: `to_str` lets a space and a tab through, which would split the id
    // in a plain-text log line.
    value.to_str().ok().filter(|v| {
        !v.is_empty() && v.len() <= MAX_REQUEST_ID_BYTES && v.bytes().all(|b| b.is_ascii_graphic())
    })
}

/// Drops an `x-request-id` this service does not keep, so that `SetRequestIdLayer` makes
/// a fresh one in its place.
async fn drop_unusable_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    if request
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|v| usable_request_id(v).is_none())
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// HTTP settings that come from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Origins allowed to call the API from a browser; empty disables CORS.
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// The requests in flight at once, shared with the other protocols; past it, 503
    /// `overloaded`. `None` is no limit.
    pub in_flight: Option<InFlightLimit>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            cors_allowed_origins: Vec::new(),
            in_flight: None,
        }
    }
}

/// `routes` behind every shared layer, with `metrics` counting each request.
///
/// The layers run in the order they are listed: the CORS check (when origins are
/// configured; it answers a preflight itself), a client's request id checked and the
/// request id set, then the span and metrics see every request that got this far, then a
/// request past [`HttpSettings::in_flight`] is shed, then any bare error response becomes
/// a problem, then the timeout, then the check of the announced body size, then the body
/// limit that the extractors enforce while reading.
///
/// They are composed into one stack and put on the router once. Each `Router::layer` call
/// wraps every route in a boxed service of its own, and axum clones a route's whole
/// service for every request at every boxed level, so the nine layers of the default
/// configuration, added one by one, cost some 70 boxed clones per request, where one
/// stack of the same layers costs a handful.
pub fn with_layers(routes: Router, settings: &HttpSettings, metrics: Arc<Metrics>) -> Router {
    let cors = (!settings.cors_allowed_origins.is_empty()).then(|| {
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
            .expose_headers([header::ETAG, header::LOCATION, REQUEST_ID])
    });
    let shed = settings
        .in_flight
        .clone()
        .map(|limit| middleware::from_fn_with_state(limit, limits::shed_load));
    routes.layer(
        ServiceBuilder::new()
            .option_layer(cors)
            .layer(middleware::map_request(drop_unusable_request_id))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn_with_state(
                metrics,
                observability::observe,
            ))
            .option_layer(shed)
            .layer(middleware::from_fn(problem::problems_only))
            .layer(middleware::from_fn_with_state(
                settings.request_timeout,
                limits::timeout,
            ))
            .layer(middleware::from_fn_with_state(
                BODY_LIMIT_BYTES,
                limits::reject_oversized,
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
    )
}
