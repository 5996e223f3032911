//! Request ids, the per-request span, and Prometheus metrics.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
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

use crate::operations;

tokio::task_local! {
    /// The id of the request being handled, so that error bodies can carry it without every
    /// handler passing it along.
    static REQUEST_ID: String;
}

/// The current request's id, when called while handling one: for error bodies and for the
/// logs of whatever runs inside the request.
pub fn current_request_id() -> Option<String> {
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

    /// The registry `/metrics` renders, for another protocol on the listener (gRPC) to
    /// register its own metrics in, before the server starts.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    fn record(&self, labels: RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in the OpenMetrics text format (see [`crate::operations::OPENMETRICS`]).
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
    // The span's name in a trace view, and its kind, only when traces are exported: the
    // log lines, which also carry the span's fields, do not need them.
    let span = if trace_context::exporting() {
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{method} {route}"),
            otel.kind = "server",
            %method,
            %route,
            request_id = %request_id,
        );
        // A caller that sends `traceparent` gets its trace continued here.
        trace_context::continue_from_headers(&span, request.headers());
        span
    } else {
        tracing::info_span!("request", %method, %route, request_id = %request_id)
    };

    let response = REQUEST_ID
        .scope(request_id, next.run(request))
        .instrument(span.clone())
        .await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let latency_ms = elapsed.as_secs_f64() * 1e3;
    span.in_scope(|| {
        // The orchestrator's probes and the scraper call every few seconds, for the life
        // of the process: their answers are news only when something is wrong.
        if operations::is_routine(&route, status) {
            tracing::debug!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use crate::{HttpSettings, Metrics, operations, with_layers};

    /// The level of each "request finished" line logged while `requests` are served.
    async fn finished_levels(requests: &[&str], ready: bool) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer({
                let lines = lines.clone();
                move || Captured(lines.clone())
            })
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);

        let metrics = Arc::new(Metrics::new());
        let readiness: operations::ReadinessCheck = Arc::new(move || {
            Box::pin(async move { operations::Readiness::new([("postgres", ready)]) })
        });
        let routes = Router::new()
            .route("/v1/todos", get(|| async { "[]" }))
            .merge(operations::router(readiness, metrics.clone()));
        let app = with_layers(routes, &HttpSettings::default(), metrics);
        for path in requests {
            let request = Request::get(*path).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let lines = lines.lock().unwrap();
        String::from_utf8_lossy(&lines)
            .lines()
            .filter_map(|line| {
                let line: serde_json::Value = serde_json::from_str(line).unwrap();
                (line["fields"]["message"] == "request finished")
                    .then(|| line["level"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    #[derive(Clone)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn probes_and_scrapes_that_succeed_are_logged_at_debug_and_everything_else_at_info() {
        let levels = finished_levels(
            &["/healthz", "/readyz", "/metrics", "/v1/todos", "/nope"],
            true,
        )
        .await;
        assert_eq!(levels, ["DEBUG", "DEBUG", "DEBUG", "INFO", "INFO"]);
        // A probe that fails is news.
        assert_eq!(finished_levels(&["/readyz"], false).await, ["INFO"]);
    }
}
