//! Liveness, readiness and metrics.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;

/// The readiness report: each backing service and whether it answered.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    /// Each configured service: `up` or `down`.
    checks: std::collections::BTreeMap<&'static str, &'static str>,
}

/// Liveness: the process is running. Does no I/O, so a slow database never gets a live
/// process restarted.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub(crate) async fn live() -> StatusCode {
    StatusCode::OK
}

/// Readiness: every configured backing service answers. 503 names the ones that do not.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "A backing service is down", body = Readiness),
))]
pub(crate) async fn ready(State(state): State<ApiState>) -> impl IntoResponse {
    let report = state.use_cases.readiness.execute().await;
    let checks = report
        .checks
        .iter()
        .map(|check| (check.name, if check.up { "up" } else { "down" }))
        .collect();
    let ready = report.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "unavailable" },
            checks,
        }),
    )
}

/// Request counts and latencies in Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
