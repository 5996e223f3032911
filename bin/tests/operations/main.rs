//! Operations: the binary's subcommands as an operator runs them, what reaches the logs, the
//! traces one change leaves, and the dependency rule between the crates.
//!
//! One test binary, one module per subject; `support` is shared by every test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod dependency_rule;
mod logs;
mod traces;
