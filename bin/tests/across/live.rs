//! Live updates end to end: gRPC `WatchTodos` and GraphQL `todoEvents`, fed by the Redis
//! event stream, on one server and across two: order, isolation, resuming, limits and
//! every way a stream ends.

use crate::support;

use std::time::Duration;

use driving_grpc::api::{self, TodoEventType, todo_service_client::TodoServiceClient};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::server::{TestApp, authed, spawn_app_with};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};
use tonic_types::StatusExt;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LIVE: &[(&str, &str)] = &[
    ("WORKER_IN_PROCESS", "true"),
    ("WORKER_POLL_INTERVAL_MS", "10"),
];

/// Opens `WatchTodos` for `token` on `app`.
async fn watch(app: &TestApp, token: &str) -> Streaming<api::TodoEvent> {
    watch_after(app, token, "").await.unwrap()
}

/// Opens `WatchTodos` for `token` on `app`, resuming after the event `after` (if not empty).
async fn watch_after(
    app: &TestApp,
    token: &str,
    after: &str,
) -> Result<Streaming<api::TodoEvent>, Status> {
    let mut client = TodoServiceClient::new(app.grpc().await);
    let request = api::WatchTodosRequest {
        after: after.to_owned(),
    };
    Ok(client
        .watch_todos(authed(request, token))
        .await?
        .into_inner())
}

/// The ErrorInfo reason of `status`.
fn reason(status: &Status) -> String {
    let details = status.get_error_details();
    details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"))
        .reason
        .clone()
}

/// Replica B of `a`, with `settings` changed: its base URL and what stops it.
async fn replica(a: &TestApp, settings: &[(&str, &str)]) -> (String, CancellationToken) {
    let replica = a.replica(settings).await;
    (replica.base, replica.shutdown)
}

/// A gRPC todo client for the server at `base`.
async fn grpc_client(base: &str) -> TodoServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(base.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    TodoServiceClient::new(channel)
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

    // Delivery is ordered per todo, not across todos: the second todo's
    // Created may overtake the first todo's Deleted, but each todo's own
    // events arrive in the order they were recorded.
    let mut events = Vec::new();
    for _ in 0..4 {
        events.push(next(&mut anns).await);
    }
    for event in &events {
        assert!(!event.event_id.is_empty() && event.occur_time.is_some());
    }
    let name = format!("todos/{id}");
    let first: Vec<_> = events
        .iter()
        .filter(|event| event.name == name)
        .map(|event| (event.r#type(), event.version))
        .collect();
    assert_eq!(
        first,
        [
            (TodoEventType::Created, 1),
            (TodoEventType::Completed, 2),
            (TodoEventType::Deleted, 3),
        ]
    );
    // Bob's two todos were written in between; Ann's stream skipped them.
    let others: Vec<_> = events
        .iter()
        .filter(|event| event.name != name)
        .map(|event| (event.r#type(), event.name.clone()))
        .collect();
    assert_eq!(
        others,
        [(TodoEventType::Created, format!("todos/{last}"))],
        "never Bob's events"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn an_event_written_through_one_server_reaches_a_watcher_on_another() {
    let a = spawn_app_with(LIVE).await;
    let (b_base, shutdown) = replica(&a, &[]).await;
    let token = a.user("cat@example.org").await;
    let mut on_b = grpc_client(&b_base)
        .await
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
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
        .watch_todos(authed(api::WatchTodosRequest::default(), "not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    app.shutdown.cancel();
}

/// A graphql-transport-ws connection to `app`, initialised with `token`: the socket, and
/// the server's answer to `connection_init`.
async fn graphql_ws(app: &TestApp, token: &str) -> (Ws, Option<Message>) {
    graphql_ws_at(&app.base, token).await
}

/// [`graphql_ws`] to the server at `base`.
async fn graphql_ws_at(base: &str, token: &str) -> (Ws, Option<Message>) {
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
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

/// Sends `subscribe` for `todoEvents`, resuming after `after` if given.
async fn subscribe(socket: &mut Ws, id: &str, after: Option<&str>) {
    let query = "subscription($after: ID) { \
                 todoEvents(after: $after) { eventId type todoId version tag } }";
    let message = json!({
        "id": id,
        "type": "subscribe",
        "payload": {"query": query, "variables": {"after": after}}
    });
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next protocol message, skipping keep-alive pings, within five seconds; a close
/// frame as `{"type": "close", "code": ..}`.
async fn next_message(socket: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .unwrap();
        match message {
            Message::Text(text) => {
                let body: Value = serde_json::from_str(text.as_str()).unwrap();
                if !matches!(body["type"].as_str(), Some("ping" | "pong")) {
                    return body;
                }
            }
            Message::Close(frame) => {
                let frame = frame.expect("a close frame with a code");
                return json!({"type": "close", "code": u16::from(frame.code), "reason": frame.reason.as_str()});
            }
            _ => {}
        }
    }
}

/// The next `next` message's event, skipping keep-alive pings, within `wait`.
async fn next_event(socket: &mut Ws, wait: Duration) -> Option<Value> {
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
        // graphql-transport-ws: a refused connection_init closes with 4403 (Forbidden).
        Some(Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 4403, "{frame:?}");
            assert!(frame.reason.as_str().contains("Forbidden"), "{frame:?}");
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
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
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
            .watch_todos(authed(api::WatchTodosRequest::default(), &token))
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
                    .watch_todos(authed(api::WatchTodosRequest::default(), &token))
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

/// Completes the todo `id` over REST.
async fn complete(app: &TestApp, token: &str, id: &str) {
    let (status, _, _) = app
        .json(
            Method::POST,
            &format!("/v1/todos/{id}/complete"),
            Some(token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// Writes a todo and two changes to it, and returns the three events as `observer` (a watch
/// opened earlier) saw them: proof that they were all published.
async fn three_events(
    app: &TestApp,
    token: &str,
    observer: &mut Streaming<api::TodoEvent>,
) -> Vec<api::TodoEvent> {
    let id = app.todo(token, "Missed").await;
    complete(app, token, &id).await;
    let (status, _, _) = app
        .json(
            Method::PUT,
            &format!("/v1/todos/{id}/tags/home"),
            Some(token),
            &[],
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(next(observer).await);
    }
    events
}

#[tokio::test]
async fn a_watch_resumed_after_the_last_event_seen_gets_exactly_the_missed_ones_then_live_ones() {
    let app = spawn_app_with(LIVE).await;
    let token = app.user("ida@example.org").await;
    let mut observer = watch(&app, &token).await;
    let mut first = watch(&app, &token).await;
    app.todo(&token, "Seen").await;
    let seen = next(&mut first).await;
    next(&mut observer).await;
    // The client loses its connection, and three events go out while it is away.
    drop(first);
    let missed = three_events(&app, &token, &mut observer).await;

    let mut resumed = watch_after(&app, &token, &seen.event_id).await.unwrap();

    for expected in &missed {
        assert_eq!(
            &next(&mut resumed).await,
            expected,
            "the missed ones, in order"
        );
    }
    let live = app.todo(&token, "After").await;
    let event = next(&mut resumed).await;
    assert_eq!(
        (event.r#type(), event.name),
        (TodoEventType::Created, format!("todos/{live}")),
        "then the live one, with nothing repeated in between"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn resuming_after_an_unknown_or_malformed_event_id_is_invalid_argument_on_after() {
    let app = spawn_app_with(LIVE).await;
    let token = app.user("jan@example.org").await;
    for after in ["not-an-id", "01890a5d-ac96-774b-bcce-b302099a8057"] {
        let status = watch_after(&app, &token, after).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["after"], "{status:?}");
    }
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_graphql_subscription_resumed_after_the_last_event_seen_gets_exactly_the_missed_ones() {
    let app = spawn_app_with(LIVE).await;
    let token = app.user("kit@example.org").await;
    let mut observer = watch(&app, &token).await;
    app.todo(&token, "Seen").await;
    let seen = next(&mut observer).await;
    let missed = three_events(&app, &token, &mut observer).await;

    let (mut socket, _) = graphql_ws(&app, &token).await;
    subscribe(&mut socket, "1", Some(&seen.event_id)).await;

    for expected in &missed {
        let event = next_event(&mut socket, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(event["eventId"], expected.event_id.as_str(), "{event}");
        assert_eq!(event["version"], expected.version, "{event}");
    }
    let live = app.todo(&token, "After").await;
    let event = next_event(&mut socket, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (event["type"].as_str(), event["todoId"].as_str()),
        (Some("CREATED"), Some(live.as_str())),
        "then the live one, with nothing repeated in between"
    );

    // An id outside the window is a field error on `after`.
    subscribe(
        &mut socket,
        "2",
        Some("01890a5d-ac96-774b-bcce-b302099a8057"),
    )
    .await;
    let refused = next_message(&mut socket).await;
    assert_eq!(refused["id"], "2", "{refused}");
    let error = &refused["payload"]["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "validation_failed",
        "{refused}"
    );
    assert_eq!(
        error["extensions"]["fields"][0]["field"], "after",
        "{refused}"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn logging_out_ends_the_users_streams_on_every_replica_and_protocol() {
    let check = [("WATCH_SESSION_CHECK_MS", "100")];
    let a = spawn_app_with(&[LIVE, &check].concat()).await;
    let (b_base, b_shutdown) = replica(&a, &check).await;
    let token = a.user("lea@example.org").await;
    let other = a.user("max@example.org").await;
    // On replica B: the user's gRPC stream and GraphQL subscription, and another user's.
    let mut grpc = grpc_client(&b_base)
        .await
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut others = grpc_client(&b_base)
        .await
        .watch_todos(authed(api::WatchTodosRequest::default(), &other))
        .await
        .unwrap()
        .into_inner();
    let (mut socket, _) = graphql_ws_at(&b_base, &token).await;
    subscribe(&mut socket, "1", None).await;

    // Logged out through replica A.
    let (status, _, _) = a
        .json(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let status = tokio::time::timeout(Duration::from_secs(5), grpc.message())
        .await
        .expect("the gRPC stream ends within the check interval")
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(&status), "session_ended");
    let ended = next_message(&mut socket).await;
    assert_eq!(ended["type"], "next", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "session_ended",
        "{ended}"
    );
    assert_eq!(next_message(&mut socket).await["type"], "complete");
    // Not only the stream: the socket runs nothing more for the ended session. Its next
    // operation, whatever it is, closes it with 4403.
    let mutation = json!({
        "id": "2",
        "type": "subscribe",
        "payload": {"query": "mutation { createTodo(input: {title: \"x\"}) { id } }"}
    });
    socket
        .send(Message::text(mutation.to_string()))
        .await
        .unwrap();
    let closed = next_message(&mut socket).await;
    assert_eq!(
        (closed["type"].as_str(), closed["code"].as_u64()),
        (Some("close"), Some(4403)),
        "{closed}"
    );

    // The other user's stream is untouched.
    let id = a.todo(&other, "Still watched").await;
    assert_eq!(next(&mut others).await.name, format!("todos/{id}"));
    b_shutdown.cancel();
    a.shutdown.cancel();
}

#[tokio::test]
async fn on_shutdown_a_graphql_websocket_is_closed_with_going_away() {
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "30"),
    ])
    .await;
    let token = app.user("ned@example.org").await;
    let (mut socket, _) = graphql_ws(&app, &token).await;
    subscribe(&mut socket, "1", None).await;

    app.shutdown.cancel();

    let goodbye = next_message(&mut socket).await;
    assert_eq!(goodbye["type"], "close", "{goodbye}");
    assert_eq!(goodbye["code"], 1001, "{goodbye}");
    assert!(
        goodbye["reason"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{goodbye}"
    );
}

#[tokio::test]
async fn a_hundred_graphql_subscribers_under_a_steady_write_load_miss_no_event() {
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("WORKER_POLL_INTERVAL_MS", "10"),
        ("WATCH_MAX_PER_USER", "101"),
    ])
    .await;
    let token = app.user("ola@example.org").await;
    // A subscription over WebSocket starts a moment after `subscribe` is sent, with no
    // acknowledgement; resuming after a marker event makes each one's start exact.
    let mut observer = watch(&app, &token).await;
    app.todo(&token, "marker").await;
    let marker = next(&mut observer).await.event_id;
    let mut sockets = Vec::new();
    for _ in 0..100 {
        let (mut socket, ack) = graphql_ws(&app, &token).await;
        assert!(ack.is_some());
        subscribe(&mut socket, "1", Some(&marker)).await;
        sockets.push(socket);
    }

    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..50 {
                    let event = next_event(&mut socket, Duration::from_secs(10)).await;
                    ids.push(event.expect("an event within 10 s")["todoId"].clone());
                }
                ids
            })
        })
        .collect();
    let mut created = Vec::new();
    for i in 0..50 {
        created.push(Value::from(app.todo(&token, &format!("load {i}")).await));
    }

    for ids in futures_util::future::join_all(readers).await {
        assert_eq!(ids.unwrap(), created, "every event, in order");
    }
    app.shutdown.cancel();
}

#[tokio::test]
async fn resuming_after_ids_that_name_no_event_is_cheap_and_never_slows_logins() {
    let app = spawn_app_with(LIVE).await;
    // A stream as long as the default window keeps: 100,000 entries.
    let stream = format!(
        "{}{}",
        app.redis.key_prefix(),
        driven_redis::RedisEventPublisher::STREAM
    );
    let mut redis = app.redis.manager().await;
    for _ in 0..100 {
        let mut pipe = redis::pipe();
        for _ in 0..1_000 {
            let id = uuid::Uuid::now_v7().to_string();
            pipe.xadd(
                &stream,
                "*",
                &[
                    ("event", "todo.created"),
                    ("event_id", id.as_str()),
                    ("owner_id", id.as_str()),
                    ("payload", "{}"),
                ],
            )
            .ignore();
        }
        pipe.query_async::<()>(&mut redis).await.unwrap();
    }
    let token = app.user("ray@example.org").await;

    // Ids that cannot be events are refused before any search.
    for after in [
        "00000000-0000-0000-0000-000000000000",
        "6f1c8a4e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        "{01890a5d-ac96-774b-bcce-b302099a8057}",
    ] {
        let status = watch_after(&app, &token, after).await.unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{after}: {status:?}"
        );
    }

    // Eight resumes at once after an id from an hour ago that names no event: each
    // searches a bounded part of the stream, on a connection of its own...
    let an_hour_ago = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (chrono::Utc::now().timestamp() - 3_600) as u64,
        0,
    );
    let unknown = uuid::Uuid::new_v7(an_hour_ago).to_string();
    let resumes: Vec<_> = (0..8)
        .map(|_| {
            let (base, token, unknown) = (app.base.clone(), token.clone(), unknown.clone());
            tokio::spawn(async move {
                let mut client = grpc_client(&base).await;
                client
                    .watch_todos(authed(api::WatchTodosRequest { after: unknown }, &token))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    // ...while logins and readiness, which share Redis with them, go on as ever.
    // (Five logins: the per-email limit allows ten a minute.)
    for i in 0..20 {
        if i % 4 == 0 {
            let (status, _, _) = app
                .json(
                    Method::POST,
                    "/v1/sessions",
                    None,
                    &[],
                    Some(json!({"email": "ray@example.org", "password": "password-123"})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "login {i}");
        }
        let (status, _, _) = app.json(Method::GET, "/readyz", None, &[], None).await;
        assert_eq!(status, StatusCode::OK, "readiness {i}");
    }
    for resume in futures_util::future::join_all(resumes).await {
        let status = resume.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
    app.shutdown.cancel();
}

#[tokio::test]
async fn an_event_published_twice_reaches_each_watcher_once() {
    let app = spawn_app_with(LIVE).await;
    let token = app.user("sid@example.org").await;
    let mut stream = watch(&app, &token).await;
    let id = app.todo(&token, "Published once").await;
    let created = next(&mut stream).await;
    assert_eq!(created.name, format!("todos/{id}"));

    // The worker publishes the same event again, as it may after a crash or a lost lease.
    let publisher = driven_redis::RedisEventPublisher::new(
        app.redis.manager().await,
        app.redis.key_prefix(),
        1_000,
        Duration::from_secs(3),
    );
    let actor = app
        .app
        .use_cases
        .authenticate
        .execute(&token)
        .await
        .unwrap();
    let stored = app
        .app
        .use_cases
        .get_todo
        .execute(&actor, domain::todo::TodoId::from_uuid(id.parse().unwrap()))
        .await
        .unwrap();
    let repeat = domain::event::TodoEvent {
        id: domain::event::MessageId::parse(&created.event_id).unwrap(),
        occurred_at: stored.created_at(),
        owner: stored.owner(),
        todo_id: stored.id(),
        version: stored.version(),
        change: domain::event::TodoChange::Created,
    };
    use domain::ports::EventPublisher;
    publisher.publish(&repeat).await.unwrap();
    publisher.publish(&repeat).await.unwrap();
    let later = app.todo(&token, "After the repeats").await;

    let event = next(&mut stream).await;
    assert_eq!(
        event.name,
        format!("todos/{later}"),
        "the repeats were dropped: the next event is the next one"
    );
    app.shutdown.cancel();
}
