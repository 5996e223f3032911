//! The load: one well-behaved client per user, writing over REST, GraphQL and gRPC with
//! idempotency keys and retrying what fails, and one live subscription per user.
//!
//! A client remembers what the server acknowledged (each todo's last version, whether it
//! was deleted), which is what the checks hold the database to.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use driving_grpc::api::todo_service_client::TodoServiceClient;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

mod attempts;
mod watch;

use attempts::{complete_once, create_once, delete_once, update_once};
pub(crate) use watch::{Seen, watch};

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
pub(super) enum Failure {
    /// Worth trying again (a timeout, a cut connection, a 503).
    Retry(String),
    /// An answer no retry will change.
    Refused(String),
}

/// A successful write: the todo's id and version after it, and whether it was a replay.
pub(super) struct Done {
    pub(super) id: String,
    pub(super) version: i64,
    pub(super) replayed: bool,
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
