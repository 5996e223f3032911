//! A todo cache that caches nothing, for running with the cache switched off.

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::TodoCache,
    todo::{Todo, TodoId, Version},
};

/// [`TodoCache`] that always misses: every read goes to the repository. Selected with
/// `CACHE_TTL_SECS=0`, to measure what the cache buys or to rule it out while debugging.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTodoCache;

#[async_trait]
impl TodoCache for NoTodoCache {
    async fn get(&self, _: TodoId) -> Result<Option<Todo>, InfraError> {
        Ok(None)
    }

    async fn put(&self, _: &Todo) -> Result<(), InfraError> {
        Ok(())
    }

    async fn invalidate(&self, _: TodoId, _: Version) -> Result<(), InfraError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use domain::{
        todo::{NewTodo, Tags, Title},
        user::UserId,
    };
    use uuid::Uuid;

    use super::*;

    #[tokio::test]
    async fn every_read_misses_even_after_a_put() {
        let new = NewTodo {
            title: Title::new("t").unwrap(),
            description: None,
            due_date: None,
            tags: Tags::default(),
        };
        let todo = Todo::create(
            TodoId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
            new,
            chrono::DateTime::UNIX_EPOCH,
        );

        NoTodoCache.put(&todo).await.unwrap();

        assert_eq!(NoTodoCache.get(todo.id()).await.unwrap(), None);
        NoTodoCache
            .invalidate(todo.id(), todo.version())
            .await
            .unwrap();
    }
}
