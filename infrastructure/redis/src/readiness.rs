//! Whether Redis answers.

use std::time::Duration;

use async_trait::async_trait;
use domain::{error::InfraError, ports::ReadinessProbe};
use redis::aio::ConnectionManager;

/// [`ReadinessProbe`] for Redis: `PING`, which must answer within the probe's patience
/// (whatever the connection's own response timeout, which may be off), as Postgres' probe
/// must.
#[derive(Clone)]
pub struct RedisReadiness {
    redis: ConnectionManager,
    patience: Duration,
}

impl RedisReadiness {
    /// A probe over `redis` that waits at most `patience` for an answer.
    pub fn new(redis: ConnectionManager, patience: Duration) -> Self {
        Self { redis, patience }
    }
}

impl std::fmt::Debug for RedisReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisReadiness")
    }
}

#[async_trait]
impl ReadinessProbe for RedisReadiness {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), InfraError> {
        tokio::time::timeout(self.patience, crate::ping(&self.redis))
            .await
            .unwrap_or_else(|_| {
                Err(InfraError::unavailable(
                    "ping redis",
                    format!("no answer within {} ms", self.patience.as_millis()),
                ))
            })
    }
}
