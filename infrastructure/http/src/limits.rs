//! Limits on one request (how long it may take, how large its body may be) and on all of
//! them together (how many are in flight).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, HttpBody},
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::Problem;

/// Answers 503 when a request takes longer than the configured timeout, so a stuck
/// dependency cannot hold a client (and a connection) forever.
pub(crate) async fn timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::timeout()
            .detail(format!("no answer within {} ms", limit.as_millis()))
            .into_response(),
    }
}

/// Answers 413 at once when `Content-Length` announces a body over `limit`, before a single
/// byte of it is read. Bodies without a length (chunked) are still cut off at the limit by
/// the extractors; this only spares the server from reading what it will refuse anyway.
pub(crate) async fn reject_oversized(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(length) if length > limit as u64 => Problem::payload_too_large().into_response(),
        _ => next.run(request).await,
    }
}

/// How many requests may be in flight at once, across every protocol the process serves:
/// the composition root makes one and hands clones to the HTTP layers and to gRPC, so a
/// burst on one protocol sheds load on the others too.
#[derive(Debug, Clone)]
pub struct InFlightLimit {
    slots: Arc<tokio::sync::Semaphore>,
    max: usize,
}

/// A place among the requests in flight, given back when dropped.
#[derive(Debug)]
pub struct InFlightPermit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl InFlightPermit {
    /// `response`, whose body keeps this place until the connection lets go of it: once it
    /// has ended and its client has made room for it (or the client has gone). Counting a
    /// request only until its answer is made would let clients that take nothing hold any
    /// number of finished answers in memory, each outside the limit.
    pub fn held_by(self, response: Response) -> Response {
        response.map(|body| {
            Body::new(Holding {
                body,
                _permit: self,
            })
        })
    }
}

/// A response body and the in-flight place it holds.
struct Holding {
    body: Body,
    _permit: InFlightPermit,
}

impl HttpBody for Holding {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl InFlightLimit {
    /// At most `max` requests at once; `None` for 0, which means no limit.
    pub fn new(max: usize) -> Option<Self> {
        (max > 0).then(|| Self {
            slots: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        })
    }

    /// A place, or `None` at once when all `max` are taken: past the point where the server
    /// keeps up, waiting in a queue only adds latency to every request.
    pub fn try_enter(&self) -> Option<InFlightPermit> {
        self.slots
            .clone()
            .try_acquire_owned()
            .ok()
            .map(InFlightPermit)
    }

    /// The most requests allowed in flight.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Answers 503 (`overloaded`, `Retry-After: 1`) at once when every place is taken, rather
/// than queueing: past the point where the server keeps up, a queue only adds latency to
/// every request, and a client that is told to come back can go to another replica. The
/// probes and `/metrics` are never shed, so an orchestrator still sees a live server.
pub(crate) async fn shed_load(
    State(limit): State<InFlightLimit>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    match limit.try_enter() {
        Some(permit) => permit.held_by(next.run(request).await),
        None => {
            let mut response = crate::Problem::overloaded()
                .detail(format!(
                    "{} requests are in flight, the most this server takes at once",
                    limit.max()
                ))
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}
