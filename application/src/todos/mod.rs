//! Use cases about todos. Every one takes the acting user and enforces ownership: another
//! user's todo is reported as not found, never as forbidden, so ids reveal nothing.

mod count;
mod create;
mod delete;
mod get;
mod list;
mod modify;
mod status;
mod tags;
mod update;

pub use count::{CountTodos, CountTodosError};
pub use create::{CreateTodo, CreateTodoError};
pub use delete::{DeleteTodo, DeleteTodoError};
pub use get::{GetTodo, GetTodoError};
pub use list::{ListTodos, ListTodosError, TodoFilter};
pub use status::{CompleteTodo, ReopenTodo, StatusChangeError};
pub use tags::{AddTag, AddTagError, RemoveTag, RemoveTagError};
pub use update::{UpdateTodo, UpdateTodoError};

use std::sync::Arc;

use domain::{
    error::InfraError,
    ports::{Clock, IdGenerator, TodoCache, TodoRepository},
    todo::{Todo, TodoId, Version},
};

use crate::Actor;

/// The ports every todo use case draws from.
#[derive(Clone)]
pub struct TodoPorts {
    /// The source of truth.
    pub todos: Arc<dyn TodoRepository>,
    /// The read cache, invalidated after every write.
    pub cache: Arc<dyn TodoCache>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for TodoPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TodoPorts").finish_non_exhaustive()
    }
}

impl TodoPorts {
    /// The actor's todo with `id`, read from the repository (writes never trust the cache).
    /// Someone else's todo is `None`, exactly like a missing one.
    async fn load_owned(&self, actor: &Actor, id: TodoId) -> Result<Option<Todo>, InfraError> {
        Ok(self
            .todos
            .get(id)
            .await?
            .filter(|todo| todo.owner() == actor.id))
    }

    /// Drops the cached copy after a committed write that stored version `written` (for a
    /// deletion, the version after the deleted one), so that a reader still holding an
    /// older version cannot put it back. A failure is logged, not returned: the write has
    /// happened, and the entry's expiry bounds how long it can be stale.
    async fn invalidate(&self, id: TodoId, written: Version) {
        if let Err(error) = self.cache.invalidate(id, written).await {
            tracing::warn!(todo_id = %id, error = &error as &dyn std::error::Error, "todo cache invalidation failed; the entry stays until it expires");
        }
    }
}

/// The conflict of a change that carries no version, after every retry lost.
fn contended() -> crate::AppError {
    crate::AppError::conflict(
        crate::error::codes::CONTENDED,
        "the todo is being changed by others; try again",
    )
}
