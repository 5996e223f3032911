//! Reading one todo, through the cache.

use domain::{
    error::InfraError,
    todo::{Todo, TodoId},
};

use super::TodoPorts;
use crate::{Actor, AppError};

/// Why a todo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GetTodoError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Reads one of the actor's todos, cache-aside.
#[derive(Debug, Clone)]
pub struct GetTodo {
    ports: TodoPorts,
}

impl GetTodo {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// The actor's todo with `id`.
    ///
    /// Cache-aside: a hit skips the repository; a miss reads the repository and fills the
    /// cache. A cache that fails is logged and treated as a miss, so a broken cache slows
    /// reads down but never fails them.
    #[tracing::instrument(name = "get_todo", skip_all, fields(user_id = %actor.id, todo_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: TodoId) -> Result<Todo, GetTodoError> {
        let cached = match self.ports.cache.get(id).await {
            Ok(hit) => hit,
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "todo cache read failed; reading the database"
                );
                None
            }
        };
        let todo = match cached {
            Some(todo) => todo,
            None => {
                let todo = self
                    .ports
                    .todos
                    .get(id)
                    .await?
                    .ok_or(GetTodoError::NotFound)?;
                if let Err(error) = self.ports.cache.put(&todo).await {
                    tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "todo cache fill failed"
                    );
                }
                todo
            }
        };
        // The ownership check comes after the cache, so a hit is checked exactly like a miss.
        if todo.owner() == actor.id {
            Ok(todo)
        } else {
            Err(GetTodoError::NotFound)
        }
    }
}

impl From<GetTodoError> for AppError {
    fn from(error: GetTodoError) -> Self {
        match error {
            GetTodoError::NotFound => AppError::not_found("no such todo"),
            GetTodoError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{MockTodoCache, MockTodoRepository};

    use super::*;
    use crate::test_support::*;

    fn use_case(todos: MockTodoRepository, cache: MockTodoCache) -> GetTodo {
        GetTodo::new(todo_ports(todos, cache))
    }

    #[tokio::test]
    async fn a_cache_hit_skips_the_repository() {
        let actor = member();
        let todo = todo_of(&actor);
        let (id, hit) = (todo.id(), todo.clone());
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(move |_| Ok(Some(hit.clone())));
        let mut todos = MockTodoRepository::new();
        todos.expect_get().never();

        assert_eq!(
            use_case(todos, cache).execute(&actor, id).await.unwrap(),
            todo
        );
    }

    #[tokio::test]
    async fn a_miss_reads_the_repository_and_fills_the_cache() {
        let actor = member();
        let todo = todo_of(&actor);
        let (id, stored) = (todo.id(), todo.clone());
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(|_| Ok(None));
        cache
            .expect_put()
            .withf(move |t| t.id() == id)
            .times(1)
            .returning(|_| Ok(()));
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));

        assert_eq!(
            use_case(todos, cache).execute(&actor, id).await.unwrap(),
            todo
        );
    }

    #[tokio::test]
    async fn a_broken_cache_falls_back_to_the_repository() {
        let actor = member();
        let todo = todo_of(&actor);
        let (id, stored) = (todo.id(), todo.clone());
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(|_| Err(infra_down()));
        cache.expect_put().returning(|_| Err(infra_down()));
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));

        assert_eq!(
            use_case(todos, cache).execute(&actor, id).await.unwrap(),
            todo
        );
    }

    #[tokio::test]
    async fn someone_elses_todo_is_not_found_whether_cached_or_not() {
        let todo = todo_of(&member());
        let id = todo.id();
        let hit = todo.clone();
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(move |_| Ok(Some(hit.clone())));
        let err = use_case(MockTodoRepository::new(), cache)
            .execute(&member(), id)
            .await
            .unwrap_err();
        assert!(matches!(err, GetTodoError::NotFound), "{err:?}");

        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(|_| Ok(None));
        cache.expect_put().returning(|_| Ok(()));
        let mut todos = MockTodoRepository::new();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(todo.clone())));
        let err = use_case(todos, cache)
            .execute(&member(), id)
            .await
            .unwrap_err();
        assert!(matches!(err, GetTodoError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn a_missing_todo_is_not_found() {
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(|_| Ok(None));
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Ok(None));

        let err = use_case(todos, cache)
            .execute(&member(), TodoId::from_uuid(uuid::Uuid::now_v7()))
            .await
            .unwrap_err();

        assert!(matches!(err, GetTodoError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn a_repository_failure_is_passed_on() {
        let mut cache = MockTodoCache::new();
        cache.expect_get().returning(|_| Ok(None));
        let mut todos = MockTodoRepository::new();
        todos.expect_get().returning(|_| Err(infra_down()));

        let err = use_case(todos, cache)
            .execute(&member(), TodoId::from_uuid(uuid::Uuid::now_v7()))
            .await
            .unwrap_err();

        assert!(matches!(err, GetTodoError::Infra(_)), "{err:?}");
    }
}
