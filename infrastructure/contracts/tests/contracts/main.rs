//! Contract tests: one suite per port, written once and run against every adapter of it.
//!
//! Each suite is a set of plain async functions that take the port under test and check one
//! MUST from the port's docs. The `contract!` macro turns each check into one `#[tokio::test]`
//! per adapter, so a failure names both the rule and the adapter, such as
//! `todos::postgres::concurrent_updates_from_one_version_let_exactly_one_win`.
//!
//! The in-memory adapters need nothing. The Postgres and Redis ones take a fresh database or
//! key prefix from `test_servers` (TEST_DATABASE_URL / TEST_REDIS_URL, or
//! testcontainers), so every test is isolated and they all run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

mod cache;
mod feed;
mod group_commit;
mod idempotency;
mod outbox;
mod rate_limit;
mod sessions;
mod todos;
mod unit_of_work;
mod users;
