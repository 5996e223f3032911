//! The `EventFeed` contract, with the `EventPublisher` that feeds it: every subscriber
//! gets every event published after it subscribed, in order; a slow one lags instead of
//! buffering without bound; one that resumes after an event gets exactly what followed it.
//! On Redis, a feed started by another process (replica) sees the same events.

use std::{sync::Arc, time::Duration};

use domain::{
    event::{MessageId, TodoChange, TodoEvent},
    ports::{EventFeed, EventPublisher, EventStream, FeedError, FeedStart, SubscribeError},
    todo::{TodoId, Version},
    user::UserId,
};
use driven_memory::MemoryEventBus;
use driven_redis::{RedisEventFeed, RedisEventPublisher};
use futures_util::StreamExt;
use test_servers::TestRedis;
use uuid::Uuid;

use crate::support::*;

/// How many events a feed keeps for a slow subscriber, in every fixture.
const CAPACITY: usize = 8;

/// How many events the publisher keeps for resuming, in every fixture. Redis trims with
/// `MAXLEN ~`, which keeps at least this many (whole blocks of 100 entries).
const RETAINED: usize = 100;

pub struct Fixture {
    publisher: Arc<dyn EventPublisher>,
    feed: Arc<dyn EventFeed>,
    /// A second feed, as another replica would start it (the same one in memory).
    other: Arc<dyn EventFeed>,
    _redis: Option<TestRedis>,
}

async fn memory() -> Fixture {
    let bus = MemoryEventBus::new(CAPACITY, RETAINED);
    Fixture {
        publisher: Arc::new(bus.clone()),
        feed: Arc::new(bus.clone()),
        other: Arc::new(bus),
        _redis: None,
    }
}

async fn redis() -> Fixture {
    let redis = TestRedis::new().await;
    let publisher = RedisEventPublisher::new(
        redis.manager().await,
        redis.key_prefix(),
        RETAINED,
        std::time::Duration::from_secs(3),
    );
    let settings = driven_redis::RedisSettings::default();
    let feed = RedisEventFeed::start(redis.url(), &settings, redis.key_prefix(), CAPACITY)
        .await
        .unwrap();
    let other = RedisEventFeed::start(redis.url(), &settings, redis.key_prefix(), CAPACITY)
        .await
        .unwrap();
    Fixture {
        publisher: Arc::new(publisher),
        feed: Arc::new(feed),
        other: Arc::new(other),
        _redis: Some(redis),
    }
}

contract!(adapters: [memory, redis], checks: [
    every_subscriber_gets_every_event_in_order,
    a_subscriber_sees_only_what_is_published_after_it_subscribed,
    another_replicas_feed_sees_the_same_events,
    a_slow_subscriber_lags_instead_of_buffering_without_bound,
    resuming_after_an_event_replays_exactly_what_followed_then_goes_on_live,
    resuming_on_another_replica_replays_the_same,
    resuming_after_an_event_no_longer_kept_is_refused,
]);

fn event(version: i64) -> TodoEvent {
    TodoEvent {
        id: MessageId::from_uuid(Uuid::now_v7()),
        occurred_at: t0(),
        owner: UserId::from_uuid(Uuid::now_v7()),
        todo_id: TodoId::from_uuid(Uuid::now_v7()),
        version: Version::new(version).unwrap(),
        change: TodoChange::Tagged(tag("home")),
    }
}

/// The next item of `stream`, failing the test after five seconds.
async fn next(stream: &mut EventStream) -> Result<TodoEvent, FeedError> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an item within 5 s")
        .expect("the feed goes on")
        .map(|published| published.event)
}

async fn every_subscriber_gets_every_event_in_order(f: &Fixture) {
    let mut a = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let mut b = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let events: Vec<TodoEvent> = (1..=3).map(event).collect();

    f.publisher.publish_all(&events[..2]).await.unwrap();
    f.publisher.publish(&events[2]).await.unwrap();

    for stream in [&mut a, &mut b] {
        for expected in &events {
            assert_eq!(&next(stream).await.unwrap(), expected);
        }
    }
}

async fn a_subscriber_sees_only_what_is_published_after_it_subscribed(f: &Fixture) {
    let mut early = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let before = event(1);
    f.publisher.publish(&before).await.unwrap();
    assert_eq!(next(&mut early).await.unwrap(), before);

    let mut late = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let after = event(2);
    f.publisher.publish(&after).await.unwrap();

    assert_eq!(next(&mut late).await.unwrap(), after, "not the earlier one");
}

async fn another_replicas_feed_sees_the_same_events(f: &Fixture) {
    let mut here = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let mut there = f.other.subscribe(FeedStart::Now).await.unwrap();
    let published = event(1);

    f.publisher.publish(&published).await.unwrap();

    assert_eq!(next(&mut here).await.unwrap(), published);
    assert_eq!(next(&mut there).await.unwrap(), published);
}

async fn a_slow_subscriber_lags_instead_of_buffering_without_bound(f: &Fixture) {
    let mut slow = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let mut fast = f.feed.subscribe(FeedStart::Now).await.unwrap();
    let events: Vec<TodoEvent> = (1..=20).map(event).collect();
    // The fast one reads each as it comes, and misses nothing.
    for published in &events {
        f.publisher.publish(published).await.unwrap();
        assert_eq!(&next(&mut fast).await.unwrap(), published);
    }

    // The slow one, reading only now, is told what it missed, then gets the newest ones.
    let missed = (events.len() - CAPACITY) as u64;
    assert_eq!(next(&mut slow).await, Err(FeedError::Lagged(missed)));
    for expected in &events[events.len() - CAPACITY..] {
        assert_eq!(&next(&mut slow).await.unwrap(), expected);
    }
}

async fn resuming_after_an_event_replays_exactly_what_followed_then_goes_on_live(f: &Fixture) {
    let events: Vec<TodoEvent> = (1..=6).map(event).collect();
    f.publisher.publish_all(&events[..4]).await.unwrap();

    // The client saw events[1], then lost its connection while 2 and 3 went out.
    let mut resumed = f
        .feed
        .subscribe(FeedStart::After(events[1].id))
        .await
        .unwrap();
    f.publisher.publish_all(&events[4..]).await.unwrap();

    for expected in &events[2..] {
        assert_eq!(&next(&mut resumed).await.unwrap(), expected);
    }
    let quiet = tokio::time::timeout(Duration::from_millis(300), resumed.next()).await;
    assert!(quiet.is_err(), "nothing twice: {quiet:?}");
}

async fn resuming_on_another_replica_replays_the_same(f: &Fixture) {
    let events: Vec<TodoEvent> = (1..=3).map(event).collect();
    f.publisher.publish_all(&events).await.unwrap();

    let mut resumed = f
        .other
        .subscribe(FeedStart::After(events[0].id))
        .await
        .unwrap();

    assert_eq!(next(&mut resumed).await.unwrap(), events[1]);
    assert_eq!(next(&mut resumed).await.unwrap(), events[2]);
}

async fn resuming_after_an_event_no_longer_kept_is_refused(f: &Fixture) {
    let first = event(1);
    f.publisher.publish(&first).await.unwrap();
    // Far past the window: Redis trims whole blocks, so a few times the bound.
    let later: Vec<TodoEvent> = (2..=(RETAINED as i64 * 5)).map(event).collect();
    f.publisher.publish_all(&later).await.unwrap();

    let old = f.feed.subscribe(FeedStart::After(first.id)).await;
    assert!(
        matches!(old, Err(SubscribeError::NotRetained(id)) if id == first.id),
        "{:?}",
        old.map(|_| "a stream")
    );
    let never = MessageId::from_uuid(Uuid::now_v7());
    let unknown = f.feed.subscribe(FeedStart::After(never)).await;
    assert!(
        matches!(unknown, Err(SubscribeError::NotRetained(id)) if id == never),
        "an id never published is not kept either"
    );
    // The newest one still is.
    let kept = f
        .feed
        .subscribe(FeedStart::After(later[later.len() - 2].id))
        .await;
    assert!(kept.is_ok());
}
