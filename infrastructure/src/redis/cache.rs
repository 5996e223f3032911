//! The todo read cache on Redis.

use std::time::Duration;

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::TodoCache,
    todo::{Todo, TodoId},
};
use redis::{AsyncCommands, aio::ConnectionManager};

use super::classify;
use crate::stored::TodoRecord;

/// [`TodoCache`] on Redis: one JSON value per todo under `<prefix>todo:<id>`, expiring
/// after a fixed time-to-live.
#[derive(Clone)]
pub struct RedisTodoCache {
    redis: ConnectionManager,
    key_prefix: String,
    ttl_secs: u64,
}

impl RedisTodoCache {
    /// A cache on `redis` with keys under `key_prefix`, each kept for `ttl` (at least one
    /// second, Redis' unit for `EX`).
    pub fn new(redis: ConnectionManager, key_prefix: &str, ttl: Duration) -> Self {
        Self {
            redis,
            key_prefix: format!("{key_prefix}todo:"),
            ttl_secs: ttl.as_secs().max(1),
        }
    }

    fn key(&self, id: TodoId) -> String {
        format!("{}{}", self.key_prefix, id)
    }
}

impl std::fmt::Debug for RedisTodoCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTodoCache")
            .field("key_prefix", &self.key_prefix)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TodoCache for RedisTodoCache {
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        let mut conn = self.redis.clone();
        let value: Option<String> = conn
            .get(self.key(id))
            .await
            .map_err(|e| classify("read cached todo", e))?;
        let Some(value) = value else { return Ok(None) };
        // An entry that no longer decodes (written by an older release, say) is an error;
        // the caller falls back to the database and overwrites it.
        let record: TodoRecord = serde_json::from_str(&value)
            .map_err(|e| InfraError::internal("decode cached todo", e))?;
        Ok(Some(Todo::try_from(record)?))
    }

    async fn put(&self, todo: &Todo) -> Result<(), InfraError> {
        let value = serde_json::to_string(&TodoRecord::from(todo))
            .map_err(|e| InfraError::internal("encode todo", e))?;
        let mut conn = self.redis.clone();
        conn.set_ex::<_, _, ()>(self.key(todo.id()), value, self.ttl_secs)
            .await
            .map_err(|e| classify("cache todo", e))
    }

    async fn invalidate(&self, id: TodoId) -> Result<(), InfraError> {
        let mut conn = self.redis.clone();
        conn.del::<_, ()>(self.key(id))
            .await
            .map_err(|e| classify("invalidate cached todo", e))
    }
}
