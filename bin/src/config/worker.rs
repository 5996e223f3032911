//! The worker: outbox delivery, the periodic jobs, and the reminder webhook they post to.
//!
//! That a lease outlasts the deliveries under it is not checked here: it is the delivery
//! use case's rule (`DeliverJobs::new`), checked when the application is built.

use std::{net::SocketAddr, time::Duration};

use clap::{ArgAction, Args};
use secrecy::{ExposeSecret, SecretString};

use super::{
    ConfigError,
    values::{UrlWithSecrets, at_least, boolean, hours, millis, minutes, parsed, seconds, secret},
};
use crate::secret_url::SecretUrl;

/// The worker's settings.
#[derive(Debug, Clone, Args)]
pub struct WorkerConfig {
    /// Whether `serve` runs the worker too. Unset: `true` in memory (where it always does,
    /// as no other process can see the outbox), `false` with `DATABASE_URL`.
    #[arg(id = "WORKER_IN_PROCESS", long, action = ArgAction::Set, value_parser = boolean)]
    in_process_asked: Option<bool>,
    /// Whether `serve` runs the worker: what `WORKER_IN_PROCESS` comes to.
    #[arg(skip)]
    pub in_process: bool,
    /// The most jobs claimed at once.
    #[arg(id = "WORKER_BATCH_SIZE", long, default_value = "32", value_parser = at_least(1u32))]
    pub batch_size: u32,
    /// The longest wait between claims when no signal comes (a commit wakes the worker at
    /// once, by `LISTEN/NOTIFY` on Postgres): the safety net for a lost signal.
    #[arg(id = "WORKER_POLL_INTERVAL_MS", long, default_value = "1000", value_parser = millis(1))]
    pub poll_interval: Duration,
    /// How long a claimed job stays hidden from other workers; a killed worker's job comes
    /// back after it. Longer than twice the longest delivery (the webhook's timeout times
    /// its attempts, with the waits between them: 15.6 s by default), or start-up fails
    /// naming it.
    #[arg(id = "WORKER_LEASE_SECS", long, default_value = "60", value_parser = seconds(1))]
    pub lease: Duration,
    /// Attempts before a job is dead.
    #[arg(id = "WORKER_MAX_ATTEMPTS", long, default_value = "10", value_parser = at_least(1u32))]
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each further one, with jitter.
    #[arg(id = "WORKER_BACKOFF_BASE_MS", long, default_value = "1000", value_parser = millis(0))]
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    #[arg(id = "WORKER_BACKOFF_MAX_SECS", long, default_value = "600", value_parser = seconds(0))]
    pub backoff_max: Duration,
    /// On SIGTERM, how long the delivery in hand may take (no new one starts; the rest of
    /// the batch is given back); after that it is abandoned, and redelivered when its lease
    /// ends. Shorter than the orchestrator's grace period (30 s in the manifests).
    #[arg(id = "WORKER_DRAIN_TIMEOUT_SECS", long, default_value = "20", value_parser = seconds(0))]
    pub drain_timeout: Duration,
    /// Where `backend worker` serves `/healthz`, `/readyz` and `/metrics`, within the same
    /// `HTTP_*` time bounds as the API's listener (header, idle and send timeouts, the
    /// drain).
    #[arg(id = "WORKER_HTTP_ADDR", long, default_value = "127.0.0.1:9090", value_parser = parsed::<SocketAddr>)]
    pub http_addr: SocketAddr,
    /// Connections open at once on `WORKER_HTTP_ADDR`; past it a new one is closed at once.
    /// Its clients are the orchestrator's probes and a metrics scraper, so it is small: each
    /// open connection costs some 20 KB, and the API's `HTTP_MAX_CONNECTIONS` would let a
    /// neighbour hold more memory than the worker's pod has.
    #[arg(id = "WORKER_HTTP_MAX_CONNECTIONS", long, default_value = "64", value_parser = at_least(1usize))]
    pub http_max_connections: usize,
    /// Delivered jobs older than this are deleted. At least 24, so that a reminder's
    /// dedupe key outlives its window.
    #[arg(id = "OUTBOX_RETENTION_HOURS", long, default_value = "168", value_parser = hours(24))]
    pub retention: Duration,
    /// About how many events the Redis stream (in memory, the event bus) keeps: the window
    /// within which a live subscription can resume with `after`.
    #[arg(id = "EVENT_STREAM_MAX_LEN", long, default_value = "100000", value_parser = at_least(1usize))]
    pub stream_max_len: usize,
    /// How long before its deadline a todo is reminded of, from 1 to 1440 (a day: a
    /// reminder's dedupe key is kept as long as delivered jobs, at least 24 hours).
    #[arg(id = "REMINDER_WINDOW_MINUTES", long, default_value = "60", value_parser = minutes(1..=1440))]
    pub reminder_window: Duration,
    /// The reminder webhook.
    #[command(flatten)]
    pub webhook: WebhookConfig,
}

impl WorkerConfig {
    /// Settles what depends on another section: whether `serve` runs the worker, which
    /// it must when the outbox is in memory (`database` is false).
    pub(super) fn settle(&mut self, database: bool) -> Result<(), ConfigError> {
        self.in_process = !database || self.in_process_asked.unwrap_or(false);
        self.webhook.validate()
    }
}

/// Where reminders go.
#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// The `http://` URL reminders are posted to (a secret, like the other URLs: printed
    /// with its path and query values redacted). Unset: reminders are logged.
    #[arg(id = "REMINDER_WEBHOOK_URL", long, hide_env_values = true, value_parser = UrlWithSecrets { schemes: &["http"], hint: " (this build has no TLS client)" })]
    pub url: Option<SecretUrl>,
    /// The HMAC-SHA256 key reminders are signed with (a secret: never printed). Required
    /// with the URL.
    #[arg(id = "REMINDER_WEBHOOK_SECRET", long, hide_env_values = true, value_parser = secret)]
    pub secret: Option<SecretString>,
    /// The longest one webhook request may take.
    #[arg(id = "REMINDER_WEBHOOK_TIMEOUT_MS", long, default_value = "5000", value_parser = millis(1))]
    pub timeout: Duration,
    /// Requests per reminder before the job backs off and is retried later.
    #[arg(id = "REMINDER_WEBHOOK_ATTEMPTS", long, default_value = "3", value_parser = at_least(1u32))]
    pub attempts: u32,
}

impl WebhookConfig {
    /// The URL with its key, when reminders are posted.
    pub fn endpoint(&self) -> Option<(&SecretUrl, &SecretString)> {
        self.url.as_ref().zip(self.secret.as_ref())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let keyed = self
            .secret
            .as_ref()
            .is_some_and(|s| !s.expose_secret().is_empty());
        if self.url.is_some() && !keyed {
            return Err(ConfigError::invalid(
                "REMINDER_WEBHOOK_SECRET",
                "",
                "must be set with REMINDER_WEBHOOK_URL",
            ));
        }
        Ok(())
    }
}
