//! The query root: reads.

use std::sync::Arc;

use application::UseCases;
use async_graphql::{Context, ID, Object, Result};

use crate::{
    auth::actor,
    error::report,
    inputs,
    types::{StatusGql, TodoConnection, TodoGql, UserConnection, UserGql, todo_page, user_page},
};

/// What a client can read: the query root.
#[derive(Debug, Default)]
pub struct Query;

#[Object]
impl Query {
    /// The calling user.
    async fn me(&self, ctx: &Context<'_>) -> Result<UserGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let user = use_cases
            .current_user
            .execute(actor(ctx)?)
            .await
            .map_err(report)?;
        Ok(UserGql::from(&user))
    }

    /// One of the caller's todos. Someone else's is `not_found`, exactly like a missing one.
    async fn todo(&self, ctx: &Context<'_>, id: ID) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let todo = use_cases
            .get_todo
            .execute(actor(ctx)?, id)
            .await
            .map_err(report)?;
        Ok(TodoGql::from(&todo))
    }

    /// The caller's todos, newest first: at most `first` (1 to 100, default 20), after the
    /// edge cursor `after`, only those with `status` and `tag` when given.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn todos(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<StatusGql>,
        tag: Option<String>,
    ) -> Result<TodoConnection> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let filter = inputs::todo_filter(
            first,
            after.as_deref(),
            status.map(Into::into),
            tag.as_deref(),
        )
        .map_err(report)?;
        let page = use_cases
            .list_todos
            .execute(actor(ctx)?, filter)
            .await
            .map_err(report)?;
        Ok(todo_page(page))
    }

    /// Every user, newest first (administrators only), paged like `todos`.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let (cursor, size) = inputs::user_page(first, after.as_deref()).map_err(report)?;
        let page = use_cases
            .list_users
            .execute(actor(ctx)?, cursor, size)
            .await
            .map_err(report)?;
        Ok(user_page(page))
    }
}

/// The complexity of a connection: what one edge costs, times the edges asked for. `first`
/// counts as asked, even beyond the page limit (which the resolver then refuses), so a huge
/// `first` is refused by the complexity limit before anything runs.
pub(crate) fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.map_or(
        usize::from(domain::pagination::PageSize::DEFAULT.get()),
        |n| usize::try_from(n).unwrap_or(0),
    );
    first.saturating_mul(child_complexity).max(1)
}
