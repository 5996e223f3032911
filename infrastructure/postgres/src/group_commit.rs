//! Group commit: creates that arrive together share one statement, and so one commit.
//!
//! Every commit waits for Postgres to flush its write-ahead log to disk. Under load that
//! flush, not the work of the statement, limits how many creates per second the database
//! takes. So [`PgUnitOfWork`](crate::PgUnitOfWork) hands each create (a todo insert with
//! its event, without an idempotency key) to a [`GroupCommit`], which writes the creates
//! that queue up together, up to `max_batch` of them with one statement, and answers each
//! caller with its own outcome. The use case and the port do not know.
//!
//! There is no timer to wait for more creates. `in_flight` slots bound the statements
//! running at once, as long as they run normally: one that outlasts [`SLOT_PATIENCE`]
//! (waiting for a row lock, say) hands its slot on, so that one slow create cannot hold up
//! everyone's. A create that finds a slot free is written at once, alone, in its caller's
//! task: the same statement as without group commit, so a client that is alone, or nearly,
//! pays nothing for it. A create that finds every slot busy queues up, and whichever
//! statement ends first takes the whole queue as its next batch. With many clients, batches
//! grow to fill the time a commit takes.
//!
//! Each caller gets what it would get alone:
//! - no answer before the statement, and with it the commit, has ended;
//! - the statement is atomic: if any row of it fails (a duplicate id, an owner deleted
//!   meanwhile), Postgres keeps none, and every caller of the batch then writes its create
//!   alone, so a bad row fails only its own request, with the domain error it would get
//!   without batching;
//! - when the connection fails, every caller gets that failure, as it would alone;
//! - a queued create whose caller has gone (disconnected, timed out) is not written.
//!
//! The queue needs no bound of its own: each create in it is a caller waiting for its
//! answer, and the servers bound how many requests are in flight.
//!
//! Updates and deletes are not batched. Their compare-and-set needs to tell each caller
//! whether *its* version won, which one statement for many writes to one todo cannot say
//! without a rule of one write per todo per batch; and creates are the write that clients
//! make in bulk.

use std::{
    pin::pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use domain::{
    error::{InfraError, RepositoryError},
    event::OutboxMessage,
    ports::TodoWrite,
    todo::Todo,
};
use driven_records::{MessageRecord, TodoRecord};
use serde::Serialize;
use sqlx::{PgPool, types::Json};
use tokio::sync::oneshot;
use tracing::Instrument;
use uuid::Uuid;

use crate::error;

/// How creates are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// The most creates one statement writes. 1 turns group commit off: every create is
    /// its own statement.
    pub max_batch: usize,
    /// The most statements running at once, each on its own pooled connection.
    pub in_flight: usize,
}

impl Default for GroupCommitSettings {
    /// 64 creates a statement, one statement at a time. One: every create records an
    /// event, and the outbox's trigger `NOTIFY`s, and Postgres lets one notifying
    /// transaction commit at a time. More statements at once do not commit sooner; they
    /// only make each batch smaller. Measured in bench/README.md ("Group commit").
    fn default() -> Self {
        Self {
            max_batch: 64,
            in_flight: 1,
        }
    }
}

/// What group commit has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Creates written alone, because a slot was free when they arrived.
    pub alone: u64,
    /// Statements written for creates that had queued up.
    pub batches: u64,
    /// Creates in those statements.
    pub batched: u64,
    /// The most creates one statement held.
    pub largest: u64,
    /// Batches that failed as a whole, and whose creates were then written alone.
    pub retried: u64,
    /// Queued creates dropped unwritten because their caller had gone (a client that
    /// disconnected, a request that timed out) before their batch was taken.
    pub abandoned: u64,
    /// Statements that outlasted [`SLOT_PATIENCE`] and handed their slot on.
    pub slow: u64,
}

/// How long a statement keeps its slot. One that takes longer (a create waiting for a lock
/// on its owner's row, say) hands the slot on and finishes outside the bound, so that the
/// creates queued behind it are not held up by it.
pub const SLOT_PATIENCE: Duration = Duration::from_millis(100);

/// What a caller learns about its create.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The create's statement ended, and this is its result. `batch` is how many creates
    /// the statement held.
    Written {
        result: Result<(), RepositoryError>,
        batch: usize,
    },
    /// Its batch failed as a whole and kept nothing: the caller writes its create alone.
    WriteAlone,
}

/// Group commit over one pool; see the module docs.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pool: PgPool,
    max_batch: usize,
    state: Mutex<State>,
    stats: Counters,
}

/// The slots and the queue, changed together under one lock, so that a create cannot
/// queue up after the last busy slot looked at the queue and was freed.
#[derive(Debug)]
struct State {
    free_slots: usize,
    queue: Vec<Pending>,
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
            shared: Arc::new(Shared {
                pool,
                max_batch: settings.max_batch,
                state: Mutex::new(State {
                    free_slots: settings.in_flight,
                    queue: Vec::new(),
                }),
                stats: Counters::default(),
            }),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        self.shared.stats.snapshot()
    }

    /// Writes the create `write` (a [`TodoWrite::Insert`] of `todo`) with `message`: at
    /// once if a slot is free, else in the next batch. Waits for its outcome.
    pub(crate) async fn create(
        &self,
        write: &TodoWrite,
        todo: &Todo,
        message: &OutboxMessage,
    ) -> Outcome {
        let answer = {
            let mut state = self.shared.lock();
            if state.free_slots > 0 {
                state.free_slots -= 1;
                None
            } else {
                let (answer, outcome) = oneshot::channel();
                state.queue.push(Pending {
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
                });
                Some(outcome)
            }
        };
        match answer {
            None => {
                // The slot is given back when this ends, also if the caller's future is
                // dropped halfway.
                let slot = Slot(self.shared.clone());
                let write = crate::todos::write_with_message(&self.shared.pool, write, message);
                let result = within_slot(slot, write).await;
                self.shared.stats.alone.fetch_add(1, Ordering::Relaxed);
                Outcome::Written { result, batch: 1 }
            }
            Some(outcome) => outcome.await.unwrap_or_else(|_| Outcome::Written {
                // The batch's task ended without answering (a panic, or its runtime
                // stopped): the create may or may not be stored, as when a connection
                // drops mid-commit.
                result: Err(InfraError::unavailable(
                    OPERATION,
                    "the batch ended without an answer",
                )
                .into()),
                batch: 0,
            }),
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock (it only moves a count and a Vec), so a
        // poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A statement has ended: its slot frees, or, if creates have queued up, takes the
    /// next batch of them.
    fn next_batch(&self) -> Option<Vec<Pending>> {
        let mut state = self.lock();
        let queued = state.queue.len();
        // A caller that has gone has had its answer (a disconnect, a timeout): writing its
        // create now would store what the client was told failed.
        state.queue.retain(|pending| !pending.answer.is_closed());
        let abandoned = u64::try_from(queued - state.queue.len()).unwrap_or(u64::MAX);
        self.stats.abandoned.fetch_add(abandoned, Ordering::Relaxed);
        if state.queue.is_empty() {
            state.free_slots += 1;
            None
        } else {
            let take = state.queue.len().min(self.max_batch);
            Some(state.queue.drain(..take).collect())
        }
    }
}

/// A busy slot. Dropping it hands the slot to the queue's next batch, written in a task of
/// its own, or frees it. Each batch's task holds its slot the same way, so a slot is
/// handed on however its holder ends: done, dropped halfway, or panicking.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(batch) = self.0.next_batch() else {
            return;
        };
        let next = write_batch_in(Slot(self.0.clone()), batch);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(next);
            }
            // No runtime (it is shutting down): nothing can be written. Dropping the batch
            // tells its callers, and its slot goes on to the rest of the queue the same way.
            Err(_) => drop(next),
        }
    }
}

/// Writes `batch` in `slot`, in a span that follows from each caller's.
async fn write_batch_in(slot: Slot, batch: Vec<Pending>) {
    let span = tracing::debug_span!(target: "ports", "db.todos.create_batch",
        otel.kind = "client", db.system.name = "postgresql",
        db.operation.batch.size = batch.len());
    for caller in batch.iter().filter_map(|p| p.caller.clone()) {
        span.follows_from(caller);
    }
    let shared = slot.0.clone();
    within_slot(slot, write_batch(&shared, batch).instrument(span)).await;
}

/// Runs `work` in `slot`, for at most [`SLOT_PATIENCE`]; then hands the slot on and lets the
/// work finish outside it.
async fn within_slot<F: Future>(slot: Slot, work: F) -> F::Output {
    let mut work = pin!(work);
    match tokio::time::timeout(SLOT_PATIENCE, &mut work).await {
        Ok(output) => output,
        Err(_) => {
            slot.0.stats.slow.fetch_add(1, Ordering::Relaxed);
            drop(slot);
            work.await
        }
    }
}

/// Writes `batch` with one statement and answers each of its callers.
async fn write_batch(shared: &Shared, batch: Vec<Pending>) {
    let size = batch.len();
    let todos: Vec<&TodoRecord> = batch.iter().map(|p| &p.todo).collect();
    let messages: Vec<&OutboxRow> = batch.iter().map(|p| &p.message).collect();
    let written = sqlx::query_scalar::<_, i64>(WRITE_BATCH)
        .bind(Json(&todos))
        .bind(Json(&messages))
        .fetch_one(&shared.pool)
        .await;
    shared.stats.record(size);
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
        // The database refused the statement (a constraint), and kept nothing of it: each
        // create again, alone, to find the one that fails and give it its own error. Not
        // when the server is refusing work (shutting down, a timeout): 64 statements alone
        // would only add to that, and a connection closed around the commit leaves it
        // unknown whether the batch was kept.
        Err(e @ sqlx::Error::Database(_)) if !error::is_transient(&e) => {
            shared.stats.retried.fetch_add(1, Ordering::Relaxed);
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

/// [`GroupCommitStats`], counted as statements end.
#[derive(Debug, Default)]
struct Counters {
    alone: AtomicU64,
    batches: AtomicU64,
    batched: AtomicU64,
    largest: AtomicU64,
    retried: AtomicU64,
    abandoned: AtomicU64,
    slow: AtomicU64,
}

impl Counters {
    fn record(&self, size: usize) {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batched.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }

    fn snapshot(&self) -> GroupCommitStats {
        GroupCommitStats {
            alone: self.alone.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            batched: self.batched.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        }
    }
}
