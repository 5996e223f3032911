//! Watching one's todos change, live.

use std::{future::ready, sync::Arc};

use domain::{
    error::InfraError,
    ports::{EventFeed, EventStream},
};
use futures_util::StreamExt;

use crate::Actor;

/// Streams the events of the actor's own todos as they are published: by this process or,
/// when the feed spans processes (Redis), by any replica.
///
/// Another user's events never reach the stream. A subscriber that falls too far behind
/// gets one [`FeedError::Lagged`](domain::ports::FeedError::Lagged) and then the end of
/// the stream: a client that missed events must know it, and should reconnect and re-read,
/// rather than go on with a hole it cannot see.
#[derive(Clone)]
pub struct WatchTodos {
    feed: Arc<dyn EventFeed>,
}

impl std::fmt::Debug for WatchTodos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchTodos").finish_non_exhaustive()
    }
}

impl WatchTodos {
    /// Builds the use case.
    pub fn new(feed: Arc<dyn EventFeed>) -> Self {
        Self { feed }
    }

    /// The actor's todo events from now on.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the feed cannot be started.
    #[tracing::instrument(name = "watch_todos", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(&self, actor: &Actor) -> Result<EventStream, InfraError> {
        let owner = actor.id;
        let events = self
            .feed
            .subscribe()
            .await?
            .filter(move |item| ready(item.as_ref().map_or(true, |event| event.owner == owner)))
            // Pass the first lag on, then end.
            .scan(false, |lagged, item| {
                if *lagged {
                    return ready(None);
                }
                *lagged = item.is_err();
                ready(Some(item))
            });
        Ok(Box::pin(events))
    }
}

#[cfg(test)]
mod tests {
    use domain::{
        event::{MessageId, TodoChange, TodoEvent},
        ports::{FeedError, MockEventFeed},
        todo::{TodoId, Version},
        user::UserId,
    };
    use uuid::Uuid;

    use super::*;
    use crate::test_support::*;

    fn event_of(owner: UserId, version: i64) -> TodoEvent {
        TodoEvent {
            id: MessageId::from_uuid(Uuid::now_v7()),
            occurred_at: T0,
            owner,
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            version: Version::new(version).unwrap(),
            change: TodoChange::Updated,
        }
    }

    fn feed_of(items: Vec<Result<TodoEvent, FeedError>>) -> Arc<MockEventFeed> {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .times(1)
            .return_once(move || Ok(Box::pin(futures_util::stream::iter(items))));
        Arc::new(feed)
    }

    #[tokio::test]
    async fn only_the_actors_own_events_come_through_in_order() {
        let actor = member();
        let other = member();
        let feed = feed_of(vec![
            Ok(event_of(actor.id, 1)),
            Ok(event_of(other.id, 1)),
            Ok(event_of(actor.id, 2)),
            Ok(event_of(other.id, 2)),
        ]);

        let seen: Vec<_> = WatchTodos::new(feed)
            .execute(&actor)
            .await
            .unwrap()
            .collect()
            .await;

        let versions: Vec<i64> = seen
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.owner, actor.id, "never another user's event");
                e.version.get()
            })
            .collect();
        assert_eq!(versions, [1, 2]);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_and_then_the_stream_ends() {
        let actor = member();
        let feed = feed_of(vec![
            Ok(event_of(actor.id, 1)),
            Err(FeedError::Lagged(7)),
            Ok(event_of(actor.id, 9)),
        ]);

        let seen: Vec<_> = WatchTodos::new(feed)
            .execute(&actor)
            .await
            .unwrap()
            .collect()
            .await;

        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1], Err(FeedError::Lagged(7)));
    }

    #[tokio::test]
    async fn a_feed_that_cannot_start_is_an_error() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe().returning(|| Err(infra_down()));
        assert!(
            WatchTodos::new(Arc::new(feed))
                .execute(&member())
                .await
                .is_err()
        );
    }
}
