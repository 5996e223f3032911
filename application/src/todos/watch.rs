//! Watching one's todos change, live.

use std::{
    collections::HashMap,
    future::ready,
    sync::{Arc, Mutex, PoisonError},
};

use domain::{
    error::InfraError,
    ports::{EventFeed, EventStream},
    user::UserId,
};
use futures_util::StreamExt;

use crate::{Actor, AppError, error::codes};

/// How many live subscriptions are allowed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// Per user, on this instance.
    pub per_user: usize,
    /// On this instance, all users together.
    pub per_instance: usize,
}

impl Default for WatchLimits {
    fn default() -> Self {
        Self {
            per_user: 8,
            per_instance: 10_000,
        }
    }
}

/// Why a subscription could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The user has `limit` subscriptions open already.
    #[error("at most {limit} live subscriptions per user")]
    TooManyForUser {
        /// The per-user limit.
        limit: usize,
    },
    /// This instance serves `limit` subscriptions already.
    #[error("this server holds its {limit} live subscriptions already")]
    InstanceFull {
        /// The per-instance limit.
        limit: usize,
    },
    /// The feed could not be started.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<WatchError> for AppError {
    fn from(error: WatchError) -> Self {
        match error {
            WatchError::TooManyForUser { limit } => AppError::limit_exceeded(
                codes::TOO_MANY_SUBSCRIPTIONS,
                format!("at most {limit} live subscriptions per user; close one first"),
            ),
            WatchError::InstanceFull { .. } => AppError::unavailable(
                codes::TOO_MANY_SUBSCRIPTIONS,
                "this server holds all the live subscriptions it can; try again shortly",
                Some(std::time::Duration::from_secs(5)),
            ),
            WatchError::Infra(e) => e.into(),
        }
    }
}

/// The open subscriptions, counted per user.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

/// One counted subscription; dropping it (with its stream) gives the place back.
struct Slot {
    open: Arc<Mutex<Open>>,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_user.remove(&self.user);
            }
        }
    }
}

/// Streams the events of the actor's own todos as they are published: by this process or,
/// when the feed spans processes (Redis), by any replica.
///
/// Another user's events never reach the stream. A subscriber that falls too far behind
/// gets one [`FeedError::Lagged`](domain::ports::FeedError::Lagged) and then the end of
/// the stream: a client that missed events must know it, and should reconnect and re-read,
/// rather than go on with a hole it cannot see.
///
/// Subscriptions are counted: past [`WatchLimits::per_user`] a user is refused
/// ([`WatchError::TooManyForUser`]), past [`WatchLimits::per_instance`] everyone is
/// ([`WatchError::InstanceFull`]), until one closes.
#[derive(Clone)]
pub struct WatchTodos {
    feed: Arc<dyn EventFeed>,
    limits: WatchLimits,
    open: Arc<Mutex<Open>>,
}

impl std::fmt::Debug for WatchTodos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchTodos").finish_non_exhaustive()
    }
}

impl WatchTodos {
    /// Builds the use case.
    pub fn new(feed: Arc<dyn EventFeed>, limits: WatchLimits) -> Self {
        Self {
            feed,
            limits,
            open: Arc::default(),
        }
    }

    /// Takes a place for `user`, or says which limit is reached.
    fn take_slot(&self, user: UserId) -> Result<Slot, WatchError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.per_instance {
            return Err(WatchError::InstanceFull {
                limit: self.limits.per_instance,
            });
        }
        let count = open.per_user.entry(user).or_insert(0);
        if *count >= self.limits.per_user {
            return Err(WatchError::TooManyForUser {
                limit: self.limits.per_user,
            });
        }
        *count += 1;
        open.total += 1;
        Ok(Slot {
            open: self.open.clone(),
            user,
        })
    }

    /// The actor's todo events from now on.
    ///
    /// # Errors
    /// Returns [`WatchError`] when a limit is reached or the feed cannot be started.
    #[tracing::instrument(name = "watch_todos", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(&self, actor: &Actor) -> Result<EventStream, WatchError> {
        let owner = actor.id;
        let slot = self.take_slot(owner)?;
        let events = self
            .feed
            .subscribe()
            .await?
            // The slot lives as long as the stream does.
            .filter(move |item| {
                let _held = &slot;
                ready(item.as_ref().map_or(true, |event| event.owner == owner))
            })
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

        let seen: Vec<_> = WatchTodos::new(feed, WatchLimits::default())
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

        let seen: Vec<_> = WatchTodos::new(feed, WatchLimits::default())
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
            WatchTodos::new(Arc::new(feed), WatchLimits::default())
                .execute(&member())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn subscriptions_are_capped_per_user_and_per_instance_until_one_closes() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .returning(|| Ok(Box::pin(futures_util::stream::pending())));
        let watch = WatchTodos::new(
            Arc::new(feed),
            WatchLimits {
                per_user: 2,
                per_instance: 3,
            },
        );
        let (ann, bob, cat) = (member(), member(), member());

        let first = watch.execute(&ann).await.unwrap();
        let _second = watch.execute(&ann).await.unwrap();
        let err = watch.execute(&ann).await.err().unwrap();
        assert!(
            matches!(err, WatchError::TooManyForUser { limit: 2 }),
            "{err:?}"
        );
        let app = AppError::from(err);
        assert_eq!(
            (app.kind(), app.code()),
            (crate::ErrorKind::LimitExceeded, "too_many_subscriptions")
        );

        let _bobs = watch.execute(&bob).await.unwrap();
        let err = watch.execute(&cat).await.err().unwrap();
        assert!(
            matches!(err, WatchError::InstanceFull { limit: 3 }),
            "{err:?}"
        );
        assert_eq!(AppError::from(err).kind(), crate::ErrorKind::Unavailable);

        drop(first);
        let cats = watch.execute(&cat).await;
        assert!(cats.is_ok(), "a closed stream gives its place back");
        assert!(
            watch.execute(&ann).await.is_err(),
            "the instance is full again"
        );
    }
}
