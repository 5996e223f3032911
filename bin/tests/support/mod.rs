//! Shared by the HTTP test binaries: building the app, and a tiny client over
//! `Router::oneshot` for the handler tests.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

pub mod proxy;
pub mod server;

use std::collections::HashMap;

use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use backend::{Application, Config, server::Listener};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Whether the server closes `stream` within `within`: reading gives its end (or a reset)
/// rather than waiting. Whatever the server sends first (an answer) is read past.
pub async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A configuration from `vars` alone, ignoring the process environment.
pub fn config(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_vars(|name| map.get(name).cloned()).unwrap()
}

/// A response, taken apart for assertions.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and code, and returns it.
    pub fn problem(&self, status: StatusCode, code: &str) -> &Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        assert_eq!(self.body["status"], status.as_u16(), "{self:?}");
        assert_eq!(self.body["code"], code, "{self:?}");
        assert_eq!(self.body["type"], format!("urn:problem:{code}"), "{self:?}");
        assert!(self.body["title"].is_string(), "{self:?}");
        let request_id = self.body["request_id"]
            .as_str()
            .expect("every problem carries the request id");
        assert_eq!(Some(request_id), self.header("x-request-id"), "{self:?}");
        &self.body
    }

    /// The field names of a validation problem.
    pub fn invalid_fields(&self) -> Vec<String> {
        self.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        self.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The router of an app, called without a socket.
pub struct Api {
    pub app: Application,
    router: Listener,
}

impl Api {
    /// On the in-memory adapters.
    pub async fn in_memory() -> Self {
        Self::with_config(&config(&[])).await
    }

    pub async fn with_config(config: &Config) -> Self {
        let app = Application::build(config).await.unwrap();
        let router = backend::server::router(&app, config).unwrap().router;
        Self { app, router }
    }

    /// Sends a request: `body` as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), &[], None).await
    }

    /// Registers `email` and logs in; returns the bearer token.
    pub async fn user(&self, email: &str) -> String {
        let registered = self
            .call(
                Method::POST,
                "/v1/users",
                None,
                &[],
                Some(json!({"email": email, "password": "password-123", "display_name": "Tester"})),
            )
            .await;
        assert_eq!(registered.status, StatusCode::CREATED, "{registered:?}");
        self.log_in(email).await
    }

    pub async fn log_in(&self, email: &str) -> String {
        let session = self
            .call(
                Method::POST,
                "/v1/sessions",
                None,
                &[],
                Some(json!({"email": email, "password": "password-123"})),
            )
            .await;
        assert_eq!(session.status, StatusCode::CREATED, "{session:?}");
        session.body["token"].as_str().unwrap().to_owned()
    }

    /// Creates a todo; returns its id and ETag.
    pub async fn todo(&self, token: &str, body: Value) -> (String, String) {
        let created = self
            .call(Method::POST, "/v1/todos", Some(token), &[], Some(body))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        (
            created.body["id"].as_str().unwrap().to_owned(),
            created.header("etag").unwrap().to_owned(),
        )
    }
}
