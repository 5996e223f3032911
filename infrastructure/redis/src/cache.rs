//! The todo read cache on Redis.

use std::{sync::LazyLock, time::Duration};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::TodoCache,
    todo::{Todo, TodoId, Version},
};
use redis::{Script, aio::ConnectionManager};

use crate::{cacheable, classify, settle};
use driven_records::compact::{self, Decoded};

/// Stores a todo unless the key holds a newer version (a newer entry, or the tombstone of
/// an invalidation at a newer version). One script, so the compare and the write are atomic.
///
/// A key of another type (a plain string from an older release) is replaced.
///
/// KEYS: the todo's key. ARGV: version, encoded todo, TTL in ms.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
            redis.call('DEL', KEYS[1])
        end
        local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
        if current and current > tonumber(ARGV[1]) then
            return 0
        end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 'todo', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        ",
    )
});

/// Replaces whatever the key holds by a tombstone: the newest version known (the written
/// one, or a newer entry's), and no todo.
///
/// KEYS: the todo's key. ARGV: the written version, TTL in ms.
static INVALIDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local newest = tonumber(ARGV[1])
        if redis.call('TYPE', KEYS[1]).ok == 'hash' then
            local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
            if current and current > newest then
                newest = current
            end
        end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'v', newest)
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
        ",
    )
});

/// [`TodoCache`] on Redis: one hash per todo under `<prefix>todo:<id>`, expiring after a
/// fixed time-to-live. Field `v` is the version; field `todo` is the todo in the
/// [`compact`] form, absent in the tombstone an invalidation leaves. A tombstone lives as
/// long as an entry would, which is how long a late put of an older version must keep
/// losing.
#[derive(Clone)]
pub struct RedisTodoCache {
    redis: ConnectionManager,
    key_prefix: String,
    ttl_ms: u64,
}

impl RedisTodoCache {
    /// A cache on `redis` with keys under `key_prefix`, each kept for `ttl` (at least one
    /// millisecond).
    pub fn new(redis: ConnectionManager, key_prefix: &str, ttl: Duration) -> Self {
        Self {
            redis,
            key_prefix: format!("{key_prefix}todo:"),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
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
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TodoCache for RedisTodoCache {
    #[tracing::instrument(target = "ports", level = "debug", name = "redis.todo_cache.get", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        let mut conn = self.redis.clone();
        let value: Option<Vec<u8>> = cacheable("HGET")
            .arg(self.key(id))
            .arg("todo")
            .query_async(&mut conn)
            .await
            .map_err(|e| classify("read cached todo", e))?;
        let Some(value) = value else { return Ok(None) };
        // An entry that no longer decodes is an error; the caller falls back to the
        // database and overwrites it. One in a format of a newer release is a miss.
        match compact::decode_todo(&value)? {
            Decoded::Value(todo) => Ok(Some(todo)),
            Decoded::UnknownFormat(_) => Ok(None),
        }
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.todo_cache.put", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn put(&self, todo: &Todo) -> Result<(), InfraError> {
        let value = compact::encode_todo(todo);
        let mut conn = self.redis.clone();
        PUT.key(self.key(todo.id()))
            .arg(todo.version().get())
            .arg(value)
            .arg(self.ttl_ms)
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(|e| classify("cache todo", e))?;
        settle(&mut conn, "cache todo").await
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "redis.todo_cache.invalidate", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn invalidate(&self, id: TodoId, written: Version) -> Result<(), InfraError> {
        let mut conn = self.redis.clone();
        INVALIDATE
            .key(self.key(id))
            .arg(written.get())
            .arg(self.ttl_ms)
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(|e| classify("invalidate cached todo", e))?;
        settle(&mut conn, "invalidate cached todo").await
    }
}
