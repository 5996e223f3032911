//! The composition root of the todo + users backend: everything that turns the crates into
//! a running program.
//!
//! - [`config`]: typed configuration from the environment.
//! - [`secret_url`]: a URL with credentials, redacted whenever it is printed.
//! - [`telemetry`]: the tracing subscriber.
//! - [`app`]: [`Application::build`], the one place where adapters are chosen and wired.
//! - [`cli`]: the subcommands (`serve`, `migrate`, `users create`, `seed`, `config`).
//! - [`server`]: the HTTP server and its graceful shutdown.
//! - `connection`: one connection's life: its place among the open ones, its timeouts.
//! - `unsent`: the budget of memory that answers hold while their clients take them.
//! - [`shutdown`]: the cancellation token every server and task stops on.
//!
//! `main.rs` only strings these together.

pub mod app;
pub mod cli;
pub mod config;
mod connection;
pub mod secret_url;
pub mod server;
pub mod shutdown;
pub mod telemetry;
mod unsent;
pub mod worker;

pub use app::Application;
pub use config::Config;
