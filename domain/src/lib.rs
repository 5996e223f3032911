//! The domain of the todo + users example: what a user and a todo *are*, which changes are
//! allowed, and the ports (traits) through which the outside world is reached.
//!
//! Nothing here does I/O or knows a framework; `Cargo.toml` has no sqlx, axum, tonic,
//! async-graphql, redis or tokio, and `bin/tests/operations/dependency_rule.rs` keeps it that way.
//!
//! - [`user`]: users, their credentials and roles.
//! - [`session`]: login sessions, identified by an opaque token that is stored only hashed.
//! - [`todo`]: the todo aggregate and its value objects.
//! - [`pagination`]: page sizes and cursors shared by every list.
//! - [`id`]: the one text form of an id that every protocol accepts.
//! - [`event`]: domain events, reminders, and the outbox messages that carry them.
//! - [`idempotency`]: keys for writes a client may retry, and the outcomes kept under them.
//! - [`error`]: the errors that ports return.
//! - [`ports`]: the driven ports (repositories, stores, clock, ids, hashing, unit of work).
//!
//! Every value object has private fields and a fallible constructor, so a value that exists
//! is valid ("parse, don't validate"). Adapters turn their DTOs into these types at the edge.

pub mod error;
pub mod event;
pub mod id;
pub mod idempotency;
pub mod pagination;
pub mod ports;
pub mod session;
pub mod todo;
pub mod user;

mod text;
