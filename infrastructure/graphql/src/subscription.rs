//! The subscription root: live updates over WebSocket (`/graphql/ws`).

use std::sync::Arc;

use application::{
    AppError, FieldViolations, UseCases,
    todos::{Watch, WatchEnd},
};
use async_graphql::{Context, Error, ErrorExtensions, ID, Result, Subscription as GqlSubscription};
use domain::event::MessageId;
use futures_util::{Stream, StreamExt};

use crate::{
    auth::{actor, token},
    error::to_graphql,
    types::TodoEventGql,
};

/// Every subscription field.
#[derive(Debug, Default)]
pub struct Subscription;

#[GqlSubscription]
impl Subscription {
    /// The caller's todo events as they happen, whichever server made the change; never
    /// another user's. Served over the WebSocket at `/graphql/ws` (graphql-transport-ws),
    /// which carries subscriptions only. The token goes in `connection_init`'s payload as
    /// `{"authorization": "Bearer <token>"}`, and is checked again for every `subscribe`
    /// and at every ping: once the session has ended, the socket closes with 4403.
    /// Delivery is at least once: the worker may publish an event again (after a crash,
    /// say), with the same `eventId`. The stream drops a repeat of any of the last 128
    /// events it sent; a consumer that must act once per event drops repeats by `eventId`
    /// too, and orders by `version` within a todo.
    ///
    /// With `after`, the `eventId` of the last event received, the events since that one
    /// come first, then the live ones. It is a `validation_failed` error (on the field
    /// `after`) when it is not an event id, or names one older than the events kept for
    /// resuming (the last `EVENT_STREAM_MAX_LEN` or so, across all users): re-read, then
    /// subscribe without it. Other errors at the start: `too_many_subscriptions`
    /// (`WATCH_MAX_PER_USER` open already, or the server's `WATCH_MAX_PER_INSTANCE`),
    /// `unauthenticated`, `unavailable`.
    ///
    /// The stream's last item is an error when it ends early, with the code
    /// `subscriber_lagged` (the reader was too slow to keep up), `feed_interrupted` (the
    /// event feed failed) or `session_ended` (the session was logged out or expired,
    /// checked every `WATCH_SESSION_CHECK_MS`). After the first two, subscribe again
    /// with `after` set to the last event received. When the server shuts down, the
    /// WebSocket closes with 1001 (going away).
    async fn todo_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<TodoEventGql>> + use<>> {
        let actor = actor(ctx)?;
        let session = token(ctx)?;
        let after =
            parse_after(after.as_ref().map(|id| id.as_str())).map_err(|e| to_graphql(&e))?;
        let use_cases = ctx.data_unchecked::<Arc<UseCases>>();
        let events = use_cases
            .watch_todos
            .execute(Watch {
                actor,
                session,
                after,
            })
            .await
            .map_err(|e| to_graphql(&AppError::from(e)))?;
        Ok(events.map(|item| match item {
            Ok(event) => Ok(TodoEventGql::from(&event)),
            Err(end) => Err(ended(end)),
        }))
    }
}

/// The event id to resume after, if any.
fn parse_after(after: Option<&str>) -> std::result::Result<Option<MessageId>, AppError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let mut f = FieldViolations::default();
    let id = f.check(
        "after",
        MessageId::parse(after).ok_or("must be the `eventId` of an event received"),
    );
    f.finish(id).map(Some)
}

/// The last item of a stream that ended early.
fn ended(end: WatchEnd) -> Error {
    let code = end.code();
    Error::new(end.message()).extend_with(|_, e| e.set("code", code))
}
