//! The composition root of the todo + users backend: everything that turns the crates into
//! a running program.
//!
//! - [`config`]: typed configuration from the environment.
//! - [`telemetry`]: the tracing subscriber.
//! - [`app`]: [`Application::build`], the one place where adapters are chosen and wired.
//! - [`cli`]: the subcommands (`migrate`, `users create`, `seed`, `config`).
//!
//! `main.rs` only strings these together.

pub mod app;
pub mod cli;
pub mod config;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
