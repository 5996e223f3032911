//! The operations endpoints: liveness, readiness and metrics.
//!
//! They belong to the process, not to a protocol, so every build serves them on its
//! listener, whichever protocols it has: a gRPC-only server is probed and scraped like any
//! other. The composition root mounts [`router`] beside the protocols' routes, and REST's
//! OpenAPI document describes these handlers, as the same listener serves them.
//!
//! This crate knows no use case, so readiness comes in as a [`ReadinessCheck`]: the
//! composition root passes one that runs the readiness use case.

use std::{collections::BTreeMap, fmt, future::Future, pin::Pin, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::Metrics;

/// The readiness report: each backing service and whether it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// Each configured service: `up` or `down`.
    checks: BTreeMap<&'static str, &'static str>,
}

impl Readiness {
    /// The report over each service's name and whether it answered: ready when all did.
    /// Readiness is decided over every check, before two of one name could be merged into
    /// one entry, so it is what gRPC health decides from the same checks.
    pub fn new(checks: impl IntoIterator<Item = (&'static str, bool)>) -> Self {
        let mut ready = true;
        let checks: BTreeMap<_, _> = checks
            .into_iter()
            .map(|(name, up)| {
                ready &= up;
                (name, if up { "up" } else { "down" })
            })
            .collect();
        Self {
            status: if ready { "ready" } else { "unavailable" },
            checks,
        }
    }

    /// Whether every service answered.
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// What `/readyz` runs: checks the backing services, and reports.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Readiness> + Send>> + Send + Sync>;

/// The state of the operations routes.
#[derive(Clone)]
pub struct Operations {
    readiness: ReadinessCheck,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Operations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

/// `/healthz`, `/readyz` and `/metrics`, over `readiness` and the `metrics` that the shared
/// layers record.
pub fn router(readiness: ReadinessCheck, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(Operations { readiness, metrics })
}

/// The answer to a path no route serves, for a listener without REST, whose own fallback
/// says the same: the shared layers make it a `not_found` problem with this detail.
pub async fn no_such_route() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "no such route")
}

/// Whether a request to `route` answered with `status` is routine: a probe or a scrape
/// that succeeded. The orchestrator and the scraper send them every few seconds.
pub(crate) fn is_routine(route: &str, status: u16) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics") && status < 400
}

/// Liveness: the process is running. Does no I/O, so a slow database never gets a live
/// process restarted.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn live() -> StatusCode {
    StatusCode::OK
}

/// Readiness: every configured backing service answers. 503 names the ones that do not.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "A backing service is down", body = Readiness),
))]
pub async fn ready(State(operations): State<Operations>) -> impl IntoResponse {
    let report = (operations.readiness)().await;
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

/// The media type of what [`Metrics::render`] writes: OpenMetrics 1.0, which Prometheus
/// scrapes. It must be named as such: read as Prometheus' older text format
/// (`text/plain; version=0.0.4`), a counter declared as `x` whose samples are `x_total`
/// would lose its type.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request counts and latencies in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics", responses((status = 200, description = "Prometheus metrics, in the OpenMetrics 1.0 text format", content_type = "application/openmetrics-text")))]
pub async fn metrics_text(State(operations): State<Operations>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        operations.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_service_is_up() {
        assert!(Readiness::new([("database", true), ("redis", true)]).is_ready());
        assert!(Readiness::new([]).is_ready());
        let down = Readiness::new([("database", true), ("redis", false)]);
        assert!(!down.is_ready());
        // Two checks of one name: one entry, and not ready if either is down.
        assert!(!Readiness::new([("redis", false), ("redis", true)]).is_ready());
        let json = serde_json::to_value(&down).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": "unavailable",
                "checks": {"database": "up", "redis": "down"},
            })
        );
    }
}
