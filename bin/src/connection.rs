//! One accepted connection's life, and the bounds on it in time.
//!
//! hyper bounds what one request may hold (sizes, streams), but not how long a connection
//! may sit there: hyper-util's protocol detection waits forever for a first byte, and
//! hyper's own header timeout also closes idle keep-alive connections after it, so the two
//! cannot be set apart. Each connection here gets a watchdog instead, fed by what its
//! socket reads and by its requests starting and finishing:
//!
//! - **Header read** (`HTTP_HEADER_READ_TIMEOUT_MS`): a new connection must send its first
//!   request's head (or, for HTTP/2, its preface) within it, and so must every later
//!   HTTP/1.1 request, counted from its first byte. A connection that does not is dropped:
//!   it has no request in progress, so nothing is lost. This is what ends a slowloris
//!   client, or a socket opened and never written to.
//! - **Idle** (`HTTP_IDLE_TIMEOUT_SECS`): a connection with no request in progress for this
//!   long is closed gracefully (HTTP/2 sends GOAWAY). It is longer than a load balancer's
//!   idle timeout (60 s is common), so the balancer, not the server, closes a connection it
//!   keeps warm, and never sends a request on one the server is closing.
//! - **Send** (`HTTP_SEND_TIMEOUT_SECS`): a response with bytes ready that the client takes
//!   none of for this long (its socket full because it does not read, or its HTTP/2 window
//!   shut) closes the connection at once. Without it, a client could hold any number of
//!   finished responses in memory, on a busy connection that no other deadline touches.
//!   The clock runs per response, from when it has something to send (see
//!   [`TrackedBody`]), and for the socket, from a write it refused.
//! - **Dead peers** are found by HTTP/2 keep-alive pings, which hyper sends
//!   (`HTTP_KEEPALIVE_*`; see `server.rs`), and, on a WebSocket, by the GraphQL adapter's
//!   own pings. A request in progress (a live stream, say) is never idle.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use application::users::Client;
use axum::body::Body;
use driving_http::ConnectionSlot;
use hyper::body::{Body as HttpBody, Buf, Bytes, Frame, SizeHint};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{Notify, OwnedSemaphorePermit},
    time::Instant,
};

use crate::unsent::UnsentBudget;

/// The time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionTimeouts {
    /// From a connection's start, or an HTTP/1.1 request's first byte, to its whole head.
    pub(crate) header_read: Duration,
    /// How long a connection may have no request in progress.
    pub(crate) idle: Duration,
    /// How long a response (or the socket) may wait for the client to take a byte.
    pub(crate) send: Duration,
}

impl ConnectionTimeouts {
    /// The settings' defaults, for tests.
    #[cfg(test)]
    pub(crate) const DEFAULTS: Self = Self {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(75),
        send: Duration::from_secs(30),
    };
}

/// No time: a clock that is not running.
const NEVER: u64 = u64::MAX;

/// The client preface every HTTP/2 connection opens with (RFC 9113, section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection is waiting for, which decides its deadline.
const AWAITING_FIRST: u8 = 0;
const IDLE: u8 = 1;
const READING_HEAD: u8 = 2;
const BUSY: u8 = 3;

/// What a connection is doing: written by its socket and its requests, read by its
/// watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    /// One of the states above.
    state: AtomicU8,
    /// When the current state began, in milliseconds since `origin`.
    since_ms: AtomicU64,
    /// Requests whose response has not been sent in full.
    in_flight: AtomicUsize,
    /// How many bytes of the HTTP/2 preface have been seen; past its length, the
    /// connection speaks HTTP/2, and `usize::MAX` once it is known not to.
    preface_seen: AtomicUsize,
    /// Since when the socket has refused a write, in milliseconds since `origin`; [`NEVER`]
    /// while it takes them.
    write_blocked_since_ms: AtomicU64,
    /// The responses that have bytes ready for the client, by id, with since when.
    waiting: Mutex<Waiting>,
    /// What its responses hold in memory until hyper lets go of them, in bytes.
    unsent: AtomicUsize,
    /// Chosen to be closed because answers hold more than their budget.
    closing_for_memory: AtomicBool,
    /// The budget it counts against, and its id there.
    budget: Option<(UnsentBudget, u64)>,
    origin: Instant,
    changed: Notify,
}

/// The responses of one connection that wait for the client to take their bytes.
#[derive(Debug, Default)]
struct Waiting {
    next_id: u64,
    since_ms: HashMap<u64, u64>,
}

impl Activity {
    /// A connection whose answers count against no budget.
    #[cfg(test)]
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::with_budget(None))
    }

    /// A connection of `client` whose answers count against `budget`, which may close it.
    pub(crate) fn counted_by(budget: &UnsentBudget, client: Client) -> Arc<Self> {
        Arc::new_cyclic(|this| {
            let id = budget.register(this.clone(), client);
            Self::with_budget(Some((budget.clone(), id)))
        })
    }

    fn with_budget(budget: Option<(UnsentBudget, u64)>) -> Self {
        Self {
            state: AtomicU8::new(AWAITING_FIRST),
            since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            preface_seen: AtomicUsize::new(0),
            write_blocked_since_ms: AtomicU64::new(NEVER),
            waiting: Mutex::new(Waiting::default()),
            unsent: AtomicUsize::new(0),
            closing_for_memory: AtomicBool::new(false),
            budget,
            origin: Instant::now(),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock; a poisoned map is still a valid one.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new response: its id among the waiting ones.
    fn response_id(&self) -> u64 {
        let mut waiting = self.waiting();
        waiting.next_id += 1;
        waiting.next_id
    }

    /// Response `id` has bytes for the client: its send clock starts, unless it runs.
    fn response_waits(&self, id: u64) {
        let now = self.now_ms();
        let first = {
            let mut waiting = self.waiting();
            let first = waiting.since_ms.is_empty();
            waiting.since_ms.entry(id).or_insert(now);
            first
        };
        // A later clock never ends before one that runs already, so only the first one
        // can move the watchdog's deadline.
        if first {
            self.changed.notify_one();
        }
    }

    /// Response `id` was asked for more: the client is taking what it had.
    fn response_taken(&self, id: u64) {
        self.waiting().since_ms.remove(&id);
    }

    /// The socket refused a write (or took one).
    fn write_blocked(&self, blocked: bool) {
        if blocked {
            let now = self.now_ms();
            if self
                .write_blocked_since_ms
                .compare_exchange(NEVER, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.changed.notify_one();
            }
        } else if self.write_blocked_since_ms.load(Ordering::Acquire) != NEVER {
            self.write_blocked_since_ms.store(NEVER, Ordering::Release);
            // An idle clock may count again.
            self.changed.notify_one();
        }
    }

    /// Since when its client has taken nothing of what is ready for it (the oldest send
    /// clock that runs), if anything is.
    pub(crate) fn send_waiting_since(&self) -> Option<Instant> {
        let blocked = self.write_blocked_since_ms.load(Ordering::Acquire);
        let oldest = self
            .waiting()
            .since_ms
            .values()
            .copied()
            .min()
            .unwrap_or(NEVER)
            .min(blocked);
        (oldest != NEVER).then(|| self.at(oldest))
    }

    /// Its responses hold `bytes` more.
    fn hold(&self, bytes: usize) {
        self.unsent.fetch_add(bytes, Ordering::AcqRel);
        if let Some((budget, _)) = &self.budget {
            budget.hold(bytes);
        }
    }

    /// Its responses hold `bytes` fewer.
    fn release(&self, bytes: usize) {
        self.unsent.fetch_sub(bytes, Ordering::AcqRel);
        if let Some((budget, _)) = &self.budget {
            budget.release(bytes);
        }
    }

    /// What its responses hold in memory, in bytes.
    pub(crate) fn unsent_bytes(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// Asks the watchdog to close the connection now: answers hold more than their budget,
    /// and this connection's client holds the most.
    pub(crate) fn close_for_memory(&self) {
        self.closing_for_memory.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    pub(crate) fn is_closing_for_memory(&self) -> bool {
        self.closing_for_memory.load(Ordering::Acquire)
    }

    fn enter(&self, state: u8) {
        let now = self.origin.elapsed().as_millis() as u64;
        self.since_ms.store(now, Ordering::Release);
        self.state.store(state, Ordering::Release);
        self.changed.notify_one();
    }

    fn is_http2(&self) -> bool {
        let seen = self.preface_seen.load(Ordering::Acquire);
        seen != usize::MAX && seen >= H2_PREFACE.len()
    }

    /// The socket read `bytes`.
    fn read(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let seen = self.preface_seen.load(Ordering::Acquire);
        if seen < H2_PREFACE.len() {
            let wanted = &H2_PREFACE[seen..];
            let n = wanted.len().min(bytes.len());
            if bytes[..n] == wanted[..n] {
                self.preface_seen.store(seen + n, Ordering::Release);
                if seen + n == H2_PREFACE.len() {
                    // HTTP/2 is ready for requests: from here it is only ever idle or busy.
                    self.enter(IDLE);
                }
                return;
            }
            self.preface_seen.store(usize::MAX, Ordering::Release);
        }
        // The first byte of a new HTTP/1.1 request starts its head's clock. (On HTTP/2,
        // frames arrive while idle too: pings, settings.)
        if !self.is_http2() && self.state.load(Ordering::Acquire) == IDLE {
            self.enter(READING_HEAD);
        }
    }

    /// A request's head arrived; the connection is busy until the returned guard (held by
    /// its response) is dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestInFlight {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.enter(BUSY);
        }
        RequestInFlight(self.clone())
    }

    /// Restarts the idle clock of a connection with no request in progress, so that a
    /// shorter idle limit (the drain's) runs from now rather than from when it went idle.
    /// A request that starts meanwhile is not affected: while one is in flight, only
    /// the send clock counts, whatever the state says.
    pub(crate) fn restart_idle_clock(&self) {
        if self.state.load(Ordering::Acquire) == IDLE {
            self.enter(IDLE);
        }
    }

    /// What the watchdog waits for now, and until when: while busy, only a response the
    /// client takes nothing of.
    pub(crate) fn deadline(&self, timeouts: ConnectionTimeouts) -> Option<(Instant, Expired)> {
        if self.is_closing_for_memory() {
            return Some((self.origin, Expired::OverBudget));
        }
        let send = self
            .send_waiting_since()
            .map(|since| (since + timeouts.send, Expired::SendStalled));
        // HTTP/2 starts and finishes requests on different tasks, so the state written
        // last may be "idle" while a request has started since; the count is exact.
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return send;
        }
        let since = self.at(self.since_ms.load(Ordering::Acquire));
        let other = match self.state.load(Ordering::Acquire) {
            AWAITING_FIRST | READING_HEAD => {
                Some((since + timeouts.header_read, Expired::HeaderRead))
            }
            // Not idle while the socket refuses what is left to send (the end of a
            // response that hyper holds): the send clock runs instead.
            IDLE if self.write_blocked_since_ms.load(Ordering::Acquire) == NEVER => {
                Some((since + timeouts.idle, Expired::Idle))
            }
            _ => None,
        };
        match (send, other) {
            (Some(send), Some(other)) => Some(if send.0 < other.0 { send } else { other }),
            (send, other) => send.or(other),
        }
    }

    /// Resolves when the connection overstays a deadline, with which one.
    pub(crate) async fn watch(&self, timeouts: ConnectionTimeouts) -> Expired {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before reading the state, so no change slips between the two.
            changed.as_mut().enable();
            match self.deadline(timeouts) {
                None => changed.await,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {
                            // A change in the same instant wins: look again, and name the
                            // deadline that is due now.
                            if let Some((now_at, now_expired)) = self.deadline(timeouts)
                                && now_at <= Instant::now()
                            {
                                return now_expired;
                            }
                        }
                        () = changed => {}
                    }
                }
            }
        }
    }
}

/// Which deadline a connection overstayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// It took too long to send a request's head (or, first, anything at all).
    HeaderRead,
    /// It had no request in progress for the idle timeout.
    Idle,
    /// It left a response (or the socket) with bytes ready and took none for the send
    /// timeout.
    SendStalled,
    /// Answers held more than their budget, and its client held the most (see
    /// [`crate::unsent`]).
    OverBudget,
}

impl Drop for Activity {
    fn drop(&mut self) {
        if let Some((budget, id)) = &self.budget {
            budget.forget(*id);
        }
    }
}

/// A request in progress on a connection; dropped when its response has been sent (or
/// abandoned).
#[derive(Debug)]
pub(crate) struct RequestInFlight(Arc<Activity>);

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(IDLE);
        }
    }
}

/// The most of a response handed to hyper at once. hyper asks a body for more only when
/// it can send more (its HTTP/1 write queue has room, or the HTTP/2 stream has window), so
/// handing over a large response in pieces keeps its request counted as in flight until
/// little of it is left to send. In one piece, a megabyte for a slow reader would leave the
/// connection looking idle (and, in the drain, closed) while hyper still held most of it.
/// HTTP/2's default frame size.
const CHUNK_BYTES: usize = 16 * 1024;

/// A response body that keeps its request counted as in flight until it is dropped (once
/// sent in full, or when the client goes away), and runs its send clock.
///
/// Whose turn it is tells the clock: when the body answers a poll with `Pending`, it is
/// the body's (a live stream waiting for its next event, say), and nothing waits for the
/// client. From its creation, and from each frame it hands over, until hyper asks for the
/// next one, it is the client's: hyper asks only once the client has taken (or made room
/// for) what it had. An HTTP/2 client that shuts its window, or any client that stops
/// reading, leaves the clock running until the send timeout ends the connection. Data is
/// handed over at most [`CHUNK_BYTES`] at a time, so that hyper's asking follows the
/// client's reading.
///
/// What it holds in memory counts against the connection's [`UnsentBudget`]: a made body
/// from its creation (its size hint is exact), and each frame until hyper has let go of
/// every piece of it ([`Piece`]), since the pieces share the frame's memory. A body that
/// is part of the binary (an asset compiled in) holds none, and is not counted.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    body: Body,
    /// What is left of a data frame larger than [`CHUNK_BYTES`], and its count.
    rest: Bytes,
    rest_counted: Option<Arc<Counted>>,
    /// Counted from the size hint, for what the body has not handed over yet.
    pending: usize,
    /// Whether what it holds is counted at all.
    counted: bool,
    /// Its send clock, shared with every piece handed over: it runs until hyper has let go
    /// of the last of them.
    clock: Arc<SendClock>,
    request: RequestInFlight,
}

/// A response's send clock, stopped for good once the body and every piece of it that
/// hyper holds are gone. The end of an answer can outlive its body: hyper asks for the
/// last piece once the client has room for some of it, and then holds what does not fit
/// (an HTTP/2 window a few bytes short of the answer) for as long as the client likes,
/// with the whole answer's memory. The clock keeps running for it, so the send timeout
/// and the budget's grace see a client that takes nothing.
#[derive(Debug)]
struct SendClock {
    activity: Arc<Activity>,
    id: u64,
}

impl Drop for SendClock {
    fn drop(&mut self) {
        self.activity.response_taken(self.id);
    }
}

/// A frame's bytes counted against the budget, given back when the last piece that
/// shares them is dropped.
#[derive(Debug)]
pub(crate) struct Counted {
    activity: Arc<Activity>,
    bytes: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.activity.release(self.bytes);
    }
}

/// A piece of a response as hyper gets it: the bytes, the count of the frame they share
/// memory with, and the response's send clock, all of which hyper drops once it has
/// written them.
#[derive(Debug)]
pub(crate) struct Piece {
    data: Bytes,
    _held: Option<Arc<Counted>>,
    _clock: Option<Arc<SendClock>>,
}

impl Buf for Piece {
    fn remaining(&self) -> usize {
        self.data.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.data.chunk()
    }

    fn advance(&mut self, cnt: usize) {
        self.data.advance(cnt);
    }
}

impl TrackedBody {
    /// `body`, the response to `request`; `counted` unless the body is part of the
    /// binary.
    pub(crate) fn new(body: Body, request: RequestInFlight, counted: bool) -> Self {
        let id = request.0.response_id();
        request.0.response_waits(id);
        let pending = if counted {
            usize::try_from(body.size_hint().exact().unwrap_or(0)).unwrap_or(usize::MAX)
        } else {
            0
        };
        if pending > 0 {
            request.0.hold(pending);
        }
        Self {
            body,
            rest: Bytes::new(),
            rest_counted: None,
            pending,
            counted,
            clock: Arc::new(SendClock {
                activity: request.0.clone(),
                id,
            }),
            request,
        }
    }

    /// `data`, a frame the body made, counted until every piece of it is let go: what the
    /// size hint counted already moves to it, and anything beyond is added.
    fn count(&mut self, data: &Bytes) -> Option<Arc<Counted>> {
        if !self.counted || data.is_empty() {
            return None;
        }
        let bytes = data.len();
        let from_pending = bytes.min(self.pending);
        self.pending -= from_pending;
        if bytes > from_pending {
            self.request.0.hold(bytes - from_pending);
        }
        Some(Arc::new(Counted {
            activity: self.request.0.clone(),
            bytes,
        }))
    }

    /// The next piece of `data` (counted by `held`), keeping what is past it for the next
    /// poll.
    fn piece(&mut self, mut data: Bytes, held: Option<Arc<Counted>>) -> Piece {
        if data.len() > CHUNK_BYTES {
            self.rest = data.split_off(CHUNK_BYTES);
            self.rest_counted.clone_from(&held);
        } else {
            self.rest_counted = None;
        }
        Piece {
            data,
            _held: held,
            _clock: Some(self.clock.clone()),
        }
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        // Its clock stops with the last piece hyper holds (see `SendClock`).
        self.request.0.release(self.pending);
    }
}

impl HttpBody for TrackedBody {
    type Data = Piece;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        this.request.0.response_taken(this.clock.id);
        let polled = if this.rest.is_empty() {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let held = this.count(&data);
                        Poll::Ready(Some(Ok(Frame::data(this.piece(data, held)))))
                    }
                    Err(frame) => Poll::Ready(Some(Ok(frame.map_data(|data| Piece {
                        data,
                        _held: None,
                        _clock: None,
                    })))),
                },
                Poll::Ready(None) => {
                    // A size hint that promised more than came: nothing is left to hold.
                    this.request.0.release(std::mem::take(&mut this.pending));
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Pending => Poll::Pending,
            }
        } else {
            // Asked for more, so the client has made room for the first piece. A made body's
            // holds (its place among the requests in flight) go back now, as they did when
            // hyper took a body in one piece once the client made room: the pieces left
            // keep the request in flight for the connection's clocks only, or a client
            // reading slowly could fill that limit for everyone.
            if this.body.is_end_stream() {
                this.body = Body::empty();
            }
            let rest = std::mem::take(&mut this.rest);
            let held = this.rest_counted.take();
            Poll::Ready(Some(Ok(Frame::data(this.piece(rest, held)))))
        };
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.request.0.response_waits(this.clock.id);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let hint = self.body.size_hint();
        let rest = self.rest.len() as u64;
        let mut total = SizeHint::new();
        if let Some(upper) = hint.upper() {
            total.set_upper(upper + rest);
        }
        total.set_lower(hint.lower() + rest);
        total
    }
}

/// A socket that tells its connection's [`Activity`] what it reads.
#[derive(Debug)]
pub(crate) struct WatchedIo<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(io: T, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.activity.read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T> WatchedIo<T> {
    /// Tells the activity whether a write went through.
    fn wrote<R>(&self, polled: Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        match &polled {
            Poll::Pending => self.activity.write_blocked(true),
            Poll::Ready(_) => self.activity.write_blocked(false),
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.wrote(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A connection's place, and its count in `http_open_connections`.
#[derive(Debug)]
struct Held {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// The labels of `http_connections_closed_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    reason: &'static str,
}

/// What `/metrics` says about connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionMetrics {
    open: Gauge,
    unsent: Gauge,
    refused: Counter,
    closed: Family<ClosedLabels, Counter>,
}

impl ConnectionMetrics {
    /// Registers the connection metrics in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "http_open_connections",
            "Connections open now, WebSockets included",
            metrics.open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections closed at once because the listener's cap (HTTP_MAX_CONNECTIONS; \
             WORKER_HTTP_MAX_CONNECTIONS on the worker's) was reached",
            metrics.refused.clone(),
        );
        registry.register(
            "http_connections_closed",
            "Connections the server closed for overstaying a timeout, by which one \
             (header_read, idle, send_stalled), or because answers held more than \
             HTTP_MAX_UNSENT_BYTES and its client held the most (unsent_budget)",
            metrics.closed.clone(),
        );
        registry.register(
            "http_unsent_answer_bytes",
            "Bytes that made answers hold until they are written, every connection \
             together (bounded by HTTP_MAX_UNSENT_BYTES)",
            metrics.unsent.clone(),
        );
        for reason in ["header_read", "idle", "send_stalled", "unsent_budget"] {
            let _ = metrics.closed.get_or_create(&ClosedLabels { reason });
        }
        metrics
    }

    /// A slot for a connection that `permit` admitted: counted open until every clone of
    /// it is dropped.
    pub(crate) fn slot(&self, permit: OwnedSemaphorePermit) -> ConnectionSlot {
        self.open.inc();
        ConnectionSlot::new(Held {
            _permit: permit,
            open: self.open.clone(),
        })
    }

    /// What reports the bytes answers hold.
    pub(crate) fn unsent(&self) -> Gauge {
        self.unsent.clone()
    }

    pub(crate) fn refused(&self) {
        self.refused.inc();
    }

    pub(crate) fn expired(&self, expired: Expired) {
        let reason = match expired {
            Expired::HeaderRead => "header_read",
            Expired::Idle => "idle",
            Expired::SendStalled => "send_stalled",
            Expired::OverBudget => "unsent_budget",
        };
        self.closed.get_or_create(&ClosedLabels { reason }).inc();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicBool;

    use super::*;

    const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts::DEFAULTS;

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_overstays_the_header_read_timeout() {
        let activity = Activity::new();
        let started = Instant::now();
        assert_eq!(activity.watch(TIMEOUTS).await, Expired::HeaderRead);
        assert_eq!(started.elapsed(), TIMEOUTS.header_read);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_connection_is_idle_between_requests_and_times_each_head_from_its_first_byte()
    {
        let activity = Activity::new();
        let request = activity.request_started();
        // Busy: no deadline, however long the response takes.
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(activity.deadline(TIMEOUTS), None);
        drop(request);
        let idle_from = Instant::now();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((idle_from + TIMEOUTS.idle, Expired::Idle))
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.read(b"GET / HTTP/1.1\r\n");
        let head_from = Instant::now();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((head_from + TIMEOUTS.header_read, Expired::HeaderRead))
        );
        assert_eq!(activity.watch(TIMEOUTS).await, Expired::HeaderRead);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_idle_once_its_preface_is_in_and_frames_do_not_start_a_head() {
        let activity = Activity::new();
        activity.read(&H2_PREFACE[..10]);
        assert_eq!(activity.deadline(TIMEOUTS).unwrap().1, Expired::HeaderRead);
        activity.read(&H2_PREFACE[10..]);
        assert!(activity.is_http2());
        let idle_from = Instant::now();
        tokio::time::advance(Duration::from_secs(5)).await;
        // A ping's frame, say.
        activity.read(&[0, 0, 8, 6, 0, 0, 0, 0, 0]);
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((idle_from + TIMEOUTS.idle, Expired::Idle))
        );
        let watch_from = Instant::now();
        assert_eq!(activity.watch(TIMEOUTS).await, Expired::Idle);
        assert_eq!(watch_from.elapsed(), TIMEOUTS.idle - Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_runs_its_send_clock_while_the_client_owes_it_a_read() {
        use futures_util::FutureExt;
        use http_body_util::BodyExt;

        let activity = Activity::new();
        let (sender, receiver) = tokio::sync::mpsc::channel::<&'static str>(1);
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let chunk = receiver.recv().await?;
            Some((Ok::<_, std::io::Error>(chunk), receiver))
        });
        let mut body =
            TrackedBody::new(Body::from_stream(stream), activity.request_started(), true);
        let made = Instant::now();
        // Made and not asked for yet: waiting on the client.
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((made + TIMEOUTS.send, Expired::SendStalled))
        );
        // Asked for, with nothing to send: waiting on itself, like a quiet live stream.
        assert!(body.frame().now_or_never().is_none());
        assert_eq!(activity.deadline(TIMEOUTS), None);
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(activity.deadline(TIMEOUTS), None);
        // A frame handed over: waiting on the client again, until it is asked for more.
        sender.send("event").await.unwrap();
        assert!(body.frame().now_or_never().is_some());
        let handed = Instant::now();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((handed + TIMEOUTS.send, Expired::SendStalled))
        );
        assert_eq!(activity.watch(TIMEOUTS).await, Expired::SendStalled);
        assert_eq!(handed.elapsed(), TIMEOUTS.send);
        // Gone: nothing waits.
        drop(body);
        assert_eq!(activity.deadline(TIMEOUTS).unwrap().1, Expired::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_an_answer_that_hyper_still_holds_keeps_the_send_clock_running() {
        use http_body_util::BodyExt;

        let activity = Activity::new();
        let mut body = TrackedBody::new(
            Body::from(vec![7u8; 20 * 1024]),
            activity.request_started(),
            true,
        );
        // hyper asks for pieces until the body says it has ended, then drops it.
        let mut pieces = Vec::new();
        while !body.is_end_stream() {
            pieces.push(body.frame().await.unwrap().unwrap().into_data().unwrap());
        }
        let handed = Instant::now();
        drop(body);
        // It still holds the last piece (an HTTP/2 window a few bytes short of the answer):
        // the client owes a read, and the clock runs.
        let last = pieces.pop().unwrap();
        drop(pieces);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((handed + TIMEOUTS.send, Expired::SendStalled))
        );
        // Written at last: nothing waits.
        drop(last);
        assert_eq!(activity.deadline(TIMEOUTS).unwrap().1, Expired::Idle);
    }

    /// A made body that says when it is dropped, as a body holding an in-flight place
    /// gives it back.
    struct Flagged(http_body_util::Full<Bytes>, Arc<AtomicBool>);

    impl Drop for Flagged {
        fn drop(&mut self) {
            self.1.store(true, Ordering::Release);
        }
    }

    impl HttpBody for Flagged {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Pin::new(&mut self.0).poll_frame(cx)
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_end_stream()
        }

        fn size_hint(&self) -> SizeHint {
            self.0.size_hint()
        }
    }

    #[tokio::test]
    async fn a_large_response_is_handed_over_in_pieces_and_stays_in_flight_until_the_last() {
        use http_body_util::BodyExt;

        let activity = Activity::new();
        let whole: Vec<u8> = (0..40 * 1024).map(|i| (i % 251) as u8).collect();
        let inner_dropped = Arc::new(AtomicBool::new(false));
        let inner = Flagged(
            http_body_util::Full::new(Bytes::from(whole.clone())),
            inner_dropped.clone(),
        );
        let mut body = TrackedBody::new(Body::new(inner), activity.request_started(), true);
        // hyper reads the length from the hint before the first frame.
        assert_eq!(body.size_hint().exact(), Some(40 * 1024));
        // The made body, and what it holds (its in-flight place), go back once the first
        // piece has been taken and more is asked for; the request stays in flight for the
        // connection's clocks.
        let data = |frame: Frame<Piece>| {
            let mut piece = frame.into_data().unwrap();
            piece.copy_to_bytes(piece.remaining())
        };
        let first = data(body.frame().await.unwrap().unwrap());
        assert!(!inner_dropped.load(Ordering::Acquire));
        let second = data(body.frame().await.unwrap().unwrap());
        assert!(inner_dropped.load(Ordering::Acquire));
        let (mut pieces, mut sent) = (vec![first.len(), second.len()], [first, second].concat());
        while let Some(frame) = body.frame().await {
            let data = data(frame.unwrap());
            pieces.push(data.len());
            sent.extend_from_slice(&data);
            // Until the body ends, its request is in flight: the connection is not idle.
            assert_eq!(activity.in_flight.load(Ordering::Acquire), 1);
            assert_eq!(
                body.size_hint().exact(),
                Some((whole.len() - sent.len()) as u64)
            );
        }
        assert_eq!(pieces, [CHUNK_BYTES, CHUNK_BYTES, 8 * 1024]);
        assert_eq!(sent, whole);
        assert!(body.is_end_stream());
        drop(body);
        assert_eq!(activity.in_flight.load(Ordering::Acquire), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_whose_socket_refuses_writes_is_not_idle_but_sending() {
        let activity = Activity::new();
        drop(activity.request_started());
        let idle_from = Instant::now();
        activity.write_blocked(true);
        // The end of a response hyper still holds: only the send clock runs.
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((idle_from + TIMEOUTS.send, Expired::SendStalled))
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.write_blocked(false);
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((idle_from + TIMEOUTS.idle, Expired::Idle))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_refuses_writes_runs_the_send_clock_until_it_takes_one() {
        let activity = Activity::new();
        let _request = activity.request_started();
        activity.write_blocked(true);
        let blocked = Instant::now();
        tokio::time::advance(Duration::from_secs(5)).await;
        // Still the first refusal's clock.
        activity.write_blocked(true);
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((blocked + TIMEOUTS.send, Expired::SendStalled))
        );
        activity.write_blocked(false);
        assert_eq!(activity.deadline(TIMEOUTS), None);
    }

    #[tokio::test(start_paused = true)]
    async fn restarting_the_idle_clock_moves_only_an_idle_connections_deadline() {
        let activity = Activity::new();
        // Still waiting for its first request: the header clock is not touched.
        let opened = Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        activity.restart_idle_clock();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((opened + TIMEOUTS.header_read, Expired::HeaderRead))
        );
        drop(activity.request_started());
        tokio::time::advance(Duration::from_secs(5)).await;
        let restarted = Instant::now();
        activity.restart_idle_clock();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((restarted + TIMEOUTS.idle, Expired::Idle))
        );
    }

    #[test]
    fn a_connection_that_does_not_open_with_the_preface_speaks_http1() {
        let activity = Activity::new();
        activity.read(b"PRI * HTTP/1.1");
        assert!(!activity.is_http2());
        activity.read(&H2_PREFACE[14..]);
        assert!(!activity.is_http2());
    }
}
