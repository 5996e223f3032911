//! Driven adapters for the machine itself: the ports whose "outside world" is the operating
//! system rather than a server.
//!
//! - [`password`]: argon2id password hashing on the blocking pool, with a bound on how many
//!   hashes run at once.
//! - [`clock`]: the system clock, truncated to the microseconds storage keeps.
//! - [`ids`]: UUIDv7 ids.
//! - [`notifier`]: reminders written to the log.
//! - [`tokens`]: session tokens from the operating system's random source.

pub mod clock;
pub mod ids;
pub mod notifier;
pub mod password;
pub mod tokens;
