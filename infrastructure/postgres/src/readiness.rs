//! Whether Postgres answers.

use async_trait::async_trait;
use domain::{error::InfraError, ports::ReadinessProbe};
use sqlx::PgPool;

/// [`ReadinessProbe`] for Postgres: `SELECT 1` on the pool, which fails within the pool's
/// acquire timeout when the server is down.
#[derive(Debug, Clone)]
pub struct PgReadiness {
    pool: PgPool,
}

impl PgReadiness {
    /// A probe over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl ReadinessProbe for PgReadiness {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), InfraError> {
        crate::ping(&self.pool).await
    }
}
