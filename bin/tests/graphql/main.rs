//! GraphQL: every operation through the schema on the in-memory wiring, and the real server
//! end to end over HTTP.
//!
//! One test binary, one module per subject; `support` is shared by every test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod app;
mod e2e;
mod schema;
