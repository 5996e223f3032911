//! Sessions on Redis.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::{Clock, SessionStore},
    session::{Session, SessionTokenHash},
};
use redis::{AsyncCommands, aio::ConnectionManager};

use super::classify;
use crate::stored::SessionRecord;

/// [`SessionStore`] on Redis: one JSON value per session under
/// `<prefix>session:<sha256 hex of the token>`, with the session's expiry as the key's TTL,
/// so Redis forgets expired sessions by itself.
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: ConnectionManager,
    key_prefix: String,
    clock: Arc<dyn Clock>,
}

impl RedisSessionStore {
    /// A store on `redis` with keys under `key_prefix`; `clock` turns expiry times into TTLs.
    pub fn new(redis: ConnectionManager, key_prefix: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            redis,
            key_prefix: format!("{key_prefix}session:"),
            clock,
        }
    }

    fn key(&self, token_hash: &SessionTokenHash) -> String {
        format!("{}{}", self.key_prefix, token_hash.to_hex())
    }
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, session: &Session) -> Result<(), InfraError> {
        let ttl_ms = (session.expires_at - self.clock.now()).num_milliseconds();
        let Ok(ttl_ms) = u64::try_from(ttl_ms) else {
            return Ok(()); // Already expired: storing it would only be forgotten at once.
        };
        if ttl_ms == 0 {
            return Ok(());
        }
        let value = serde_json::to_string(&SessionRecord::from(session))
            .map_err(|e| InfraError::internal("encode session", e))?;
        let mut conn = self.redis.clone();
        conn.pset_ex::<_, _, ()>(self.key(&session.token_hash), value, ttl_ms)
            .await
            .map_err(|e| classify("store session", e))
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, InfraError> {
        let mut conn = self.redis.clone();
        let value: Option<String> = conn
            .get(self.key(token_hash))
            .await
            .map_err(|e| classify("read session", e))?;
        let Some(value) = value else { return Ok(None) };
        let record: SessionRecord =
            serde_json::from_str(&value).map_err(|e| InfraError::internal("decode session", e))?;
        let session = record.into_session(*token_hash)?;
        // Redis expires keys with millisecond precision on its own clock; this keeps the
        // answer exact on ours.
        Ok(Some(session).filter(|s| !s.is_expired(self.clock.now())))
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<(), InfraError> {
        let mut conn = self.redis.clone();
        conn.del::<_, ()>(self.key(token_hash))
            .await
            .map_err(|e| classify("delete session", e))
    }
}
