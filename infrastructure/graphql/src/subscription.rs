//! The subscription root: live updates over WebSocket (`/graphql/ws`).

use std::sync::Arc;

use application::UseCases;
use async_graphql::{Context, Error, ErrorExtensions, Result, Subscription as GqlSubscription};
use domain::ports::FeedError;
use futures_util::{Stream, StreamExt};

use crate::{auth::actor, error::to_graphql, types::TodoEventGql};

/// The extension code of the error that ends a stream whose reader fell behind.
pub const SUBSCRIBER_LAGGED: &str = "subscriber_lagged";

/// Every subscription field.
#[derive(Debug, Default)]
pub struct Subscription;

#[GqlSubscription]
impl Subscription {
    /// The caller's todo events as they happen, whichever server made the change; never
    /// another user's. The token goes in `connection_init`'s payload as
    /// `{"authorization": "Bearer <token>"}`. A reader too slow to keep up gets one error
    /// with the code `subscriber_lagged`, and then the end of the stream: reconnect and
    /// re-read.
    async fn todo_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<TodoEventGql>> + use<>> {
        let actor = actor(ctx)?;
        let use_cases = ctx.data_unchecked::<Arc<UseCases>>();
        let events = use_cases
            .watch_todos
            .execute(actor)
            .await
            .map_err(|e| to_graphql(&application::AppError::from(e)))?;
        Ok(events.map(|item| match item {
            Ok(event) => Ok(TodoEventGql::from(&event)),
            Err(FeedError::Lagged(missed)) => Err(Error::new(format!(
                "the subscription fell {missed} events behind and was closed; reconnect and re-read"
            ))
            .extend_with(|_, e| e.set("code", SUBSCRIBER_LAGGED))),
        }))
    }
}
