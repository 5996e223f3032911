//! Watching one's todos change, live.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_lock::{Semaphore, SemaphoreGuardArc};

use domain::{
    error::InfraError,
    event::{MessageId, TodoEvent},
    ports::{EventFeed, FeedError, FeedStart, PublishedEvent, SubscribeError, Ticker},
    session::SessionToken,
    user::UserId,
};
use futures_util::{
    Stream, StreamExt,
    future::{Either, select},
    stream::BoxStream,
};

use crate::{Actor, AppError, FieldViolation, error::codes, links::SpanLinks, users::Authenticate};

/// How many live subscriptions are allowed at once, and how often each checks its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// Per user, on this instance.
    pub per_user: usize,
    /// On this instance, all users together.
    pub per_instance: usize,
    /// How often an open subscription checks that its session is still live. Logging out
    /// (or the session expiring) ends the user's streams within this time, on every
    /// replica, since the check reads the shared session store.
    pub session_check: Duration,
}

impl Default for WatchLimits {
    fn default() -> Self {
        Self {
            per_user: 8,
            per_instance: 10_000,
            session_check: Duration::from_secs(10),
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
    /// The event to resume after is older than the feed keeps.
    #[error("the event {0} is no longer kept")]
    NotRetained(MessageId),
    /// The feed could not be started.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<SubscribeError> for WatchError {
    fn from(error: SubscribeError) -> Self {
        match error {
            SubscribeError::NotRetained(id) => WatchError::NotRetained(id),
            SubscribeError::Infra(e) => WatchError::Infra(e),
        }
    }
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
                Some(Duration::from_secs(5)),
            ),
            WatchError::NotRetained(id) => AppError::invalid_input(vec![FieldViolation::new(
                "after",
                format!(
                    "the event {id} is older than the events kept for resuming; \
                     re-read the todos and watch without `after`"
                ),
            )]),
            WatchError::Infra(e) => e.into(),
        }
    }
}

/// Why a stream of todo events ended early. Each is the stream's last item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WatchEnd {
    /// The subscriber fell this many events behind: it should resume after the last event
    /// it received, or re-read.
    #[error("the subscriber fell {0} events behind")]
    Lagged(u64),
    /// The feed lost its source; resuming after the last event received goes on.
    #[error("the event feed was interrupted")]
    Interrupted,
    /// The session that opened the stream was logged out or expired.
    #[error("the session has ended")]
    SessionEnded,
}

impl WatchEnd {
    /// The stable code a client branches on.
    pub fn code(&self) -> &'static str {
        match self {
            WatchEnd::Lagged(_) => codes::SUBSCRIBER_LAGGED,
            WatchEnd::Interrupted => codes::FEED_INTERRUPTED,
            WatchEnd::SessionEnded => codes::SESSION_ENDED,
        }
    }

    /// What happened and what to do, for the client's developer.
    pub fn message(&self) -> String {
        const RESUME: &str = "watch again with `after` set to the last event received";
        match self {
            WatchEnd::Lagged(missed) => format!(
                "the stream fell {missed} events behind and was closed; {RESUME}, \
                 or re-read the todos"
            ),
            WatchEnd::Interrupted => format!("the event feed was interrupted; {RESUME}"),
            WatchEnd::SessionEnded => {
                "the session was logged out or has expired; log in again".to_owned()
            }
        }
    }
}

impl From<FeedError> for WatchEnd {
    fn from(error: FeedError) -> Self {
        match error {
            FeedError::Lagged(missed) => WatchEnd::Lagged(missed),
            FeedError::Interrupted => WatchEnd::Interrupted,
        }
    }
}

/// The events of one user's todos, until the stream ends by itself or with a
/// [`WatchEnd`].
pub type TodoEvents = Pin<Box<dyn Stream<Item = Result<TodoEvent, WatchEnd>> + Send>>;

/// The places for subscriptions: one semaphore for the instance, one per user with a
/// subscription open. A user's semaphore is dropped with the user's last place, so the map
/// holds only the users watching now.
#[derive(Debug)]
struct Places {
    instance: Arc<Semaphore>,
    per_user: Mutex<HashMap<UserId, Arc<Semaphore>>>,
}

/// One subscription's places; dropping it (with its stream) gives them back.
struct Slot {
    places: Arc<Places>,
    user: UserId,
    /// Always `Some` until `drop`, which gives it back first, then forgets the user's
    /// semaphore when no one else holds it.
    user_place: Option<SemaphoreGuardArc>,
    _instance_place: SemaphoreGuardArc,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_user = self
            .places
            .per_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The guard holds a reference to the user's semaphore; once it is gone, the map's
        // is the last one unless another subscription of the user holds a place. Both
        // happen under the lock that `take_slot` clones the semaphore under.
        drop(self.user_place.take());
        if per_user
            .get(&self.user)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
        {
            per_user.remove(&self.user);
        }
    }
}

/// What to watch.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    /// Whose todos.
    pub actor: &'a Actor,
    /// The session the actor authenticated with: when it ends, so does the stream.
    pub session: &'a SessionToken,
    /// The last event the client received, to resume after; `None` to start from now.
    pub after: Option<MessageId>,
}

/// Streams the events of the actor's own todos as they are published: by this process or,
/// when the feed spans processes (Redis), by any replica.
///
/// - **Isolation.** Another user's events never reach the stream.
/// - **Resuming.** With [`Watch::after`], the events since that one come first (those of
///   the actor's todos, from the feed's window of recent events), then the live ones, with
///   none missing or repeated in between.
/// - **Endings.** A subscriber that falls too far behind gets one [`WatchEnd::Lagged`],
///   and then the end of the stream: a client that missed events must know it, rather
///   than go on with a hole it cannot see. A session that is logged out or expires ends
///   its streams with [`WatchEnd::SessionEnded`], checked every
///   [`WatchLimits::session_check`]. A store that cannot answer that check does not end
///   anything: an outage of the session store is not a logout.
/// - **Limits.** Subscriptions are counted: past [`WatchLimits::per_user`] a user is
///   refused ([`WatchError::TooManyForUser`]), past [`WatchLimits::per_instance`] everyone
///   is ([`WatchError::InstanceFull`]), until one closes.
#[derive(Clone)]
pub struct WatchTodos {
    feed: Arc<dyn EventFeed>,
    ticker: Arc<dyn Ticker>,
    authenticate: Authenticate,
    limits: WatchLimits,
    places: Arc<Places>,
    links: Option<Arc<dyn SpanLinks>>,
}

impl std::fmt::Debug for WatchTodos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchTodos")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Hands `published` to one subscriber: a span marks the moment, linked to the publish
/// (and, through it, to the change's request) when the publish was traced.
fn delivered(links: Option<&dyn SpanLinks>, published: PublishedEvent) -> TodoEvent {
    let span = tracing::info_span!(
        "deliver_event",
        event_id = %published.event.id,
        todo_id = %published.event.todo_id,
        user_id = %published.event.owner,
    );
    if let (Some(links), Some(parent)) = (links, &published.trace_parent) {
        links.link(&span, parent);
    }
    published.event
}

impl WatchTodos {
    /// Builds the use case.
    pub fn new(
        feed: Arc<dyn EventFeed>,
        ticker: Arc<dyn Ticker>,
        authenticate: Authenticate,
        limits: WatchLimits,
    ) -> Self {
        Self {
            feed,
            ticker,
            authenticate,
            limits,
            places: Arc::new(Places {
                instance: Arc::new(Semaphore::new(limits.per_instance)),
                per_user: Mutex::default(),
            }),
            links: None,
        }
    }

    /// Links each delivery's span to the span of the event's publish, with `links`.
    #[must_use]
    pub fn with_span_links(mut self, links: Arc<dyn SpanLinks>) -> Self {
        self.links = Some(links);
        self
    }

    /// Takes a place for `user` on this instance and among the user's own, or says which
    /// limit is reached.
    fn take_slot(&self, user: UserId) -> Result<Slot, WatchError> {
        let instance_place =
            self.places
                .instance
                .try_acquire_arc()
                .ok_or(WatchError::InstanceFull {
                    limit: self.limits.per_instance,
                })?;
        let mut per_user = self
            .places
            .per_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let semaphore = per_user
            .entry(user)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_user)));
        let Some(user_place) = semaphore.try_acquire_arc() else {
            // With a limit of 0, the semaphore was made just now, and no one needs it.
            if Arc::strong_count(semaphore) == 1 {
                per_user.remove(&user);
            }
            return Err(WatchError::TooManyForUser {
                limit: self.limits.per_user,
            });
        };
        Ok(Slot {
            places: self.places.clone(),
            user,
            user_place: Some(user_place),
            _instance_place: instance_place,
        })
    }

    /// The actor's todo events, from now or after [`Watch::after`].
    ///
    /// # Errors
    /// Returns [`WatchError`] when a limit is reached, the event to resume after is no
    /// longer kept, or the feed cannot be started.
    #[tracing::instrument(name = "watch_todos", skip_all, fields(user_id = %watch.actor.id))]
    pub async fn execute(&self, watch: Watch<'_>) -> Result<TodoEvents, WatchError> {
        let slot = self.take_slot(watch.actor.id)?;
        let start = watch.after.map_or(FeedStart::Now, FeedStart::After);
        let subscription = Subscription {
            feed: self.feed.subscribe(start).await?,
            checks: Some(self.ticker.every(self.limits.session_check).boxed()),
            owner: watch.actor.id,
            seen: Seen::default(),
            authenticate: self.authenticate.clone(),
            session: watch.session.clone(),
            links: self.links.clone(),
            _slot: slot,
        };
        // Events until the first ending, which is handed on; then the stream is over at
        // once, and the subscription, with its slot, is dropped.
        let stream = futures_util::stream::unfold(Some(subscription), |open| async move {
            let mut subscription = open?;
            match subscription.next().await? {
                Ok(event) => Some((Ok(event), Some(subscription))),
                Err(end) => Some((Err(end), None)),
            }
        });
        Ok(Box::pin(stream))
    }
}

/// One open subscription: what it reads, what it has handed out, and its places.
struct Subscription {
    /// Every user's events, from the feed.
    feed: BoxStream<'static, Result<PublishedEvent, FeedError>>,
    /// The ticks on which the session is checked; `None` once the ticker has stopped.
    checks: Option<BoxStream<'static, ()>>,
    owner: UserId,
    seen: Seen,
    authenticate: Authenticate,
    session: SessionToken,
    links: Option<Arc<dyn SpanLinks>>,
    _slot: Slot,
}

impl Subscription {
    /// The next item for the subscriber: an event of the owner's, or the ending that
    /// closes the stream; `None` when the feed itself has ended (the process is closing).
    async fn next(&mut self) -> Option<Result<TodoEvent, WatchEnd>> {
        loop {
            let step = match self.checks.as_mut() {
                // The ticker first: it is ready at most once a period, so it never holds
                // the feed up, while a busy feed polled first could hold the checks off.
                Some(checks) => match select(checks.next(), self.feed.next()).await {
                    Either::Left((Some(()), _)) => Step::Check,
                    Either::Left((None, _)) => Step::TickerStopped,
                    Either::Right((item, _)) => Step::Feed(item),
                },
                None => Step::Feed(self.feed.next().await),
            };
            match step {
                Step::Feed(None) => return None,
                Step::Feed(Some(Err(error))) => return Some(Err(error.into())),
                Step::Feed(Some(Ok(published))) => {
                    let event = &published.event;
                    // Another user's event, or a repeat of one handed out already.
                    if event.owner != self.owner || !self.seen.first(event.id) {
                        continue;
                    }
                    return Some(Ok(delivered(self.links.as_deref(), published)));
                }
                Step::Check => match self.authenticate.is_live(&self.session).await {
                    Ok(true) => {}
                    Ok(false) => return Some(Err(WatchEnd::SessionEnded)),
                    Err(error) => tracing::warn!(
                        error = &error as &dyn std::error::Error,
                        "cannot check a subscription's session; it stays open"
                    ),
                },
                Step::TickerStopped => self.checks = None,
            }
        }
    }
}

/// What a subscription reacts to: an item from the feed (`None` when it has ended), the
/// time to check its session, or the ticker's end.
enum Step {
    Feed(Option<Result<PublishedEvent, FeedError>>),
    Check,
    TickerStopped,
}

/// The event ids a subscription handed out lately, so that it hands out none twice.
///
/// Delivery is at least once: a worker that dies between publishing and marking a job
/// done, or a lease that ends under a slow publish, sends an event again. Such a repeat
/// follows its first copy within one lease, so a window of the subscriber's own recent
/// events catches it; a subscriber reading past the window should still drop repeats by
/// `eventId`, as the documents say. Bounded, so it costs a few kilobytes per subscription.
#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<MessageId>,
    ids: HashSet<MessageId>,
}

impl Seen {
    /// How many of the subscriber's latest events are remembered.
    const WINDOW: usize = 128;

    /// Whether `id` is new, remembering it.
    fn first(&mut self, id: MessageId) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::WINDOW
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::Duration as Span;
    use domain::{
        event::{MessageId, TodoChange, TodoEvent},
        ports::{MockEventFeed, MockSessionStore, MockTicker},
        session::Session,
        todo::{TodoId, Version},
        user::{Role, UserId},
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

    /// `items` as a feed hands them out.
    fn published(
        items: Vec<Result<TodoEvent, FeedError>>,
    ) -> impl Iterator<Item = Result<PublishedEvent, FeedError>> {
        items.into_iter().map(|item| item.map(PublishedEvent::from))
    }

    /// A feed that expects one subscription from `start` and hands out `items`.
    fn feed_of(start: FeedStart, items: Vec<Result<TodoEvent, FeedError>>) -> Arc<MockEventFeed> {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .withf(move |s| *s == start)
            .times(1)
            .return_once(move |_| Ok(Box::pin(futures_util::stream::iter(published(items)))));
        Arc::new(feed)
    }

    /// A ticker that never ticks.
    fn no_ticks() -> Arc<MockTicker> {
        let mut ticker = MockTicker::new();
        ticker
            .expect_every()
            .returning(|_| Box::pin(futures_util::stream::pending()));
        Arc::new(ticker)
    }

    /// A session store where every session is live (`true`) or none is.
    fn sessions_all(live: bool) -> Authenticate {
        let mut sessions = MockSessionStore::new();
        sessions.expect_get().returning(move |hash| {
            Ok(live.then(|| Session {
                token_hash: *hash,
                user_id: UserId::from_uuid(Uuid::now_v7()),
                role: Role::Member,
                created_at: T0,
                expires_at: T0 + Span::hours(1),
            }))
        });
        Authenticate::new(Arc::new(sessions), fixed_clock())
    }

    fn use_case(feed: Arc<MockEventFeed>) -> WatchTodos {
        WatchTodos::new(feed, no_ticks(), sessions_all(true), WatchLimits::default())
    }

    fn watch<'a>(actor: &'a Actor, session: &'a SessionToken) -> Watch<'a> {
        Watch {
            actor,
            session,
            after: None,
        }
    }

    #[tokio::test]
    async fn only_the_actors_own_events_come_through_in_order() {
        let actor = member();
        let other = member();
        let feed = feed_of(
            FeedStart::Now,
            vec![
                Ok(event_of(actor.id, 1)),
                Ok(event_of(other.id, 1)),
                Ok(event_of(actor.id, 2)),
                Ok(event_of(other.id, 2)),
            ],
        );

        let seen: Vec<_> = use_case(feed)
            .execute(watch(&actor, &token(1)))
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
    async fn an_event_published_twice_reaches_the_subscriber_once() {
        let actor = member();
        let (first, second) = (event_of(actor.id, 1), event_of(actor.id, 2));
        let feed = feed_of(
            FeedStart::Now,
            vec![
                Ok(first.clone()),
                Ok(second.clone()),
                // The worker published both again (its lease ran out, say).
                Ok(first.clone()),
                Ok(second.clone()),
            ],
        );

        let seen: Vec<MessageId> = use_case(feed)
            .execute(watch(&actor, &token(1)))
            .await
            .unwrap()
            .map(|e| e.unwrap().id)
            .collect()
            .await;

        assert_eq!(seen, [first.id, second.id]);
    }

    #[test]
    fn the_window_of_ids_seen_is_bounded() {
        let mut seen = Seen::default();
        let ids: Vec<MessageId> = (0..Seen::WINDOW + 10)
            .map(|_| MessageId::from_uuid(Uuid::now_v7()))
            .collect();
        for id in &ids {
            assert!(seen.first(*id));
        }
        assert_eq!(
            (seen.order.len(), seen.ids.len()),
            (Seen::WINDOW, Seen::WINDOW)
        );
        assert!(
            !seen.first(ids[ids.len() - 1]),
            "a recent repeat is dropped"
        );
        assert!(seen.first(ids[0]), "one past the window is not remembered");
    }

    #[tokio::test]
    async fn resuming_asks_the_feed_for_what_followed_the_last_event_seen() {
        let actor = member();
        let last_seen = MessageId::from_uuid(Uuid::now_v7());
        let missed = event_of(actor.id, 3);
        let feed = feed_of(FeedStart::After(last_seen), vec![Ok(missed.clone())]);

        let seen: Vec<_> = use_case(feed)
            .execute(Watch {
                after: Some(last_seen),
                ..watch(&actor, &token(1))
            })
            .await
            .unwrap()
            .collect()
            .await;

        assert_eq!(seen, [Ok(missed)]);
    }

    #[tokio::test]
    async fn an_event_the_feed_no_longer_keeps_is_a_field_error_on_after() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe().returning(|start| match start {
            FeedStart::After(id) => Err(SubscribeError::NotRetained(id)),
            FeedStart::Now => panic!("asked to resume"),
        });
        let err = use_case(Arc::new(feed))
            .execute(Watch {
                after: Some(MessageId::from_uuid(Uuid::now_v7())),
                ..watch(&member(), &token(1))
            })
            .await
            .err()
            .unwrap();

        let app = AppError::from(err);
        assert_eq!(app.kind(), crate::ErrorKind::InvalidInput);
        assert_eq!(app.fields()[0].field, "after");
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_and_then_the_stream_ends_at_once() {
        let actor = member();
        let items = vec![
            Ok(event_of(actor.id, 1)),
            Err(FeedError::Lagged(7)),
            Ok(event_of(actor.id, 9)),
        ];
        let mut feed = MockEventFeed::new();
        // A live feed goes on after a lag; the subscription must not wait for it.
        feed.expect_subscribe().return_once(move |_| {
            Ok(Box::pin(
                futures_util::stream::iter(published(items)).chain(futures_util::stream::pending()),
            ))
        });

        let stream = use_case(Arc::new(feed))
            .execute(watch(&actor, &token(1)))
            .await
            .unwrap();
        let seen: Vec<_> =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.collect())
                .await
                .expect("the stream ends right after the lag");

        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1], Err(WatchEnd::Lagged(7)));
    }

    #[tokio::test]
    async fn a_session_that_ends_ends_the_stream_at_the_next_check() {
        let actor = member();
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .return_once(|_| Ok(Box::pin(futures_util::stream::pending())));
        // Two ticks: the session is live at the first, gone at the second.
        let mut ticker = MockTicker::new();
        ticker
            .expect_every()
            .withf(|period| *period == std::time::Duration::from_secs(10))
            .return_once(|_| {
                Box::pin(
                    futures_util::stream::iter([(), ()]).chain(futures_util::stream::pending()),
                )
            });
        let checks = Arc::new(AtomicUsize::new(0));
        let mut sessions = MockSessionStore::new();
        let counted = checks.clone();
        sessions.expect_get().returning(move |hash| {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            Ok(first.then(|| Session {
                token_hash: *hash,
                user_id: actor.id,
                role: Role::Member,
                created_at: T0,
                expires_at: T0 + Span::hours(1),
            }))
        });
        let use_case = WatchTodos::new(
            Arc::new(feed),
            Arc::new(ticker),
            Authenticate::new(Arc::new(sessions), fixed_clock()),
            WatchLimits::default(),
        );

        let seen: Vec<_> = use_case
            .execute(watch(&actor, &token(1)))
            .await
            .unwrap()
            .collect()
            .await;

        assert_eq!(seen, [Err(WatchEnd::SessionEnded)]);
        assert_eq!(checks.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_session_store_that_cannot_answer_leaves_the_stream_open() {
        let actor = member();
        let event = event_of(actor.id, 1);
        let sent = event.clone();
        let mut feed = MockEventFeed::new();
        // The event comes after the failed check.
        feed.expect_subscribe().return_once(move |_| {
            Ok(Box::pin(futures_util::stream::once(async move {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                Ok(sent.into())
            })))
        });
        let mut ticker = MockTicker::new();
        ticker
            .expect_every()
            .return_once(|_| Box::pin(futures_util::stream::iter([()])));
        let mut sessions = MockSessionStore::new();
        sessions.expect_get().returning(|_| Err(infra_down()));
        let use_case = WatchTodos::new(
            Arc::new(feed),
            Arc::new(ticker),
            Authenticate::new(Arc::new(sessions), fixed_clock()),
            WatchLimits::default(),
        );

        let seen: Vec<_> = use_case
            .execute(watch(&actor, &token(1)))
            .await
            .unwrap()
            .collect()
            .await;

        assert_eq!(seen, [Ok(event)], "the event, and then the feed's own end");
    }

    #[tokio::test]
    async fn a_feed_that_cannot_start_is_an_error() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .returning(|_| Err(SubscribeError::Infra(infra_down())));
        assert!(
            use_case(Arc::new(feed))
                .execute(watch(&member(), &token(1)))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn subscriptions_are_capped_per_user_and_per_instance_until_one_closes() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .returning(|_| Ok(Box::pin(futures_util::stream::pending())));
        let watch_todos = WatchTodos::new(
            Arc::new(feed),
            no_ticks(),
            sessions_all(true),
            WatchLimits {
                per_user: 2,
                per_instance: 3,
                ..WatchLimits::default()
            },
        );
        let (ann, bob, cat) = (member(), member(), member());
        let session = token(1);

        let first = watch_todos.execute(watch(&ann, &session)).await.unwrap();
        let _second = watch_todos.execute(watch(&ann, &session)).await.unwrap();
        let err = watch_todos
            .execute(watch(&ann, &session))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, WatchError::TooManyForUser { limit: 2 }),
            "{err:?}"
        );
        let app = AppError::from(err);
        assert_eq!(
            (app.kind(), app.code()),
            (crate::ErrorKind::LimitExceeded, "too_many_subscriptions")
        );

        let _bobs = watch_todos.execute(watch(&bob, &session)).await.unwrap();
        let err = watch_todos
            .execute(watch(&cat, &session))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, WatchError::InstanceFull { limit: 3 }),
            "{err:?}"
        );
        assert_eq!(AppError::from(err).kind(), crate::ErrorKind::Unavailable);

        drop(first);
        let cats = watch_todos.execute(watch(&cat, &session)).await;
        assert!(cats.is_ok(), "a closed stream gives its place back");
        assert!(
            watch_todos.execute(watch(&ann, &session)).await.is_err(),
            "the instance is full again"
        );
    }

    #[tokio::test]
    async fn a_user_s_places_are_forgotten_with_the_last_subscription() {
        let mut feed = MockEventFeed::new();
        feed.expect_subscribe()
            .returning(|_| Ok(Box::pin(futures_util::stream::pending())));
        let watch_todos = WatchTodos::new(
            Arc::new(feed),
            no_ticks(),
            sessions_all(true),
            WatchLimits::default(),
        );
        let users = || watch_todos.places.per_user.lock().unwrap().len();
        let (ann, bob) = (member(), member());
        let session = token(1);
        let anns = [
            watch_todos.execute(watch(&ann, &session)).await.unwrap(),
            watch_todos.execute(watch(&ann, &session)).await.unwrap(),
        ];
        let bobs = watch_todos.execute(watch(&bob, &session)).await.unwrap();
        assert_eq!(users(), 2);
        let [first, second] = anns;
        drop(first);
        assert_eq!(users(), 2, "Ann still watches");
        drop(second);
        drop(bobs);
        assert_eq!(users(), 0);

        let nobody = WatchTodos::new(
            Arc::new(MockEventFeed::new()),
            no_ticks(),
            sessions_all(true),
            WatchLimits {
                per_user: 0,
                ..WatchLimits::default()
            },
        );
        assert!(nobody.execute(watch(&ann, &session)).await.is_err());
        assert_eq!(nobody.places.per_user.lock().unwrap().len(), 0);
    }
}
