//! Group commit: creates that arrive together share one statement, and so one commit.
//!
//! Every commit waits for Postgres to flush its write-ahead log to disk. Under load that
//! flush, not the work of the statement, limits how many creates per second the database
//! takes. So [`PgUnitOfWork`](crate::PgUnitOfWork) hands each create (a todo insert with
//! its event, without an idempotency key) to a [`GroupCommit`]: one task collects the
//! creates that are waiting, writes up to `max_batch` of them with one statement, and
//! answers each caller with its own outcome. The use case and the port do not know.
//!
//! There is no timer. At most `in_flight` batches run at once; a create that arrives while
//! they all run waits for the next free slot, and joins the creates that arrive meanwhile.
//! With one client nothing waits: each create is written at once, as a batch of one. With
//! many, batches grow to fill the time a commit takes.
//!
//! Each caller gets what it would get alone:
//! - no answer before the statement, and with it the commit, has ended;
//! - the statement is atomic: if any row of it fails (a duplicate id, an owner deleted
//!   meanwhile), Postgres keeps none, and every caller of the batch then writes its create
//!   alone, so a bad row fails only its own request, with the domain error it would get
//!   without batching;
//! - when the connection fails, every caller gets that failure, as it would alone.
//!
//! Updates and deletes are not batched. Their compare-and-set needs to tell each caller
//! whether *its* version won, which one statement for many writes to one todo cannot say
//! without a rule of one write per todo per batch; and creates are the write that clients
//! make in bulk.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicU64, Ordering},
};

use domain::{
    error::{InfraError, RepositoryError},
    event::OutboxMessage,
    todo::Todo,
};
use driven_records::{MessageRecord, TodoRecord};
use serde::Serialize;
use sqlx::{PgPool, types::Json};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::error;

/// How creates are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// The most creates one statement writes. 1 turns group commit off: every create is
    /// its own statement.
    pub max_batch: usize,
    /// The most batches running at once, each on its own pooled connection.
    pub in_flight: usize,
}

impl Default for GroupCommitSettings {
    fn default() -> Self {
        Self {
            max_batch: 64,
            in_flight: 4,
        }
    }
}

/// What group commit has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Statements run.
    pub batches: u64,
    /// Creates in them.
    pub creates: u64,
    /// The most creates one statement held.
    pub largest: u64,
}

/// What a caller learns about its create.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The batch's statement ended, and this is the create's result. `batch` is how many
    /// creates the statement held.
    Written {
        result: Result<(), RepositoryError>,
        batch: usize,
    },
    /// The batch failed as a whole and kept nothing: the caller writes its create alone.
    WriteAlone,
}

/// The collector of creates; see the module docs.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    pool: PgPool,
    settings: GroupCommitSettings,
    stats: Arc<Counters>,
    /// The queue to the collecting task, started on the first create (so that building
    /// the adapter needs no runtime). It ends when the last handle to the queue is dropped.
    queue: OnceLock<mpsc::Sender<Pending>>,
}

/// One create waiting for its batch.
#[derive(Debug)]
struct Pending {
    todo: TodoRecord,
    message: OutboxRow,
    /// The caller's span, which the batch's span follows from: a trace leads from each
    /// request to the statement that wrote it.
    caller: Option<tracing::Id>,
    answer: oneshot::Sender<Outcome>,
}

/// An outbox row as the batch statement reads it from JSON.
#[derive(Debug, Serialize)]
struct OutboxRow {
    id: Uuid,
    kind: &'static str,
    dedupe_key: Option<String>,
    payload: MessageRecord,
    /// Taken in the caller's task, where the request's trace is current.
    trace_parent: Option<String>,
}

/// The batch in one statement. `jsonb_populate_recordset` turns each JSON object into a
/// `todos` row by column name, so the statement lists no columns: a column added to the
/// table and to [`TodoRecord`] is written without a change here, and one added to the
/// table alone arrives as NULL, which its NOT NULL refuses loudly. A failing row fails the
/// statement, and Postgres keeps nothing of it.
const WRITE_BATCH: &str = "\
    WITH written AS ( \
        INSERT INTO todos SELECT * FROM jsonb_populate_recordset(NULL::todos, $1) RETURNING 1 \
    ), recorded AS ( \
        INSERT INTO outbox (id, kind, dedupe_key, payload, trace_parent) \
        SELECT id, kind, dedupe_key, payload, trace_parent FROM jsonb_to_recordset($2) \
            AS m (id uuid, kind text, dedupe_key text, payload jsonb, trace_parent text) \
        ON CONFLICT (dedupe_key) DO NOTHING \
    ) \
    SELECT count(*) FROM written";

const OPERATION: &str = "write todos and record their events";

impl GroupCommit {
    pub(crate) fn new(pool: PgPool, settings: GroupCommitSettings) -> Self {
        Self {
            pool,
            settings,
            stats: Arc::default(),
            queue: OnceLock::new(),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        self.stats.snapshot()
    }

    /// Writes `todo` with `message` in the next batch, and waits for its outcome.
    pub(crate) async fn create(&self, todo: &Todo, message: &OutboxMessage) -> Outcome {
        let queue = self.queue.get_or_init(|| self.start());
        let (answer, outcome) = oneshot::channel();
        let pending = Pending {
            todo: TodoRecord::from(todo),
            message: OutboxRow {
                id: message.id().as_uuid(),
                kind: message.kind().as_str(),
                dedupe_key: message.dedupe_key(),
                payload: MessageRecord::from(message),
                trace_parent: trace_context::current(),
            },
            caller: tracing::Span::current().id(),
            answer,
        };
        if queue.send(pending).await.is_err() {
            // The collector is gone (its runtime is shutting down): nothing was sent, so
            // writing alone is safe.
            return Outcome::WriteAlone;
        }
        outcome.await.unwrap_or_else(|_| Outcome::Written {
            // The batch's task ended without answering (a panic, or its runtime stopped):
            // the create may or may not be stored, as when a connection drops mid-commit.
            result: Err(
                InfraError::unavailable(OPERATION, "the batch ended without an answer").into(),
            ),
            batch: 0,
        })
    }

    /// Starts the collecting task and returns its queue.
    fn start(&self) -> mpsc::Sender<Pending> {
        let (queue, waiting) = mpsc::channel(self.settings.max_batch * self.settings.in_flight);
        tokio::spawn(collect(
            waiting,
            self.pool.clone(),
            self.settings,
            self.stats.clone(),
        ));
        queue
    }
}

/// Takes the waiting creates as batches, one per free slot, until the queue closes.
async fn collect(
    mut waiting: mpsc::Receiver<Pending>,
    pool: PgPool,
    settings: GroupCommitSettings,
    stats: Arc<Counters>,
) {
    let slots = Arc::new(Semaphore::new(settings.in_flight));
    while let Some(first) = waiting.recv().await {
        // While every slot is busy, the creates arriving now queue up behind `first`.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            // Only a closed semaphore refuses, and nothing closes this one.
            return;
        };
        let mut batch = vec![first];
        while batch.len() < settings.max_batch {
            match waiting.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!(target: "ports", "db.todos.create_batch",
            otel.kind = "client", db.system.name = "postgresql",
            db.operation.batch.size = batch.len());
        for caller in batch.iter().filter_map(|p| p.caller.clone()) {
            span.follows_from(caller);
        }
        let pool = pool.clone();
        let stats = stats.clone();
        tokio::spawn(
            async move {
                write_batch(&pool, batch, &stats).await;
                drop(slot);
            }
            .instrument(span),
        );
    }
}

/// Writes `batch` with one statement and answers each of its callers.
async fn write_batch(pool: &PgPool, batch: Vec<Pending>, stats: &Counters) {
    let size = batch.len();
    let todos: Vec<&TodoRecord> = batch.iter().map(|p| &p.todo).collect();
    let messages: Vec<&OutboxRow> = batch.iter().map(|p| &p.message).collect();
    let written = sqlx::query_scalar::<_, i64>(WRITE_BATCH)
        .bind(Json(&todos))
        .bind(Json(&messages))
        .fetch_one(pool)
        .await;
    stats.record(size);
    let mut answers = batch.into_iter().map(|p| p.answer);
    match written {
        Ok(rows) if usize::try_from(rows).is_ok_and(|rows| rows == size) => {
            for answer in answers {
                let _gone = answer.send(Outcome::Written {
                    result: Ok(()),
                    batch: size,
                });
            }
        }
        Ok(rows) => {
            // An INSERT without ON CONFLICT writes every row or fails, so this is a broken
            // statement, said loudly rather than acknowledged.
            let cause = format!("the statement wrote {rows} todos of {size}");
            for answer in answers {
                let error = InfraError::internal(OPERATION, cause.clone());
                let _gone = answer.send(Outcome::Written {
                    result: Err(error.into()),
                    batch: size,
                });
            }
        }
        // A batch of one is a create alone: its error is its own.
        Err(e) if size == 1 => {
            if let Some(answer) = answers.next() {
                let result = Err(error::write("write todo and record its event", e));
                let _gone = answer.send(Outcome::Written { result, batch: 1 });
            }
        }
        // The database refused the statement, and kept nothing of it: each create again,
        // alone, to find the one that fails and give it its own error.
        Err(sqlx::Error::Database(_)) => {
            for answer in answers {
                let _gone = answer.send(Outcome::WriteAlone);
            }
        }
        // The connection or the pool failed: the same failure for every caller.
        Err(e) => {
            let transient = error::is_transient(&e);
            let cause = Arc::new(e);
            for answer in answers {
                let error = if transient {
                    InfraError::unavailable(OPERATION, cause.clone())
                } else {
                    InfraError::internal(OPERATION, cause.clone())
                };
                let _gone = answer.send(Outcome::Written {
                    result: Err(error.into()),
                    batch: size,
                });
            }
        }
    }
}

/// [`GroupCommitStats`], counted as batches end.
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    creates: AtomicU64,
    largest: AtomicU64,
}

impl Counters {
    fn record(&self, size: usize) {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.creates.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }

    fn snapshot(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.batches.load(Ordering::Relaxed),
            creates: self.creates.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
        }
    }
}
