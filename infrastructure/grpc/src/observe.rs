//! What every RPC goes through before its service: the request id, one span, the deadline,
//! metrics, and a reason code on every error.
//!
//! These are the gRPC counterparts of the HTTP layers REST and GraphQL share. They cannot be
//! the same layers: a gRPC error is a `grpc-status` (in the headers, or in the trailers after
//! the messages), not an HTTP status, and the deadline is the client's `grpc-timeout`.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use driving_http::usable_request_id;
use http_body_util::BodyExt;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use tonic::{Code, Status};
use tracing::{Instrument, Span};

use crate::status::{grpc_codes, refusal, with_reason};

/// The request id metadata key: the client's when sent, a fresh one otherwise, echoed in
/// the response headers either way.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The label of calls to a method the server does not have. Labels come from a fixed set,
/// so a client that invents paths cannot grow the metrics.
const UNKNOWN: &str = "unknown";

/// `grpc_server_handled_total`'s labels, as go-grpc-prometheus names them.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_service: String,
    grpc_method: String,
    grpc_code: String,
}

/// `grpc_server_handling_seconds`'s labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_service: String,
    grpc_method: String,
}

/// The gRPC metrics. They live in the registry that `/metrics` renders, next to the HTTP
/// ones.
#[derive(Debug, Clone)]
pub struct GrpcMetrics {
    handled: Family<HandledLabels, Counter>,
    handling: Family<MethodLabels, Histogram>,
}

impl GrpcMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let handled = Family::<HandledLabels, Counter>::default();
        // 0.5 ms to ~4 s in 14 doubling buckets, as for HTTP.
        let handling = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "grpc_server_handled",
            "RPCs completed, by service, method and status code",
            handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "RPC latency, until the last message or the status",
            handling.clone(),
        );
        Self { handled, handling }
    }
}

/// The state of [`observe`].
#[derive(Debug, Clone)]
pub(crate) struct Observer {
    pub(crate) metrics: GrpcMetrics,
    /// Every `service/method` the server has: the only values the labels take.
    pub(crate) methods: Arc<HashSet<String>>,
    /// The longest any unary call may run, whatever deadline the client sends.
    pub(crate) max_timeout: Duration,
}

/// Runs one RPC: request id, span, deadline, metrics, reason codes.
pub(crate) async fn observe(
    State(observer): State<Observer>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(usable_request_id)
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let (service, method) = labels(request.uri().path(), &observer.methods);
    // The span's name in a trace view, and its kind, only when traces are exported.
    let span = if trace_context::exporting() {
        let span = tracing::info_span!(
            "rpc",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            request_id = %request_id
        );
        // A caller that sends `traceparent` metadata gets its trace continued here.
        trace_context::continue_from_headers(&span, request.headers());
        span
    } else {
        tracing::info_span!(
            "rpc",
            rpc.service = %service,
            rpc.method = %method,
            request_id = %request_id
        )
    };
    let timeout =
        deadline(request.headers()).map_or(observer.max_timeout, |d| d.min(observer.max_timeout));

    let expired = || {
        refusal(
            Code::DeadlineExceeded,
            grpc_codes::TIMEOUT,
            "the deadline passed before the call completed",
        )
        .into_http::<Body>()
    };
    // A deadline of zero has passed already: the call does not start.
    let response = if timeout.is_zero() {
        expired()
    } else {
        tokio::time::timeout(timeout, next.run(request).instrument(span.clone()))
            .await
            .unwrap_or_else(|_| expired())
    };

    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        parts.headers.insert(REQUEST_ID, value);
    }
    let mut finish = Finish {
        metrics: observer.metrics,
        labels: MethodLabels {
            grpc_service: service,
            grpc_method: method,
        },
        started,
        code: None,
        span,
    };
    // A call that failed before any message answers with its status in the headers
    // ("trailers-only"). Those are the statuses the framework may have made on its own,
    // so this is where each gets a reason code if it has none.
    if let Some(status) = Status::from_header_map(&parts.headers) {
        finish.code = Some(status.code());
        if status.code() != Code::Ok {
            let request_id = parts.headers.remove(REQUEST_ID);
            let (mut reasoned, body) = with_reason(status).into_http::<Body>().into_parts();
            if let Some(id) = request_id {
                reasoned.headers.insert(REQUEST_ID, id);
            }
            return Response::from_parts(reasoned, watch(body, finish));
        }
    }
    Response::from_parts(parts, watch(body, finish))
}

/// `body`, recording `finish` when it is dropped, with the status from the trailers when
/// they come (after the messages; a trailers-only answer already set it).
fn watch(body: Body, mut finish: Finish) -> Body {
    Body::new(body.map_frame(move |frame| {
        // A method call, so the closure owns all of `finish` (a closure that only assigned
        // to `finish.code` would capture a copy of that field, and drop `finish` here).
        finish.saw(frame.trailers_ref());
        frame
    }))
}

/// The outcome of one RPC, recorded and logged when its response body is dropped: after
/// the status was sent, or when the client went away first.
struct Finish {
    metrics: GrpcMetrics,
    labels: MethodLabels,
    started: Instant,
    code: Option<Code>,
    span: Span,
}

impl Finish {
    /// Takes the status from the trailers, when a frame is the trailers.
    fn saw(&mut self, trailers: Option<&HeaderMap>) {
        if let Some(code) = trailers.and_then(code_in) {
            self.code = Some(code);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        // No status seen: the client cancelled, or the connection broke.
        let code = self.code.unwrap_or(Code::Cancelled);
        self.span.in_scope(|| {
            tracing::info!(
                code = ?code,
                latency_ms = elapsed.as_secs_f64() * 1e3,
                "rpc finished"
            );
        });
        self.metrics
            .handled
            .get_or_create(&HandledLabels {
                grpc_service: self.labels.grpc_service.clone(),
                grpc_method: self.labels.grpc_method.clone(),
                grpc_code: code_name(code).to_owned(),
            })
            .inc();
        self.metrics
            .handling
            .get_or_create(&self.labels)
            .observe(elapsed.as_secs_f64());
    }
}

/// The status code in a header or trailer map.
fn code_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// The service and method labels of `path` (`/todo.v1.TodoService/GetTodo`): as they are
/// when the server has that method, `unknown` otherwise.
fn labels(path: &str, methods: &HashSet<String>) -> (String, String) {
    let known = path.strip_prefix('/').filter(|m| methods.contains(*m));
    match known.and_then(|m| m.split_once('/')) {
        Some((service, method)) => (service.to_owned(), method.to_owned()),
        None => (UNKNOWN.to_owned(), UNKNOWN.to_owned()),
    }
}

/// The client's deadline from `grpc-timeout`: at most 8 digits and a unit (`H`, `M`, `S`,
/// `m`, `u`, `n`), per the gRPC over HTTP/2 spec. A malformed value is ignored, as the spec
/// allows, and the server's own limit applies.
fn deadline(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("grpc-timeout")?.to_str().ok()?;
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The canonical name of `code`, as metrics label it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The gRPC side of the process's in-flight limit, shared with the HTTP layers: when every
/// place is taken, UNAVAILABLE (reason `overloaded`, with a `RetryInfo` of one second) at
/// once, rather than a queue. `WatchTodos` streams are not counted: each lasts as long as
/// its client wants, and they have caps of their own (`WATCH_MAX_PER_USER`,
/// `WATCH_MAX_PER_INSTANCE`).
pub(crate) async fn shed_load(
    State(limit): State<driving_http::InFlightLimit>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().ends_with("/WatchTodos") {
        return next.run(request).await;
    }
    match limit.try_enter() {
        Some(permit) => permit.held_by(next.run(request).await),
        None => {
            let mut details = tonic_types::ErrorDetails::with_error_info(
                "overloaded",
                crate::status::ERROR_DOMAIN,
                std::collections::HashMap::new(),
            );
            details.set_retry_info(Some(Duration::from_secs(1)));
            let message = format!(
                "{} requests are in flight, the most this server takes at once; retry shortly",
                limit.max()
            );
            use tonic_types::StatusExt;
            Status::with_error_details(Code::Unavailable, message, details).into_http::<Body>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timeout: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("grpc-timeout", HeaderValue::from_str(timeout).unwrap());
        h
    }

    #[test]
    fn deadlines_parse_as_the_spec_writes_them() {
        assert_eq!(deadline(&headers("5S")), Some(Duration::from_secs(5)));
        assert_eq!(deadline(&headers("250m")), Some(Duration::from_millis(250)));
        assert_eq!(deadline(&headers("1H")), Some(Duration::from_secs(3600)));
        assert_eq!(
            deadline(&headers("99999999n")),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S"] {
            assert_eq!(deadline(&headers(bad)), None, "{bad:?}");
        }
        assert_eq!(deadline(&HeaderMap::new()), None);
    }

    #[test]
    fn labels_come_from_the_known_methods_only() {
        let methods = HashSet::from(["todo.v1.TodoService/GetTodo".to_owned()]);
        assert_eq!(
            labels("/todo.v1.TodoService/GetTodo", &methods),
            ("todo.v1.TodoService".to_owned(), "GetTodo".to_owned())
        );
        for invented in ["/todo.v1.TodoService/Nope", "/x/y", "/", "/a/b/c"] {
            assert_eq!(
                labels(invented, &methods),
                (UNKNOWN.to_owned(), UNKNOWN.to_owned())
            );
        }
    }
}
