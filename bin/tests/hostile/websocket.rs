//! The GraphQL WebSocket: every operation authorized against the session as it is now,
//! the same document limits as over HTTP, the protocol's close codes, and bounds on each
//! socket's messages, start and life.

use std::time::Duration;

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use futures_util::{SinkExt, StreamExt, future::join_all};
use serde_json::{Value, json};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{
    Server, graphql_code, nested_list_query,
    support::{proxy::Proxy, server::authed},
};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws socket to `addr`, not yet initialised.
async fn connect(addr: std::net::SocketAddr) -> Ws {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn send(socket: &mut Ws, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// A socket to `addr` initialised with `token`.
async fn initialised(addr: std::net::SocketAddr, token: &str) -> Ws {
    let mut socket = connect(addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await;
    let ack = next(&mut socket).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

/// The next protocol message within 10 s, skipping pings; a close frame as
/// `{"type": "close", "code": ..}`, and the socket's end as `{"type": "ended"}`.
async fn next(socket: &mut Ws) -> Value {
    loop {
        let message = timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s");
        match message {
            Some(Ok(Message::Text(text))) => {
                let body: Value = serde_json::from_str(text.as_str()).unwrap();
                if !matches!(body["type"].as_str(), Some("ping" | "pong")) {
                    return body;
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let frame = frame.expect("a close frame with a code");
                return json!({"type": "close", "code": u16::from(frame.code), "reason": frame.reason.as_str()});
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return json!({"type": "ended"}),
        }
    }
}

/// The close code the server ends `socket` with, within 10 s.
async fn close_code(socket: &mut Ws) -> u64 {
    loop {
        let message = next(socket).await;
        match message["type"].as_str() {
            Some("close") => return message["code"].as_u64().unwrap(),
            Some("ended") => return 0,
            _ => {}
        }
    }
}

/// `subscribe` for `query` as operation `id`.
fn subscribe(id: &str, query: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {"query": query}})
}

const TODO_EVENTS: &str = "subscription { todoEvents { eventId type todoId } }";

/// Returns once the subscription `id` on `socket` is live: creates todos until one's
/// event arrives (a subscription starts a moment after `subscribe`, with no answer).
async fn until_live(server: &Server, token: &str, socket: &mut Ws, id: &str) {
    for _ in 0..50 {
        let created = server
            .client
            .post(format!("{}/v1/todos", server.base))
            .bearer_auth(token)
            .json(&json!({"title": "probe"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        if let Ok(event) = timeout(Duration::from_millis(200), next(socket)).await {
            assert_eq!(
                (event["id"].as_str(), event["type"].as_str()),
                (Some(id), Some("next")),
                "{event}"
            );
            return;
        }
    }
    panic!("the subscription {id} never delivered an event");
}

/// Logs `token` out everywhere over REST.
async fn log_out(server: &Server, token: &str) {
    let response = server
        .client
        .delete(format!("{}/v1/sessions", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

/// How many todos `token` sees.
async fn todo_count(server: &Server, token: &str) -> usize {
    let list: Value = server
        .client
        .get(format!("{}/v1/todos", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn the_socket_runs_subscriptions_only_and_nothing_after_its_session_ends() {
    let server = Server::start(&[]).await;
    let token = server.user("sam@example.org").await;
    let mut socket = initialised(server.addr, &token).await;

    // Queries and mutations go over HTTP, where every limit applies to each.
    send(
        &mut socket,
        subscribe("1", "mutation { createTodo(input: {title: \"x\"}) { id } }"),
    )
    .await;
    let refused = next(&mut socket).await;
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("1"), Some("error")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "operation_not_supported",
        "{refused}"
    );
    assert_eq!(todo_count(&server, &token).await, 0);

    // After logging out, the socket's next operation is refused and the socket closed.
    log_out(&server, &token).await;
    send(&mut socket, subscribe("2", TODO_EVENTS)).await;
    assert_eq!(close_code(&mut socket).await, 4403);
}

#[tokio::test]
async fn a_socket_is_closed_at_the_next_ping_once_its_session_has_ended() {
    let server = Server::start(&[("HTTP_KEEPALIVE_INTERVAL_SECS", "1")]).await;
    let token = server.user("tia@example.org").await;
    let mut socket = initialised(server.addr, &token).await;
    log_out(&server, &token).await;
    // No message from the client: the server finds out by itself.
    assert_eq!(close_code(&mut socket).await, 4403);
}

#[tokio::test]
async fn documents_on_the_socket_meet_the_same_limits_as_over_http() {
    let server = Server::start(&[]).await;
    let token = server.user("uma@example.org").await;
    let mut socket = initialised(server.addr, &token).await;
    let too_long = format!(
        "subscription {{ todoEvents {{ eventId }} }} # {}",
        "x".repeat(20_000)
    );
    let two_roots = "subscription { a: todoEvents { eventId } b: todoEvents { eventId } }";
    for (id, query, code) in [
        ("1", nested_list_query(1_700), "query_too_deep"),
        ("2", too_long, "query_too_large"),
        ("3", two_roots.to_owned(), "malformed_request"),
        (
            "4",
            "subscription { __typename }".to_owned(),
            "malformed_request",
        ),
    ] {
        send(&mut socket, subscribe(id, &query)).await;
        let refused = next(&mut socket).await;
        assert_eq!(
            (refused["id"].as_str(), refused["type"].as_str()),
            (Some(id), Some("error")),
            "{refused}"
        );
        assert_eq!(graphql_code(&json!({"errors": refused["payload"]})), code);
    }
    // The socket is still good for a subscription within the limits.
    send(&mut socket, subscribe("5", TODO_EVENTS)).await;
    until_live(&server, &token, &mut socket, "5").await;
}

#[tokio::test]
async fn each_breach_of_the_protocol_closes_with_its_own_code() {
    let server = Server::start(&[("GRAPHQL_WS_INIT_TIMEOUT_MS", "300")]).await;
    let token = server.user("val@example.org").await;

    let mut socket = connect(server.addr).await;
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(
        close_code(&mut socket).await,
        4400,
        "a message that is not JSON"
    );

    let mut socket = initialised(server.addr, &token).await;
    send(&mut socket, json!({"type": "nope"})).await;
    assert_eq!(close_code(&mut socket).await, 4400, "an unknown type");

    let mut socket = connect(server.addr).await;
    send(&mut socket, subscribe("1", TODO_EVENTS)).await;
    assert_eq!(close_code(&mut socket).await, 4401, "subscribe before init");

    let mut socket = connect(server.addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4403, "a bad token");

    let mut socket = connect(server.addr).await;
    assert_eq!(close_code(&mut socket).await, 4408, "no connection_init");

    let mut socket = initialised(server.addr, &token).await;
    send(&mut socket, subscribe("1", TODO_EVENTS)).await;
    // An id may be used again once its operation is complete...
    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    send(&mut socket, subscribe("1", TODO_EVENTS)).await;
    // ...but not while it runs.
    send(&mut socket, subscribe("1", TODO_EVENTS)).await;
    assert_eq!(close_code(&mut socket).await, 4409, "a duplicate id");

    let mut socket = initialised(server.addr, &token).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {}}),
    )
    .await;
    assert_eq!(close_code(&mut socket).await, 4429, "a second init");
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_the_socket() {
    let server = Server::start(&[("GRAPHQL_WS_MAX_MESSAGE_BYTES", "20000")]).await;
    let token = server.user("wes@example.org").await;
    let mut socket = initialised(server.addr, &token).await;
    let huge = format!(
        "subscription {{ todoEvents {{ eventId }} }} # {}",
        "x".repeat(1 << 20)
    );
    // The server may close before the whole message is sent.
    let _ = socket
        .send(Message::text(subscribe("1", &huge).to_string()))
        .await;
    let end = next(&mut socket).await;
    assert!(
        end["type"] == "ended" || (end["type"] == "close" && end["code"] == 1009),
        "{end}"
    );
    server.assert_alive().await;
}

#[tokio::test]
async fn sockets_that_never_initialise_are_all_closed() {
    let server = Server::start(&[("GRAPHQL_WS_INIT_TIMEOUT_MS", "300")]).await;
    let mut sockets = Vec::new();
    for _ in 0..100 {
        sockets.push(connect(server.addr).await);
    }
    let codes = join_all(sockets.iter_mut().map(close_code)).await;
    assert!(codes.iter().all(|code| *code == 4408), "{codes:?}");
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped_with_its_subscription() {
    let server = Server::start(&[
        ("HTTP_KEEPALIVE_INTERVAL_SECS", "1"),
        ("HTTP_KEEPALIVE_TIMEOUT_SECS", "1"),
        ("WATCH_MAX_PER_USER", "1"),
    ])
    .await;
    let token = server.user("xan@example.org").await;
    let proxy = Proxy::start(server.addr).await;
    let mut socket = initialised(proxy.addr(), &token).await;
    send(&mut socket, subscribe("1", TODO_EVENTS)).await;

    until_live(&server, &token, &mut socket, "1").await;

    let channel = tonic::transport::Endpoint::from_shared(server.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut direct = TodoServiceClient::new(channel);
    let watch = || authed(api::WatchTodosRequest::default(), &token);
    // The subscription holds the user's one slot.
    let status = direct.watch_todos(watch()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    proxy.freeze();
    let mut freed = false;
    for _ in 0..150 {
        if direct.watch_todos(watch()).await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        freed,
        "the unanswered pings closed the socket and freed its slot"
    );
}
