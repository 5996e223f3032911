//! `grpc.health.v1.Health`, following the same readiness checks as the HTTP `/readyz`.
//!
//! tonic-health serves `Check` and `Watch` from statuses it holds; [`ReadinessWatch`] keeps
//! them current by running the readiness use case every interval. So a load balancer that
//! watches health sees NOT_SERVING within one interval of Postgres going away, and SERVING
//! again within one interval of its return, and one probe serves any number of watchers.

use std::{sync::Arc, time::Duration};

use application::UseCases;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    api::{todo_service_server::TodoServiceServer, user_service_server::UserServiceServer},
    todos::TodoApi,
    users::UserApi,
};

/// The names health reports on: the whole server (`""`) and each API service.
const SERVICES: &[&str] = &[
    "",
    <TodoServiceServer<TodoApi> as NamedService>::NAME,
    <UserServiceServer<UserApi> as NamedService>::NAME,
];

/// Keeps the health statuses in step with readiness. Run it with [`ReadinessWatch::run`]
/// for as long as the server serves.
#[derive(Debug)]
pub struct ReadinessWatch {
    pub(crate) reporter: HealthReporter,
    pub(crate) use_cases: Arc<UseCases>,
    pub(crate) interval: Duration,
    /// The status last reported, so that only changes are reported.
    pub(crate) last: Option<ServingStatus>,
}

impl ReadinessWatch {
    /// Checks readiness once and reports it. The server calls it before it accepts the
    /// first connection, so that health never answers for a service it does not know yet.
    pub async fn check_now(&mut self) -> ServingStatus {
        let status = self.readiness().await;
        self.set(status).await;
        self.last = Some(status);
        status
    }

    async fn readiness(&self) -> ServingStatus {
        if self.use_cases.readiness.execute().await.is_ready() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }

    /// Checks readiness every interval until `shutdown`; then reports NOT_SERVING, so that
    /// watchers stop sending calls to an instance that is draining.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last = self.last;
        loop {
            let status = self.readiness().await;
            // Only a change is reported, so that watchers hear of changes and nothing else.
            if last != Some(status) {
                tracing::info!(?status, "gRPC health changed");
                self.set(status).await;
                last = Some(status);
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
        self.set(ServingStatus::NotServing).await;
    }

    async fn set(&self, status: ServingStatus) {
        for service in SERVICES {
            self.reporter.set_service_status(*service, status).await;
        }
    }
}
