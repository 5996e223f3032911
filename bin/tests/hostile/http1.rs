//! HTTP/1.1: connections that send nothing, send slowly, stay idle, or stop reading; more
//! connections than the cap; bodies and GraphQL documents nested deep enough to overflow a
//! stack.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

use crate::{Server, graphql_code, nested_list_query, raw_h2, support::closed_within};

/// Sends a GET of `/healthz` on `stream` and reads its answer.
async fn get_healthz(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 4096];
    let n = timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_graphql_document_nested_past_the_limit_is_refused_on_post_and_get() {
    let server = Server::start(&[]).await;
    // 1,700 levels of lists, 3.4 KB: once enough to overflow the stack and abort the
    // process, with no token needed.
    let query = nested_list_query(1_700);
    let body = serde_json::to_vec(&serde_json::json!({ "query": query })).unwrap();
    let (status, answer) = server.post_raw("/graphql", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "query_too_deep", "{answer}");

    // Nested input objects, the same way.
    let objects = format!(
        "{{ todos(tag: {}1{}) {{ nodes {{ id }} }} }}",
        "{a:".repeat(2_000),
        "}".repeat(2_000)
    );
    let body = serde_json::to_vec(&serde_json::json!({ "query": objects })).unwrap();
    let (status, answer) = server.post_raw("/graphql", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "query_too_deep", "{answer}");

    // And as a GET.
    let mut url = url::Url::parse(&format!("{}/graphql", server.base)).unwrap();
    url.query_pairs_mut().append_pair("query", &query);
    let response = server
        .client
        .get(url)
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(graphql_code(&answer), "query_too_deep", "{answer}");

    // The limit leaves room for what real queries do.
    let body = serde_json::to_vec(&serde_json::json!({ "query": nested_list_query(60) })).unwrap();
    let (_, answer) = server.post_raw("/graphql", body).await;
    assert_ne!(graphql_code(&answer), "query_too_deep", "{answer}");
    server.assert_alive().await;
}

#[tokio::test]
async fn json_nested_past_the_parsers_limit_is_refused_on_rest_and_graphql() {
    let server = Server::start(&[]).await;
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));

    let response = server
        .client
        .post(format!("{}/v1/users", server.base))
        .header("content-type", "application/json")
        .body(deep(100_000))
        .send()
        .await
        .unwrap();
    // A typed body stops at the first value of the wrong type, long before the depth.
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed", "{problem}");

    let body = format!(
        r#"{{"query": "query($v: [String]) {{ todos(tag: $v) {{ nodes {{ id }} }} }}", "variables": {{"v": {}}}}}"#,
        deep(100_000)
    );
    let (status, answer) = server.post_raw("/graphql", body.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "malformed_request", "{answer}");
    server.assert_alive().await;
}

#[tokio::test]
async fn fragments_that_expand_exponentially_are_refused_before_anything_walks_them() {
    let server = Server::start(&[]).await;
    // 1 KB that expands to 2^30 selections.
    let mut query = String::from("query { ...F0 }\n");
    for i in 0..30 {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{next} ...F{next} }}\n",
            next = i + 1
        ));
    }
    query.push_str("fragment F30 on Query { me { id } }\n");
    let body = serde_json::to_vec(&serde_json::json!({ "query": query })).unwrap();
    let (status, answer) = server.post_raw("/graphql", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "query_too_complex", "{answer}");
    server.assert_alive().await;
}

#[tokio::test]
async fn a_fan_out_of_fragments_that_selects_no_field_is_refused_on_every_transport() {
    let server = Server::start(&[("HTTP_REQUEST_TIMEOUT_MS", "2000")]).await;
    // 800 bytes, no field at all: twelve spreads of the next fragment, eight deep, ending
    // in a fragment that does not exist. Walking it (as async-graphql's checks do, on the
    // thread that serves other requests) takes 12^8 steps: seconds, beyond any timeout.
    let mut query = String::from("query { ...F0 }\n");
    for i in 0..8 {
        query.push_str(&format!("fragment F{i} on Query {{ "));
        for _ in 0..12 {
            query.push_str(&format!("...F{} ", i + 1));
        }
        query.push_str("}\n");
    }
    query.push_str("fragment F8 on Query { ...Nope }\n");

    let body = serde_json::to_vec(&serde_json::json!({ "query": query })).unwrap();
    let (status, answer) = server.post_raw("/graphql", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "query_too_complex", "{answer}");

    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/graphql", server.addr),
        [("query", query.as_str())],
    )
    .unwrap();
    let response = server
        .client
        .get(url)
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(graphql_code(&answer), "query_too_complex", "{answer}");
    server.assert_alive().await;
}

#[tokio::test]
async fn one_request_makes_at_most_ten_writes() {
    let server = Server::start(&[]).await;
    let token = server.user("many@example.org").await;
    let writes = |n: usize| {
        let fields: String = (0..n)
            .map(|i| format!("w{i}: createTodo(input: {{title: \"{i}\"}}) {{ id }} "))
            .collect();
        format!("mutation {{ {fields}}}")
    };
    let send = |query: String| {
        server
            .client
            .post(format!("{}/graphql", server.base))
            .bearer_auth(&token)
            .header("accept", "application/graphql-response+json")
            .json(&serde_json::json!({ "query": query }))
            .send()
    };

    let response = send(writes(11)).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(graphql_code(&answer), "query_too_complex", "{answer}");

    let response = send(writes(10)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"].as_object().unwrap().len(), 10);
}

#[tokio::test]
async fn fragments_that_spread_each_other_are_refused_with_introspection_off() {
    let server = Server::start(&[("GRAPHQL_INTROSPECTION", "false")]).await;
    let query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let body = serde_json::to_vec(&serde_json::json!({ "query": query })).unwrap();
    let (status, answer) = server.post_raw("/graphql", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(graphql_code(&answer), "malformed_request", "{answer}");
    server.assert_alive().await;
}

#[tokio::test]
async fn connections_that_send_nothing_or_send_their_head_slowly_are_closed() {
    let server = Server::start(&[("HTTP_HEADER_READ_TIMEOUT_MS", "300")]).await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Slowloris: a byte of a request head every 100 ms, forever.
    let slow = (0..20).map(|_| {
        let addr = server.addr;
        tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            let trickle = tokio::spawn(async move {
                for byte in b"GET / HTTP/1.1\r\nx-padding: ".iter().cycle() {
                    if writer.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            let mut buffer = [0u8; 64];
            let closed = timeout(Duration::from_secs(10), reader.read(&mut buffer))
                .await
                .is_ok();
            trickle.abort();
            closed
        })
    });
    let silent_closed = join_all(
        silent
            .iter_mut()
            .map(|stream| closed_within(stream, Duration::from_secs(10))),
    )
    .await;
    assert!(
        silent_closed.iter().all(|closed| *closed),
        "{} of 200 silent connections still open",
        silent_closed.iter().filter(|c| !**c).count()
    );
    let slow_closed: Vec<bool> = join_all(slow)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        slow_closed.iter().all(|closed| *closed),
        "a slow client kept its connection"
    );
    // A client that sends its request at once is served as ever.
    let mut prompt = TcpStream::connect(server.addr).await.unwrap();
    get_healthz(&mut prompt).await;
}

#[tokio::test]
async fn the_drain_waits_for_requests_not_for_heads_half_sent_or_peers_that_never_answer() {
    let mut server = Server::start(&[
        ("HTTP_HEADER_READ_TIMEOUT_MS", "500"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "60"),
    ])
    .await;
    // A socket opened and never written to.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // A head cut short before the bytes that tell HTTP/1.1 from HTTP/2...
    let mut undecided = TcpStream::connect(server.addr).await.unwrap();
    undecided.write_all(b"GET /he").await.unwrap();
    // ...and one half sent past them.
    let mut half_sent = TcpStream::connect(server.addr).await.unwrap();
    half_sent
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-never-ends: ")
        .await
        .unwrap();
    // An HTTP/2 peer that opens properly and then never answers anything, so the ping
    // that ends a graceful close (RFC 9113, section 6.8) goes unanswered.
    let (mut mute_h2, _settings) = raw_h2(server.addr).await;

    // Shut down before any of them overstays the header timeout: none has a request in
    // progress, so nothing is left for the drain to wait for once that timeout is up.
    let took = server.stop(Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(5),
        "the drain took {took:?}, held by connections with no request in progress"
    );
    for (name, stream) in [
        ("silent", &mut silent),
        ("undecided", &mut undecided),
        ("half-sent", &mut half_sent),
        ("mute HTTP/2", &mut mute_h2),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(1)).await,
            "the {name} connection outlived the server"
        );
    }
}

#[tokio::test]
async fn a_keep_alive_connection_is_served_while_used_and_closed_once_idle() {
    let server = Server::start(&[
        ("HTTP_IDLE_TIMEOUT_SECS", "1"),
        ("HTTP_HEADER_READ_TIMEOUT_MS", "30000"),
    ])
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    get_healthz(&mut stream).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    get_healthz(&mut stream).await;
    // Idle for the idle timeout, well before the header timeout: closed.
    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_is_closed_at_once_until_one_ends() {
    let server = Server::start(&[
        ("HTTP_MAX_CONNECTIONS", "3"),
        ("HTTP_HEADER_READ_TIMEOUT_MS", "60000"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        get_healthz(&mut stream).await;
        held.push(stream);
    }
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    // Closed long before the header timeout: it is the cap.
    assert!(
        closed_within(&mut refused, Duration::from_secs(10)).await,
        "a fourth connection was kept"
    );

    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let sent = stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        while sent.is_ok() {
            match timeout(Duration::from_secs(2), stream.read(&mut buffer)).await {
                Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
                _ => break,
            }
            let text = String::from_utf8_lossy(&answer);
            if text.contains("# EOF") {
                assert!(
                    text.contains("http_connections_refused_total 1"),
                    "the refusal is counted: {text}"
                );
                served = true;
                break;
            }
        }
        if served {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the place of a closed connection came back");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    let server = Server::start(&[("HTTP_SEND_TIMEOUT_SECS", "1")]).await;
    let stalled = r#"http_connections_closed_total{reason="send_stalled"}"#;
    assert_eq!(server.metric(stalled).await, 0.0);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    // A hundred requests for the OpenAPI document in one go, and not a byte read: far
    // more than the two sockets' buffers hold, so the server's writes stop.
    let request = "GET /openapi.json HTTP/1.1\r\nhost: test\r\n\r\n".repeat(100);
    stream.write_all(request.as_bytes()).await.unwrap();

    server
        .await_metric(stalled, 1.0, Duration::from_secs(10))
        .await;
    // What was sent before can still be read, then the connection ends: it is closed,
    // not waiting for its reader.
    let mut answers = Vec::new();
    let _ = timeout(Duration::from_secs(10), stream.read_to_end(&mut answers))
        .await
        .expect("the connection was closed");
    let text = String::from_utf8_lossy(&answers);
    assert!(text.matches("HTTP/1.1 200").count() < 100);
    server.assert_alive().await;
}
