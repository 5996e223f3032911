//! REST: every route and error status through the router on the in-memory adapters, and the
//! real server end to end over Postgres and Redis.
//!
//! One test binary, one module per subject; `support` is shared by every test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod e2e;
mod handlers;
