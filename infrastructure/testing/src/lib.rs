//! Real Postgres and Redis servers for tests. A dev-dependency only: no release build ever
//! links it.
//!
//! Where the servers come from, in order:
//! 1. `TEST_DATABASE_URL` / `TEST_REDIS_URL`, when set (this is how CI runs). The Postgres URL
//!    must name a role that may create databases.
//! 2. Otherwise testcontainers starts `postgres:17-alpine` / `redis:7-alpine` through the
//!    local Docker engine. One container per test binary is shared by the tests that run at
//!    the same time, and removed when the last of them finishes.
//! 3. If neither works, the test fails with a message that says what to set.
//!
//! Isolation: every [`TestDatabase`] is a fresh, migrated database of its own, dropped when
//! the value is dropped, and every [`TestRedis`] gets its own key prefix, whose keys are
//! deleted on drop. So tests run in parallel without seeing each other's data.

use std::{
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use chrono::{DateTime, SubsecRound, Utc};
use domain::ports::Clock;
use redis::aio::ConnectionManager;
use sqlx::{Connection, PgConnection, PgPool};
use testcontainers_modules::{
    postgres::Postgres,
    redis::Redis,
    testcontainers::{
        Container, ContainerRequest, Image, ImageExt, core::IntoContainerPort, runners::SyncRunner,
    },
};
use uuid::Uuid;

use driven_postgres as postgres;
use driven_redis::RedisSettings;

const POSTGRES_IMAGE_TAG: &str = "17-alpine";
const REDIS_IMAGE_TAG: &str = "7-alpine";

/// A running container and the URL of the server in it. Removed when dropped.
struct ContainerLease<I: Image + 'static> {
    container: Option<Container<I>>,
    url: String,
}

impl<I: Image + 'static> Drop for ContainerLease<I> {
    fn drop(&mut self) {
        // A sync container owns a tokio runtime, which must not be dropped inside the async
        // test that happens to release the last lease: drop it on a plain thread.
        if let Some(container) = self.container.take() {
            let _ = std::thread::spawn(move || drop(container)).join();
        }
    }
}

/// The container shared by the tests that are running; `Weak` so it goes away with them.
type SharedContainer<I> = Mutex<Weak<ContainerLease<I>>>;

static POSTGRES_CONTAINER: SharedContainer<Postgres> = Mutex::new(Weak::new());
static REDIS_CONTAINER: SharedContainer<Redis> = Mutex::new(Weak::new());

/// Where a test server is: a URL, plus the container lease that keeps it running, if any.
struct Server {
    url: String,
    _lease: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// The server from `env_var`, or a shared container started from `image`.
fn server<I: Image + Send + 'static>(
    env_var: &str,
    shared: &'static SharedContainer<I>,
    image: impl FnOnce() -> ContainerRequest<I> + Send + 'static,
    port: u16,
    url_of: impl FnOnce(&str, u16) -> String + Send + 'static,
) -> Server {
    if let Ok(url) = std::env::var(env_var) {
        return Server { url, _lease: None };
    }
    let mut slot = shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(lease) = slot.upgrade() {
        return Server {
            url: lease.url.clone(),
            _lease: Some(lease),
        };
    }
    // Start the container on a plain thread: the sync runner blocks on a runtime of its
    // own, which cannot run inside the test's.
    let started = std::thread::spawn(move || -> Result<ContainerLease<I>, String> {
        let container = image().start().map_err(|e| e.to_string())?;
        let host = container.get_host().map_err(|e| e.to_string())?.to_string();
        let port = container
            .get_host_port_ipv4(port.tcp())
            .map_err(|e| e.to_string())?;
        Ok(ContainerLease {
            url: url_of(&host, port),
            container: Some(container),
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the container start-up thread panicked".into()));
    match started {
        Ok(lease) => {
            let lease = Arc::new(lease);
            *slot = Arc::downgrade(&lease);
            Server {
                url: lease.url.clone(),
                _lease: Some(lease),
            }
        }
        Err(error) => panic!(
            "no test server: {env_var} is not set, and testcontainers could not start one ({error}).\n\
             Either set {env_var} (see .env.example and .ci/run), or start a Docker engine."
        ),
    }
}

/// A fresh, migrated Postgres database for one test. Dropped (with `FORCE`) on drop.
pub struct TestDatabase {
    pool: PgPool,
    url: String,
    admin_url: String,
    name: String,
    _server: Server,
}

impl TestDatabase {
    /// Creates and migrates a new database on the test server.
    ///
    /// # Panics
    /// When no server is available or the database cannot be created; the message says why.
    pub async fn new() -> Self {
        let server = server(
            "TEST_DATABASE_URL",
            &POSTGRES_CONTAINER,
            || Postgres::default().with_tag(POSTGRES_IMAGE_TAG),
            5432,
            |host, port| format!("postgres://postgres:postgres@{host}:{port}/postgres"),
        );
        let name = format!("test_{}", Uuid::now_v7().simple());
        let admin_url = server.url.clone();
        let mut admin = connect_with_retry(&admin_url).await;
        // The name is ours (a UUID), so formatting it into the statement is safe.
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        let settings = postgres::PoolSettings {
            max_connections: 8,
            ..Default::default()
        };
        let pool = postgres::connect(&url, settings)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {name}: {e:#}"));
        postgres::migrate(&pool)
            .await
            .unwrap_or_else(|e| panic!("migrations failed: {e:?}"));
        Self {
            pool,
            url,
            admin_url,
            name,
            _server: server,
        }
    }

    /// A pool on the test database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL of the test database, for code that connects by itself.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async context, so make a small runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut admin)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// A connection to the server's maintenance database; retries while a fresh container is
/// still starting up.
async fn connect_with_retry(url: &str) -> PgConnection {
    let mut last_error = None;
    for _ in 0..50 {
        match PgConnection::connect(url).await {
            Ok(conn) => return conn,
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot connect to the test Postgres server: {last_error:?}")
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    // postgres://user:pass@host:port/dbname: the database is after the last '/' that follows
    // the authority.
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A Redis server for one test, with a key prefix of its own. Its keys are deleted on drop.
pub struct TestRedis {
    url: String,
    key_prefix: String,
    _server: Server,
}

impl TestRedis {
    /// A fresh key space on the test Redis.
    ///
    /// # Panics
    /// When no server is available; the message says what to set.
    pub async fn new() -> Self {
        let server = server(
            "TEST_REDIS_URL",
            &REDIS_CONTAINER,
            || Redis::default().with_tag(REDIS_IMAGE_TAG),
            6379,
            |host, port| format!("redis://{host}:{port}"),
        );
        Self {
            url: server.url.clone(),
            key_prefix: format!("test:{}:", Uuid::now_v7().simple()),
            _server: server,
        }
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The prefix this test's keys must use.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Settings that put every key under this test's prefix.
    pub fn settings(&self) -> RedisSettings {
        RedisSettings {
            key_prefix: self.key_prefix.clone(),
            ..RedisSettings::default()
        }
    }

    /// A connection manager on the test server.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn manager(&self) -> ConnectionManager {
        for _ in 0..50 {
            if let Ok(manager) = driven_redis::connect(&self.url, &self.settings()).await {
                return manager;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("cannot connect to the test Redis server at {}", self.url)
    }

    /// A connection manager with client-side caching on the test server (see
    /// [`driven_redis::connect_tracked`]), keeping at most `entries` values for `ttl`.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn tracked_manager(&self, entries: usize, ttl: Duration) -> ConnectionManager {
        let cache = driven_redis::ClientCacheSettings {
            entries: std::num::NonZeroUsize::new(entries).unwrap_or(std::num::NonZeroUsize::MIN),
            ttl,
        };
        for _ in 0..50 {
            if let Ok(manager) =
                driven_redis::connect_tracked(&self.url, &self.settings(), cache).await
            {
                return manager;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("cannot connect to the test Redis server at {}", self.url)
    }
}

impl std::fmt::Debug for TestRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRedis")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // The synchronous client needs no runtime, so this works from any drop site.
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let keys: Vec<String> = match redis::cmd("KEYS")
            .arg(format!("{}*", self.key_prefix))
            .query(&mut conn)
        {
            Ok(keys) => keys,
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start.trunc_subsecs(6))),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t1"),
            "postgres://h:5432/t1"
        );
    }
}
