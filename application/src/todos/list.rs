//! Listing the actor's todos.

use domain::{
    error::InfraError,
    pagination::{Page, PageSize},
    ports::TodoQuery,
    todo::{Tag, Todo, TodoId, TodoStatus},
};

use super::TodoPorts;
use crate::{Actor, AppError};

/// Which todos to list, and which page.
#[derive(Debug, Clone, Default)]
pub struct TodoFilter {
    /// Only todos with this status.
    pub status: Option<TodoStatus>,
    /// Only todos with this tag.
    pub tag: Option<Tag>,
    /// Continue after this todo (the `next_cursor` of the previous page).
    pub cursor: Option<TodoId>,
    /// The page size.
    pub size: PageSize,
}

/// Why todos could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListTodosError {
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Lists the actor's todos, newest first, one page at a time.
#[derive(Debug, Clone)]
pub struct ListTodos {
    ports: TodoPorts,
}

impl ListTodos {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// One page of the actor's todos that match `filter`.
    ///
    /// Ownership is part of the query, so another user's todos can never appear, whatever
    /// cursor is passed.
    #[tracing::instrument(name = "list_todos", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        filter: TodoFilter,
    ) -> Result<Page<Todo, TodoId>, ListTodosError> {
        let size = usize::from(filter.size.get());
        let query = TodoQuery {
            owner: actor.id,
            status: filter.status,
            tag: filter.tag,
            before: filter.cursor,
            // One more than asked for tells whether a next page exists.
            limit: u32::from(filter.size.get()) + 1,
        };
        let mut todos = self.ports.todos.list(&query).await?;
        let next_cursor = if todos.len() > size {
            todos.truncate(size);
            todos.last().map(Todo::id)
        } else {
            None
        };
        Ok(Page {
            items: todos,
            next_cursor,
        })
    }
}

impl From<ListTodosError> for AppError {
    fn from(error: ListTodosError) -> Self {
        match error {
            ListTodosError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::{MockTodoCache, MockTodoRepository};

    use super::*;
    use crate::test_support::*;

    fn use_case(todos: MockTodoRepository) -> ListTodos {
        ListTodos::new(todo_ports(todos, MockTodoCache::new()))
    }

    #[tokio::test]
    async fn the_query_carries_the_owner_filters_cursor_and_one_extra_row() {
        let actor = member();
        let cursor = TodoId::from_uuid(uuid::Uuid::now_v7());
        let tag = Tag::new("work").unwrap();
        let expected = TodoQuery {
            owner: actor.id,
            status: Some(TodoStatus::Done),
            tag: Some(tag.clone()),
            before: Some(cursor),
            limit: 6,
        };
        let mut todos = MockTodoRepository::new();
        todos
            .expect_list()
            .withf(move |q| *q == expected)
            .times(1)
            .returning(|_| Ok(vec![]));

        let filter = TodoFilter {
            status: Some(TodoStatus::Done),
            tag: Some(tag),
            cursor: Some(cursor),
            size: PageSize::new(5).unwrap(),
        };
        let page = use_case(todos).execute(&actor, filter).await.unwrap();

        assert!(page.items.is_empty());
        assert_eq!(page.next_cursor, None);
    }

    #[tokio::test]
    async fn a_full_page_points_at_its_last_item() {
        let actor = member();
        let rows: Vec<Todo> = (0..3).map(|_| todo_of(&actor)).collect();
        let last_on_page = rows[1].id();
        let mut todos = MockTodoRepository::new();
        todos.expect_list().returning(move |_| Ok(rows.clone()));

        let filter = TodoFilter {
            size: PageSize::new(2).unwrap(),
            ..TodoFilter::default()
        };
        let page = use_case(todos).execute(&actor, filter).await.unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(last_on_page));
    }

    #[tokio::test]
    async fn a_storage_failure_is_passed_on() {
        let mut todos = MockTodoRepository::new();
        todos.expect_list().returning(|_| Err(infra_down()));

        let err = use_case(todos)
            .execute(&member(), TodoFilter::default())
            .await
            .unwrap_err();

        assert!(matches!(err, ListTodosError::Infra(_)), "{err:?}");
    }
}
