//! HTTP/2 and gRPC: idle connections, peers that vanish without a word or shut their
//! windows, and protobuf messages nested past the decoder's limit.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, client::conn::http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::timeout,
};
use tonic_types::StatusExt;

use crate::{
    Server, raw_h2,
    support::{proxy::Proxy, server::authed},
};

/// An HTTP/2 (prior knowledge) connection to `addr`: the request sender, and the
/// connection's own future, which ends when the connection does.
async fn h2_connect(
    addr: std::net::SocketAddr,
) -> (
    http2::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    h2_connect_with_window(addr, None).await
}

/// Like [`h2_connect`], with each stream's receive window `window` bytes when given: the
/// most the server may send on a stream before the client reads.
async fn h2_connect_with_window(
    addr: std::net::SocketAddr,
    window: Option<u32>,
) -> (
    http2::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut builder = http2::Builder::new(TokioExecutor::new());
    if let Some(window) = window {
        builder.initial_stream_window_size(window);
    }
    let (sender, connection) = builder.handshake(TokioIo::new(stream)).await.unwrap();
    (sender, tokio::spawn(connection))
}

/// Registers `email` with 25 todos of 200-character titles: the bearer token. A page of
/// them is some 7 KB of JSON, made anew for each request (see [`pages_request`]).
async fn user_with_a_page_of_todos(server: &Server, email: &str) -> String {
    let token = server.user(email).await;
    let title = "t".repeat(200);
    for _ in 0..25 {
        let created = server
            .client
            .post(format!("{}/v1/todos", server.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "title": title }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    token
}

/// A GraphQL request, as `token`, for the page of todos `pages` times over, in the aliases
/// `p0`, `p1`, and so on.
fn pages_request(server: &Server, token: &str, pages: usize) -> Request<Full<Bytes>> {
    let page = "todos(first: 25) { edges { node { id title status } } }";
    let aliases: String = (0..pages).map(|i| format!(" p{i}: {page}")).collect();
    let query = serde_json::json!({ "query": format!("{{{aliases} }}") }).to_string();
    Request::post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(query)))
        .unwrap()
}

/// A gRPC todo client for the server (or proxy) at `addr`.
async fn todos_at(addr: std::net::SocketAddr) -> TodoServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TodoServiceClient::new(channel)
}

#[tokio::test]
async fn an_idle_http2_connection_is_sent_away_after_the_idle_timeout() {
    let server = Server::start(&[
        ("HTTP_IDLE_TIMEOUT_SECS", "1"),
        ("HTTP_HEADER_READ_TIMEOUT_MS", "30000"),
    ])
    .await;
    let (mut sender, connection) = h2_connect(server.addr).await;
    let request = Request::get(format!("{}/healthz", server.base))
        .body(Full::default())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    // With no request in progress, the server sends GOAWAY and closes.
    timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server closed the idle HTTP/2 connection")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_large_answer_read_slowly_is_delivered_in_full_through_the_drain() {
    let mut server = Server::start(&[
        ("HTTP_HEADER_READ_TIMEOUT_MS", "300"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "30"),
    ])
    .await;
    // A client that takes 16 KiB at a time: the server can send no more than that ahead.
    let (mut sender, _connection) = h2_connect_with_window(server.addr, Some(16 * 1024)).await;
    let request = Request::get(format!("{}/docs/swagger-ui-bundle.js", server.base))
        .body(Full::default())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        length > 1_000_000,
        "{length} bytes: too small to take a while"
    );

    // Shut down with most of it still to send, and read on, taking about a second: far
    // longer than the header timeout, far shorter than the drain.
    let stopped = tokio::spawn(async move { server.stop(Duration::from_secs(25)).await });
    let mut body = response.into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap_or_else(|error| {
            panic!("the answer was cut after {received} of {length} bytes: {error}")
        });
        if let Ok(data) = frame.into_data() {
            received += data.len();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(received, length);
    let took = stopped.await.unwrap();
    assert!(took < Duration::from_secs(20), "the drain took {took:?}");
}

#[tokio::test]
async fn a_live_stream_is_never_idle() {
    let server = Server::start(&[("HTTP_IDLE_TIMEOUT_SECS", "1")]).await;
    let token = server.user("liv@example.org").await;
    let mut stream = todos_at(server.addr)
        .await
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    // Quiet for longer than the idle timeout: the stream is a request in progress.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let created = server
        .client
        .post(format!("{}/v1/todos", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Still watched"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let event = timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .expect("the stream is still open");
    assert_eq!(event.version, 1);
}

#[tokio::test]
async fn a_peer_that_stops_answering_gives_back_its_live_stream_slot() {
    let server = Server::start(&[
        ("HTTP_KEEPALIVE_INTERVAL_SECS", "1"),
        ("HTTP_KEEPALIVE_TIMEOUT_SECS", "1"),
        ("WATCH_MAX_PER_USER", "1"),
    ])
    .await;
    let token = server.user("phone@example.org").await;
    let proxy = Proxy::start(server.addr).await;
    let _held = todos_at(proxy.addr())
        .await
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    let mut direct = todos_at(server.addr).await;
    let status = direct
        .watch_todos(authed(api::WatchTodosRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    // The phone goes into a tunnel: no FIN, no RST, no answer to anything.
    proxy.freeze();
    let mut reopened = None;
    for _ in 0..150 {
        match direct
            .watch_todos(authed(api::WatchTodosRequest::default(), &token))
            .await
        {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(
        reopened.is_some(),
        "the unanswered keep-alive closed the dead connection and freed its slot"
    );
}

#[tokio::test]
async fn a_protobuf_message_nested_past_the_decoders_limit_is_invalid_argument() {
    let server = Server::start(&[]).await;
    // An unknown field (15) holding 100,000 nested groups: 200 KB, under the message
    // limit, and one level of recursion per group in the decoder.
    let depth = 100_000;
    let mut message = vec![(15 << 3) | 3; depth];
    message.extend(vec![(15 << 3) | 4; depth]);
    let mut frame = vec![0u8];
    frame.extend((message.len() as u32).to_be_bytes());
    frame.extend(message);

    let (mut sender, _connection) = h2_connect(server.addr).await;
    let request = Request::post(format!("{}/todo.v1.UserService/LogIn", server.base))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let response = timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    let headers = response.headers().clone();
    let trailers = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .trailers()
        .cloned()
        .unwrap_or_default();
    let status = tonic::Status::from_header_map(&trailers)
        .or_else(|| tonic::Status::from_header_map(&headers))
        .expect("a grpc-status");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "malformed_request"
    );
    server.assert_alive().await;
}

#[tokio::test]
async fn two_million_bad_field_mask_paths_get_twenty_violations_and_a_count() {
    let server = Server::start(&[]).await;
    let token = server.user("mask@example.org").await;
    let mut client = todos_at(server.addr).await;
    let todo = client
        .create_todo(authed(
            api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: "Masked".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    // Two bytes each on the wire: 4 MB, under the 4 MiB message limit.
    let paths = vec![String::new(); 2_000_000];
    let status = client
        .update_todo(authed(
            api::UpdateTodoRequest {
                todo: Some(todo),
                update_mask: Some(prost_types::FieldMask { paths }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{}",
        status.message()
    );
    let details = status.get_error_details();
    assert_eq!(details.bad_request().unwrap().field_violations.len(), 20);
    assert_eq!(
        details.error_info().unwrap().metadata["omitted_fields"],
        "1999980"
    );
    assert!(
        status.message().contains("1999980 more"),
        "{}",
        status.message()
    );
    // The whole answer is a few kilobytes, not one entry per path.
    assert!(
        status.details().len() < 8 * 1024,
        "{}",
        status.details().len()
    );
}

#[tokio::test]
async fn a_grpc_call_to_an_unknown_service_gets_a_grpc_status() {
    let server = Server::start(&[]).await;
    let (mut sender, _connection) = h2_connect(server.addr).await;
    // Unknown services, and paths that are REST's or GraphQL's: a gRPC call never reaches
    // their routes (a GET-only REST path used to answer with a stray `allow` header).
    let paths = [
        "/todo.v1.Nope/Get",
        "/grpc.nope.v9.Nothing/Call",
        "/nothing",
        "/v1/todos/0190a4f1-0000-7000-8000-000000000000",
        "/v1/todos",
        "/graphql",
        "/healthz",
    ];
    for path in paths {
        let request = Request::post(format!("{}{path}", server.base))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("x-request-id", "unknown-service-call")
            .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{path}: gRPC statuses travel in a 200"
        );
        assert_eq!(
            response.headers()["x-request-id"],
            "unknown-service-call",
            "{path}: the caller's request id comes back"
        );
        assert!(
            response.headers().get("allow").is_none(),
            "{path}: no HTTP method list in a gRPC answer"
        );
        let headers = response.headers().clone();
        let trailers = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .trailers()
            .cloned()
            .unwrap_or_default();
        let status = tonic::Status::from_header_map(&trailers)
            .or_else(|| tonic::Status::from_header_map(&headers))
            .unwrap_or_else(|| panic!("{path}: no grpc-status"));
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{path}");
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "unimplemented",
            "{path}"
        );
        assert_eq!(
            status.message(),
            format!("this server has no method {path}"),
            "{path}"
        );
    }
    // Plain HTTP to a path that is no route, or to a gRPC method's path, is REST's 404
    // problem: only a gRPC call reaches the gRPC routes.
    for path in ["/todo.v1.Nope/Get", "/todo.v1.TodoService/GetTodo"] {
        let response = server
            .client
            .post(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    // The calls were gRPC calls, and are counted as such, under the one label that
    // invented paths get.
    let metrics = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!(
        r#"grpc_server_handled_total{{grpc_service="unknown",grpc_method="unknown",grpc_code="UNIMPLEMENTED"}} {}"#,
        paths.len()
    );
    assert!(
        metrics.contains(&series),
        "{series} missing from\n{metrics}"
    );
}

#[tokio::test]
async fn a_grpc_media_type_in_any_case_or_with_parameters_is_a_grpc_call() {
    let server = Server::start(&[]).await;
    let (mut sender, _connection) = h2_connect(server.addr).await;
    for content_type in [
        "application/grpc",
        "Application/GRPC; charset=utf-8",
        "application/grpc+proto;charset=utf-8",
    ] {
        // Health's Check with an empty request: the whole server's status.
        let request = Request::post(format!("{}/grpc.health.v1.Health/Check", server.base))
            .header("content-type", content_type)
            .header("te", "trailers")
            .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200, "{content_type}");
        let trailers = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .trailers()
            .cloned()
            .unwrap_or_else(|| panic!("{content_type}: no trailers, so no answer message"));
        assert_eq!(trailers["grpc-status"], "0", "{content_type}");
    }
}

#[tokio::test]
async fn a_client_that_shuts_its_window_holds_its_answers_no_longer_than_the_send_timeout() {
    let server =
        Server::start(&[("HTTP_SEND_TIMEOUT_SECS", "2"), ("HTTP_MAX_IN_FLIGHT", "4")]).await;
    // Every stream's window is 0: the client asks, and takes no byte of any answer.
    let (mut sender, connection) = h2_connect_with_window(server.addr, Some(0)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let request = Request::get(format!("{}/openapi.json", server.base))
            .body(Full::default())
            .unwrap();
        // The head arrives (headers are not flow-controlled); the body cannot.
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }

    // The four answers are still in flight until they are sent, so they hold the four
    // places: whoever asks next is shed, and the memory they hold stays bounded.
    let shed = server
        .client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);

    // Then the send timeout closes the connection, and the places are free again.
    let _ = timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server closed the connection that took nothing");
    assert_eq!(server.closed("send_stalled").await, 1.0);
    let served = server
        .client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn a_client_that_takes_all_but_the_end_of_an_answer_is_closed_after_the_send_timeout() {
    let server = Server::start(&[("HTTP_SEND_TIMEOUT_SECS", "2")]).await;
    let token = user_with_a_page_of_todos(&server, "end@example.org").await;
    let (mut probe, _probing) = h2_connect(server.addr).await;
    let whole = probe
        .send_request(pages_request(&server, &token, 4))
        .await
        .unwrap();
    let size = whole.into_body().collect().await.unwrap().to_bytes().len();

    // A stream window a thousand bytes short of the answer: the server sends all but its
    // end, and the client reads nothing more. hyper has taken the whole body by then and
    // holds its last piece for the window.
    let window = u32::try_from(size - 1000).unwrap();
    let (mut sender, connection) = h2_connect_with_window(server.addr, Some(window)).await;
    let held = sender
        .send_request(pages_request(&server, &token, 4))
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let _ = timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server closed the connection that owes it the end of an answer");
    assert_eq!(server.closed("send_stalled").await, 1.0);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_once_answers_hold_more_than_their_budget() {
    // A small budget (twice it is the ceiling past which even fresh clients go), and a
    // send timeout far off: only the budget can close anything here.
    let server = Server::start(&[
        ("HTTP_MAX_UNSENT_BYTES", "200000"),
        ("HTTP_SEND_TIMEOUT_SECS", "600"),
    ])
    .await;
    let token = user_with_a_page_of_todos(&server, "hog@example.org").await;
    // Some 29 KB of JSON, made for each request (a compiled-in asset would hold nothing).
    let ask = || pages_request(&server, &token, 4);

    // Ten streams of it, each taken no further than its first 16 KiB window.
    let (mut sender, connection) = h2_connect_with_window(server.addr, Some(16 * 1024)).await;
    let mut held = Vec::new();
    for _ in 0..10 {
        let response = sender.send_request(ask()).await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }
    // Past the budget, within twice it, and within the grace: nobody is closed yet.
    let holding = server.metric("http_unsent_answer_bytes").await;
    assert!(
        (200_000.0..400_000.0).contains(&holding),
        "the ten answers hold {holding} bytes"
    );
    tokio::time::sleep(Duration::from_millis(5_500)).await;

    // A client that reads: its answer is made, the budget is passed, and the connection
    // that holds the most with a client that has taken nothing for five seconds is closed.
    let (mut reader, _reading) = h2_connect(server.addr).await;
    let answer = reader.send_request(ask()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        document["data"]["p3"]["edges"].as_array().unwrap().len(),
        25
    );
    let _ = timeout(Duration::from_secs(5), connection)
        .await
        .expect("the server closed the connection that took nothing");
    server
        .await_metric(
            r#"http_connections_closed_total{reason="unsent_budget"}"#,
            1.0,
            Duration::from_secs(5),
        )
        .await;
    // What it held is let go with it.
    server
        .await_metric("http_unsent_answer_bytes", 0.0, Duration::from_secs(5))
        .await;
    server.assert_alive().await;
}

/// A socket whose reading side can be stopped for good: once `deaf` is set, the client
/// takes nothing more of what the server sends, while it can still write.
struct Deaf {
    stream: TcpStream,
    deaf: Arc<AtomicBool>,
}

impl AsyncRead for Deaf {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.deaf.load(Ordering::SeqCst) {
            // Never woken: nothing is read again.
            return Poll::Pending;
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Deaf {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn what_a_client_does_not_read_waits_where_the_budget_counts_it_not_in_the_kernel() {
    // Nothing closes the connection here: the budget is far off, the send timeout too.
    let server = Server::start(&[("HTTP_SEND_TIMEOUT_SECS", "600")]).await;
    let token = user_with_a_page_of_todos(&server, "deaf@example.org").await;
    let ask = || pages_request(&server, &token, 4);

    // A client with a small receive buffer, and windows that let the server send it all:
    // only the sockets stand between the answers and the client.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let deaf = Arc::new(AtomicBool::new(false));
    let io = Deaf {
        stream: socket.connect(server.addr).await.unwrap(),
        deaf: deaf.clone(),
    };
    let (mut sender, connection) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(1 << 30)
        .initial_connection_window_size(1 << 30)
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    // One answer read in full: the settings are exchanged, and its size is known.
    let first = sender.send_request(ask()).await.unwrap();
    assert_eq!(first.status(), 200);
    let size = first.into_body().collect().await.unwrap().to_bytes().len();
    assert!(size > 25_000, "one answer is {size} bytes");

    // Then forty more, and the client reads nothing of them.
    deaf.store(true, Ordering::SeqCst);
    let asked = 40;
    let mut held = Vec::new();
    for _ in 0..asked {
        held.push(tokio::spawn(sender.send_request(ask())));
    }
    // The server makes them all, and writes what the sockets take.
    let total = asked * size;
    let mut holding = 0.0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = server.metric("http_unsent_answer_bytes").await;
        if now > 0.0 && now == holding {
            break;
        }
        holding = now;
    }
    // The kernel took at most a piece or two of them (its 16 KiB of unsent bytes, what it
    // had sent to the client's full buffer, and a frame being written): the rest waits in
    // the process, counted. Without the limit, the kernel's send buffer takes them all
    // and the count falls to nothing.
    let in_the_kernel = total as f64 - holding;
    assert!(
        in_the_kernel < 200_000.0,
        "of {total} bytes of answers, {holding} are counted: the kernel holds the rest"
    );
    assert!(!connection.is_finished(), "the connection is still open");
    for asked in held {
        asked.abort();
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_when_its_grace_ends_though_nothing_more_is_asked() {
    // Four pages (some 29 KB) are past this budget and within twice it.
    let server = Server::start(&[
        ("HTTP_MAX_UNSENT_BYTES", "20000"),
        ("HTTP_SEND_TIMEOUT_SECS", "600"),
    ])
    .await;
    let token = user_with_a_page_of_todos(&server, "quiet@example.org").await;
    let (mut sender, connection) = h2_connect_with_window(server.addr, Some(16 * 1024)).await;
    let held = sender
        .send_request(pages_request(&server, &token, 4))
        .await
        .unwrap();
    assert_eq!(held.status(), 200);

    // The client takes nothing past its first window, and nobody asks the server for
    // anything more: the connection is closed once its five seconds of grace are over,
    // not before.
    let asked = tokio::time::Instant::now();
    let _ = timeout(Duration::from_secs(15), connection)
        .await
        .expect("the server closed the quiet connection once its grace ended");
    let after = asked.elapsed();
    assert!(after >= Duration::from_secs(4), "closed after {after:?}");
    assert_eq!(server.closed("unsent_budget").await, 1.0);
}

#[tokio::test]
async fn a_client_that_spreads_what_it_holds_over_connections_loses_them_before_a_reader() {
    // Twice the budget is 100,000 bytes.
    let server = Server::start(&[
        ("HTTP_MAX_UNSENT_BYTES", "50000"),
        ("HTTP_SEND_TIMEOUT_SECS", "600"),
        ("GRAPHQL_MAX_COMPLEXITY", "100000"),
    ])
    .await;
    let token = user_with_a_page_of_todos(&server, "spread@example.org").await;
    let ask = |pages| pages_request(&server, &token, pages);

    // A client at 127.0.0.2 holds three pages (some 22 KB) on each of three connections,
    // taken no further than their first 16 KiB windows.
    let mut spread = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stream = socket.connect(server.addr).await.unwrap();
        let (mut sender, connection) = http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(16 * 1024)
            .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
        let connection = tokio::spawn(connection);
        let held = sender.send_request(ask(3)).await.unwrap();
        assert_eq!(held.status(), 200);
        spread.push((sender, connection, held));
    }
    let holds = server.metric("http_unsent_answer_bytes").await;
    assert!(
        (50_000.0..100_000.0).contains(&holds),
        "nine pages hold {holds} bytes"
    );

    // A reader at 127.0.0.1 asks for six pages: more than any one of the other client's
    // connections holds, less than all of them. Together they pass twice the budget, and
    // a connection of the client that holds the most is closed, not the reader's.
    let (mut reader, _reading) = h2_connect(server.addr).await;
    let answer = reader.send_request(ask(6)).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer
        .into_body()
        .collect()
        .await
        .expect("the reader's answer in full")
        .to_bytes();
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        document["data"]["p5"]["edges"].as_array().unwrap().len(),
        25
    );
    assert!(
        body.len() as f64 > holds / 3.0,
        "the reader's answer is {} bytes",
        body.len()
    );
    server
        .await_metric(
            r#"http_connections_closed_total{reason="unsent_budget"}"#,
            1.0,
            Duration::from_secs(5),
        )
        .await;
    let closed = spread
        .iter()
        .filter(|(_, connection, _)| connection.is_finished())
        .count();
    assert_eq!(closed, 1, "one of the spread connections is closed");
    server.assert_alive().await;
}

#[tokio::test]
async fn clients_reading_large_answers_slowly_do_not_hold_the_in_flight_places() {
    let server = Server::start(&[("HTTP_MAX_IN_FLIGHT", "2")]).await;
    // Each stream's window is 16 KiB, and the client takes one piece of each answer.
    let (mut sender, _connection) = h2_connect_with_window(server.addr, Some(16 * 1024)).await;
    let mut reading = Vec::new();
    for _ in 0..2 {
        let request = Request::get(format!("{}/docs/swagger-ui-bundle.js", server.base))
            .body(Full::default())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        body.frame().await.unwrap().unwrap();
        reading.push(body);
    }

    // The answers are made: the rest of each is the connection's to send, at the pace
    // its client reads, and it no longer counts against everyone else.
    let served = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let login = server
        .client
        .post(format!("{}/v1/sessions", server.base))
        .json(&serde_json::json!({"email": "no@example.org", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
}

#[tokio::test]
async fn http2_does_not_offer_websockets_it_would_refuse() {
    use tokio::io::AsyncReadExt;
    let server = Server::start(&[]).await;
    // The server's first frame is its SETTINGS: 9 bytes of header, then 6 per setting.
    let (mut stream, header) = raw_h2(server.addr).await;
    let length =
        usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    // SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8) is absent or 0: no client is invited to
    // open a WebSocket on a stream.
    assert!(
        !settings.iter().any(|&(id, value)| id == 0x8 && value != 0),
        "{settings:?}"
    );
}
