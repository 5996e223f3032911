//! Errors that the driven ports return.
//!
//! Ports distinguish the outcomes a use case can act on (not found, a stale version, a
//! duplicate) from infrastructure failure, which a use case can only pass on. The failure
//! keeps its cause for the logs, and says whether the backing service was unreachable, so a
//! driving adapter can answer "try again later" (503) instead of "we broke" (500).

use std::{error::Error as StdError, time::Duration};

/// Any error an adapter wants to keep as the cause of an [`InfraError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Whether an infrastructure failure is worth retrying later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfraErrorKind {
    /// The backing service could not be reached or timed out; the request may succeed later.
    Unavailable,
    /// Anything else: a bug, corrupt data, a protocol error.
    Internal,
}

/// A failure inside a driven adapter that no business rule can handle.
///
/// Its `Display` names only the operation; the cause is kept as `source()` so that a log line
/// can print the whole chain while a client sees nothing of it.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed")]
pub struct InfraError {
    kind: InfraErrorKind,
    operation: &'static str,
    retry_after: Option<Duration>,
    #[source]
    source: BoxError,
}

impl InfraError {
    /// The backing service could not be reached while doing `operation`.
    pub fn unavailable(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            kind: InfraErrorKind::Unavailable,
            operation,
            retry_after: None,
            source: source.into(),
        }
    }

    /// `operation` failed for a reason that retrying will not fix.
    pub fn internal(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            kind: InfraErrorKind::Internal,
            operation,
            retry_after: None,
            source: source.into(),
        }
    }

    /// The service is busy rather than down: trying again after `delay` is likely to work.
    /// Driving adapters pass the hint on (HTTP `Retry-After`).
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// How long to wait before trying again, when the adapter knows.
    pub fn retry_delay(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the failure is worth retrying later.
    pub fn kind(&self) -> InfraErrorKind {
        self.kind
    }

    /// The operation that failed, such as `"insert todo"`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

/// What a repository write can report besides success.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// No record has the given id.
    #[error("not found")]
    NotFound,
    /// The record exists but its version is not the one the caller read (optimistic
    /// concurrency): someone else changed it first.
    #[error("the record was changed by someone else")]
    VersionConflict,
    /// A uniqueness rule was broken; the payload names the rule, such as `"email"`.
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    /// The record refers to another that does not exist; the payload names the reference,
    /// such as `"owner"`.
    #[error("the {0} does not exist")]
    UnknownReference(&'static str),
    /// The storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}
