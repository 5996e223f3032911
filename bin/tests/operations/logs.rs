//! No secret reaches a log line: a whole session's life (register, log in, use the token
//! on all three protocols, present a wrong one, log out) is logged at TRACE, for every
//! crate, in both log formats, and searched for the password and both tokens.
//!
//! This binary holds this one test because it installs the process-wide subscriber, the
//! same way `main` does (which also routes the `log` crate's records into it).

use crate::support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::server::{authed, spawn_app};
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Everything logged, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn no_password_or_token_appears_in_any_log_line_at_any_level() {
    let captured = Captured::default();
    let (pretty, json) = (captured.clone(), captured.clone());
    tracing_subscriber::registry()
        .with(EnvFilter::new("trace"))
        .with(fmt::layer().with_writer(move || pretty.clone()))
        .with(
            fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(move || json.clone()),
        )
        .try_init()
        .unwrap();

    let app = spawn_app().await;
    let password = "a-secret-passphrase-42";
    let (status, _, _) = app
        .json(
            Method::POST,
            "/v1/users",
            None,
            &[],
            Some(
                json!({"email": "logs@example.org", "password": password, "display_name": "Logs"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, session) = app
        .json(
            Method::POST,
            "/v1/sessions",
            None,
            &[],
            Some(json!({"email": "logs@example.org", "password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = session["token"].as_str().unwrap().to_owned();

    // The token on every protocol, and a wrong one that is refused.
    let id = app.todo(&token, "Logged").await;
    let (status, _, _) = app
        .json(
            Method::GET,
            &format!("/v1/todos/{id}"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .graphql(Some(&token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(
        (status, &body["data"]["me"]["email"]),
        (StatusCode::OK, &json!("logs@example.org"))
    );
    let todo = TodoServiceClient::new(app.grpc().await)
        .get_todo(authed(
            api::GetTodoRequest {
                name: format!("todos/{id}"),
            },
            &token,
        ))
        .await;
    assert!(todo.is_ok(), "{todo:?}");
    let wrong = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE";
    let (status, _, _) = app
        .json(Method::GET, "/v1/users/me", Some(wrong), &[], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = app
        .json(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.shutdown.cancel();

    let logs = captured.text();
    // The capture works, and saw the requests, at the levels that matter.
    for expected in [
        "/v1/sessions",
        "/graphql",
        "GetTodo",
        "TRACE",
        "DEBUG",
        "INFO",
    ] {
        assert!(
            logs.contains(expected),
            "no {expected:?} in {} bytes of logs",
            logs.len()
        );
    }
    for (secret, what) in [
        (password, "the password"),
        (token.as_str(), "the token"),
        (wrong, "the wrong token"),
    ] {
        let line = logs.lines().find(|line| line.contains(secret));
        assert!(
            line.is_none(),
            "{what} was logged: {}",
            line.unwrap_or_default()
        );
    }
}
