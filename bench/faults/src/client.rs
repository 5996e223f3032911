//! The load: one well-behaved client per user, writing over REST, GraphQL and gRPC with
//! idempotency keys and retrying what fails, and one live subscription per user.
//!
//! A client remembers what the server acknowledged (each todo's last version, whether it
//! was deleted), which is what the checks hold the database to.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use driving_grpc::api::{self, todo_service_client::TodoServiceClient};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

/// How long one attempt may take before the client gives up on it and retries.
const ATTEMPT: Duration = Duration::from_secs(4);

/// How long a client keeps retrying one write before it abandons it.
const PATIENCE: Duration = Duration::from_secs(90);

/// The protocols a write goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Rest,
    Graphql,
    Grpc,
}

const PROTOCOLS: [Protocol; 3] = [Protocol::Rest, Protocol::Graphql, Protocol::Grpc];

/// Counts shared by every client.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Attempts, by protocol.
    pub(crate) attempts: [AtomicU64; 3],
    /// Writes acknowledged.
    pub(crate) acknowledged: AtomicU64,
    /// Attempts that failed and were tried again.
    pub(crate) retries: AtomicU64,
    /// Acknowledgements that were replays of an earlier attempt's outcome.
    pub(crate) replays: AtomicU64,
    /// Writes given up on after [`PATIENCE`].
    pub(crate) abandoned: AtomicU64,
    /// Answers a well-behaved client can only report: statuses no retry explains.
    pub(crate) unexpected: Mutex<Vec<String>>,
}

impl Stats {
    fn unexpected(&self, what: String) {
        let mut unexpected = self.unexpected.lock().unwrap_or_else(|e| e.into_inner());
        if unexpected.len() < 50 {
            unexpected.push(what);
        }
    }
}

/// What the server acknowledged of one todo.
#[derive(Debug, Clone, Default)]
pub(crate) struct Acked {
    /// The last version an answer named.
    pub(crate) version: i64,
    /// Whether its deletion was acknowledged.
    pub(crate) deleted: bool,
    /// Whether a write to it was abandoned: the database may hold more than was
    /// acknowledged.
    pub(crate) uncertain: bool,
}

/// One user's client: who they are, and what the server acknowledged to them.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) email: String,
    pub(crate) user_id: String,
    token: String,
    replicas: Vec<String>,
    http: reqwest::Client,
    grpc: Vec<TodoServiceClient<Channel>>,
    rng: StdRng,
    stats: Arc<Stats>,
    /// Every todo created, by id.
    pub(crate) todos: BTreeMap<String, Acked>,
    /// Creates given up on: each may or may not have made a todo.
    pub(crate) abandoned_creates: u64,
}

/// Why an attempt did not succeed.
enum Failure {
    /// Worth trying again (a timeout, a cut connection, a 503).
    Retry(String),
    /// An answer no retry will change.
    Refused(String),
}

/// A successful write: the todo's id and version after it, and whether it was a replay.
struct Done {
    id: String,
    version: i64,
    replayed: bool,
}

impl Client {
    /// Registers `email` and logs in, through `replicas[0]`.
    pub(crate) async fn sign_up(
        email: String,
        replicas: Vec<String>,
        seed: u64,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let credentials = json!({"email": email, "password": "password-123"});
        let mut registration = credentials.clone();
        registration["display_name"] = json!("Fault harness");
        let registered = http
            .post(format!("{}/v1/users", replicas[0]))
            .json(&registration)
            .send()
            .await?;
        anyhow::ensure!(
            registered.status() == 201,
            "registration: {}",
            registered.status()
        );
        let user: Value = registered.json().await?;
        let session: Value = http
            .post(format!("{}/v1/sessions", replicas[0]))
            .json(&credentials)
            .send()
            .await?
            .json()
            .await?;
        let token = session["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no token: {session}"))?
            .to_owned();
        let grpc = replicas
            .iter()
            .map(|base| {
                Endpoint::from_shared(base.clone())
                    .map(|endpoint| TodoServiceClient::new(endpoint.connect_lazy()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            email,
            user_id: user["id"].as_str().unwrap_or_default().to_owned(),
            token,
            replicas,
            http,
            grpc,
            rng: StdRng::seed_from_u64(seed),
            stats,
            todos: BTreeMap::new(),
            abandoned_creates: 0,
        })
    }

    /// The user's bearer token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Writes until `stop`, then returns once the write in hand is done (or abandoned).
    pub(crate) async fn run(mut self, stop: CancellationToken) -> Self {
        while !stop.is_cancelled() {
            let live: Vec<String> = self
                .todos
                .iter()
                .filter(|(_, acked)| !acked.deleted && !acked.uncertain)
                .map(|(id, _)| id.clone())
                .collect();
            let roll = self.rng.random_range(0..100);
            if live.is_empty() || (roll < 35 && live.len() < 25) {
                self.create().await;
            } else {
                let id = live[self.rng.random_range(0..live.len())].clone();
                match roll {
                    0..60 => self.update(&id).await,
                    60..80 => self.complete(&id).await,
                    _ => self.delete(&id).await,
                }
            }
            let pause = self.rng.random_range(20..120);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        self
    }

    /// Retries `attempt` with the same request (and key) on one replica after another,
    /// backing off, until it succeeds, is refused, or [`PATIENCE`] runs out.
    async fn retrying<F, Fut>(&mut self, what: &str, mut attempt: F) -> Option<Done>
    where
        F: FnMut(Protocol, usize) -> Fut,
        Fut: std::future::Future<Output = Result<Done, Failure>>,
    {
        let protocol = PROTOCOLS[self.rng.random_range(0..3)];
        let mut replica = self.rng.random_range(0..self.replicas.len());
        let mut backoff = Duration::from_millis(100);
        let started = tokio::time::Instant::now();
        let mut last;
        loop {
            self.stats.attempts[protocol as usize].fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout(ATTEMPT, attempt(protocol, replica)).await {
                Ok(Ok(done)) => {
                    self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                    if done.replayed {
                        self.stats.replays.fetch_add(1, Ordering::Relaxed);
                    }
                    return Some(done);
                }
                Ok(Err(Failure::Refused(why))) => {
                    self.stats
                        .unexpected(format!("{what} over {protocol:?} refused: {why}"));
                    return None;
                }
                Ok(Err(Failure::Retry(why))) => last = why,
                Err(_) => last = "no answer in time".to_owned(),
            }
            if started.elapsed() > PATIENCE {
                self.stats.abandoned.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .unexpected(format!("{what} over {protocol:?} abandoned: {last}"));
                return None;
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            replica = (replica + 1) % self.replicas.len();
        }
    }

    async fn create(&mut self) {
        let key = uuid::Uuid::now_v7().to_string();
        let title = format!("todo {}", self.rng.random_range(0..1_000_000));
        // Some are due today, so the reminder job has work.
        let due = self
            .rng
            .random_bool(0.3)
            .then(|| chrono::Utc::now().date_naive().to_string());
        let (token, http, grpc, replicas) = (
            self.token.clone(),
            self.http.clone(),
            self.grpc.clone(),
            self.replicas.clone(),
        );
        let done = self
            .retrying("create", |protocol, replica| {
                create_once(
                    protocol,
                    &http,
                    grpc[replica].clone(),
                    &replicas[replica],
                    &token,
                    &key,
                    &title,
                    due.as_deref(),
                )
            })
            .await;
        match done {
            Some(done) => {
                self.todos.insert(
                    done.id,
                    Acked {
                        version: done.version,
                        ..Acked::default()
                    },
                );
            }
            None => self.abandoned_creates += 1,
        }
    }

    async fn update(&mut self, id: &str) {
        let key = uuid::Uuid::now_v7().to_string();
        let version = self.todos[id].version;
        let title = format!("edited {}", self.rng.random_range(0..1_000_000));
        let (token, http, grpc, replicas) = (
            self.token.clone(),
            self.http.clone(),
            self.grpc.clone(),
            self.replicas.clone(),
        );
        let done = self
            .retrying("update", |protocol, replica| {
                update_once(
                    protocol,
                    &http,
                    grpc[replica].clone(),
                    &replicas[replica],
                    &token,
                    id,
                    version,
                    &key,
                    &title,
                )
            })
            .await;
        self.settle(id, done.map(|d| (d.version, false)));
    }

    async fn complete(&mut self, id: &str) {
        let (token, http, grpc, replicas) = (
            self.token.clone(),
            self.http.clone(),
            self.grpc.clone(),
            self.replicas.clone(),
        );
        // Completing is idempotent by nature: a retry after it happened changes nothing.
        let done = self
            .retrying("complete", |protocol, replica| {
                complete_once(
                    protocol,
                    &http,
                    grpc[replica].clone(),
                    &replicas[replica],
                    &token,
                    id,
                )
            })
            .await;
        self.settle(id, done.map(|d| (d.version, false)));
    }

    async fn delete(&mut self, id: &str) {
        let key = uuid::Uuid::now_v7().to_string();
        let version = self.todos[id].version;
        let (token, http, grpc, replicas) = (
            self.token.clone(),
            self.http.clone(),
            self.grpc.clone(),
            self.replicas.clone(),
        );
        let done = self
            .retrying("delete", |protocol, replica| {
                delete_once(
                    protocol,
                    &http,
                    grpc[replica].clone(),
                    &replicas[replica],
                    &token,
                    id,
                    version,
                    &key,
                )
            })
            .await;
        self.settle(id, done.map(|d| (d.version, true)));
    }

    /// Records the answer to a write of `id`: its version and whether it deleted it, or
    /// nothing known.
    fn settle(&mut self, id: &str, answer: Option<(i64, bool)>) {
        let Some(acked) = self.todos.get_mut(id) else {
            return;
        };
        match answer {
            Some((version, deleted)) => {
                acked.version = acked.version.max(version);
                acked.deleted |= deleted;
            }
            None => acked.uncertain = true,
        }
    }
}

/// Sorts an HTTP answer: the body on `expected`, a retry on a 5xx, 429 or a transport
/// error, a refusal otherwise.
async fn http_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    expected: u16,
) -> Result<(Value, reqwest::header::HeaderMap), Failure> {
    let response = sent.map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    if status.as_u16() == expected {
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).map_err(|e| Failure::Retry(e.to_string()))?
        };
        return Ok((body, headers));
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Failure::Retry(format!("{status}")));
    }
    Err(Failure::Refused(format!("{status} {body}")))
}

/// The version an `ETag` header names.
fn etag_version(headers: &reqwest::header::HeaderMap) -> i64 {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or(0)
}

fn replayed(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get("idempotent-replayed").is_some()
}

/// A GraphQL answer: the data of `field`, or a retry on a code a retry can help with.
async fn graphql_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
    field: &str,
) -> Result<(Value, bool), Failure> {
    let response = sent.map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status();
    let replay = response.headers().get("idempotent-replayed").is_some();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Failure::Retry(format!("{status}")));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    if let Some(error) = body["errors"].get(0) {
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        return match code {
            "unavailable" | "timeout" | "overloaded" | "internal" | "contended" => {
                Err(Failure::Retry(code.to_owned()))
            }
            _ => Err(Failure::Refused(body.to_string())),
        };
    }
    Ok((body["data"][field].clone(), replay))
}

/// A gRPC request with the bearer token and the attempt's deadline.
fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request.set_timeout(ATTEMPT);
    request
}

/// A gRPC status: a retry when one can help.
fn grpc_failure(status: tonic::Status) -> Failure {
    use tonic::Code::*;
    match status.code() {
        Unavailable | DeadlineExceeded | Unknown | Internal | Cancelled | Aborted
        | ResourceExhausted => Failure::Retry(status.to_string()),
        _ => Failure::Refused(status.to_string()),
    }
}

fn grpc_replayed<T>(response: &tonic::Response<T>) -> bool {
    response.metadata().get("idempotent-replayed").is_some()
}

fn version_of(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
async fn create_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    key: &str,
    title: &str,
    due: Option<&str>,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .post(format!("{base}/v1/todos"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&json!({"title": title, "due_date": due}))
                .send()
                .await;
            let (body, headers) = http_answer(sent, 201).await?;
            Ok(Done {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                version: etag_version(&headers),
                replayed: replayed(&headers),
            })
        }
        Protocol::Graphql => {
            let query = "mutation($t: String!, $d: String, $k: String) { \
                         createTodo(input: {title: $t, dueDate: $d}, idempotencyKey: $k) \
                         { id version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"t": title, "d": due, "k": key}}))
                .send()
                .await;
            let (todo, replay) = graphql_answer(sent, "createTodo").await?;
            Ok(Done {
                id: todo["id"].as_str().unwrap_or_default().to_owned(),
                version: version_of(&todo["version"]),
                replayed: replay,
            })
        }
        Protocol::Grpc => {
            let request = api::CreateTodoRequest {
                todo: Some(api::Todo {
                    title: title.into(),
                    due_date: due.unwrap_or_default().into(),
                    ..Default::default()
                }),
                request_id: key.into(),
            };
            let response = grpc
                .create_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            let replay = grpc_replayed(&response);
            let todo = response.into_inner();
            Ok(Done {
                id: todo.name.trim_start_matches("todos/").to_owned(),
                version: todo.etag.parse().unwrap_or(0),
                replayed: replay,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn update_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
    version: i64,
    key: &str,
    title: &str,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .patch(format!("{base}/v1/todos/{id}"))
                .bearer_auth(token)
                .header("if-match", format!("\"{version}\""))
                .header("idempotency-key", key)
                .json(&json!({"title": title}))
                .send()
                .await;
            let (_, headers) = http_answer(sent, 200).await?;
            Ok(Done {
                id: id.to_owned(),
                version: etag_version(&headers),
                replayed: replayed(&headers),
            })
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!, $v: Int!, $t: String!, $k: String) { \
                         updateTodo(id: $id, expectedVersion: $v, input: {title: $t}, \
                         idempotencyKey: $k) { version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id, "v": version, "t": title, "k": key}}))
                .send()
                .await;
            let (todo, replay) = graphql_answer(sent, "updateTodo").await?;
            Ok(Done {
                id: id.to_owned(),
                version: version_of(&todo["version"]),
                replayed: replay,
            })
        }
        Protocol::Grpc => {
            let request = api::UpdateTodoRequest {
                todo: Some(api::Todo {
                    name: format!("todos/{id}"),
                    etag: version.to_string(),
                    title: title.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".to_owned()],
                }),
                request_id: key.into(),
            };
            let response = grpc
                .update_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            let replay = grpc_replayed(&response);
            Ok(Done {
                id: id.to_owned(),
                version: response.into_inner().etag.parse().unwrap_or(0),
                replayed: replay,
            })
        }
    }
}

async fn complete_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
) -> Result<Done, Failure> {
    match protocol {
        Protocol::Rest => {
            let sent = http
                .post(format!("{base}/v1/todos/{id}/complete"))
                .bearer_auth(token)
                .send()
                .await;
            let (_, headers) = http_answer(sent, 200).await?;
            Ok(Done {
                id: id.to_owned(),
                version: etag_version(&headers),
                replayed: false,
            })
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!) { completeTodo(id: $id) { version } }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id}}))
                .send()
                .await;
            let (todo, _) = graphql_answer(sent, "completeTodo").await?;
            Ok(Done {
                id: id.to_owned(),
                version: version_of(&todo["version"]),
                replayed: false,
            })
        }
        Protocol::Grpc => {
            let request = api::CompleteTodoRequest {
                name: format!("todos/{id}"),
            };
            let todo = grpc
                .complete_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?
                .into_inner();
            Ok(Done {
                id: id.to_owned(),
                version: todo.etag.parse().unwrap_or(0),
                replayed: false,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn delete_once(
    protocol: Protocol,
    http: &reqwest::Client,
    mut grpc: TodoServiceClient<Channel>,
    base: &str,
    token: &str,
    id: &str,
    version: i64,
    key: &str,
) -> Result<Done, Failure> {
    let replay = match protocol {
        Protocol::Rest => {
            let sent = http
                .delete(format!("{base}/v1/todos/{id}"))
                .bearer_auth(token)
                .header("if-match", format!("\"{version}\""))
                .header("idempotency-key", key)
                .send()
                .await;
            let (_, headers) = http_answer(sent, 204).await?;
            replayed(&headers)
        }
        Protocol::Graphql => {
            let query = "mutation($id: ID!, $v: Int!, $k: String) { \
                         deleteTodo(id: $id, expectedVersion: $v, idempotencyKey: $k) }";
            let sent = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"id": id, "v": version, "k": key}}))
                .send()
                .await;
            graphql_answer(sent, "deleteTodo").await?.1
        }
        Protocol::Grpc => {
            let request = api::DeleteTodoRequest {
                name: format!("todos/{id}"),
                etag: version.to_string(),
                request_id: key.into(),
            };
            let response = grpc
                .delete_todo(authed(request, token))
                .await
                .map_err(grpc_failure)?;
            grpc_replayed(&response)
        }
    };
    Ok(Done {
        id: id.to_owned(),
        version: version + 1,
        replayed: replay,
    })
}

/// What one user's subscription saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Every event, in the order it arrived, as (event id, todo id, version).
    pub(crate) events: Vec<(String, String, i64)>,
    ids: HashSet<String>,
    /// Events that arrived twice (the streams drop repeats; this counts what got past).
    pub(crate) repeats: u64,
    /// Resumes the server refused.
    pub(crate) refused_resumes: Vec<String>,
    /// How many times the stream was opened.
    pub(crate) opened: u64,
}

/// Watches `token`'s todos over gRPC until `stop`, on one replica after another,
/// resuming after the last event seen whenever the stream ends. `ready` is told once the
/// first stream is open.
pub(crate) async fn watch(
    replicas: Vec<String>,
    token: String,
    seen: Arc<Mutex<Seen>>,
    stop: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut replica = 0;
    while !stop.is_cancelled() {
        let after = seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .last()
            .map(|(id, _, _)| id.clone())
            .unwrap_or_default();
        let opened = async {
            let channel = Endpoint::from_shared(replicas[replica].clone())
                .ok()?
                .connect_timeout(ATTEMPT)
                .connect()
                .await
                .ok()?;
            let mut request = tonic::Request::new(api::WatchTodosRequest { after });
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.metadata_mut().insert("authorization", value);
            }
            Some(
                TodoServiceClient::new(channel)
                    .watch_todos(request)
                    .await
                    .map(tonic::Response::into_inner),
            )
        };
        match tokio::time::timeout(ATTEMPT, opened).await {
            Ok(Some(Ok(mut stream))) => {
                seen.lock().unwrap_or_else(|e| e.into_inner()).opened += 1;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                loop {
                    let message = tokio::select! {
                        message = stream.message() => message,
                        () = stop.cancelled() => return,
                    };
                    match message {
                        Ok(Some(event)) => {
                            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                            if seen.ids.insert(event.event_id.clone()) {
                                seen.events.push((
                                    event.event_id,
                                    event.name.trim_start_matches("todos/").to_owned(),
                                    event.version,
                                ));
                            } else {
                                seen.repeats += 1;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            if status.code() == tonic::Code::InvalidArgument {
                                seen.lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .refused_resumes
                                    .push(status.message().to_owned());
                            }
                            break;
                        }
                    }
                }
            }
            Ok(Some(Err(status))) if status.code() == tonic::Code::InvalidArgument => {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .refused_resumes
                    .push(status.message().to_owned());
            }
            _ => {}
        }
        replica = (replica + 1) % replicas.len();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = stop.cancelled() => return,
        }
    }
}
