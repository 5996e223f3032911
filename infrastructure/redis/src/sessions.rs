//! Sessions on Redis, with an index by user.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::{Clock, SessionStore},
    session::{Session, SessionTokenHash},
    user::UserId,
};
use redis::{Script, aio::ConnectionManager};

use crate::{cacheable, classify, settle};
use driven_records::compact::{self, Decoded};

/// Stores a session and adds it to its user's index, in one step.
///
/// The index is a sorted set of token hashes scored by expiry (ms since the epoch), so each
/// login also drops the entries of sessions that have expired: the index stays as small as
/// the user's live sessions. The index itself lives as long as its longest session.
///
/// KEYS: the session, the user's index. ARGV: value, TTL in ms, token hash, expiry in ms,
/// now in ms.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
        if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
            redis.call('PEXPIRE', KEYS[2], ARGV[2])
        end
        return 1
        ",
    )
});

/// Deletes every session in a user's index, and the index, in one step: a login that
/// happens at the same time is either entirely before (and deleted) or entirely after
/// (and kept, indexed).
///
/// The session keys are built inside the script from their prefix, so this assumes one
/// Redis server, not a cluster (where every key a script touches must be declared).
///
/// KEYS: the user's index. ARGV: the session key prefix.
static DELETE_ALL_OF_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local hashes = redis.call('ZRANGE', KEYS[1], 0, -1)
        for _, hash in ipairs(hashes) do
            redis.call('DEL', ARGV[1] .. hash)
        end
        redis.call('DEL', KEYS[1])
        return #hashes
        ",
    )
});

/// [`SessionStore`] on Redis: one value per session (in the [`compact`] form) under
/// `<prefix>session:<sha256 hex of the token>`, with the session's expiry as the key's TTL,
/// so Redis forgets expired sessions by itself; and one sorted set per user under
/// `<prefix>user-sessions:<user id>` indexing their sessions, for "log out everywhere".
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: ConnectionManager,
    session_prefix: String,
    index_prefix: String,
    clock: Arc<dyn Clock>,
}

impl RedisSessionStore {
    /// A store on `redis` with keys under `key_prefix`; `clock` turns expiry times into TTLs.
    pub fn new(redis: ConnectionManager, key_prefix: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            redis,
            session_prefix: format!("{key_prefix}session:"),
            index_prefix: format!("{key_prefix}user-sessions:"),
            clock,
        }
    }

    fn key(&self, token_hash: &SessionTokenHash) -> String {
        format!("{}{}", self.session_prefix, token_hash.to_hex())
    }

    fn index_key(&self, user: UserId) -> String {
        format!("{}{}", self.index_prefix, user)
    }

    /// The session stored under `token_hash`, if any, in a format this release reads.
    async fn read(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, InfraError> {
        let mut conn = self.redis.clone();
        let value: Option<Vec<u8>> = cacheable("GET")
            .arg(self.key(token_hash))
            .query_async(&mut conn)
            .await
            .map_err(|e| classify("read session", e))?;
        let Some(value) = value else { return Ok(None) };
        match compact::decode_session(&value, *token_hash)? {
            Decoded::Value(session) => Ok(Some(session)),
            // Written by a newer release; this one cannot tell what it says, so the token
            // does not authenticate here. Roll out readers of a format before its writers.
            Decoded::UnknownFormat(format) => {
                tracing::warn!(format, "a session in an unknown format is ignored");
                Ok(None)
            }
        }
    }
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("session_prefix", &self.session_prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    #[tracing::instrument(target = "ports", level = "debug", name = "redis.sessions.create", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn create(&self, session: &Session) -> Result<(), InfraError> {
        let now = self.clock.now();
        let ttl_ms = (session.expires_at - now).num_milliseconds();
        let Ok(ttl_ms) = u64::try_from(ttl_ms) else {
            return Ok(()); // Already expired: storing it would only be forgotten at once.
        };
        if ttl_ms == 0 {
            return Ok(());
        }
        let value = compact::encode_session(session);
        let mut conn = self.redis.clone();
        CREATE
            .key(self.key(&session.token_hash))
            .key(self.index_key(session.user_id))
            .arg(value)
            .arg(ttl_ms)
            .arg(session.token_hash.to_hex())
            .arg(session.expires_at.timestamp_millis())
            .arg(now.timestamp_millis())
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(|e| classify("store session", e))?;
        settle(&mut conn, "store session").await
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.sessions.get", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, InfraError> {
        let session = self.read(token_hash).await?;
        // Redis expires keys with millisecond precision on its own clock; this keeps the
        // answer exact on ours.
        Ok(session.filter(|s| !s.is_expired(self.clock.now())))
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.sessions.delete", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<(), InfraError> {
        // The session names its user, whose index must lose it too. Logging out is rare
        // enough that the extra read costs nothing that matters.
        let user = match self.read(token_hash).await {
            Ok(session) => session.map(|s| s.user_id),
            // An undecodable value is deleted all the same; its index entry expires.
            Err(error) if error.kind() == domain::error::InfraErrorKind::Internal => None,
            Err(error) => return Err(error),
        };
        let mut pipe = redis::pipe();
        pipe.atomic().del(self.key(token_hash)).ignore();
        if let Some(user) = user {
            pipe.zrem(self.index_key(user), token_hash.to_hex())
                .ignore();
        }
        let mut conn = self.redis.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| classify("delete session", e))?;
        settle(&mut conn, "delete session").await
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.sessions.delete_all_of_user", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn delete_all_of_user(&self, user: UserId) -> Result<(), InfraError> {
        let mut conn = self.redis.clone();
        let ended: u64 = DELETE_ALL_OF_USER
            .key(self.index_key(user))
            .arg(&self.session_prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| classify("delete the sessions of a user", e))?;
        tracing::debug!(ended, "sessions deleted");
        settle(&mut conn, "delete the sessions of a user").await
    }
}
