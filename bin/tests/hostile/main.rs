//! Hostile input against the real server, over real sockets: one module per way in.
//!
//! Each case is something an attacker (or a broken client) can do with no more than a
//! socket, and each checks two things: the server refuses it clearly, and the server is
//! still there afterwards. A new way in gets a module here with its own cases.
//!
//! - [`http1`]: HTTP/1.1: idle and slow connections, the connection cap, bodies and
//!   GraphQL documents that nest past the limits.
//! - [`http2`]: HTTP/2 and gRPC: idle connections, peers that stop answering, protobuf
//!   messages nested past the decoder's limit, oversized requests.
//! - [`websocket`]: the GraphQL WebSocket: authorization per operation, the protocol's
//!   close codes, message size, the init timeout, pings.
//!
//! The servers run on the in-memory adapters: what is under test is the edge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod http1;
mod http2;
mod websocket;

use std::{net::SocketAddr, time::Duration};

use backend::{Application, server::HttpServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// The real server on an ephemeral port, in memory, with `settings` changed.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        let mut vars = vec![("HTTP_ADDR", "127.0.0.1:0")];
        vars.extend_from_slice(settings);
        let config = support::config(&vars);
        let app = Application::build(&config).await.unwrap();
        let server = HttpServer::bind(&app, &config).await.unwrap();
        let addr = server.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(server.run(shutdown.clone()));
        Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown,
            running,
        }
    }

    /// Shuts the server down as SIGTERM does, and fails unless it has stopped within
    /// `within`: how long it took.
    pub async fn stop(&mut self, within: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        self.shutdown.cancel();
        timeout(within, &mut self.running)
            .await
            .unwrap_or_else(|_| panic!("the server still runs {within:?} after shutdown began"))
            .unwrap()
            .unwrap();
        started.elapsed()
    }

    /// Fails unless the server still answers, on a new connection.
    pub async fn assert_alive(&self) {
        let response = reqwest::Client::new()
            .get(format!("{}/healthz", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("the server still answers");
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// The value of the metric line that starts with `series` (a name and its labels).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {text}"))
    }

    /// How many connections the server has closed for `reason`
    /// (`http_connections_closed_total`).
    pub async fn closed(&self, reason: &str) -> f64 {
        self.metric(&format!(
            r#"http_connections_closed_total{{reason="{reason}"}}"#
        ))
        .await
    }

    /// Waits up to `within` for the metric `series` to reach `value`.
    pub async fn await_metric(&self, series: &str, value: f64, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.metric(series).await;
            if now == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{series} is {now}, not {value}, after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Registers `email` and logs in over REST: the bearer token.
    pub async fn user(&self, email: &str) -> String {
        let credentials = json!({"email": email, "password": "password-123"});
        let mut registration = credentials.clone();
        registration["display_name"] = json!("Hostile");
        let registered = self
            .client
            .post(format!("{}/v1/users", self.base))
            .json(&registration)
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), StatusCode::CREATED);
        let session: Value = self
            .client
            .post(format!("{}/v1/sessions", self.base))
            .json(&credentials)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["token"].as_str().unwrap().to_owned()
    }

    /// POSTs `body` (raw bytes) as JSON to `path`, within 30 s: the status and the body.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("an answer within 30 s");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An HTTP/2 connection opened by hand: the client preface and an empty SETTINGS frame,
/// and nothing more. The stream, and the header of the server's first frame, which is
/// checked to be its SETTINGS (HTTP/2 is spoken).
pub async fn raw_h2(addr: SocketAddr) -> (tokio::net::TcpStream, [u8; 9]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut header = [0u8; 9];
    timeout(Duration::from_secs(5), stream.read_exact(&mut header))
        .await
        .expect("the server's first frame")
        .unwrap();
    assert_eq!(header[3], 0x4, "a SETTINGS frame first: {header:?}");
    (stream, header)
}

/// The `extensions.code` of a GraphQL response's first error.
pub fn graphql_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// `{ todos(tag: [[…"x"…]]) { nodes { id } } }` with `depth` brackets around the tag.
pub fn nested_list_query(depth: usize) -> String {
    format!(
        "{{ todos(tag: {}\"x\"{}) {{ nodes {{ id }} }} }}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}
