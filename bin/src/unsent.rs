//! What answers hold in memory while their clients take them, bounded across every
//! connection (`HTTP_MAX_UNSENT_BYTES`).
//!
//! A body made in one piece (a page of todos, a GraphQL document, an asset) stays in memory
//! until its client has taken it. The send timeout closes a connection whose client takes
//! nothing at all, but not one whose client takes a few bytes now and then, and on HTTP/2
//! one connection holds an answer on each of its streams: forty streams of the largest
//! GraphQL answer, each read a window at a time, held some 350 MB. The connection cap
//! bounds connections, not what they hold.
//!
//! So what every connection's answers hold is counted together: each [`TrackedBody`]
//! counts a made answer from its creation until hyper has let go of its last byte
//! (written to the socket, or dropped with the connection), since the pieces hyper holds
//! share the answer's memory. A body compiled into the binary holds none and is not
//! counted. When an answer is made and the count is past the budget, connections are
//! closed until what is left fits, each time one of the client that holds the most:
//!
//! - up to twice the budget, only connections whose client has taken nothing for the last
//!   [`GRACE`]: clients that read get their answers, even when together they hold more
//!   than the budget for a while;
//! - past twice the budget, any connection, until what is left is back within twice the
//!   budget. Without that ceiling, clients that each take a few bytes every half second
//!   would never be past the grace, and a burst of answers all asked at once (a hundred
//!   streams on each of a few HTTP/2 connections) would hold whatever it could make.
//!
//! The client that holds the most, not the connection: a client is an address (an IPv6
//! one by its /64), counted as the login limits count it ([`Client`]). Connections are
//! cheap to open, so a client that spreads what it holds over many of them, each holding
//! less than one reader's download, would have the readers closed first if connections
//! were weighed alone; and one that keeps its answers young, cancelling and asking again,
//! would pass any test of how long a connection has held them. Among a client's own
//! connections, the largest goes first. Behind a proxy every connection is the proxy's,
//! and the order is the connections' by size (see `HTTP_TRUSTED_PROXIES`: the address
//! it reports is per request, and an answer's memory is per connection).
//!
//! The check runs when an answer is made, because that is when more is held, and every
//! [`RECHECK_EVERY`] while the count is past the budget, because graces end whether or
//! not anything is made ([`UnsentBudget::keep_watch`]); at most every [`SCAN_EVERY`],
//! because it looks at every connection. Closing is the send timeout's action, brought
//! forward: the connection's watchdog does it (see [`Activity::close_for_memory`]), and
//! dropping the connection drops its answers.
//!
//! The kernel holds at most 16 KiB of each socket's unsent bytes (`TCP_NOTSENT_LOWAT`,
//! which the server sets on every connection it accepts). So what a client does not read
//! waits here, where it is counted, and not in a send buffer that the kernel would grow
//! to megabytes.
//!
//! [`TrackedBody`]: crate::connection::TrackedBody

use std::{
    collections::{BinaryHeap, HashMap},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use application::users::Client;
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

use crate::connection::Activity;

/// How long a client must have taken nothing before its connection may be closed for the
/// budget: longer than a reading client waits between two pieces on a slow link. A 16 KiB
/// piece on a connection that gets 4 KB/s takes four seconds, and the kernel wakes a
/// writer only once much of its send buffer is free; a review of a one-second grace saw
/// readers on a 20 KB/s link shared by six downloads closed as if they had stopped.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// How often, at most, the connections are looked over while the budget is passed: each
/// look costs a lock and a visit to every open connection.
pub(crate) const SCAN_EVERY: Duration = Duration::from_millis(10);

/// How often the budget is looked at while nothing is being made: connections whose
/// grace ends while the count is past the budget are closed within this much of it.
pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// The budget, shared by every connection of a listener.
#[derive(Debug, Clone)]
pub(crate) struct UnsentBudget(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The most bytes held before connections are closed; `i64::MAX` for no limit.
    max: i64,
    /// What every connection's answers hold now, as `/metrics` reports it.
    held: Gauge,
    /// When the connections were last looked over, in milliseconds since `origin`, plus
    /// one (0: never).
    scanned_ms: AtomicU64,
    origin: Instant,
    /// The live connections, to choose from when the budget is passed.
    connections: Mutex<Connections>,
}

#[derive(Debug, Default)]
struct Connections {
    next_id: u64,
    live: HashMap<u64, (Weak<Activity>, Client)>,
}

impl UnsentBudget {
    /// A budget of `max` bytes (0: no limit), whose use `held` reports.
    pub(crate) fn new(max: usize, held: Gauge) -> Self {
        Self(Arc::new(Inner {
            max: match max {
                0 => i64::MAX,
                max => i64::try_from(max).unwrap_or(i64::MAX),
            },
            held,
            scanned_ms: AtomicU64::new(0),
            origin: Instant::now(),
            connections: Mutex::new(Connections::default()),
        }))
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        // Nothing panics while holding the lock; a poisoned map is still a valid one.
        self.0.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `activity`'s connection, of `client`, among those the budget may close; the
    /// id to [`UnsentBudget::forget`] it by.
    pub(crate) fn register(&self, activity: Weak<Activity>, client: Client) -> u64 {
        let mut connections = self.connections();
        connections.next_id += 1;
        let id = connections.next_id;
        connections.live.insert(id, (activity, client));
        id
    }

    /// Connection `id` has ended.
    pub(crate) fn forget(&self, id: u64) {
        self.connections().live.remove(&id);
    }

    /// What every connection's answers hold now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> i64 {
        self.0.held.get()
    }

    /// An answer holds `bytes` more; past the budget, room is made.
    pub(crate) fn hold(&self, bytes: usize) {
        // A body's size fits an i64 (hyper's lengths are u64 of what is in memory).
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let held = self.0.held.inc_by(bytes).saturating_add(bytes);
        if held > self.0.max {
            self.make_room();
        }
    }

    /// Makes room, if the count is past the budget, every [`RECHECK_EVERY`], until
    /// dropped: the clients of answers already made run out of grace whether or not
    /// another answer is made.
    pub(crate) async fn keep_watch(self) {
        let mut every = tokio::time::interval(RECHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if self.0.held.get() > self.0.max {
                self.make_room();
            }
        }
    }

    /// An answer holds `bytes` fewer: hyper let go of it, or it was dropped unsent.
    pub(crate) fn release(&self, bytes: usize) {
        self.0.held.dec_by(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Closes connections, each time one of the client that holds the most, until what the
    /// others hold fits: within the budget, counting only connections whose client has
    /// taken nothing for the [`GRACE`]; within twice the budget, counting every one. Once
    /// per [`SCAN_EVERY`] at most: one caller looks, the others in the meantime go on.
    fn make_room(&self) {
        let now = Instant::now();
        let now_ms = u64::try_from(now.duration_since(self.0.origin).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = self.0.scanned_ms.load(Ordering::Acquire);
        let every = u64::try_from(SCAN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now_ms < last.saturating_add(every)
            || self
                .0
                .scanned_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        // Upgraded under the lock, dropped after it: the last reference to a connection
        // that has just ended would otherwise forget itself under the same lock.
        let live: Vec<(Arc<Activity>, Client)> = self
            .connections()
            .live
            .values()
            .filter_map(|(activity, client)| Some((activity.upgrade()?, *client)))
            .collect();
        // What each client holds, and its connections that hold something, largest last
        // (the next to close). Connections already being closed are not counted: what
        // they hold goes soon.
        let mut kept: i64 = 0;
        let mut clients: HashMap<Client, (i64, Vec<Holder<'_>>)> = HashMap::new();
        for (activity, client) in &live {
            let bytes = i64::try_from(activity.unsent_bytes()).unwrap_or(i64::MAX);
            if bytes == 0 || activity.is_closing_for_memory() {
                continue;
            }
            kept = kept.saturating_add(bytes);
            let stale = activity
                .send_waiting_since()
                .is_some_and(|since| now.saturating_duration_since(since) >= GRACE);
            let (total, holders) = clients.entry(*client).or_default();
            *total = total.saturating_add(bytes);
            holders.push(Holder {
                bytes,
                stale,
                activity,
            });
        }
        for (_, holders) in clients.values_mut() {
            holders.sort_by_key(|holder| holder.bytes);
        }
        let ceiling = self.0.max.saturating_mul(2);
        for (limit, only_stale) in [(self.0.max, true), (ceiling, false)] {
            // The client that holds the most first; after each close, what it still holds.
            let mut largest: BinaryHeap<(i64, Client)> = clients
                .iter()
                .map(|(client, (total, _))| (*total, *client))
                .collect();
            while kept > limit {
                let Some((_, client)) = largest.pop() else {
                    break;
                };
                let Some((total, holders)) = clients.get_mut(&client) else {
                    continue;
                };
                // Its largest connection this pass may close; none: it is out of this pass.
                let Some(next) = holders.iter().rposition(|h| h.stale || !only_stale) else {
                    continue;
                };
                let holder = holders.remove(next);
                holder.activity.close_for_memory();
                kept -= holder.bytes;
                *total -= holder.bytes;
                if !holders.is_empty() {
                    largest.push((*total, client));
                }
            }
        }
    }
}

/// A connection that holds something, as the budget looks at it.
struct Holder<'a> {
    bytes: i64,
    /// Its client has taken nothing for the [`GRACE`].
    stale: bool,
    activity: &'a Arc<Activity>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::IpAddr;

    use axum::body::Body;
    use http_body_util::BodyExt;

    use super::*;
    use crate::connection::{ConnectionTimeouts, Expired, TrackedBody};

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts::DEFAULTS;

    /// A connection of `budget` with a made answer of `bytes` that its client has not
    /// started to take; every such connection is of one client.
    fn answer(budget: &UnsentBudget, bytes: usize) -> (Arc<Activity>, TrackedBody) {
        answer_from(budget, bytes, "192.0.2.1")
    }

    /// Like [`answer`], of the client at `address`.
    fn answer_from(
        budget: &UnsentBudget,
        bytes: usize,
        address: &str,
    ) -> (Arc<Activity>, TrackedBody) {
        let client = Client::of(address.parse::<IpAddr>().unwrap());
        let activity = Activity::counted_by(budget, client);
        let body = TrackedBody::new(
            Body::from(vec![7u8; bytes]),
            activity.request_started(),
            true,
        );
        (activity, body)
    }

    fn closed(activity: &Activity) -> bool {
        activity
            .deadline(TIMEOUTS)
            .is_some_and(|(_, expired)| expired == Expired::OverBudget)
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_budget_the_largest_quiet_holders_are_closed_until_the_rest_fits() {
        let budget = UnsentBudget::new(100_000, Gauge::default());
        let (small, _a) = answer(&budget, 30_000);
        let (large, _b) = answer(&budget, 60_000);
        tokio::time::advance(GRACE * 2).await;
        // Within the budget: nobody is closed, however long they have waited.
        assert_eq!(budget.held(), 90_000);
        assert!(!closed(&small) && !closed(&large));

        // 130,000 held: closing the largest quiet one (60,000) is enough.
        let (newest, _c) = answer(&budget, 40_000);
        assert!(closed(&large));
        assert!(!closed(&small) && !closed(&newest));
        assert_eq!(large.watch(TIMEOUTS).await, Expired::OverBudget);
    }

    #[tokio::test(start_paused = true)]
    async fn below_twice_the_budget_clients_that_took_something_within_the_grace_are_spared() {
        let budget = UnsentBudget::new(70_000, Gauge::default());
        let (reading, mut body) = answer(&budget, 60_000);
        tokio::time::advance(GRACE * 2).await;
        // It takes its first piece now: its clock starts again.
        body.frame().await.unwrap().unwrap();
        tokio::time::advance(GRACE / 2).await;
        let (fresh, _other) = answer(&budget, 60_000);
        assert_eq!(budget.held(), 120_000);
        assert!(!closed(&reading) && !closed(&fresh));

        // The first takes nothing more; past the grace, the next answer made closes it, and
        // not the second, whose client is still within it.
        tokio::time::advance(GRACE / 2 + Duration::from_millis(200)).await;
        let (_third, _body) = answer(&budget, 1);
        assert!(closed(&reading));
        assert!(!closed(&fresh));
    }

    #[tokio::test(start_paused = true)]
    async fn past_twice_the_budget_even_clients_within_the_grace_are_closed_largest_first() {
        let budget = UnsentBudget::new(100_000, Gauge::default());
        let (first, _a) = answer(&budget, 80_000);
        tokio::time::advance(Duration::from_millis(100)).await;
        let (second, _b) = answer(&budget, 100_000);
        tokio::time::advance(Duration::from_millis(100)).await;
        // 180,000: past the budget, within twice it, and nobody past the grace.
        assert!(!closed(&first) && !closed(&second));

        // 270,000: the largest goes, and 170,000 is back within the ceiling.
        let (third, _c) = answer(&budget, 90_000);
        assert!(closed(&second));
        assert!(!closed(&first) && !closed(&third));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_spreads_what_it_holds_over_connections_loses_them_before_a_reader() {
        let budget = UnsentBudget::new(100_000, Gauge::default());
        // One client holds 150,000 bytes on five connections of 30,000 each.
        let spread: Vec<_> = (0..5)
            .map(|_| answer_from(&budget, 30_000, "2001:db8::1"))
            .collect();
        // Another address of its /64 is the same client.
        let (same, _held) = answer_from(&budget, 10_000, "2001:db8::2");
        assert!(spread.iter().all(|(activity, _)| !closed(activity)));
        tokio::time::advance(SCAN_EVERY).await;

        // A reader's larger answer takes the count past twice the budget: a connection of
        // the client that holds the most goes, not the reader's, which is the largest.
        let (reader, _body) = answer_from(&budget, 60_000, "198.51.100.7");
        assert!(!closed(&reader));
        let gone = spread
            .iter()
            .filter(|(activity, _)| closed(activity))
            .count();
        assert_eq!(gone, 1);
        assert!(!closed(&same), "its largest connection goes first");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_holder_is_closed_when_its_grace_ends_though_nothing_more_is_made() {
        let budget = UnsentBudget::new(100_000, Gauge::default());
        let watch = tokio::spawn(budget.clone().keep_watch());
        // Past the budget when made, but within the grace: nobody is closed.
        let (quiet, _body) = answer(&budget, 150_000);
        assert!(!closed(&quiet));
        tokio::time::sleep(GRACE - RECHECK_EVERY).await;
        assert!(!closed(&quiet));
        // No other answer is made; the grace ends, and the next look closes it.
        tokio::time::sleep(RECHECK_EVERY * 2).await;
        assert!(closed(&quiet));
        watch.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn connections_are_looked_over_at_most_once_per_interval() {
        let budget = UnsentBudget::new(100_000, Gauge::default());
        // Past the budget: the first answer made looks (and finds nobody to close).
        let (first, _a) = answer(&budget, 150_000);
        // Past twice it, but within the interval: nobody looks yet.
        tokio::time::advance(SCAN_EVERY / 2).await;
        let (second, _b) = answer(&budget, 100_000);
        assert!(!closed(&first) && !closed(&second));
        // The next answer after the interval looks, and the largest goes.
        tokio::time::advance(SCAN_EVERY).await;
        let _c = answer(&budget, 1);
        assert!(closed(&first));
        assert!(!closed(&second));
    }

    #[tokio::test(start_paused = true)]
    async fn a_made_answer_is_counted_until_hyper_lets_go_of_its_last_piece() {
        let budget = UnsentBudget::new(0, Gauge::default());
        let (_activity, mut body) = answer(&budget, 40 * 1024);
        assert_eq!(budget.held(), 40 * 1024);
        // The pieces share the answer's memory: handed over, still held, until hyper has
        // written (dropped) every one of them.
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            pieces.push(frame.unwrap().into_data().unwrap());
            assert_eq!(budget.held(), 40 * 1024);
        }
        drop(body);
        assert_eq!(budget.held(), 40 * 1024);
        let last = pieces.pop().unwrap();
        drop(pieces);
        assert_eq!(budget.held(), 40 * 1024);
        drop(last);
        assert_eq!(budget.held(), 0);
        // No limit: nothing is ever closed.
        let (waiting, _body) = answer(&budget, 1 << 20);
        tokio::time::advance(Duration::from_secs(10)).await;
        let (_other, _second) = answer(&budget, 1 << 20);
        assert!(!closed(&waiting));
    }

    #[tokio::test]
    async fn a_body_compiled_into_the_binary_is_not_counted() {
        let budget = UnsentBudget::new(10, Gauge::default());
        let activity = Activity::counted_by(&budget, Client::of([192, 0, 2, 1].into()));
        let mut body = TrackedBody::new(
            Body::from(&b"compiled in"[..]),
            activity.request_started(),
            false,
        );
        assert_eq!(budget.held(), 0);
        let piece = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(budget.held(), 0);
        drop(piece);
        assert!(!closed(&activity));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_ended_is_forgotten() {
        let budget = UnsentBudget::new(10, Gauge::default());
        let (activity, body) = answer(&budget, 100);
        drop(body);
        drop(activity);
        assert!(budget.connections().live.is_empty());
        assert_eq!(budget.held(), 0);
    }
}
