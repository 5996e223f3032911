//! DataLoaders: fields that would cost one repository call per parent, batched into one.

use std::{collections::HashMap, sync::Arc};

use application::{Actor, AppError, UseCases};
use async_graphql::dataloader::Loader;
use domain::{todo::TodoStatus, user::UserId};

use crate::error::report;

/// One `User.todoCount(status)` to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TodoCountKey {
    pub(crate) owner: UserId,
    pub(crate) status: Option<TodoStatus>,
}

/// Counts todos for every user of a page with one `CountTodos` call per status asked for
/// (so one call for the usual page), instead of one per user. Made per request, for its
/// caller: the use case checks who may count whose todos.
pub(crate) struct TodoCounts {
    pub(crate) use_cases: Arc<UseCases>,
    pub(crate) actor: Option<Actor>,
}

impl Loader<TodoCountKey> for TodoCounts {
    type Value = u64;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[TodoCountKey]) -> Result<HashMap<TodoCountKey, u64>, Self::Error> {
        let Some(actor) = &self.actor else {
            let error = AppError::unauthenticated("a valid bearer token is required");
            return Err(Arc::new(report(error)));
        };
        let mut by_status: HashMap<Option<TodoStatus>, Vec<UserId>> = HashMap::new();
        for key in keys {
            by_status.entry(key.status).or_default().push(key.owner);
        }
        let mut counts = HashMap::with_capacity(keys.len());
        for (status, owners) in by_status {
            let found = self
                .use_cases
                .count_todos
                .execute(actor, &owners, status)
                .await
                .map_err(|e| Arc::new(report(e)))?;
            counts.extend(
                found
                    .into_iter()
                    .map(|(owner, count)| (TodoCountKey { owner, status }, count)),
            );
        }
        Ok(counts)
    }
}
