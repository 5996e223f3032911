//! Request ids, the per-request span, Prometheus metrics, the request timeout, and the
//! guarantee that every error response is a problem document.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use std::sync::Arc;
use tracing::Instrument;

use crate::error::ApiError;

tokio::task_local! {
    /// The id of the request being handled, so that error bodies can carry it without every
    /// handler passing it along.
    static REQUEST_ID: String;
}

/// The current request's id, when called while handling one.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The labels of both metrics. Every label has a bounded set of values, because each new
/// combination is a series that lives as long as the process: `route` is the route template
/// (`/v1/todos/{id}`) or `unmatched`, never the raw path, and `method` is a standard method
/// or `other`, never whatever a client invents.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// The HTTP metrics, in a registry of their own (no global state, so tests can run many
/// servers in one process).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.5 ms to ~4 s in 14 doubling buckets.
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let mut registry = Registry::default();
        registry.register("http_requests", "HTTP requests handled", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            latency,
        }
    }

    fn record(&self, labels: RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One span per request, carrying the request id; one log line when it ends; metrics.
///
/// Runs inside `SetRequestIdLayer`, so the `x-request-id` header is always present: the
/// client's if it sent one, a fresh UUID otherwise.
pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let span = tracing::info_span!("request", %method, %route, request_id = %request_id);

    let response = REQUEST_ID
        .scope(request_id, next.run(request))
        .instrument(span.clone())
        .await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1e3,
            "request finished"
        )
    });
    metrics.record(
        RequestLabels {
            method,
            route,
            status,
        },
        elapsed,
    );
    response
}

/// The metric label for `method`: the standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The longest body of a bare error response that is read to become a problem's detail.
const BARE_ERROR_BODY_LIMIT: usize = 4096;

/// Turns any error response that is not already a problem document into one.
///
/// Handlers and extractors answer with problems by construction; this catches the rest:
/// rejections from a framework layer, routes added by libraries (the docs page), anything
/// a future change forgets. A client can then rely on one error format everywhere. The
/// plain-text reason of a 4xx becomes the `detail`; a bare 5xx body is never sent.
pub(crate) async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // `application/json` is a documented body of its own (the readiness report).
    if !(status.is_client_error() || status.is_server_error())
        || content_type.starts_with("application/problem+json")
        || content_type.starts_with("application/json")
    {
        return response;
    }
    let mut problem = ApiError::from_status(status);
    if status.is_client_error() {
        let body = axum::body::to_bytes(response.into_body(), BARE_ERROR_BODY_LIMIT).await;
        if let Some(text) = body
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .filter(|text| !text.trim().is_empty())
        {
            problem = problem.detail(text);
        }
    }
    problem.into_response()
}

/// Answers 503 when a request takes longer than the configured timeout, so a stuck
/// dependency cannot hold a client (and a connection) forever.
pub(crate) async fn timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout()
            .detail(format!("no answer within {} ms", limit.as_millis()))
            .into_response(),
    }
}

/// Answers 413 at once when `Content-Length` announces a body over `limit`, before a single
/// byte of it is read. Bodies without a length (chunked) are still cut off at the limit by
/// the JSON extractor; this only spares the server from reading what it will refuse anyway.
pub(crate) async fn reject_oversized(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(length) if length > limit as u64 => ApiError::payload_too_large().into_response(),
        _ => next.run(request).await,
    }
}
