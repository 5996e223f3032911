//! The outcome of a remembered write, as stored (JSON in Postgres).

use domain::{error::InfraError, idempotency::Outcome, todo::Todo};
use serde::{Deserialize, Serialize};

use crate::TodoRecord;

/// [`Outcome`] as stored: `{"todo": {...}}` or `{"deleted": true}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeRecord {
    /// The todo as the write left it.
    Todo(TodoRecord),
    /// The todo was deleted.
    Deleted(bool),
}

impl From<&Outcome> for OutcomeRecord {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Todo(todo) => Self::Todo(TodoRecord::from(todo)),
            Outcome::Deleted => Self::Deleted(true),
        }
    }
}

impl TryFrom<OutcomeRecord> for Outcome {
    type Error = InfraError;

    fn try_from(record: OutcomeRecord) -> Result<Self, InfraError> {
        Ok(match record {
            OutcomeRecord::Todo(todo) => Outcome::Todo(Todo::try_from(todo)?),
            OutcomeRecord::Deleted(_) => Outcome::Deleted,
        })
    }
}
