//! Across the protocols and the replicas: one scenario table through all three protocols,
//! safe retries, live updates, the client-side cache and the shared rate limits.
//!
//! One test binary, one module per subject; `support` is shared by every test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod cancelled;
mod client_cache;
mod idempotency;
mod live;
mod protocols;
mod rate_limits;
