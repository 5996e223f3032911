//! Liveness, readiness and metrics.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiState;

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
    let mut checks = std::collections::BTreeMap::new();
    for probe in state.probes.iter() {
        let up = match probe.check().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(
                    service = probe.name(),
                    error = &error as &dyn std::error::Error,
                    "readiness check failed"
                );
                false
            }
        };
        checks.insert(probe.name(), if up { "up" } else { "down" });
    }
    let ready = checks.values().all(|status| *status == "up");
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
