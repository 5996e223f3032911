//! The composition root: picks an adapter for every port and builds the use cases.
//!
//! This is the only place that knows which adapters exist. Adapters are built first, then
//! the use cases over them; the servers (in later modules) take the finished
//! [`Application`]. `main` and the end-to-end tests both call [`Application::build`], so the
//! tests run exactly the wiring that production runs.

use std::sync::Arc;

use anyhow::Context;
use application::{Ports, Settings, UseCases};
use domain::ports::{
    Clock, ReadinessProbe, SessionStore, TodoCache, TodoRepository, UnitOfWork, UserRepository,
};
use driven_memory::{MemorySessionStore, MemoryStore, MemoryTodoCache, NoTodoCache};
use driven_postgres::{
    self as postgres, PgPool, PgReadiness, PgTodoRepository, PgUnitOfWork, PgUserRepository,
    PoolSettings,
};
use driven_redis::{
    self as redis, ConnectionManager, RedisReadiness, RedisSessionStore, RedisSettings,
    RedisTodoCache,
};
use driven_system::{
    clock::SystemClock,
    ids::UuidV7Generator,
    password::{Argon2Hasher, HashingLimits},
    tokens::RandomTokenGenerator,
};
use secrecy::ExposeSecret;

use crate::config::Config;

/// The connections to the backing services, for health checks and shutdown.
#[derive(Clone, Default)]
pub struct Backends {
    /// The Postgres pool, when `DATABASE_URL` is set.
    pub postgres: Option<PgPool>,
    /// The Redis connection, when `REDIS_URL` is set.
    pub redis: Option<ConnectionManager>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("postgres", &self.postgres.is_some())
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

/// The built application: every use case, and the connections behind them.
#[derive(Debug, Clone)]
pub struct Application {
    /// What the driving adapters call.
    pub use_cases: Arc<UseCases>,
    /// The backing services in use.
    pub backends: Backends,
}

impl Application {
    /// Connects to the configured services and wires every port.
    ///
    /// Postgres when `DATABASE_URL` is set, else in memory; Redis when `REDIS_URL` is set,
    /// else in memory. The choice is logged once.
    ///
    /// # Errors
    /// When a configured service cannot be reached: failing at start-up is clearer than
    /// failing on the first request.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut backends = Backends::default();
        let mut probes: Vec<Arc<dyn ReadinessProbe>> = Vec::new();

        let (users, todos, unit_of_work): (
            Arc<dyn UserRepository>,
            Arc<dyn TodoRepository>,
            Arc<dyn UnitOfWork>,
        ) = match &config.database {
            Some(db) => {
                let settings = PoolSettings {
                    max_connections: db.max_connections,
                    acquire_timeout: db.acquire_timeout,
                    statement_timeout: db.statement_timeout,
                };
                let pool = postgres::connect(db.url.expose_secret(), settings)
                    .await
                    .context("cannot connect to Postgres (DATABASE_URL)")?;
                tracing::info!(max_connections = db.max_connections, "storage: Postgres");
                backends.postgres = Some(pool.clone());
                probes.push(Arc::new(PgReadiness::new(pool.clone())));
                (
                    Arc::new(PgUserRepository::new(pool.clone())),
                    Arc::new(PgTodoRepository::new(pool.clone())),
                    Arc::new(PgUnitOfWork::new(pool)),
                )
            }
            None => {
                tracing::warn!("storage: in memory (DATABASE_URL is unset); data is lost on exit");
                let store = MemoryStore::new();
                (
                    Arc::new(store.users()),
                    Arc::new(store.todos()),
                    Arc::new(store.unit_of_work()),
                )
            }
        };

        let (sessions, todo_cache): (Arc<dyn SessionStore>, Arc<dyn TodoCache>) =
            match &config.redis {
                Some(r) => {
                    let settings = RedisSettings {
                        key_prefix: r.key_prefix.clone(),
                        response_timeout: r.timeout,
                        ..RedisSettings::default()
                    };
                    let manager = redis::connect(r.url.expose_secret(), &settings)
                        .await
                        .context("cannot connect to Redis (REDIS_URL)")?;
                    tracing::info!(key_prefix = %r.key_prefix, "sessions and todo cache: Redis");
                    backends.redis = Some(manager.clone());
                    probes.push(Arc::new(RedisReadiness::new(manager.clone())));
                    (
                        Arc::new(RedisSessionStore::new(
                            manager.clone(),
                            &r.key_prefix,
                            clock.clone(),
                        )),
                        Arc::new(RedisTodoCache::new(
                            manager,
                            &r.key_prefix,
                            config.cache_ttl,
                        )),
                    )
                }
                None => {
                    tracing::info!("sessions and todo cache: in memory (REDIS_URL is unset)");
                    (
                        Arc::new(MemorySessionStore::new(clock.clone())),
                        Arc::new(MemoryTodoCache::new(
                            config.cache_capacity,
                            config.cache_ttl,
                        )),
                    )
                }
            };

        let todo_cache: Arc<dyn TodoCache> = if config.cache_ttl.is_zero() {
            tracing::info!("todo cache: off (CACHE_TTL_SECS=0)");
            Arc::new(NoTodoCache)
        } else {
            todo_cache
        };

        let ports = Ports {
            users,
            todos,
            unit_of_work,
            sessions,
            todo_cache,
            hasher: Arc::new(Argon2Hasher::new(HashingLimits {
                concurrency: config.password_hash_concurrency,
                max_wait: config.password_hash_max_wait,
            })?),
            clock,
            ids: Arc::new(UuidV7Generator),
            tokens: Arc::new(RandomTokenGenerator),
            probes,
        };
        let settings = Settings {
            session_ttl: chrono::Duration::from_std(config.session_ttl)
                .context("SESSION_TTL_SECS is too large")?,
        };
        Ok(Self {
            use_cases: Arc::new(UseCases::new(ports, settings)),
            backends,
        })
    }
}

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
