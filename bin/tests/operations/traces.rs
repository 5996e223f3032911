//! Traces end to end: the real `backend serve` (its worker in process) exports to an OTLP
//! receiver that the test runs, and one change is followed from the request that made it,
//! through its use case and its database statement, to the worker's publish, which links
//! back to it. A caller's `traceparent` is continued on REST, GraphQL and gRPC, log lines
//! carry the ids of their span, and no span carries a secret.
// The trace trees are printed on purpose: `-- --nocapture` shows them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use futures_util::{SinkExt, StreamExt};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value as AnyValue,
    trace::v1::Span,
};
use serde_json::{Value, json};
use test_servers::{TestDatabase, TestRedis};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

/// An OTLP/gRPC trace receiver: what a collector is, to the app.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    async fn start() -> (Self, SocketAddr) {
        let receiver = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = tonic::service::Routes::new(TraceServiceServer::new(receiver.clone()))
            .into_axum_router();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = TowerToHyperService::new(routes.clone());
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (receiver, addr)
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until `found` finds what it looks for among the spans received.
    async fn wait_for<T>(&self, what: &str, found: impl Fn(&[Span]) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(it) = found(&self.spans()) {
                return it;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{what}: not received within 15 s; received: {:#?}",
                self.spans()
                    .iter()
                    .map(|s| format!(
                        "{} {} {} parent={} links={:?}",
                        s.name,
                        hex(&s.trace_id),
                        hex(&s.span_id),
                        hex(&s.parent_span_id),
                        s.links
                            .iter()
                            .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
                            .collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A caller's trace: its `traceparent`, and the trace and span ids in it.
struct Caller {
    trace: String,
    span: String,
}

impl Caller {
    fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        Self {
            trace: id,
            span: uuid::Uuid::now_v7().simple().to_string()[16..].to_owned(),
        }
    }

    fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace, self.span)
    }
}

/// The span of `trace` named `name`.
fn named<'a>(spans: &'a [Span], trace: &str, name: &str) -> Option<&'a Span> {
    spans
        .iter()
        .find(|s| hex(&s.trace_id) == trace && s.name == name)
}

/// A span in another trace that links to a span of `trace`, named `name`.
fn linking_to<'a>(spans: &'a [Span], trace: &str, name: &str) -> Option<&'a Span> {
    spans.iter().find(|s| {
        s.name == name
            && hex(&s.trace_id) != trace
            && s.links.iter().any(|l| hex(&l.trace_id) == trace)
    })
}

/// The next graphql-transport-ws message that is not a ping, within five seconds.
async fn next_message(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ping" {
                return value;
            }
        }
    }
}

/// The spans of `trace` as an indented tree, each with what it links to: how the guide
/// (`docs/src/tracing.md`) shows one change's traces (`cargo test -p backend --test operations traces -- --nocapture`).
fn render(spans: &[Span], trace: &str) -> String {
    fn below(spans: &[&Span], parent: &[u8], depth: usize, out: &mut String) {
        let mut children: Vec<&&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        children.sort_by_key(|s| s.start_time_unix_nano);
        for span in children {
            let links: Vec<String> = span
                .links
                .iter()
                .map(|l| format!("{}…/{}", &hex(&l.trace_id)[..8], hex(&l.span_id)))
                .collect();
            let ms = span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano) as f64
                / 1e6;
            out.push_str(&format!(
                "{}{} {} ({ms:.1} ms){}\n",
                "  ".repeat(depth),
                span.name,
                hex(&span.span_id),
                if links.is_empty() {
                    String::new()
                } else {
                    format!(" → links to {}", links.join(", "))
                },
            ));
            below(spans, &span.span_id, depth + 1, out);
        }
    }
    let in_trace: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == trace).collect();
    let ids: Vec<&[u8]> = in_trace.iter().map(|s| s.span_id.as_slice()).collect();
    let mut out = format!("trace {trace}\n");
    // Roots: spans whose parent is not in the trace (the caller's span, or none).
    let roots: Vec<Vec<u8>> = in_trace
        .iter()
        .filter(|s| !ids.contains(&s.parent_span_id.as_slice()))
        .map(|s| s.parent_span_id.clone())
        .collect();
    let mut seen = Vec::new();
    for root in roots {
        if !seen.contains(&root) {
            below(&in_trace, &root, 1, &mut out);
            seen.push(root);
        }
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(db: &TestDatabase, redis: &TestRedis, port: u16, collector: SocketAddr) -> Child {
    Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env("REDIS_URL", redis.url())
        .env("REDIS_KEY_PREFIX", redis.key_prefix())
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("WORKER_IN_PROCESS", "true")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn a_change_is_followed_from_the_request_to_the_publish_on_every_protocol() {
    let (receiver, collector) = Receiver::start().await;
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let port = free_port();
    let mut child = serve(&db, &redis, port, collector);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let password = "password-123-secret";
    let email = "traced@example.org";
    let created = http
        .post(format!("{base}/v1/users"))
        .json(&json!({"email": email, "password": password, "display_name": "Traced"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let session: Value = http
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();

    // A live subscriber over the WebSocket, in a trace of its own.
    let live = Caller::new();
    let mut request = format!("ws://127.0.0.1:{port}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({"type": "connection_init", "payload": {
        "authorization": format!("Bearer {token}"),
        "traceparent": live.traceparent(),
    }});
    socket.send(Message::text(init.to_string())).await.unwrap();
    assert_eq!(next_message(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription { todoEvents { eventId type version } }",
    }});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();

    // REST: a create, in the caller's trace.
    let rest = Caller::new();
    let todo: Value = http
        .post(format!("{base}/v1/todos"))
        .bearer_auth(&token)
        .header("traceparent", rest.traceparent())
        .json(&json!({"title": "Follow me"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = todo["id"].as_str().unwrap().to_owned();

    // GraphQL: an update of it, in another.
    let graphql = Caller::new();
    let updated: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .header("traceparent", graphql.traceparent())
        .json(&json!({
            "query": "mutation($id: ID!) { updateTodo(id: $id, expectedVersion: 1, input: {title: \"Followed\"}) { version } }",
            "variables": {"id": id},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["data"]["updateTodo"]["version"], 2, "{updated}");

    // gRPC: a read, in a third.
    let grpc = Caller::new();
    let channel = tonic::transport::Endpoint::from_shared(base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(api::GetTodoRequest {
        name: format!("todos/{id}"),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
        .metadata_mut()
        .insert("traceparent", grpc.traceparent().parse().unwrap());
    TodoServiceClient::new(channel)
        .get_todo(request)
        .await
        .unwrap();

    for (caller, request_name, use_case, statement) in [
        (
            &rest,
            "POST /v1/todos",
            "create_todo",
            "db.transaction.write_todo",
        ),
        (
            &graphql,
            "POST /graphql",
            "update_todo",
            "db.transaction.write_todo",
        ),
    ] {
        let request = receiver
            .wait_for(request_name, |spans| {
                named(spans, &caller.trace, request_name).cloned()
            })
            .await;
        assert_eq!(
            hex(&request.parent_span_id),
            caller.span,
            "{request_name} continues the caller's span"
        );
        let use_case = receiver
            .wait_for(use_case, |spans| {
                named(spans, &caller.trace, use_case).cloned()
            })
            .await;
        assert_eq!(
            use_case.parent_span_id, request.span_id,
            "the use case in the request"
        );
        let statement = receiver
            .wait_for(statement, |spans| {
                named(spans, &caller.trace, statement).cloned()
            })
            .await;
        assert_eq!(
            statement.parent_span_id, use_case.span_id,
            "the statement in the use case"
        );
        // The worker's publish is a trace of its own, linked to the statement that
        // recorded the event with the change.
        let publish = receiver
            .wait_for("the worker's publish", |spans| {
                linking_to(spans, &caller.trace, "publish_events").cloned()
            })
            .await;
        assert!(
            publish
                .links
                .iter()
                .any(|l| hex(&l.trace_id) == caller.trace && l.span_id == statement.span_id),
            "the publish links to {request_name}'s statement"
        );
        println!("{}", render(&receiver.spans(), &caller.trace));
        // The subscriber's delivery, in turn, links to the publish: to the Redis call
        // that wrote the stream entry, inside the publish span.
        let publish_trace = hex(&publish.trace_id);
        let written = receiver
            .wait_for("the stream write", |spans| {
                named(spans, &publish_trace, "redis.events.publish_all").cloned()
            })
            .await;
        assert_eq!(written.parent_span_id, publish.span_id);
        let delivered = receiver
            .wait_for("the subscriber's delivery", |spans| {
                spans
                    .iter()
                    .find(|s| {
                        s.name == "deliver_event"
                            && s.links.iter().any(|l| l.span_id == written.span_id)
                    })
                    .cloned()
            })
            .await;
        println!("{}", render(&receiver.spans(), &publish_trace));
        println!("{}", render(&receiver.spans(), &hex(&delivered.trace_id)));
    }
    // The subscriber got both changes, and its subscription continued its caller's trace.
    for version in [1, 2] {
        let next = next_message(&mut socket).await;
        assert_eq!(
            next["payload"]["data"]["todoEvents"]["version"], version,
            "{next}"
        );
    }
    let subscribed = receiver
        .wait_for("the subscription", |spans| {
            named(spans, &live.trace, "graphql subscribe").cloned()
        })
        .await;
    assert_eq!(hex(&subscribed.parent_span_id), live.span);

    let rpc = receiver
        .wait_for("the gRPC call", |spans| {
            named(spans, &grpc.trace, "todo.v1.TodoService/GetTodo").cloned()
        })
        .await;
    assert_eq!(hex(&rpc.parent_span_id), grpc.span);

    // The worker polled all along, and claimed empty-handed most times: only the claims
    // that found jobs leave a span, and no claim leaves one of its own.
    let spans = receiver.spans();
    let deliveries: Vec<_> = spans.iter().filter(|s| s.name == "deliver_jobs").collect();
    assert!(!deliveries.is_empty());
    for delivery in deliveries {
        let jobs = delivery.attributes.iter().find(|kv| kv.key == "jobs");
        let jobs = jobs.and_then(|kv| kv.value.as_ref()?.value.clone());
        let jobs = match jobs {
            Some(AnyValue::IntValue(n)) => n,
            Some(AnyValue::StringValue(n)) => n.parse().unwrap(),
            other => panic!("no job count: {other:?}"),
        };
        assert!(jobs >= 1, "{delivery:?}");
    }
    assert!(!spans.iter().any(|s| s.name == "db.jobs.claim"));

    // No span carries the token or the password, in its name or any attribute.
    let mut texts: Vec<String> = Vec::new();
    for span in receiver.spans() {
        texts.push(span.name.clone());
        for kv in &span.attributes {
            if let Some(AnyValue::StringValue(value)) =
                kv.value.as_ref().and_then(|v| v.value.clone())
            {
                texts.push(value);
            }
        }
    }
    for text in &texts {
        assert!(!text.contains(&token), "a span carries the token: {text}");
        assert!(
            !text.contains(password),
            "a span carries the password: {text}"
        );
    }

    // The log line of the REST request carries its trace and span ids.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stderr = child.stderr.take().unwrap();
    let lines: Vec<HashMap<String, Value>> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    assert!(child.wait().unwrap().success());
    let finished = lines
        .iter()
        .find(|line| {
            line.get("message").and_then(Value::as_str) == Some("request finished")
                && line.get("trace_id").and_then(Value::as_str) == Some(rest.trace.as_str())
        })
        .unwrap_or_else(|| panic!("no log line of the REST request with its trace id: {lines:#?}"));
    assert_eq!(finished["span_id"].as_str().unwrap().len(), 16);
}

/// `backend serve` on its in-memory adapters, exporting to `endpoint`, its stderr lines sent
/// to the returned channel as they are written.
fn serve_in_memory(
    port: u16,
    endpoint: &str,
    extra: &[(&str, &str)],
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("serve")
        .env_clear()
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// Waits up to `within` for a line of `lines` that contains `text`.
fn line_with(lines: &std::sync::mpsc::Receiver<String>, text: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {text:?} within {within:?}; saw {seen:#?}"),
        }
    }
}

async fn until_serving(port: u16) {
    let started = Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_collector_that_is_down_costs_spans_and_a_warning_never_a_request() {
    // A port with nothing listening: every export is refused.
    let port = free_port();
    let closed = free_port();
    let (mut child, lines) = serve_in_memory(port, &format!("http://127.0.0.1:{closed}"), &[]);
    until_serving(port).await;
    for _ in 0..5 {
        let answer = reqwest::get(format!("http://127.0.0.1:{port}/v1/todos"))
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "served as usual");
    }
    let warning: Value = serde_json::from_str(&line_with(
        &lines,
        "cannot export traces",
        Duration::from_secs(20),
    ))
    .unwrap();
    assert_eq!(warning["level"], "WARN");
    assert!(warning["spans_lost"].as_u64().unwrap() > 0, "{warning}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn a_collector_that_never_answers_does_not_hold_the_exit() {
    // Takes connections and never says a word: each export would wait out its timeout,
    // set to a minute here.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let port = free_port();
    let (mut child, lines) =
        serve_in_memory(port, &endpoint, &[("OTEL_EXPORTER_OTLP_TIMEOUT", "60000")]);
    until_serving(port).await;
    for _ in 0..5 {
        reqwest::get(format!("http://127.0.0.1:{port}/v1/todos"))
            .await
            .unwrap();
    }
    // Let a batch start its export, so the exit has something to wait for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    line_with(
        &lines,
        "did not take the last spans",
        Duration::from_secs(30),
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    // The grace is 5 s; without it, this exit took over a minute.
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(20), "the exit took {took:?}");
}
