//! The use cases of the todo + users example: the only thing driving adapters (REST,
//! GraphQL, gRPC, the CLI) call.
//!
//! Each use case is a small struct holding the ports it needs, with a typed input and its own
//! error enum. Use cases enforce every rule that is not a property of a single value:
//! authorisation (whose todo is it?), optimistic concurrency, what a login may reveal. They
//! know the domain and its ports and nothing else; `Cargo.toml` lists no framework.
//!
//! - [`actor`]: who is acting, as established by [`users::Authenticate`].
//! - [`error`]: the one error vocabulary every use-case error converts into, and every
//!   driving adapter maps from.
//! - [`users`]: register, log in and out, authenticate, the current user, listing users.
//! - [`todos`]: everything a user does with their todos.
//! - [`jobs`]: the worker's use cases: delivering outbox jobs, reminders, housekeeping, and
//!   the dead-letter commands.
//! - [`seed`]: demo data, written through the unit of work.
//! - [`readiness`]: whether the backing services answer, for every driving adapter's probes.
//! - [`use_cases`]: the [`Ports`] bundle and the [`UseCases`] built from it.

pub mod actor;
pub mod error;
pub mod input;
pub mod jobs;
pub mod links;
pub mod readiness;
pub mod seed;
pub mod todos;
pub mod use_cases;
pub mod users;

pub use actor::Actor;
pub use error::{AppError, ErrorKind, FieldViolation, FieldViolations, MAX_FIELD_VIOLATIONS};
pub use use_cases::{Ports, Settings, UseCases};

#[cfg(test)]
mod test_support;
