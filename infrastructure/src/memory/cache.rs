//! The todo read cache in memory.

use std::time::Duration;

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::TodoCache,
    todo::{Todo, TodoId},
};
use moka::future::Cache;

/// [`TodoCache`] in process memory, on moka: bounded in size, with a time-to-live.
#[derive(Debug, Clone)]
pub struct MemoryTodoCache {
    entries: Cache<TodoId, Todo>,
}

impl MemoryTodoCache {
    /// A cache of at most `capacity` todos, each kept for at most `ttl`.
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
        Ok(self.entries.get(&id).await)
    }

    async fn put(&self, todo: &Todo) -> Result<(), InfraError> {
        self.entries.insert(todo.id(), todo.clone()).await;
        Ok(())
    }

    async fn invalidate(&self, id: TodoId) -> Result<(), InfraError> {
        self.entries.invalidate(&id).await;
        Ok(())
    }
}
