//! The todo read cache in memory.

use std::time::Duration;

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::TodoCache,
    todo::{Todo, TodoId, Version},
};
use moka::{future::Cache, ops::compute::Op};

/// What the cache holds for one id: a todo, or the tombstone an invalidation leaves.
#[derive(Debug, Clone)]
enum Slot {
    Cached(Todo),
    /// Invalidated after a write of this version; older versions may not be put back.
    Invalidated(Version),
}

impl Slot {
    /// The newest version this slot knows of.
    fn version(&self) -> Version {
        match self {
            Slot::Cached(todo) => todo.version(),
            Slot::Invalidated(version) => *version,
        }
    }
}

/// [`TodoCache`] in process memory, on moka: bounded in size, with a time-to-live.
///
/// Puts and invalidations go through moka's `and_compute_with`, which runs the
/// read-compare-write for one key atomically, so a late put of an older version can never
/// overwrite a newer one or an invalidation.
#[derive(Debug, Clone)]
pub struct MemoryTodoCache {
    entries: Cache<TodoId, Slot>,
}

impl MemoryTodoCache {
    /// A cache of at most `capacity` todos (tombstones included), each kept for at most
    /// `ttl`.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }
}

#[async_trait]
impl TodoCache for MemoryTodoCache {
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        Ok(match self.entries.get(&id).await {
            Some(Slot::Cached(todo)) => Some(todo),
            Some(Slot::Invalidated(_)) | None => None,
        })
    }

    async fn put(&self, todo: &Todo) -> Result<(), InfraError> {
        let todo = todo.clone();
        self.entries
            .entry(todo.id())
            .and_compute_with(|current| async move {
                match current {
                    Some(slot) if slot.value().version() > todo.version() => Op::Nop,
                    _ => Op::Put(Slot::Cached(todo)),
                }
            })
            .await;
        Ok(())
    }

    async fn invalidate(&self, id: TodoId, written: Version) -> Result<(), InfraError> {
        self.entries
            .entry(id)
            .and_compute_with(|current| async move {
                let newest = current.map_or(written, |slot| slot.value().version().max(written));
                Op::Put(Slot::Invalidated(newest))
            })
            .await;
        Ok(())
    }
}
