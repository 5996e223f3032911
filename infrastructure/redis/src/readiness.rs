//! Whether Redis answers.

use async_trait::async_trait;
use domain::{error::InfraError, ports::ReadinessProbe};
use redis::aio::ConnectionManager;

/// [`ReadinessProbe`] for Redis: `PING`, bounded by the connection's response timeout.
#[derive(Clone)]
pub struct RedisReadiness {
    redis: ConnectionManager,
}

impl RedisReadiness {
    /// A probe over `redis`.
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
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
        crate::ping(&self.redis).await
    }
}
