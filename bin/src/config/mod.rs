//! Typed configuration, read once from the environment (12-factor), declared as data.
//!
//! Each setting is one field of a section struct ([`HttpConfig`], [`DatabaseConfig`], …),
//! declared with clap: its `id` is its environment variable, its doc comment is its
//! meaning, and its `default_value` and `value_parser` say the rest. From those
//! declarations alone come the parsing (an error names the variable), `backend --help`
//! (every variable with its default and meaning), `backend config` (the effective values,
//! secrets redacted because their declaration says `hide_env_values`), and the guide's
//! configuration table (`docs/src/configuration.md`), which a test holds to them.
//!
//! Why clap rather than figment or envy: the CLI already uses it, its `env` support makes
//! each setting a flag too (`--http-addr`, for a one-off run), and it is the only one of the
//! three that documents a setting where it is declared; figment and envy would parse the
//! variables but leave the help, the redaction and the reference to be kept by hand.
//! Layered configuration files, the one thing figment adds, are what 12-factor avoids.
//!
//! Leaving `DATABASE_URL` or `REDIS_URL` unset is a choice (the in-memory adapters), not a
//! mistake, and an empty variable counts as unset, as in most `.env` files. A rule between
//! settings lives with the section it protects ([`GraphqlConfig`], [`WorkerConfig`]); a rule
//! that belongs to a use case (the worker's lease) is checked by the use case.

#[cfg(feature = "graphql")]
mod graphql;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod reference;
mod storage;
mod values;
mod worker;

use std::{collections::BTreeMap, fmt::Display, time::Duration};

use clap::{ArgMatches, Args, Command, FromArgMatches, ValueEnum};

#[cfg(feature = "graphql")]
pub use self::graphql::GraphqlConfig;
#[cfg(feature = "grpc")]
pub use self::grpc::GrpcConfig;
use self::values::{at_least, hours, millis, parsed, seconds};
pub use self::{
    http::HttpConfig,
    reference::reference_table,
    storage::{DatabaseConfig, RedisConfig},
    worker::{WebhookConfig, WorkerConfig},
};
use crate::secret_url::SecretUrl;

/// A setting that cannot be used: one clap refused (it names the variable), or one that
/// parsed but breaks a rule between settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The variable does not parse; clap's message names it.
    #[error("{0}")]
    Parse(#[from] clap::Error),
    /// The variable parses but cannot be used with the others.
    #[error("invalid {var}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value (never a secret's).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    fn invalid(var: &'static str, value: impl Display, reason: &str) -> Self {
        Self::Invalid {
            var,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-friendly, coloured when writing to a terminal; for local development.
    Pretty,
    /// One JSON object per line; for production log pipelines.
    Json,
}

/// The whole configuration: the sections, and the settings of the application itself.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// The listener.
    #[command(
        flatten,
        next_help_heading = "The HTTP server (REST, GraphQL and gRPC)"
    )]
    pub http: HttpConfig,
    /// The GraphQL endpoint.
    #[cfg(feature = "graphql")]
    #[command(flatten, next_help_heading = "GraphQL")]
    pub graphql: GraphqlConfig,
    /// The gRPC services.
    #[cfg(feature = "grpc")]
    #[command(flatten, next_help_heading = "gRPC")]
    pub grpc: GrpcConfig,
    /// Postgres, or the in-memory repositories.
    #[command(flatten, next_help_heading = "Postgres")]
    pub database: DatabaseConfig,
    /// Redis, or the in-memory session store, cache and event bus.
    #[command(flatten, next_help_heading = "Redis")]
    pub redis: RedisConfig,
    /// The worker.
    #[command(flatten, next_help_heading = "The worker and the reminders")]
    pub worker: WorkerConfig,
    /// How long start-up (of `serve`, `worker` and the commands) keeps trying to reach
    /// Postgres and Redis while they do not answer, backing off, before it exits 1; a
    /// refusal retrying cannot cure (a wrong password, a database that does not exist)
    /// exits at once. 0 tries once.
    #[arg(id = "STARTUP_CONNECT_TIMEOUT_SECS", long, default_value = "30", value_parser = seconds(0), help_heading = "The application")]
    pub startup_connect_timeout: Duration,
    /// How long a login lasts.
    #[arg(id = "SESSION_TTL_SECS", long, default_value = "86400", value_parser = seconds(1), help_heading = "The application")]
    pub session_ttl: Duration,
    /// How long a todo stays in the read cache (also the longest an entry can be stale
    /// after a failed invalidation). 0 turns the cache off.
    #[arg(id = "CACHE_TTL_SECS", long, default_value = "300", value_parser = seconds(0), help_heading = "The application")]
    pub cache_ttl: Duration,
    /// The most todos the in-memory cache holds.
    #[arg(id = "CACHE_CAPACITY", long, default_value = "10000", value_parser = at_least(0u64), help_heading = "The application")]
    pub cache_capacity: u64,
    /// How long the outcome of a write sent with an idempotency key is kept for retries;
    /// a retry later than this writes again, and housekeeping deletes older ones.
    #[arg(id = "IDEMPOTENCY_KEY_TTL_HOURS", long, default_value = "24", value_parser = hours(1), help_heading = "The application")]
    pub idempotency_key_ttl: Duration,
    /// The most password hashes (19 MiB and about 25 ms of CPU each) running at once.
    /// Unset: the number of cores.
    #[arg(id = "PASSWORD_HASH_CONCURRENCY", long, value_parser = at_least(1usize), help_heading = "The application")]
    password_hash_concurrency_asked: Option<usize>,
    /// What `PASSWORD_HASH_CONCURRENCY` comes to on this machine.
    #[arg(skip)]
    pub password_hash_concurrency: usize,
    /// How long a login or registration waits for a hashing slot before it is answered
    /// 503 with `Retry-After`.
    #[arg(id = "PASSWORD_HASH_MAX_WAIT_MS", long, default_value = "1000", value_parser = millis(0), help_heading = "The application")]
    pub password_hash_max_wait: Duration,
    /// Live subscriptions (GraphQL `todoEvents`, gRPC `WatchTodos`) one user may hold open
    /// on one server; past it, `too_many_subscriptions` (gRPC `RESOURCE_EXHAUSTED`).
    #[arg(id = "WATCH_MAX_PER_USER", long, default_value = "8", value_parser = at_least(0usize), help_heading = "The application")]
    pub watch_per_user: usize,
    /// Live subscriptions one server holds; past it, unavailable with a retry hint.
    #[arg(id = "WATCH_MAX_PER_INSTANCE", long, default_value = "10000", value_parser = at_least(0usize), help_heading = "The application")]
    pub watch_per_instance: usize,
    /// How often a live subscription checks that its session is still live: logging out
    /// ends the user's streams, on every replica, within this time.
    #[arg(id = "WATCH_SESSION_CHECK_MS", long, default_value = "10000", value_parser = millis(1), help_heading = "The application")]
    pub watch_session_check: Duration,
    /// Login attempts a minute for one email, from anywhere; past it, `rate_limited`,
    /// before any password is checked. With Redis the count is shared by every replica;
    /// in memory it is per process. 0: no limit.
    #[arg(id = "LOGIN_LIMIT_PER_EMAIL", long, default_value = "10", value_parser = at_least(0u32), help_heading = "The application")]
    pub login_limit_per_email: u32,
    /// Login attempts a minute from one client address, to any email. 0: no limit.
    #[arg(id = "LOGIN_LIMIT_PER_ADDRESS", long, default_value = "100", value_parser = at_least(0u32), help_heading = "The application")]
    pub login_limit_per_address: u32,
    /// Registrations a minute from one client address. 0: no limit.
    #[arg(id = "REGISTER_LIMIT_PER_ADDRESS", long, default_value = "20", value_parser = at_least(0u32), help_heading = "The application")]
    pub register_limit_per_address: u32,
    /// `pretty` (coloured on a terminal, for local development) or `json` (one object a
    /// line, for log pipelines).
    #[arg(
        id = "LOG_FORMAT",
        long,
        default_value = "pretty",
        help_heading = "The application"
    )]
    pub log_format: LogFormat,
    /// The tracing filter, such as `info,sqlx=warn`: what it keeps is logged and, with an
    /// exporter, traced.
    #[arg(id = "RUST_LOG", long, default_value = "info", value_parser = parsed::<String>, help_heading = "The application")]
    pub log_filter: String,
    /// Every effective value by variable, secrets redacted: what `backend config` prints.
    #[arg(skip)]
    described: BTreeMap<String, String>,
}

/// Gives each setting of `command` what its `id` implies: a flag of the same name
/// (`HTTP_ADDR` is `--http-addr`), shown as `<HTTP_ADDR>`, on every subcommand; and, when
/// `from_process_env`, the process's variable (and `[env: …]` in the help). A variable
/// that is set but blank counts as unset.
pub fn declare(command: Command, from_process_env: bool) -> Command {
    command.mut_args(|arg| {
        let id = arg.get_id().to_string();
        if !is_variable(&id) {
            return arg;
        }
        let arg = arg
            .long(id.to_lowercase().replace('_', "-"))
            .value_name(id.clone())
            .global(true);
        if from_process_env && !std::env::var(&id).is_ok_and(|v| v.trim().is_empty()) {
            arg.env(id)
        } else {
            arg
        }
    })
}

/// Whether an argument's id names a variable (the settings' ids are upper snake case; the
/// subcommands' own arguments are not).
fn is_variable(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl Config {
    /// The settings alone, as a command: what [`Config::from_vars`] parses and
    /// [`reference_table`] documents.
    pub fn command() -> Command {
        declare(
            Self::augment_args(Command::new("backend").no_binary_name(true)),
            false,
        )
    }

    /// Reads the configuration through `get`, which returns a variable's value if it is
    /// set. Tests pass a map here instead of changing the process environment; `main`
    /// reads the process's through the command line (see `cli::parse`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that cannot be used.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let command = Self::command();
        let flags = command.get_arguments().filter_map(|arg| {
            let id = arg.get_id().as_str();
            let value = get(id).filter(|v| !v.trim().is_empty())?;
            Some(format!("--{}={value}", arg.get_long()?))
        });
        let matches = command
            .clone()
            .try_get_matches_from(flags.collect::<Vec<_>>())?;
        Self::from_arg_matches(&matches)?.settle(&command, &matches)
    }

    /// Applies the rules between settings, works out the values that depend on others,
    /// and records what `backend config` prints; `matches` are what `command` parsed.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that cannot be used.
    pub fn settle(mut self, command: &Command, matches: &ArgMatches) -> Result<Self, ConfigError> {
        #[cfg(feature = "graphql")]
        self.graphql.validate()?;
        self.worker.settle(self.database.url.is_some())?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        self.password_hash_concurrency = self.password_hash_concurrency_asked.unwrap_or(cores);
        self.described = describe(command, matches);
        // The two whose value is worked out, as they came out.
        self.described.insert(
            "WORKER_IN_PROCESS".into(),
            self.worker.in_process.to_string(),
        );
        self.described.insert(
            "PASSWORD_HASH_CONCURRENCY".into(),
            self.password_hash_concurrency.to_string(),
        );
        Ok(self)
    }

    /// Every effective setting by variable name, secrets redacted: what `config` prints.
    pub fn describe(&self) -> &BTreeMap<String, String> {
        &self.described
    }
}

/// Each variable's value as given (or defaulted), the secret ones redacted: a URL shows
/// where it points and nothing else, any other secret only that it is set.
fn describe(command: &Command, matches: &ArgMatches) -> BTreeMap<String, String> {
    command
        .get_arguments()
        .filter(|arg| is_variable(arg.get_id().as_str()))
        .map(|arg| {
            let id = arg.get_id().as_str();
            let raw = matches.try_get_raw(id).ok().flatten().map(|values| {
                values
                    .map(|v| v.to_string_lossy().trim().to_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let shown = match raw {
                None => "(unset)".to_owned(),
                Some(raw) if arg.is_hide_env_values_set() && id.ends_with("_URL") => {
                    SecretUrl::parse(&raw)
                        .map_or_else(|_| "(set)".to_owned(), |url| url.to_string())
                }
                Some(_) if arg.is_hide_env_values_set() => "(set)".to_owned(),
                Some(raw) => raw,
            };
            (id.to_owned(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests;
