//! Typed configuration, read once from the environment (12-factor).
//!
//! Every setting has a documented variable and a default, except the two backing services:
//! leaving `DATABASE_URL` or `REDIS_URL` unset is a choice (use the in-memory adapters), not a
//! mistake. A value that does not parse is an error that names the variable. Secrets (the
//! URLs, which carry passwords) are wrapped so that neither `Debug` nor [`Config::describe`]
//! can print them.
//!
//! This reads variables by hand rather than through a config framework: there are a dozen
//! of them, and the one thing a framework would add, layered files, is what 12-factor
//! configuration avoids.

use ipnet::IpNet;
use std::{collections::BTreeMap, fmt, net::SocketAddr, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

use crate::secret_url::SecretUrl;

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {var}={value:?}: {reason}")]
pub struct ConfigError {
    var: &'static str,
    /// The offending value, or a placeholder for secrets.
    value: String,
    reason: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-friendly, coloured when writing to a terminal; for local development.
    Pretty,
    /// One JSON object per line; for production log pipelines.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err("expected \"pretty\" or \"json\"".into()),
        }
    }
}

/// Postgres settings; present only when `DATABASE_URL` is set.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: the connection URL, including credentials.
    pub url: SecretUrl,
    /// `DATABASE_MAX_CONNECTIONS` (default 16): the pool size.
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` (default 3000): how long a request waits for a
    /// connection before it fails as unavailable.
    pub acquire_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 5000): the longest any statement may run.
    pub statement_timeout: Duration,
}

/// Redis settings; present only when `REDIS_URL` is set.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `REDIS_URL`: the connection URL, possibly with a password.
    pub url: SecretUrl,
    /// `REDIS_KEY_PREFIX` (default `todo-app:`): prepended to every key.
    pub key_prefix: String,
    /// `REDIS_TIMEOUT_MS` (default 500): how long one command may take.
    pub timeout: Duration,
    /// `REDIS_CLIENT_CACHE_ENTRIES` (default 10000): how many sessions and cached todos
    /// each process keeps in memory, tracked by Redis (client-side caching). 0 turns it off.
    pub client_cache_entries: usize,
    /// `REDIS_CLIENT_CACHE_TTL_SECS` (default 10): the longest a value is kept in process
    /// memory before it is read from Redis again, even without an invalidation. It bounds
    /// the one stale case tracking leaves open (see `driven_redis::ClientCacheSettings`);
    /// a hot key costs one fetch per period, which no benchmark here can see.
    pub client_cache_ttl: Duration,
}

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HTTP_ADDR` (default `127.0.0.1:8080`): where `serve` listens. Port 0 picks a free one.
    pub addr: SocketAddr,
    /// `HTTP_REQUEST_TIMEOUT_MS` (default 10000): a request taking longer gets 503.
    pub request_timeout: Duration,
    /// `HTTP_DRAIN_TIMEOUT_SECS` (default 20): on shutdown, how long in-flight requests may
    /// take to finish before the server stops anyway.
    pub drain_timeout: Duration,
    /// `HTTP_CORS_ALLOWED_ORIGINS` (default empty: CORS off): comma-separated origins, such
    /// as `https://app.example.org`, that browsers may call the API from.
    pub cors_allowed_origins: Vec<String>,
    /// `HTTP_MAX_IN_FLIGHT` (default 1024): the most requests handled at once, REST,
    /// GraphQL and unary gRPC together; past it, 503 `overloaded` with `Retry-After` (gRPC
    /// UNAVAILABLE) rather than a queue. 0 is no limit.
    pub max_in_flight: usize,
    /// `TRUSTED_PROXIES` (default empty): comma-separated networks, such as
    /// `10.0.0.0/8,fd00::/8`, of the reverse proxies in front of the server. A request from
    /// one of them is counted, by the limits per address, as coming from the address it
    /// appended to `X-Forwarded-For`. Empty: the TCP peer, whatever the header says.
    pub trusted_proxies: Vec<IpNet>,
    /// `HTTP_MAX_CONNECTIONS` (default 10000): the most connections open at once,
    /// WebSockets included; past it, a new connection is closed at once. Keep it under the
    /// process's file-descriptor limit (`ulimit -n`), with room for the pools.
    pub max_connections: usize,
    /// `HTTP_HEADER_READ_TIMEOUT_MS` (default 10000): how long a new connection may take
    /// to send its first request head (or HTTP/2 preface), and an HTTP/1.1 request its
    /// head from its first byte; the connection is dropped past it.
    pub header_read_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECS` (default 75): how long a connection may have no request in
    /// progress before it is closed. Longer than a load balancer's idle timeout (often
    /// 60 s), so the balancer closes first.
    pub idle_timeout: Duration,
    /// `HTTP_SEND_TIMEOUT_SECS` (default 30): how long a response with bytes ready may
    /// wait for its client to take any (a client that stops reading, or shuts its HTTP/2
    /// window) before the connection is closed.
    pub send_timeout: Duration,
    /// `HTTP_KEEPALIVE_INTERVAL_SECS` (default 20): how often HTTP/2 connections and
    /// WebSockets are pinged.
    pub keepalive_interval: Duration,
    /// `HTTP_KEEPALIVE_TIMEOUT_SECS` (default 20): how long a ping may go unanswered
    /// before the peer counts as gone and its connection, with its live streams, is
    /// closed.
    pub keepalive_timeout: Duration,
}

/// The GraphQL endpoint's limits.
#[derive(Debug, Clone)]
pub struct GraphqlConfig {
    /// `GRAPHQL_MAX_DEPTH` (default 15): the deepest a selection may nest.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY` (default 2500): one per field, times `first` per connection.
    pub max_complexity: usize,
    /// `GRAPHQL_MAX_QUERY_BYTES` (default 16384): the longest query text accepted.
    pub max_query_bytes: usize,
    /// `GRAPHQL_INTROSPECTION` (default `true`): whether clients may introspect the schema.
    pub introspection: bool,
    /// `GRAPHQL_WS_MAX_MESSAGE_BYTES` (default 65536): the largest WebSocket message a
    /// client may send; at least `GRAPHQL_MAX_QUERY_BYTES`, so any query fits.
    pub ws_max_message_bytes: usize,
    /// `GRAPHQL_WS_INIT_TIMEOUT_MS` (default 10000): how long a WebSocket may go without
    /// `connection_init` before it is closed (4408).
    pub ws_init_timeout: Duration,
}

/// The gRPC services' limits.
#[derive(Debug, Clone)]
pub struct GrpcConfig {
    /// `GRPC_MAX_MESSAGE_BYTES` (default 4194304, 4 MiB): the largest message accepted or
    /// sent.
    pub max_message_bytes: usize,
    /// `GRPC_HEALTH_INTERVAL_MS` (default 5000): how often gRPC health re-checks readiness.
    pub health_interval: Duration,
}

/// The worker: outbox delivery and the periodic jobs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `WORKER_IN_PROCESS` (default: `true` in memory, `false` with `DATABASE_URL`): whether
    /// `serve` runs the worker too. In memory it always does, as no other process can see
    /// the outbox.
    pub in_process: bool,
    /// `WORKER_BATCH_SIZE` (default 32): the most jobs claimed at once.
    pub batch_size: u32,
    /// `WORKER_POLL_INTERVAL_MS` (default 1000): the longest wait between claims when no
    /// signal comes; the safety net for a lost signal (see `JobSignal`).
    pub poll_interval: Duration,
    /// `WORKER_LEASE_SECS` (default 60): how long a claimed job stays hidden from other
    /// workers; a job whose worker died is delivered again after that. It must be longer
    /// than twice the longest delivery (the webhook's timeout times its attempts, with
    /// the waits between them: 15.6 s by default), which `DeliverJobs::new` checks.
    pub lease: Duration,
    /// `WORKER_MAX_ATTEMPTS` (default 10): attempts before a job is dead.
    pub max_attempts: u32,
    /// `WORKER_BACKOFF_BASE_MS` (default 1000): the wait after the first failure; it doubles
    /// with each further one, with jitter.
    pub backoff_base: Duration,
    /// `WORKER_BACKOFF_MAX_SECS` (default 600): the longest wait between attempts.
    pub backoff_max: Duration,
    /// `WORKER_DRAIN_TIMEOUT_SECS` (default 20): on SIGTERM, how long the delivery in hand
    /// may take to finish (no new one starts); after that it is abandoned, and redelivered
    /// when its lease ends. Longer than the longest delivery, and shorter than the
    /// orchestrator's grace period (30 s in the manifests).
    pub drain_timeout: Duration,
    /// `WORKER_HTTP_ADDR` (default 127.0.0.1:9090): where `backend worker` serves
    /// `/healthz`, `/readyz` and `/metrics`.
    pub http_addr: SocketAddr,
    /// `OUTBOX_RETENTION_HOURS` (default 168): how long delivered jobs are kept; at least
    /// 24, so that a reminder's key outlives its window.
    pub retention: Duration,
    /// `EVENT_STREAM_MAX_LEN` (default 100000): about how many events the Redis stream
    /// (or, in memory, the event bus) keeps: the window in which a live subscription can
    /// resume after an event it saw.
    pub stream_max_len: usize,
    /// `REMINDER_WINDOW_MINUTES` (default 60): how far ahead a reminder is sent.
    pub reminder_window: Duration,
    /// `REMINDER_WEBHOOK_URL`: where reminders are posted; unset, they are logged.
    pub webhook: Option<WebhookConfig>,
}

/// The reminder webhook; present only when `REMINDER_WEBHOOK_URL` is set.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `REMINDER_WEBHOOK_URL`: an `http://` URL.
    pub url: SecretUrl,
    /// `REMINDER_WEBHOOK_SECRET` (required with the URL): the HMAC-SHA256 key.
    pub secret: SecretString,
    /// `REMINDER_WEBHOOK_TIMEOUT_MS` (default 5000): the longest one request may take.
    pub timeout: Duration,
    /// `REMINDER_WEBHOOK_ATTEMPTS` (default 3): requests per reminder before the job is
    /// retried later.
    pub attempts: u32,
}

/// Reads the worker's settings; `database` says whether `DATABASE_URL` is set.
fn worker_config(env: &Vars<'_>, database: bool) -> Result<WorkerConfig, ConfigError> {
    // A webhook's URL often carries its token (in the path or the query): it is a secret
    // like the others.
    let webhook = match env.secret_url(
        "REMINDER_WEBHOOK_URL",
        &["http"],
        " (this build has no TLS client)",
    )? {
        None => None,
        Some(url) => {
            let secret = env
                .secret("REMINDER_WEBHOOK_SECRET")
                .filter(|s| !s.expose_secret().is_empty())
                .ok_or_else(|| {
                    env.invalid(
                        "REMINDER_WEBHOOK_SECRET",
                        "must be set with REMINDER_WEBHOOK_URL",
                    )
                })?;
            Some(WebhookConfig {
                url,
                secret,
                timeout: env.millis("REMINDER_WEBHOOK_TIMEOUT_MS", 5_000)?,
                attempts: env.parse("REMINDER_WEBHOOK_ATTEMPTS", 3u32)?.max(1),
            })
        }
    };
    let worker = WorkerConfig {
        in_process: !database || env.parse("WORKER_IN_PROCESS", false)?,
        batch_size: env.parse("WORKER_BATCH_SIZE", 32u32)?,
        poll_interval: env.millis("WORKER_POLL_INTERVAL_MS", 1000)?,
        lease: env.seconds("WORKER_LEASE_SECS", 60)?,
        max_attempts: env.parse("WORKER_MAX_ATTEMPTS", 10u32)?,
        backoff_base: env.millis("WORKER_BACKOFF_BASE_MS", 1_000)?,
        backoff_max: env.seconds("WORKER_BACKOFF_MAX_SECS", 600)?,
        drain_timeout: env.seconds("WORKER_DRAIN_TIMEOUT_SECS", 20)?,
        http_addr: env.parse("WORKER_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 9090)))?,
        retention: env.seconds("OUTBOX_RETENTION_HOURS", 168)? * 3600,
        stream_max_len: env.parse("EVENT_STREAM_MAX_LEN", 100_000usize)?,
        reminder_window: env.seconds("REMINDER_WINDOW_MINUTES", 60)? * 60,
        webhook,
    };
    if worker.batch_size == 0 {
        return Err(env.invalid("WORKER_BATCH_SIZE", "must be at least 1"));
    }
    if worker.poll_interval.is_zero() {
        return Err(env.invalid("WORKER_POLL_INTERVAL_MS", "must be at least 1"));
    }
    if worker.max_attempts == 0 {
        return Err(env.invalid("WORKER_MAX_ATTEMPTS", "must be at least 1"));
    }
    if worker.retention < Duration::from_secs(24 * 3600) {
        return Err(env.invalid("OUTBOX_RETENTION_HOURS", "must be at least 24"));
    }
    // At most a day: a reminder's dedupe key is kept as long as delivered jobs are
    // (OUTBOX_RETENTION_HOURS, at least 24), which must outlast the window.
    if worker.reminder_window.is_zero() || worker.reminder_window > Duration::from_secs(24 * 3600) {
        return Err(env.invalid("REMINDER_WINDOW_MINUTES", "must be from 1 to 1440"));
    }
    // That the lease outlasts the deliveries under it is the delivery use case's rule
    // (`DeliverJobs::new`), checked when the application is built.
    Ok(worker)
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP server.
    pub http: HttpConfig,
    /// The GraphQL endpoint.
    pub graphql: GraphqlConfig,
    /// The gRPC services.
    pub grpc: GrpcConfig,
    /// Postgres, or `None` for the in-memory repositories.
    pub database: Option<DatabaseConfig>,
    /// Redis, or `None` for the in-memory session store and cache.
    pub redis: Option<RedisConfig>,
    /// `STARTUP_CONNECT_TIMEOUT_SECS` (default 30): how long start-up keeps trying to reach
    /// Postgres and Redis while they do not answer (a database restarting, a network
    /// blip) before it gives up; 0 tries once. A refusal that retrying cannot cure, such
    /// as a wrong password, stops start-up at once.
    pub startup_connect_timeout: Duration,
    /// `SESSION_TTL_SECS` (default 86400): how long a login lasts.
    pub session_ttl: Duration,
    /// `CACHE_TTL_SECS` (default 300): how long a todo stays in the read cache. Also bounds
    /// how long an entry can be stale after a failed invalidation. 0 turns the cache off.
    pub cache_ttl: Duration,
    /// `CACHE_CAPACITY` (default 10000): the most todos the in-memory cache holds.
    pub cache_capacity: u64,
    /// `IDEMPOTENCY_KEY_TTL_HOURS` (default 24): how long the outcome of a write sent with
    /// an idempotency key is kept; a retry later than this writes again.
    pub idempotency_key_ttl: Duration,
    /// `PASSWORD_HASH_CONCURRENCY` (default: the number of cores): the most password hashes
    /// (19 MiB and ~25 ms of CPU each) running at once.
    pub password_hash_concurrency: usize,
    /// `PASSWORD_HASH_MAX_WAIT_MS` (default 1000): how long a login or registration waits
    /// for a hashing slot before it is answered 503 with `Retry-After`.
    pub password_hash_max_wait: Duration,
    /// The worker.
    pub worker: WorkerConfig,
    /// `WATCH_MAX_PER_USER` (default 8): live subscriptions (GraphQL `todoEvents`, gRPC
    /// `WatchTodos`) one user may hold open on one server.
    pub watch_per_user: usize,
    /// `WATCH_MAX_PER_INSTANCE` (default 10000): live subscriptions one server holds.
    pub watch_per_instance: usize,
    /// `LOGIN_LIMIT_PER_EMAIL` (default 10): login attempts a minute for one email, from
    /// anywhere; 0 is no limit.
    pub login_limit_per_email: u32,
    /// `LOGIN_LIMIT_PER_ADDRESS` (default 100): login attempts a minute from one client
    /// address; 0 is no limit.
    pub login_limit_per_address: u32,
    /// `REGISTER_LIMIT_PER_ADDRESS` (default 20): registrations a minute from one client
    /// address; 0 is no limit.
    pub register_limit_per_address: u32,
    /// `WATCH_SESSION_CHECK_MS` (default 10000): how often a live subscription checks that
    /// its session is still live; logging out ends the user's streams within this time.
    pub watch_session_check: Duration,
    /// `LOG_FORMAT` (default `pretty`): `pretty` or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG` (default `info`): a tracing env-filter directive.
    pub log_filter: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that does not parse.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get`, which returns a variable's value if it is set.
    /// Tests pass a map here instead of changing the process environment.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first variable that does not parse.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Vars { get: &get };
        let database = match env.secret_url("DATABASE_URL", &["postgres", "postgresql"], "")? {
            None => None,
            Some(url) => Some(DatabaseConfig {
                url,
                max_connections: env.parse("DATABASE_MAX_CONNECTIONS", 16u32)?,
                acquire_timeout: env.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 3_000)?,
                statement_timeout: env.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5_000)?,
            }),
        };
        if let Some(db) = &database
            && db.max_connections == 0
        {
            return Err(env.invalid("DATABASE_MAX_CONNECTIONS", "must be at least 1"));
        }
        let redis = match env.secret_url("REDIS_URL", &["redis", "rediss"], "")? {
            None => None,
            Some(url) => Some(RedisConfig {
                url,
                key_prefix: env
                    .string("REDIS_KEY_PREFIX")
                    .unwrap_or_else(|| "todo-app:".into()),
                timeout: env.millis("REDIS_TIMEOUT_MS", 500)?,
                client_cache_entries: env.parse("REDIS_CLIENT_CACHE_ENTRIES", 10_000usize)?,
                client_cache_ttl: env.seconds("REDIS_CLIENT_CACHE_TTL_SECS", 10)?,
            }),
        };
        if let Some(redis) = &redis
            && redis.client_cache_ttl.is_zero()
        {
            return Err(env.invalid(
                "REDIS_CLIENT_CACHE_TTL_SECS",
                "must be at least 1 (set REDIS_CLIENT_CACHE_ENTRIES=0 to turn the cache off)",
            ));
        }
        let session_ttl = env.seconds("SESSION_TTL_SECS", 86_400)?;
        if session_ttl.is_zero() {
            return Err(env.invalid("SESSION_TTL_SECS", "must be at least 1"));
        }
        let http = HttpConfig {
            addr: env.parse("HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            request_timeout: env.millis("HTTP_REQUEST_TIMEOUT_MS", 10_000)?,
            drain_timeout: env.seconds("HTTP_DRAIN_TIMEOUT_SECS", 20)?,
            max_in_flight: env.parse("HTTP_MAX_IN_FLIGHT", 1024usize)?,
            max_connections: env.parse("HTTP_MAX_CONNECTIONS", 10_000usize)?,
            header_read_timeout: env.millis("HTTP_HEADER_READ_TIMEOUT_MS", 10_000)?,
            idle_timeout: env.seconds("HTTP_IDLE_TIMEOUT_SECS", 75)?,
            send_timeout: env.seconds("HTTP_SEND_TIMEOUT_SECS", 30)?,
            keepalive_interval: env.seconds("HTTP_KEEPALIVE_INTERVAL_SECS", 20)?,
            keepalive_timeout: env.seconds("HTTP_KEEPALIVE_TIMEOUT_SECS", 20)?,
            trusted_proxies: env
                .string("TRUSTED_PROXIES")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(|n| {
                            // A bare address is a network of one.
                            n.parse::<IpNet>()
                                .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                                .map_err(|_| {
                                    env.invalid(
                                        "TRUSTED_PROXIES",
                                        &format!("{n:?} is not a network like 10.0.0.0/8"),
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default(),
            cors_allowed_origins: env
                .string("HTTP_CORS_ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        };
        for (var, zero) in [
            ("HTTP_MAX_CONNECTIONS", http.max_connections == 0),
            (
                "HTTP_HEADER_READ_TIMEOUT_MS",
                http.header_read_timeout.is_zero(),
            ),
            ("HTTP_IDLE_TIMEOUT_SECS", http.idle_timeout.is_zero()),
            ("HTTP_SEND_TIMEOUT_SECS", http.send_timeout.is_zero()),
            (
                "HTTP_KEEPALIVE_INTERVAL_SECS",
                http.keepalive_interval.is_zero(),
            ),
            (
                "HTTP_KEEPALIVE_TIMEOUT_SECS",
                http.keepalive_timeout.is_zero(),
            ),
        ] {
            if zero {
                return Err(env.invalid(var, "must be at least 1"));
            }
        }
        for origin in &http.cors_allowed_origins {
            let parsed = url::Url::parse(origin).map_err(|e| {
                env.invalid(
                    "HTTP_CORS_ALLOWED_ORIGINS",
                    &format!("{origin:?} is not an origin ({e})"),
                )
            })?;
            if parsed.origin().ascii_serialization() != *origin {
                return Err(env.invalid(
                    "HTTP_CORS_ALLOWED_ORIGINS",
                    &format!("{origin:?} is not an origin like https://app.example.org"),
                ));
            }
        }
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let password_hash_concurrency = env.parse("PASSWORD_HASH_CONCURRENCY", cores)?;
        if password_hash_concurrency == 0 {
            return Err(env.invalid("PASSWORD_HASH_CONCURRENCY", "must be at least 1"));
        }
        let graphql = GraphqlConfig {
            max_depth: env.parse("GRAPHQL_MAX_DEPTH", 15usize)?,
            max_complexity: env.parse("GRAPHQL_MAX_COMPLEXITY", 2_500usize)?,
            max_query_bytes: env.parse("GRAPHQL_MAX_QUERY_BYTES", 16_384usize)?,
            introspection: env.parse("GRAPHQL_INTROSPECTION", true)?,
            ws_max_message_bytes: env.parse("GRAPHQL_WS_MAX_MESSAGE_BYTES", 65_536usize)?,
            ws_init_timeout: env.millis("GRAPHQL_WS_INIT_TIMEOUT_MS", 10_000)?,
        };
        if graphql.ws_max_message_bytes < graphql.max_query_bytes {
            return Err(env.invalid(
                "GRAPHQL_WS_MAX_MESSAGE_BYTES",
                "must be at least GRAPHQL_MAX_QUERY_BYTES, so that any query fits",
            ));
        }
        if graphql.ws_init_timeout.is_zero() {
            return Err(env.invalid("GRAPHQL_WS_INIT_TIMEOUT_MS", "must be at least 1"));
        }
        let grpc = GrpcConfig {
            max_message_bytes: env.parse("GRPC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024usize)?,
            health_interval: env.millis("GRPC_HEALTH_INTERVAL_MS", 5_000)?,
        };
        if grpc.health_interval.is_zero() {
            return Err(env.invalid("GRPC_HEALTH_INTERVAL_MS", "must be at least 1"));
        }
        let worker = worker_config(&env, database.is_some())?;
        let idempotency_key_ttl = env.seconds("IDEMPOTENCY_KEY_TTL_HOURS", 24)? * 3600;
        if idempotency_key_ttl.is_zero() {
            return Err(env.invalid("IDEMPOTENCY_KEY_TTL_HOURS", "must be at least 1"));
        }
        let watch_session_check = env.millis("WATCH_SESSION_CHECK_MS", 10_000)?;
        if watch_session_check.is_zero() {
            return Err(env.invalid("WATCH_SESSION_CHECK_MS", "must be at least 1"));
        }
        Ok(Self {
            http,
            graphql,
            grpc,
            worker,
            watch_per_user: env.parse("WATCH_MAX_PER_USER", 8usize)?,
            watch_per_instance: env.parse("WATCH_MAX_PER_INSTANCE", 10_000usize)?,
            watch_session_check,
            login_limit_per_email: env.parse("LOGIN_LIMIT_PER_EMAIL", 10u32)?,
            login_limit_per_address: env.parse("LOGIN_LIMIT_PER_ADDRESS", 100u32)?,
            register_limit_per_address: env.parse("REGISTER_LIMIT_PER_ADDRESS", 20u32)?,
            database,
            redis,
            startup_connect_timeout: env.seconds("STARTUP_CONNECT_TIMEOUT_SECS", 30)?,
            session_ttl,
            cache_ttl: env.seconds("CACHE_TTL_SECS", 300)?,
            cache_capacity: env.parse("CACHE_CAPACITY", 10_000u64)?,
            idempotency_key_ttl,
            password_hash_concurrency,
            password_hash_max_wait: env.millis("PASSWORD_HASH_MAX_WAIT_MS", 1_000)?,
            log_format: env.parse("LOG_FORMAT", LogFormat::Pretty)?,
            log_filter: env.string("RUST_LOG").unwrap_or_else(|| "info".into()),
        })
    }

    /// Every effective setting by variable name, secrets redacted: what `config` prints.
    pub fn describe(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        out.insert("HTTP_ADDR", self.http.addr.to_string());
        out.insert(
            "HTTP_REQUEST_TIMEOUT_MS",
            self.http.request_timeout.as_millis().to_string(),
        );
        out.insert(
            "HTTP_DRAIN_TIMEOUT_SECS",
            self.http.drain_timeout.as_secs().to_string(),
        );
        out.insert("HTTP_MAX_IN_FLIGHT", self.http.max_in_flight.to_string());
        out.insert(
            "HTTP_MAX_CONNECTIONS",
            self.http.max_connections.to_string(),
        );
        out.insert(
            "HTTP_HEADER_READ_TIMEOUT_MS",
            self.http.header_read_timeout.as_millis().to_string(),
        );
        out.insert(
            "HTTP_IDLE_TIMEOUT_SECS",
            self.http.idle_timeout.as_secs().to_string(),
        );
        out.insert(
            "HTTP_SEND_TIMEOUT_SECS",
            self.http.send_timeout.as_secs().to_string(),
        );
        out.insert(
            "HTTP_KEEPALIVE_INTERVAL_SECS",
            self.http.keepalive_interval.as_secs().to_string(),
        );
        out.insert(
            "HTTP_KEEPALIVE_TIMEOUT_SECS",
            self.http.keepalive_timeout.as_secs().to_string(),
        );
        out.insert(
            "TRUSTED_PROXIES",
            self.http
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
        out.insert(
            "HTTP_CORS_ALLOWED_ORIGINS",
            self.http.cors_allowed_origins.join(","),
        );
        out.insert("GRAPHQL_MAX_DEPTH", self.graphql.max_depth.to_string());
        out.insert(
            "GRAPHQL_MAX_COMPLEXITY",
            self.graphql.max_complexity.to_string(),
        );
        out.insert(
            "GRAPHQL_MAX_QUERY_BYTES",
            self.graphql.max_query_bytes.to_string(),
        );
        out.insert(
            "GRAPHQL_INTROSPECTION",
            self.graphql.introspection.to_string(),
        );
        out.insert(
            "GRAPHQL_WS_MAX_MESSAGE_BYTES",
            self.graphql.ws_max_message_bytes.to_string(),
        );
        out.insert(
            "GRAPHQL_WS_INIT_TIMEOUT_MS",
            self.graphql.ws_init_timeout.as_millis().to_string(),
        );
        out.insert(
            "GRPC_MAX_MESSAGE_BYTES",
            self.grpc.max_message_bytes.to_string(),
        );
        out.insert(
            "GRPC_HEALTH_INTERVAL_MS",
            self.grpc.health_interval.as_millis().to_string(),
        );
        match &self.database {
            None => {
                out.insert("DATABASE_URL", "(unset: in-memory repositories)".into());
            }
            Some(db) => {
                out.insert("DATABASE_URL", db.url.to_string());
                out.insert("DATABASE_MAX_CONNECTIONS", db.max_connections.to_string());
                out.insert(
                    "DATABASE_ACQUIRE_TIMEOUT_MS",
                    db.acquire_timeout.as_millis().to_string(),
                );
                out.insert(
                    "DATABASE_STATEMENT_TIMEOUT_MS",
                    db.statement_timeout.as_millis().to_string(),
                );
            }
        }
        match &self.redis {
            None => {
                out.insert("REDIS_URL", "(unset: in-memory sessions and cache)".into());
            }
            Some(redis) => {
                out.insert("REDIS_URL", redis.url.to_string());
                out.insert("REDIS_KEY_PREFIX", redis.key_prefix.clone());
                out.insert("REDIS_TIMEOUT_MS", redis.timeout.as_millis().to_string());
                out.insert(
                    "REDIS_CLIENT_CACHE_ENTRIES",
                    redis.client_cache_entries.to_string(),
                );
                out.insert(
                    "REDIS_CLIENT_CACHE_TTL_SECS",
                    redis.client_cache_ttl.as_secs().to_string(),
                );
            }
        }
        let w = &self.worker;
        out.insert("WORKER_IN_PROCESS", w.in_process.to_string());
        out.insert("WORKER_BATCH_SIZE", w.batch_size.to_string());
        out.insert(
            "WORKER_POLL_INTERVAL_MS",
            w.poll_interval.as_millis().to_string(),
        );
        out.insert("WORKER_LEASE_SECS", w.lease.as_secs().to_string());
        out.insert("WORKER_MAX_ATTEMPTS", w.max_attempts.to_string());
        out.insert(
            "WORKER_BACKOFF_BASE_MS",
            w.backoff_base.as_millis().to_string(),
        );
        out.insert(
            "WORKER_BACKOFF_MAX_SECS",
            w.backoff_max.as_secs().to_string(),
        );
        out.insert(
            "WORKER_DRAIN_TIMEOUT_SECS",
            w.drain_timeout.as_secs().to_string(),
        );
        out.insert("WORKER_HTTP_ADDR", w.http_addr.to_string());
        out.insert(
            "OUTBOX_RETENTION_HOURS",
            (w.retention.as_secs() / 3600).to_string(),
        );
        out.insert("EVENT_STREAM_MAX_LEN", w.stream_max_len.to_string());
        out.insert(
            "REMINDER_WINDOW_MINUTES",
            (w.reminder_window.as_secs() / 60).to_string(),
        );
        match &w.webhook {
            None => {
                out.insert(
                    "REMINDER_WEBHOOK_URL",
                    "(unset: reminders are logged)".into(),
                );
            }
            Some(hook) => {
                out.insert("REMINDER_WEBHOOK_URL", hook.url.to_string());
                out.insert("REMINDER_WEBHOOK_SECRET", "(set)".into());
                out.insert(
                    "REMINDER_WEBHOOK_TIMEOUT_MS",
                    hook.timeout.as_millis().to_string(),
                );
                out.insert("REMINDER_WEBHOOK_ATTEMPTS", hook.attempts.to_string());
            }
        }
        out.insert("WATCH_MAX_PER_USER", self.watch_per_user.to_string());
        out.insert(
            "WATCH_MAX_PER_INSTANCE",
            self.watch_per_instance.to_string(),
        );
        out.insert(
            "LOGIN_LIMIT_PER_EMAIL",
            self.login_limit_per_email.to_string(),
        );
        out.insert(
            "LOGIN_LIMIT_PER_ADDRESS",
            self.login_limit_per_address.to_string(),
        );
        out.insert(
            "REGISTER_LIMIT_PER_ADDRESS",
            self.register_limit_per_address.to_string(),
        );
        out.insert(
            "WATCH_SESSION_CHECK_MS",
            self.watch_session_check.as_millis().to_string(),
        );
        out.insert(
            "STARTUP_CONNECT_TIMEOUT_SECS",
            self.startup_connect_timeout.as_secs().to_string(),
        );
        out.insert("SESSION_TTL_SECS", self.session_ttl.as_secs().to_string());
        out.insert("CACHE_TTL_SECS", self.cache_ttl.as_secs().to_string());
        out.insert("CACHE_CAPACITY", self.cache_capacity.to_string());
        out.insert(
            "IDEMPOTENCY_KEY_TTL_HOURS",
            (self.idempotency_key_ttl.as_secs() / 3600).to_string(),
        );
        out.insert(
            "PASSWORD_HASH_CONCURRENCY",
            self.password_hash_concurrency.to_string(),
        );
        out.insert(
            "PASSWORD_HASH_MAX_WAIT_MS",
            self.password_hash_max_wait.as_millis().to_string(),
        );
        out.insert(
            "LOG_FORMAT",
            format!("{:?}", self.log_format).to_lowercase(),
        );
        out.insert("RUST_LOG", self.log_filter.clone());
        out
    }
}

/// Typed access to variables, each error naming its variable.
struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// A non-empty value; an empty variable counts as unset, as in most shells' `.env` use.
    fn string(&self, var: &str) -> Option<String> {
        (self.get)(var).filter(|v| !v.trim().is_empty())
    }

    fn secret(&self, var: &str) -> Option<SecretString> {
        self.string(var).map(SecretString::from)
    }

    /// A URL that may carry credentials, with one of `schemes` (`hint` says why, if it
    /// needs saying). An error names the variable and never quotes the URL.
    fn secret_url(
        &self,
        var: &'static str,
        schemes: &[&str],
        hint: &str,
    ) -> Result<Option<SecretUrl>, ConfigError> {
        let Some(raw) = self.string(var) else {
            return Ok(None);
        };
        let invalid = |reason: String| ConfigError {
            var,
            value: "(redacted)".into(),
            reason,
        };
        let url = SecretUrl::parse(raw.trim()).map_err(|e| invalid(format!("not a URL ({e})")))?;
        if !schemes.contains(&url.scheme()) {
            return Err(invalid(format!(
                "the scheme must be one of {schemes:?}{hint}"
            )));
        }
        Ok(Some(url))
    }

    fn parse<T: FromStr>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.string(var) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
                var,
                value: raw,
                reason: e.to_string(),
            }),
        }
    }

    fn millis(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(var, default).map(Duration::from_millis)
    }

    fn seconds(&self, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(var, default).map(Duration::from_secs)
    }

    fn invalid(&self, var: &'static str, reason: &str) -> ConfigError {
        ConfigError {
            var,
            value: self.string(var).unwrap_or_default(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_selects_the_in_memory_adapters_and_defaults() {
        let config = config(&[]).unwrap();
        assert!(config.database.is_none());
        assert!(config.redis.is_none());
        assert_eq!(config.session_ttl, Duration::from_secs(86_400));
        assert_eq!(config.cache_ttl, Duration::from_secs(300));
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.log_filter, "info");
        assert_eq!(config.http.addr.to_string(), "127.0.0.1:8080");
        assert!(config.http.cors_allowed_origins.is_empty());
    }

    #[test]
    fn http_settings_are_read_and_origins_checked() {
        let config = config(&[
            ("HTTP_ADDR", "0.0.0.0:9000"),
            ("HTTP_REQUEST_TIMEOUT_MS", "1500"),
            ("HTTP_DRAIN_TIMEOUT_SECS", "3"),
            (
                "HTTP_CORS_ALLOWED_ORIGINS",
                "https://app.example.org, http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(config.http.addr.to_string(), "0.0.0.0:9000");
        assert_eq!(config.http.request_timeout, Duration::from_millis(1500));
        assert_eq!(config.http.drain_timeout, Duration::from_secs(3));
        assert_eq!(
            config.http.cors_allowed_origins,
            ["https://app.example.org", "http://localhost:3000"]
        );
        for bad in ["https://app.example.org/path", "not an origin", "*"] {
            let err = super::Config::from_vars(|name| {
                (name == "HTTP_CORS_ALLOWED_ORIGINS").then(|| bad.to_owned())
            })
            .unwrap_err();
            assert!(
                err.to_string().contains("HTTP_CORS_ALLOWED_ORIGINS"),
                "{bad}: {err}"
            );
        }
        let err =
            super::Config::from_vars(|name| (name == "HTTP_ADDR").then(|| "localhost".to_owned()))
                .unwrap_err();
        assert!(err.to_string().contains("HTTP_ADDR"), "{err}");
    }

    #[test]
    fn every_variable_is_read() {
        let config = config(&[
            ("DATABASE_URL", "postgres://app:pw@db:5432/app"),
            ("DATABASE_MAX_CONNECTIONS", "4"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "250"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "1000"),
            ("REDIS_URL", "redis://cache:6379"),
            ("REDIS_KEY_PREFIX", "svc:"),
            ("REDIS_TIMEOUT_MS", "50"),
            ("REDIS_CLIENT_CACHE_ENTRIES", "0"),
            ("REDIS_CLIENT_CACHE_TTL_SECS", "9"),
            ("SESSION_TTL_SECS", "60"),
            ("STARTUP_CONNECT_TIMEOUT_SECS", "11"),
            ("CACHE_TTL_SECS", "5"),
            ("CACHE_CAPACITY", "7"),
            ("IDEMPOTENCY_KEY_TTL_HOURS", "2"),
            ("PASSWORD_HASH_CONCURRENCY", "3"),
            ("PASSWORD_HASH_MAX_WAIT_MS", "0"),
            ("GRAPHQL_MAX_DEPTH", "4"),
            ("GRAPHQL_MAX_COMPLEXITY", "50"),
            ("GRAPHQL_MAX_QUERY_BYTES", "100"),
            ("GRAPHQL_INTROSPECTION", "false"),
            ("GRAPHQL_WS_MAX_MESSAGE_BYTES", "200"),
            ("GRAPHQL_WS_INIT_TIMEOUT_MS", "300"),
            ("HTTP_MAX_CONNECTIONS", "9"),
            ("HTTP_HEADER_READ_TIMEOUT_MS", "400"),
            ("HTTP_IDLE_TIMEOUT_SECS", "6"),
            ("HTTP_SEND_TIMEOUT_SECS", "5"),
            ("HTTP_KEEPALIVE_INTERVAL_SECS", "7"),
            ("HTTP_KEEPALIVE_TIMEOUT_SECS", "8"),
            ("GRPC_MAX_MESSAGE_BYTES", "1024"),
            ("GRPC_HEALTH_INTERVAL_MS", "250"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
            ("WORKER_IN_PROCESS", "true"),
            ("WORKER_BATCH_SIZE", "5"),
            ("WORKER_LEASE_SECS", "60"),
            ("OUTBOX_RETENTION_HOURS", "48"),
            ("REMINDER_WINDOW_MINUTES", "30"),
            ("REMINDER_WEBHOOK_URL", "http://hooks.example.org/reminders"),
            ("REMINDER_WEBHOOK_SECRET", "s3cret"),
            ("REMINDER_WEBHOOK_TIMEOUT_MS", "2000"),
        ])
        .unwrap();
        let described = format!("{:?}", config.describe());
        assert!(!described.contains("s3cret"), "{described}");
        let db = config.database.unwrap();
        assert_eq!(db.max_connections, 4);
        assert_eq!(db.acquire_timeout, Duration::from_millis(250));
        assert_eq!(db.statement_timeout, Duration::from_secs(1));
        let redis = config.redis.unwrap();
        assert_eq!(redis.key_prefix, "svc:");
        assert_eq!(redis.timeout, Duration::from_millis(50));
        assert_eq!(redis.client_cache_entries, 0);
        assert_eq!(redis.client_cache_ttl, Duration::from_secs(9));
        assert_eq!(config.session_ttl, Duration::from_secs(60));
        assert_eq!(config.startup_connect_timeout, Duration::from_secs(11));
        assert_eq!(config.cache_ttl, Duration::from_secs(5));
        assert_eq!(config.cache_capacity, 7);
        assert_eq!(config.idempotency_key_ttl, Duration::from_secs(2 * 3600));
        assert_eq!(config.password_hash_concurrency, 3);
        assert_eq!(config.password_hash_max_wait, Duration::ZERO);
        assert_eq!(config.graphql.max_depth, 4);
        assert_eq!(config.graphql.max_complexity, 50);
        assert_eq!(config.graphql.max_query_bytes, 100);
        assert!(!config.graphql.introspection);
        assert_eq!(config.graphql.ws_max_message_bytes, 200);
        assert_eq!(config.graphql.ws_init_timeout, Duration::from_millis(300));
        assert_eq!(config.http.max_connections, 9);
        assert_eq!(config.http.header_read_timeout, Duration::from_millis(400));
        assert_eq!(config.http.idle_timeout, Duration::from_secs(6));
        assert_eq!(config.http.send_timeout, Duration::from_secs(5));
        assert_eq!(config.http.keepalive_interval, Duration::from_secs(7));
        assert_eq!(config.http.keepalive_timeout, Duration::from_secs(8));
        assert_eq!(config.grpc.max_message_bytes, 1024);
        assert_eq!(config.grpc.health_interval, Duration::from_millis(250));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.log_filter, "debug");
        let worker = &config.worker;
        assert!(worker.in_process);
        assert_eq!(worker.batch_size, 5);
        assert_eq!(worker.lease, Duration::from_secs(60));
        assert_eq!(worker.retention, Duration::from_secs(48 * 3600));
        assert_eq!(worker.reminder_window, Duration::from_secs(30 * 60));
        let hook = worker.webhook.as_ref().unwrap();
        assert_eq!(
            hook.url.expose().as_str(),
            "http://hooks.example.org/reminders"
        );
        assert_eq!(hook.timeout, Duration::from_secs(2));
    }

    #[test]
    fn worker_settings_that_cannot_work_are_refused() {
        for (vars, named) in [
            (
                vec![("OUTBOX_RETENTION_HOURS", "1")],
                "OUTBOX_RETENTION_HOURS",
            ),
            (vec![("WORKER_BATCH_SIZE", "0")], "WORKER_BATCH_SIZE"),
            (
                vec![("REMINDER_WINDOW_MINUTES", "0")],
                "REMINDER_WINDOW_MINUTES",
            ),
            (
                vec![("REMINDER_WINDOW_MINUTES", "1441")],
                "REMINDER_WINDOW_MINUTES",
            ),
            (
                vec![("REMINDER_WEBHOOK_URL", "https://hooks.example.org")],
                "REMINDER_WEBHOOK_URL",
            ),
            (
                vec![("REMINDER_WEBHOOK_URL", "http://hooks.example.org")],
                "REMINDER_WEBHOOK_SECRET",
            ),
        ] {
            let map: std::collections::HashMap<&str, &str> = vars.into_iter().collect();
            let err = super::Config::from_vars(|name| map.get(name).map(|v| (*v).to_owned()))
                .unwrap_err();
            assert!(err.to_string().contains(named), "{err}");
        }
    }

    #[test]
    fn the_worker_runs_in_process_exactly_when_storage_is_in_memory_or_asked_to() {
        assert!(config(&[]).unwrap().worker.in_process);
        let db = ("DATABASE_URL", "postgres://db/app");
        assert!(!config(&[db]).unwrap().worker.in_process);
        assert!(
            config(&[db, ("WORKER_IN_PROCESS", "true")])
                .unwrap()
                .worker
                .in_process
        );
        assert!(
            config(&[("WORKER_IN_PROCESS", "false")])
                .unwrap()
                .worker
                .in_process,
            "no other process could see an in-memory outbox"
        );
    }

    #[test]
    fn errors_name_the_offending_variable() {
        let cases = [
            ("DATABASE_MAX_CONNECTIONS", "many"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("SESSION_TTL_SECS", "-5"),
            ("SESSION_TTL_SECS", "0"),
            ("LOG_FORMAT", "xml"),
            ("CACHE_TTL_SECS", "1.5"),
            ("REDIS_TIMEOUT_MS", "fast"),
            ("REDIS_CLIENT_CACHE_ENTRIES", "-1"),
            ("REDIS_CLIENT_CACHE_TTL_SECS", "0"),
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("PASSWORD_HASH_MAX_WAIT_MS", "-1"),
            ("GRAPHQL_INTROSPECTION", "yes"),
            ("GRAPHQL_MAX_DEPTH", "deep"),
            ("GRPC_HEALTH_INTERVAL_MS", "0"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP_HEADER_READ_TIMEOUT_MS", "0"),
            ("HTTP_IDLE_TIMEOUT_SECS", "0"),
            ("HTTP_KEEPALIVE_INTERVAL_SECS", "0"),
            ("HTTP_KEEPALIVE_TIMEOUT_SECS", "0"),
            ("GRAPHQL_WS_INIT_TIMEOUT_MS", "0"),
            ("GRAPHQL_WS_MAX_MESSAGE_BYTES", "100"),
        ];
        for (var, value) in cases {
            let vars = [
                ("DATABASE_URL", "postgres://localhost/db"),
                ("REDIS_URL", "redis://localhost"),
                (var, value),
            ];
            let err = config(&vars).unwrap_err();
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn a_wrong_url_is_named_but_never_printed() {
        let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/app")]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = config(&[("REDIS_URL", "not a url with secret")]).unwrap_err();
        assert!(err.to_string().contains("REDIS_URL"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn passwords_never_appear_in_debug_output_or_the_description() {
        let config = config(&[
            ("DATABASE_URL", "postgres://app:hunter2@db/app"),
            ("REDIS_URL", "redis://:s3cret@cache:6379"),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        let described = format!("{:?}", config.describe());
        for text in [&debug, &described] {
            assert!(
                !text.contains("hunter2") && !text.contains("s3cret"),
                "{text}"
            );
        }
        assert_eq!(
            config.describe()["DATABASE_URL"],
            "postgres://app:REDACTED@db/app"
        );
        assert_eq!(
            config.describe()["REDIS_URL"],
            "redis://:REDACTED@cache:6379"
        );
    }

    #[test]
    fn no_url_with_credentials_is_ever_printed_wherever_they_hide() {
        let config = config(&[
            ("DATABASE_URL", "postgres://app@db/todo?password=s3cret"),
            ("REDIS_URL", "redis://cache:6379/0?password=s3cret"),
            (
                "REMINDER_WEBHOOK_URL",
                "http://hooks.example.org/services/s3cret?token=s3cret",
            ),
            ("REMINDER_WEBHOOK_SECRET", "s3cret"),
        ])
        .unwrap();
        let printed = format!("{config:?} {:?}", config.describe());
        assert!(!printed.contains("s3cret"), "{printed}");
        assert_eq!(
            config.describe()["REMINDER_WEBHOOK_URL"],
            "http://hooks.example.org/REDACTED?token=REDACTED"
        );
        // Nor in an error about one.
        let err = super::Config::from_vars(|name| {
            (name == "REMINDER_WEBHOOK_URL").then(|| "https://hooks.example.org/s3cret".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("REMINDER_WEBHOOK_URL"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let config = config(&[("DATABASE_URL", ""), ("LOG_FORMAT", " ")]).unwrap();
        assert!(config.database.is_none());
        assert_eq!(config.log_format, LogFormat::Pretty);
    }
}
