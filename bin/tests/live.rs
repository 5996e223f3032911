//! Live updates end to end: `WatchTodos` over gRPC, fed by the Redis event stream, on one
//! server and across two.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use backend::{Application, server::HttpServer};
use driving_grpc::api::{self, TodoEventType, todo_service_client::TodoServiceClient};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    config,
    server::{TestApp, authed, spawn_app_with},
};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
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

#[tokio::test]
async fn watch_todos_streams_the_callers_events_in_order_and_never_another_users() {
    let app = spawn_app_with(LIVE).await;
    let ann = app.user("ann@example.org").await;
    let bob = app.user("bob@example.org").await;
    let mut anns = watch(&app, &ann).await;

    let id = app.todo(&ann, "Ann's").await;
    app.todo(&bob, "Bob's").await;
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
    app.todo(&bob, "Bob's second").await;
    let last = app.todo(&ann, "Ann's second").await;

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

    let id = a.todo(&token, "Written through A").await;

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

/// A graphql-transport-ws connection to `app`, initialised with `token`: the socket, and
/// the server's answer to `connection_init`.
async fn graphql_ws(
    app: &TestApp,
    token: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Option<Message>,
) {
    let url = format!("{}/graphql/ws", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("an answer to connection_init")
        .and_then(Result::ok);
    (socket, answer)
}

/// The next `next` message's event, skipping keep-alive pings, within `wait`.
async fn next_event(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    wait: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        let text = message.ok()?.into_text().ok()?;
        let body: Value = serde_json::from_str(text.as_str()).unwrap();
        match body["type"].as_str() {
            Some("next") => return Some(body["payload"]["data"]["todoEvents"].clone()),
            Some("ping") | Some("pong") => continue,
            other => panic!("unexpected {other:?}: {body}"),
        }
    }
}

#[tokio::test]
async fn the_graphql_subscription_streams_the_callers_events_over_websocket() {
    let app = spawn_app_with(LIVE).await;
    let ann = app.user("dee@example.org").await;
    let bob = app.user("eve@example.org").await;
    let (mut socket, ack) = graphql_ws(&app, &ann).await;
    let ack: Value = serde_json::from_str(ack.unwrap().into_text().unwrap().as_str()).unwrap();
    assert_eq!(ack["type"], "connection_ack");
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": {"query": "subscription { todoEvents { eventId type todoId version tag } }"}
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();

    // The subscription starts on the server a moment after `subscribe` is sent: write
    // until the first event shows it is live, rather than guess how long that takes.
    let mut first = None;
    for _ in 0..25 {
        app.todo(&ann, "probe").await;
        if let Some(event) = next_event(&mut socket, Duration::from_millis(200)).await {
            first = Some(event);
            break;
        }
    }
    let first = first.expect("the subscription delivered an event");
    assert_eq!(
        (first["type"].as_str(), first["version"].as_i64()),
        (Some("CREATED"), Some(1))
    );
    // Drain the probes that raced the subscription's start.
    while next_event(&mut socket, Duration::from_millis(300))
        .await
        .is_some()
    {}

    app.todo(&bob, "Bob's").await;
    let id = app.todo(&ann, "Ann's").await;
    let (status, _, _) = app
        .json(
            Method::PUT,
            &format!("/v1/todos/{id}/tags/home"),
            Some(&ann),
            &[],
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");

    let created = next_event(&mut socket, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (created["type"].as_str(), created["todoId"].as_str()),
        (Some("CREATED"), Some(id.as_str())),
        "never Bob's event"
    );
    let tagged = next_event(&mut socket, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (
            tagged["type"].as_str(),
            tagged["tag"].as_str(),
            tagged["version"].as_i64()
        ),
        (Some("TAGGED"), Some("home"), Some(2))
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_graphql_websocket_without_a_valid_token_is_refused_at_connection_init() {
    let app = spawn_app_with(LIVE).await;
    let (_, answer) = graphql_ws(&app, "not-a-token").await;
    match answer {
        // async-graphql closes a refused connection_init as a protocol error, with the
        // reason in the frame.
        Some(Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 1002, "{frame:?}");
            assert!(
                frame.reason.as_str().contains("unauthenticated"),
                "{frame:?}"
            );
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_user_past_the_subscription_cap_is_refused_on_both_protocols() {
    let app = spawn_app_with(&[("WORKER_IN_PROCESS", "true"), ("WATCH_MAX_PER_USER", "1")]).await;
    let token = app.user("fay@example.org").await;
    let first = watch(&app, &token).await;

    let mut client = TodoServiceClient::new(app.grpc().await);
    let status = client
        .watch_todos(authed(api::WatchTodosRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("at most 1"), "{status:?}");

    let (mut socket, _) = graphql_ws(&app, &token).await;
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": {"query": "subscription { todoEvents { eventId } }"}
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let answer = loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let body: Value = serde_json::from_str(message.into_text().unwrap().as_str()).unwrap();
        if body["type"] != "ping" {
            break body;
        }
    };
    // A resolver error: one `next` with the error and no data (then `complete`).
    assert_eq!(answer["type"], "next", "{answer}");
    assert!(answer["payload"]["data"].is_null(), "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "too_many_subscriptions",
        "{answer}"
    );

    // Closing the first stream frees the place.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        match client
            .watch_todos(authed(api::WatchTodosRequest {}, &token))
            .await
        {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(
        reopened.is_some(),
        "the place came back once the first stream closed"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn on_shutdown_a_watch_ends_with_unavailable_and_does_not_hold_the_drain() {
    // A drain deadline far longer than the test may take: the server must finish early.
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "30"),
    ])
    .await;
    let token = app.user("gus@example.org").await;
    let mut stream = watch(&app, &token).await;
    let started = std::time::Instant::now();

    app.shutdown.cancel();

    let status = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends at once")
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("shutting down"), "{status:?}");
    tokio::time::timeout(Duration::from_secs(10), app.server)
        .await
        .expect("the server stops long before its drain deadline")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_hundred_watchers_under_a_steady_write_load_miss_no_event() {
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("WORKER_POLL_INTERVAL_MS", "10"),
        ("WATCH_MAX_PER_USER", "100"),
    ])
    .await;
    let token = app.user("hal@example.org").await;
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut client = TodoServiceClient::new(app.grpc().await);
        for _ in 0..25 {
            // The call returns once the server has subscribed: nothing after it is missed.
            streams.push(
                client
                    .watch_todos(authed(api::WatchTodosRequest {}, &token))
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
    }

    let mut created = Vec::new();
    for i in 0..50 {
        created.push(format!(
            "todos/{}",
            app.todo(&token, &format!("load {i}")).await
        ));
    }

    let readers = streams.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let mut names = Vec::new();
            for _ in 0..50 {
                names.push(next(&mut stream).await.name);
            }
            names
        })
    });
    for names in futures_util::future::join_all(readers).await {
        assert_eq!(names.unwrap(), created, "every event, in order");
    }
    app.shutdown.cancel();
}
