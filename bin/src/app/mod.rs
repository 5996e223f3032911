//! The composition root: picks an adapter for every port and builds the use cases.
//!
//! This is the only place that knows which adapters exist. Adapters are built first, then
//! the use cases over them; the servers (in later modules) take the finished
//! [`Application`]. `main` and the end-to-end tests both call [`Application::build`], so the
//! tests run exactly the wiring that production runs.

use std::{future::Future, num::NonZeroUsize, sync::Arc, time::Duration};

use anyhow::Context;
use application::{Ports, Settings, UseCases, links::SpanLinks};
use backon::{ExponentialBuilder, Retryable};
use domain::error::{InfraError, InfraErrorKind};
use domain::ports::{
    Clock, EventFeed, EventPublisher, IdGenerator, IdempotencyRecords, JobQueue, JobSignal,
    Notifier, RateLimiter, ReadinessProbe, ScheduleLedger, SessionStore, TodoCache, TodoRepository,
    UnitOfWork, UserRepository,
};
use driven_memory::{
    MemoryEventBus, MemoryRateLimiter, MemoryScheduleLedger, MemorySessionStore, MemoryStore,
    MemoryTodoCache, NoTodoCache,
};
use driven_postgres::{
    self as postgres, GroupCommitSettings, PgIdempotencyRecords, PgJobQueue, PgJobSignal, PgPool,
    PgReadiness, PgScheduleLedger, PgTodoRepository, PgUnitOfWork, PgUserRepository, PoolSettings,
};
use driven_redis::{
    self as redis, ClientCacheSettings, ConnectionManager, RedisEventFeed, RedisEventPublisher,
    RedisRateLimiter, RedisReadiness, RedisSessionStore, RedisSettings, RedisTodoCache,
};
use driven_system::{
    clock::SystemClock,
    ids::UuidV7Generator,
    notifier::LogNotifier,
    password::{Argon2Hasher, HashingLimits},
    tokens::RandomTokenGenerator,
};
use driven_webhook::{WebhookNotifier, WebhookSettings};

use crate::config::Config;

mod jobs;

use jobs::JobPorts;
pub use jobs::Jobs;

/// The connections to the backing services, for health checks and shutdown.
#[derive(Clone, Default)]
pub struct Backends {
    /// The Postgres pool, when `DATABASE_URL` is set.
    pub postgres: Option<PgPool>,
    /// The Redis connection, when `REDIS_URL` is set.
    pub redis: Option<ConnectionManager>,
    /// The Redis connection with client-side caching that sessions and cached todos are
    /// read through, when `REDIS_URL` is set and `REDIS_CLIENT_CACHE_ENTRIES` is not 0. Its
    /// `get_cache_statistics` counts hits, misses and invalidations.
    pub redis_tracked: Option<ConnectionManager>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("postgres", &self.postgres.is_some())
            .field("redis", &self.redis.is_some())
            .field("redis_tracked", &self.redis_tracked.is_some())
            .finish()
    }
}

/// The built application: every use case, and the connections behind them.
#[derive(Debug, Clone)]
pub struct Application {
    /// What the driving adapters call.
    pub use_cases: Arc<UseCases>,
    /// What the worker and the `jobs` commands call.
    pub jobs: Arc<Jobs>,
    /// The backing services in use.
    pub backends: Backends,
}

impl Application {
    /// Connects to the configured services and wires every port.
    ///
    /// Postgres when `DATABASE_URL` is set, else in memory; Redis when `REDIS_URL` is set,
    /// else in memory. The choice is logged once.
    ///
    /// A service that does not answer yet is tried again, backing off, for
    /// `STARTUP_CONNECT_TIMEOUT_SECS` (see [`reach`]).
    ///
    /// # Errors
    /// When a configured service cannot be reached: failing at start-up is clearer than
    /// failing on the first request.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let patience = config.startup_connect_timeout;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut backends = Backends::default();
        let mut probes: Vec<Arc<dyn ReadinessProbe>> = Vec::new();

        #[allow(clippy::type_complexity)] // Named once, here, and destructured at once.
        let (users, todos, unit_of_work, idempotency, queue, signal, ledger): (
            Arc<dyn UserRepository>,
            Arc<dyn TodoRepository>,
            Arc<dyn UnitOfWork>,
            Arc<dyn IdempotencyRecords>,
            Arc<dyn JobQueue>,
            Arc<dyn JobSignal>,
            Arc<dyn ScheduleLedger>,
        ) = match &config.database.url {
            Some(url) => {
                let db = &config.database;
                let settings = PoolSettings {
                    max_connections: db.max_connections,
                    acquire_timeout: db.acquire_timeout,
                    statement_timeout: db.statement_timeout,
                };
                let pool = reach("Postgres", patience, || {
                    postgres::connect(url.expose().as_str(), settings)
                })
                .await
                .context("cannot connect to Postgres (DATABASE_URL)")?;
                tracing::info!(max_connections = db.max_connections, "storage: Postgres");
                backends.postgres = Some(pool.clone());
                probes.push(Arc::new(PgReadiness::new(
                    pool.clone(),
                    probe_patience(config),
                )));
                (
                    Arc::new(PgUserRepository::new(pool.clone())),
                    Arc::new(PgTodoRepository::new(pool.clone())),
                    Arc::new(PgUnitOfWork::with_group_commit(
                        pool.clone(),
                        GroupCommitSettings {
                            max_batch: db.group_commit_max_batch,
                            in_flight: db.group_commit_in_flight,
                        },
                    )),
                    Arc::new(PgIdempotencyRecords::new(pool.clone())),
                    Arc::new(PgJobQueue::new(pool.clone())),
                    Arc::new(PgJobSignal::new(&pool)),
                    Arc::new(PgScheduleLedger::new(pool)),
                )
            }
            None => {
                tracing::warn!("storage: in memory (DATABASE_URL is unset); data is lost on exit");
                let store = MemoryStore::new();
                (
                    Arc::new(store.users()),
                    Arc::new(store.todos()),
                    Arc::new(store.unit_of_work()),
                    Arc::new(store.idempotency()),
                    Arc::new(store.job_queue()),
                    Arc::new(store.job_queue()),
                    Arc::new(MemoryScheduleLedger::new()),
                )
            }
        };

        #[allow(clippy::type_complexity)] // Named once, here, and destructured at once.
        let (sessions, todo_cache, publisher, feed, event_bus, rate_limiter): (
            Arc<dyn SessionStore>,
            Arc<dyn TodoCache>,
            Arc<dyn EventPublisher>,
            Arc<dyn EventFeed>,
            Option<MemoryEventBus>,
            Arc<dyn RateLimiter>,
        ) = match &config.redis.url {
            Some(url) => {
                let r = &config.redis;
                let settings = RedisSettings {
                    key_prefix: r.key_prefix.clone(),
                    response_timeout: r.timeout,
                    ..RedisSettings::default()
                };
                let manager = reach("Redis", patience, || {
                    redis::connect(url.expose().as_str(), &settings)
                })
                .await
                .context("cannot connect to Redis (REDIS_URL)")?;
                tracing::info!(key_prefix = %r.key_prefix, "sessions, todo cache and events: Redis");
                backends.redis = Some(manager.clone());
                let rate_manager = manager.clone();
                probes.push(Arc::new(RedisReadiness::new(
                    manager.clone(),
                    probe_patience(config),
                )));
                // Sessions and cached todos are read on almost every request: with
                // client-side caching, a second connection keeps what it read in memory
                // and Redis tells it when a key changes.
                let reads = match NonZeroUsize::new(r.client_cache_entries) {
                    Some(entries) => {
                        let cache = ClientCacheSettings {
                            entries,
                            ttl: r.client_cache_ttl,
                        };
                        tracing::info!(
                            entries,
                            "sessions and cached todos: kept in memory, tracked by Redis"
                        );
                        let tracked = reach("Redis", patience, || {
                            redis::connect_tracked(url.expose().as_str(), &settings, cache)
                        })
                        .await
                            .context("cannot connect to Redis with client-side caching (REDIS_URL; REDIS_CLIENT_CACHE_ENTRIES=0 turns it off)")?;
                        backends.redis_tracked = Some(tracked.clone());
                        tracked
                    }
                    None => manager.clone(),
                };
                (
                    Arc::new(RedisSessionStore::new(
                        reads.clone(),
                        &r.key_prefix,
                        clock.clone(),
                    )),
                    Arc::new(RedisTodoCache::new(reads, &r.key_prefix, config.cache_ttl)),
                    Arc::new(RedisEventPublisher::new(
                        manager.clone(),
                        &r.key_prefix,
                        config.worker.stream_max_len,
                        settings.longest_command(),
                    )),
                    Arc::new(
                        reach("Redis", patience, || {
                            RedisEventFeed::start(
                                url.expose().as_str(),
                                &settings,
                                &r.key_prefix,
                                EVENT_BUS_CAPACITY,
                            )
                        })
                        .await
                        .context("cannot read the event stream from Redis (REDIS_URL)")?,
                    ),
                    None,
                    // Shared by every replica on this Redis.
                    Arc::new(RedisRateLimiter::new(rate_manager, &r.key_prefix)),
                )
            }
            None => {
                tracing::info!("sessions, todo cache and events: in memory (REDIS_URL is unset)");
                let bus = MemoryEventBus::new(EVENT_BUS_CAPACITY, config.worker.stream_max_len);
                (
                    Arc::new(MemorySessionStore::new(clock.clone())),
                    Arc::new(MemoryTodoCache::new(
                        config.cache_capacity,
                        config.cache_ttl,
                    )),
                    Arc::new(bus.clone()),
                    Arc::new(bus.clone()),
                    Some(bus),
                    Arc::new(MemoryRateLimiter::new()),
                )
            }
        };

        let todo_cache: Arc<dyn TodoCache> = if config.cache_ttl.is_zero() {
            tracing::info!("todo cache: off (CACHE_TTL_SECS=0)");
            Arc::new(NoTodoCache)
        } else {
            todo_cache
        };

        let webhook = &config.worker.webhook;
        let notifier: Arc<dyn Notifier> = match webhook.endpoint() {
            Some((url, secret)) => {
                tracing::info!(%url, "reminders: webhook");
                Arc::new(
                    WebhookNotifier::new(WebhookSettings {
                        url: url.expose().clone(),
                        secret: secret.clone(),
                        timeout: webhook.timeout,
                        attempts: webhook.attempts,
                        retry_delay: std::time::Duration::from_millis(200),
                    })
                    .context("invalid reminder webhook settings")?,
                )
            }
            None => Arc::new(LogNotifier),
        };
        let ids: Arc<dyn IdGenerator> = Arc::new(UuidV7Generator);
        let jobs = Jobs::new(
            config,
            JobPorts {
                todos: todos.clone(),
                unit_of_work: unit_of_work.clone(),
                idempotency: idempotency.clone(),
                queue,
                signal,
                ledger,
                publisher,
                notifier,
                clock: clock.clone(),
                ids: ids.clone(),
                probes: probes.clone(),
            },
            event_bus,
        )?;

        let ports = Ports {
            users,
            todos,
            unit_of_work,
            idempotency,
            sessions,
            todo_cache,
            hasher: Arc::new(Argon2Hasher::new(HashingLimits {
                concurrency: config.password_hash_concurrency,
                max_wait: config.password_hash_max_wait,
            })?),
            clock,
            ticker: Arc::new(SystemClock),
            ids,
            tokens: Arc::new(RandomTokenGenerator),
            rate_limiter,
            events: feed,
            probes,
        };
        let settings = Settings {
            watch_limits: application::todos::WatchLimits {
                per_user: config.watch_per_user,
                per_instance: config.watch_per_instance,
                session_check: config.watch_session_check,
            },
            attempt_limits: application::users::AttemptLimits {
                log_in_per_email: per_minute(config.login_limit_per_email),
                log_in_per_address: per_minute(config.login_limit_per_address),
                register_per_address: per_minute(config.register_limit_per_address),
            },
            session_ttl: chrono::Duration::from_std(config.session_ttl)
                .context("SESSION_TTL_SECS is too large")?,
        };
        Ok(Self {
            use_cases: Arc::new({
                let mut use_cases = UseCases::new(ports, settings);
                use_cases.watch_todos = use_cases
                    .watch_todos
                    .with_span_links(Arc::new(OpenTelemetryLinks));
                use_cases
            }),
            jobs: Arc::new(jobs),
            backends,
        })
    }
}

/// How long a readiness probe waits for its server before calling it down: half the
/// request timeout, so that `/readyz` answers with its report (naming the server) before
/// the request times out, and at most 2 s, as a server slower than that to a ping is not
/// ready to serve.
fn probe_patience(config: &Config) -> Duration {
    (config.http.request_timeout / 2).min(Duration::from_secs(2))
}

/// At most `limit` a minute; 0 is no limit.
fn per_minute(limit: u32) -> domain::ports::Quota {
    domain::ports::Quota {
        limit,
        window: std::time::Duration::from_secs(60),
    }
}

/// [`SpanLinks`] by OpenTelemetry span links; a no-op when no traces are exported.
pub(crate) struct OpenTelemetryLinks;

impl SpanLinks for OpenTelemetryLinks {
    fn link(&self, span: &tracing::Span, trace_parent: &str) {
        trace_context::link(span, trace_parent);
    }
}

/// How many events the in-process bus keeps for a slow subscriber.
const EVENT_BUS_CAPACITY: usize = 1024;

impl Application {
    /// Closes the connections to the backing services; call after every server has stopped.
    ///
    /// Waits at most [`Application::CLOSE_TIMEOUT`]. Closing idle connections takes
    /// milliseconds; what can take longer is a connection whose request was cut at the drain
    /// deadline in the middle of a query: sqlx checks such a connection before letting it
    /// go, and that check waits for the server to finish the interrupted statement (which
    /// may be waiting on a lock). The process must not wait for that.
    pub async fn close(&self) {
        if let Some(pool) = &self.backends.postgres
            && tokio::time::timeout(Self::CLOSE_TIMEOUT, pool.close())
                .await
                .is_err()
        {
            tracing::warn!(
                busy_connections = pool.size(),
                "database connections still busy after the close timeout; leaving them"
            );
        }
        tracing::info!("connections closed");
    }

    /// How long [`Application::close`] waits for the database pool to close.
    pub const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
}

/// Runs `connect` until it succeeds, fails in a way that trying again cannot cure, or
/// `patience` has run out, backing off (0.2 s, doubling, at most 5 s, with jitter) between
/// attempts. `what` names the service in the log line each retry writes.
///
/// A backing service that is restarting when this process starts (a deploy of both at
/// once, a failover, a network blip) would otherwise stop start-up, and an orchestrator
/// would restart the process with ever longer back-off. Only an unavailable service is
/// waited for ([`InfraErrorKind::Unavailable`]: refused, reset, timed out); a wrong
/// password or a bad URL fails at once. The last attempt starts before `patience` runs out,
/// so start-up gives up after at most `patience` and one attempt's own timeout.
pub(crate) async fn reach<T, F, Fut>(
    what: &'static str,
    patience: Duration,
    connect: F,
) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, InfraError>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times();
    connect
        .retry(backoff)
        .when(|error| {
            error.kind() == InfraErrorKind::Unavailable && tokio::time::Instant::now() < deadline
        })
        .notify(|error, wait| {
            tracing::warn!(
                service = what,
                %error,
                retry_in_ms = wait.as_millis() as u64,
                "not reachable yet; trying again"
            );
        })
        .await
}
