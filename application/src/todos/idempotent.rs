//! Writes a client may retry with a key: the one flow every such use case follows.
//!
//! 1. Before anything else, the key is looked up. A record of the same request is the
//!    answer, replayed; a record of another request is [`KeyReused`].
//! 2. Otherwise the use case does its work and writes, passing the [`IdempotencyRecord`]
//!    of its outcome to the unit of work, which commits it with the write.
//! 3. If the unit of work finds the key taken (a concurrent request with the same key
//!    committed first, and this one waited for it), the key is looked up again and that
//!    request's outcome is the answer. So of any number of requests with one key, one
//!    writes, and every one gets its outcome.

use domain::{
    error::InfraError,
    idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord, Outcome},
    todo::{NewTodo, TodoChanges, TodoId, Version},
};

use super::TodoPorts;
use crate::{Actor, AppError, error::codes};

/// What a write sent with a key returns: its value, and whether it is the first request's
/// outcome replayed (the transports say so: REST `Idempotent-Replayed: true`).
#[derive(Debug, Clone, PartialEq)]
pub struct Idempotent<T> {
    /// The outcome.
    pub value: T,
    /// Whether an earlier request with the same key made it.
    pub replayed: bool,
}

impl<T> Idempotent<T> {
    pub(crate) fn fresh(value: T) -> Self {
        Self {
            value,
            replayed: false,
        }
    }

    pub(crate) fn replayed(value: T) -> Self {
        Self {
            value,
            replayed: true,
        }
    }
}

/// The key was used before for another request: another operation, or other input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this idempotency key was used for a different request")]
pub struct KeyReused;

impl From<KeyReused> for AppError {
    fn from(_: KeyReused) -> Self {
        AppError::conflict(
            codes::IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was sent before with a different request; use a new key \
             for a new request",
        )
    }
}

/// A write a client may retry: its key, and what the request asked for.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    pub(crate) key: IdempotencyKey,
    pub(crate) fingerprint: Fingerprint,
}

impl Retry {
    /// A create of `new` under `key`.
    pub(crate) fn create(key: IdempotencyKey, new: &NewTodo) -> Self {
        let tags: Vec<&str> = new.tags.iter().map(|t| t.as_str()).collect();
        let fields = [
            new.title.as_str().to_owned(),
            optional(new.description.as_ref().map(|d| d.as_str())),
            optional(new.due_date.map(|d| d.to_string()).as_deref()),
            tags.join(","),
        ];
        Self::of(key, "create_todo", &fields)
    }

    /// An edit of `id` at `expected` with `changes` under `key`.
    pub(crate) fn update(
        key: IdempotencyKey,
        id: TodoId,
        expected: Version,
        changes: &TodoChanges,
    ) -> Self {
        let fields = [
            id.to_string(),
            expected.get().to_string(),
            optional(changes.title.as_ref().map(|t| t.as_str())),
            optional(
                changes
                    .description
                    .as_ref()
                    .map(|d| optional(d.as_ref().map(|d| d.as_str())))
                    .as_deref(),
            ),
            optional(
                changes
                    .due_date
                    .as_ref()
                    .map(|d| optional(d.map(|d| d.to_string()).as_deref()))
                    .as_deref(),
            ),
        ];
        Self::of(key, "update_todo", &fields)
    }

    /// A deletion of `id` at `expected` under `key`.
    pub(crate) fn delete(key: IdempotencyKey, id: TodoId, expected: Version) -> Self {
        let fields = [id.to_string(), expected.get().to_string()];
        Self::of(key, "delete_todo", &fields)
    }

    fn of(key: IdempotencyKey, operation: &str, fields: &[String]) -> Self {
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        Self {
            key,
            fingerprint: Fingerprint::of(operation, &fields),
        }
    }

    /// The record of `outcome`, to commit with the write.
    pub(crate) fn record(
        &self,
        ports: &TodoPorts,
        actor: &Actor,
        outcome: Outcome,
    ) -> IdempotencyRecord {
        IdempotencyRecord {
            user: actor.id,
            key: self.key.clone(),
            fingerprint: self.fingerprint,
            outcome,
            recorded_at: ports.clock.now(),
        }
    }
}

/// An absent value and an empty one stay apart: `-` for none, `=` and the text for some.
fn optional(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("={v}"))
}

/// Why a remembered outcome cannot be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Lookup {
    /// The key holds another request.
    #[error(transparent)]
    Reused(#[from] KeyReused),
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl TodoPorts {
    /// Records `record` alone, for a write that turned out to change nothing (an edit to
    /// the values the todo has): a retry must still get this outcome, not whatever the
    /// todo is by then. Returns the outcome under the key, this one or a concurrent
    /// request's that took the key first.
    pub(crate) async fn remember_only(
        &self,
        actor: &Actor,
        retry: &Retry,
        record: IdempotencyRecord,
    ) -> Result<Idempotent<Outcome>, Lookup> {
        let tx = self.unit_of_work.begin().await?;
        match tx.idempotency().record(&record).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(Idempotent::fresh(record.outcome))
            }
            Err(domain::error::RepositoryError::Duplicate(_)) => {
                drop(tx);
                Ok(Idempotent::replayed(self.taken(actor, retry).await?))
            }
            Err(domain::error::RepositoryError::Infra(e)) => Err(e.into()),
            Err(other) => Err(InfraError::internal("record an idempotency key", other).into()),
        }
    }

    /// The outcome the actor's key holds for this very request, if any.
    pub(crate) async fn remembered(
        &self,
        actor: &Actor,
        retry: &Retry,
    ) -> Result<Option<Outcome>, Lookup> {
        match self.idempotency.find(actor.id, &retry.key).await? {
            None => Ok(None),
            Some(record) if record.fingerprint == retry.fingerprint => Ok(Some(record.outcome)),
            Some(_) => Err(KeyReused.into()),
        }
    }

    /// The outcome of the request that took the key first, when a write found it taken.
    pub(crate) async fn taken(&self, actor: &Actor, retry: &Retry) -> Result<Outcome, Lookup> {
        self.remembered(actor, retry).await?.ok_or_else(|| {
            InfraError::internal(
                "read an idempotency key",
                "the key was taken, and then not found",
            )
            .into()
        })
    }
}
