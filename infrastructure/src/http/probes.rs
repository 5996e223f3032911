//! Readiness probes: can this instance serve traffic right now?

use async_trait::async_trait;
use domain::error::InfraError;

use crate::{postgres, redis};

/// One backing service that `/readyz` checks.
#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// The service's name in the readiness report.
    fn name(&self) -> &'static str;

    /// Succeeds when the service answers.
    async fn check(&self) -> Result<(), InfraError>;
}

/// Checks Postgres with `SELECT 1`.
#[derive(Debug, Clone)]
pub struct PostgresProbe(pub postgres::PgPool);

#[async_trait]
impl ReadinessProbe for PostgresProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), InfraError> {
        postgres::ping(&self.0).await
    }
}

/// Checks Redis with `PING`.
#[derive(Clone)]
pub struct RedisProbe(pub redis::ConnectionManager);

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisProbe")
    }
}

#[async_trait]
impl ReadinessProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), InfraError> {
        redis::ping(&self.0).await
    }
}
