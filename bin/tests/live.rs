//! Live updates end to end: `WatchTodos` over gRPC, fed by the Redis event stream, on one
//! server and across two.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use backend::{Application, server::HttpServer};
use driving_grpc::api::{self, TodoEventType, todo_service_client::TodoServiceClient};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{
    config,
    server::{TestApp, authed, spawn_app_with},
};
use tokio_util::sync::CancellationToken;
use tonic::Streaming;

const LIVE: &[(&str, &str)] = &[
    ("WORKER_IN_PROCESS", "true"),
    ("WORKER_POLL_INTERVAL_MS", "10"),
];

/// Opens `WatchTodos` for `token` on `app`.
async fn watch(app: &TestApp, token: &str) -> Streaming<api::TodoEvent> {
    let mut client = TodoServiceClient::new(app.grpc().await);
    client
        .watch_todos(authed(api::WatchTodosRequest {}, token))
        .await
        .unwrap()
        .into_inner()
}

/// The next event, within five seconds.
async fn next(stream: &mut Streaming<api::TodoEvent>) -> api::TodoEvent {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .expect("the stream goes on")
}

/// Creates a todo over REST: its id.
async fn create(app: &TestApp, token: &str, title: &str) -> String {
    let (status, _, todo) = app
        .json(
            Method::POST,
            "/v1/todos",
            Some(token),
            &[],
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    todo["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn watch_todos_streams_the_callers_events_in_order_and_never_another_users() {
    let app = spawn_app_with(LIVE).await;
    let ann = app.user("ann@example.org").await;
    let bob = app.user("bob@example.org").await;
    let mut anns = watch(&app, &ann).await;

    let id = create(&app, &ann, "Ann's").await;
    create(&app, &bob, "Bob's").await;
    let path = format!("/v1/todos/{id}");
    let (status, _, _) = app
        .json(
            Method::POST,
            &format!("{path}/complete"),
            Some(&ann),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app
        .json(
            Method::DELETE,
            &path,
            Some(&ann),
            &[("if-match", "\"2\"")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    create(&app, &bob, "Bob's second").await;
    let last = create(&app, &ann, "Ann's second").await;

    let name = format!("todos/{id}");
    for (kind, version) in [
        (TodoEventType::Created, 1),
        (TodoEventType::Completed, 2),
        (TodoEventType::Deleted, 3),
    ] {
        let event = next(&mut anns).await;
        assert_eq!(
            (event.r#type(), event.name.as_str(), event.version),
            (kind, name.as_str(), version)
        );
        assert!(!event.event_id.is_empty() && event.occur_time.is_some());
    }
    // Bob's two todos came in between; Ann's stream skipped them.
    let event = next(&mut anns).await;
    assert_eq!(event.name, format!("todos/{last}"), "never Bob's events");
    app.shutdown.cancel();
}

#[tokio::test]
async fn an_event_written_through_one_server_reaches_a_watcher_on_another() {
    let a = spawn_app_with(LIVE).await;
    // Replica B: the same database and Redis, its own process state and listener.
    let config = config(&[
        ("DATABASE_URL", a.db.url()),
        ("REDIS_URL", a.redis.url()),
        ("REDIS_KEY_PREFIX", a.redis.key_prefix()),
        ("HTTP_ADDR", "127.0.0.1:0"),
    ]);
    let replica = Application::build(&config).await.unwrap();
    let server = HttpServer::bind(&replica, &config).await.unwrap();
    let b_base = format!("http://{}", server.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    let token = a.user("cat@example.org").await;
    let channel = tonic::transport::Endpoint::from_shared(b_base)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut on_b = TodoServiceClient::new(channel)
        .watch_todos(authed(api::WatchTodosRequest {}, &token))
        .await
        .unwrap()
        .into_inner();

    let id = create(&a, &token, "Written through A").await;

    let event = next(&mut on_b).await;
    assert_eq!(
        (event.r#type(), event.name, event.version),
        (TodoEventType::Created, format!("todos/{id}"), 1)
    );
    shutdown.cancel();
    a.shutdown.cancel();
}

#[tokio::test]
async fn watching_needs_a_valid_session() {
    let app = spawn_app_with(LIVE).await;
    let mut client = TodoServiceClient::new(app.grpc().await);
    let status = client
        .watch_todos(authed(api::WatchTodosRequest {}, "not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    app.shutdown.cancel();
}
