//! Whether Postgres answers.

use std::time::Duration;

use async_trait::async_trait;
use domain::{error::InfraError, ports::ReadinessProbe};
use sqlx::PgPool;

/// [`ReadinessProbe`] for Postgres: `SELECT 1` on the pool, which must answer within the
/// probe's patience.
///
/// A server that is down fails the ping within the pool's acquire timeout, but one that
/// hangs (a network that drops packets, a server stuck on a lock) leaves a pooled
/// connection waiting for as long as TCP does. The patience bounds that wait: a server
/// that does not answer in time is down, so `/readyz` names it rather than running into
/// the request's timeout, and gRPC health, which checks readiness over and over, goes to
/// NOT_SERVING rather than keeping the last status for as long as the wait lasts.
#[derive(Debug, Clone)]
pub struct PgReadiness {
    pool: PgPool,
    patience: Duration,
}

impl PgReadiness {
    /// A probe over `pool` that waits at most `patience` for an answer.
    pub fn new(pool: PgPool, patience: Duration) -> Self {
        Self { pool, patience }
    }
}

#[async_trait]
impl ReadinessProbe for PgReadiness {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), InfraError> {
        tokio::time::timeout(self.patience, crate::ping(&self.pool))
            .await
            .unwrap_or_else(|_| {
                Err(InfraError::unavailable(
                    "ping database",
                    format!("no answer within {} ms", self.patience.as_millis()),
                ))
            })
    }
}
