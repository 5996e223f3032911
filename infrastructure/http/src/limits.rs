//! Limits on one request: how long it may take, and how large its body may be.

use std::time::Duration;

use axum::{
    extract::{Request, State},
    http::header,
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
