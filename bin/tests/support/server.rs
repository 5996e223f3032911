//! The whole application on an ephemeral port over a fresh Postgres database and Redis key
//! space: what the end-to-end tests of every protocol start.

use std::time::Duration;

use backend::{Application, server::HttpServer};
use domain::{
    ports::TodoCache,
    todo::{Todo, TodoId},
};
use driven_redis::RedisTodoCache;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use test_servers::{TestDatabase, TestRedis};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{config, proxy::Proxy};

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<anyhow::Result<()>>,
    pub app: Application,
    pub db: TestDatabase,
    pub redis: TestRedis,
}

/// Starts the whole application on an ephemeral port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with some settings changed.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    let db = TestDatabase::new().await;
    let url = db.url().to_owned();
    start(db, &url, settings).await
}

/// Like [`spawn_app_with`], with Postgres reached through a [`Proxy`] that the test can cut.
pub async fn spawn_app_behind_a_proxy(settings: &[(&str, &str)]) -> (TestApp, Proxy) {
    let db = TestDatabase::new().await;
    let (url, proxy) = through_a_proxy(&db).await;
    (start(db, &url, settings).await, proxy)
}

/// A URL of `db` that reaches it through a new [`Proxy`], and the proxy.
pub async fn through_a_proxy(db: &TestDatabase) -> (String, Proxy) {
    let mut url = url::Url::parse(db.url()).unwrap();
    let target = url.socket_addrs(|| Some(5432)).unwrap()[0];
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    (url.into(), proxy)
}

/// A second replica of a [`TestApp`]: the same database and Redis key space, its own
/// process state and listener. Stopped by cancelling `shutdown`.
pub struct Replica {
    pub base: String,
    pub shutdown: CancellationToken,
    pub app: Application,
}

impl TestApp {
    /// Starts a second replica of this app, with `settings` changed on it.
    pub async fn replica(&self, settings: &[(&str, &str)]) -> Replica {
        let mut vars = vec![
            ("DATABASE_URL", self.db.url()),
            ("REDIS_URL", self.redis.url()),
            ("REDIS_KEY_PREFIX", self.redis.key_prefix()),
            ("HTTP_ADDR", "127.0.0.1:0"),
        ];
        vars.extend_from_slice(settings);
        let config = config(&vars);
        let app = Application::build(&config).await.unwrap();
        let server = HttpServer::bind(&app, &config).await.unwrap();
        let base = format!("http://{}", server.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(server.run(shutdown.clone()));
        Replica {
            base,
            shutdown,
            app,
        }
    }
}

async fn start(db: TestDatabase, database_url: &str, settings: &[(&str, &str)]) -> TestApp {
    let redis = TestRedis::new().await;
    let mut vars = vec![
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis.url()),
        ("REDIS_KEY_PREFIX", redis.key_prefix()),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "10"),
    ];
    vars.extend_from_slice(settings);
    let config = config(&vars);
    let app = Application::build(&config).await.unwrap();
    let server = HttpServer::bind(&app, &config).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = app.clone();
    let server = tokio::spawn(server.run(shutdown.clone()));
    TestApp {
        base,
        client: Client::new(),
        shutdown,
        server,
        app: running,
        db,
        redis,
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let response = self.call(method, path, token, headers, body).await;
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, etag, body)
    }

    /// Registers `email` and logs in over REST: the bearer token.
    pub async fn user(&self, email: &str) -> String {
        let (status, _, _) = self
            .json(
                Method::POST,
                "/v1/users",
                None,
                &[],
                Some(json!({"email": email, "password": "password-123", "display_name": "E2E"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _, session) = self
            .json(
                Method::POST,
                "/v1/sessions",
                None,
                &[],
                Some(json!({"email": email, "password": "password-123"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        session["token"].as_str().unwrap().to_owned()
    }

    /// Returns once an `UPDATE todos` of the app (inside the statement that also records
    /// its event) waits for a row lock, as `pg_locks` shows: proof that a request is in
    /// flight, without guessing how long that takes to happen.
    pub async fn wait_until_an_update_waits_for_a_lock(&self) {
        for _ in 0..500 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE NOT l.granted AND a.datname = current_database() \
                 AND a.pid <> pg_backend_pid() AND a.query LIKE '%UPDATE todos SET%'",
            )
            .fetch_one(self.db.pool())
            .await
            .unwrap();
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no UPDATE ever waited for the row lock");
    }

    /// Returns once the server refuses new connections, as it must soon after shutdown
    /// begins; fails if it never does.
    pub async fn wait_until_new_connections_are_refused(&self) {
        let addr = self.base.trim_start_matches("http://").to_owned();
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(&addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a shutting-down server still accepts connections");
    }

    /// What the app's Redis todo cache holds for `id`, read through the cache adapter itself
    /// (with the app's key prefix), so the test sees what the next GET would see.
    pub async fn cached(&self, id: &str) -> Option<Todo> {
        let cache = RedisTodoCache::new(
            self.redis.manager().await,
            self.redis.key_prefix(),
            Duration::from_secs(60),
        );
        cache
            .get(TodoId::from_uuid(id.parse().unwrap()))
            .await
            .unwrap()
    }

    /// Creates the administrator `email` (with the password `user` uses) through the use case,
    /// since no API makes admins, and logs in over REST: the bearer token.
    pub async fn admin(&self, email: &str) -> String {
        self.app
            .use_cases
            .register
            .create_with_role(
                application::users::Registration {
                    email: domain::user::Email::parse(email).unwrap(),
                    display_name: domain::user::DisplayName::new("Admin").unwrap(),
                    password: domain::user::Password::new("password-123".into()).unwrap(),
                },
                domain::user::Role::Admin,
            )
            .await
            .unwrap();
        let (status, _, session) = self
            .json(
                Method::POST,
                "/v1/sessions",
                None,
                &[],
                Some(json!({"email": email, "password": "password-123"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        session["token"].as_str().unwrap().to_owned()
    }

    /// Creates a todo titled `title` over REST: its id.
    pub async fn todo(&self, token: &str, title: &str) -> String {
        let (status, _, body) = self
            .json(
                Method::POST,
                "/v1/todos",
                Some(token),
                &[],
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        body["id"].as_str().unwrap().to_owned()
    }

    /// A gRPC channel to the server (HTTP/2 cleartext, on the same port as everything else).
    pub async fn grpc(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.base.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// POSTs one GraphQL operation as a client that accepts GraphQL responses; the status
    /// and the body.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .header("accept", "application/graphql-response+json")
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `message` as a gRPC request carrying `token` as its bearer token.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}
