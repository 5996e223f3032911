//! Writes that span repositories, committed or rolled back as one.
//!
//! A use case that must change several aggregates together asks the [`UnitOfWork`] for a
//! [`Transaction`], does all its reads and writes through the repositories the transaction
//! hands out, and commits. Dropping the transaction without committing rolls everything
//! back, so an early `?` return can never leave half a change behind.
//!
//! Postgres implements this with one database transaction; the in-memory adapter with a
//! lock and a staged copy of its data. There is no nesting and no implicit retry.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{
    error::{InfraError, RepositoryError},
    event::OutboxMessage,
    idempotency::IdempotencyRecord,
    ports::{IdempotencyRecords, Outbox, TodoRepository, UserRepository},
    todo::{Todo, TodoId, Version},
};

/// One change to one todo, as [`UnitOfWork::write_todo`] makes it.
#[derive(Debug, Clone, PartialEq)]
pub enum TodoWrite {
    /// Store a new todo.
    Insert(Todo),
    /// Replace a todo that is still at `expected` by `todo`.
    Update {
        /// The todo as it is to be stored.
        todo: Todo,
        /// The version the stored todo must still have.
        expected: Version,
    },
    /// Delete the todo `id` if it is still at `expected`.
    Delete {
        /// The todo to delete.
        id: TodoId,
        /// The version the stored todo must still have.
        expected: Version,
    },
}

/// Starts transactions.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Starts a transaction.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when storage cannot start one.
    async fn begin(&self) -> Result<Box<dyn Transaction>, InfraError>;

    /// Makes one change to one todo and records `message` in the outbox, and, for a write
    /// a client may retry, `remembered` under its key: atomically, all are kept or none
    /// is. It is what every todo use case writes.
    ///
    /// The provided body does it in a transaction from [`UnitOfWork::begin`], with
    /// [`write_in`]. An adapter that can do the same in fewer round trips overrides it
    /// (Postgres: one statement instead of `BEGIN`, two `INSERT`s and `COMMIT`); the
    /// contract is the same.
    ///
    /// # Errors
    /// MUST return [`RepositoryError::Duplicate`]`("idempotency_key")` when the user already
    /// has a record under `remembered`'s key (as [`IdempotencyRecords::record`] says),
    /// [`RepositoryError::NotFound`] when the todo of an update or a deletion does not
    /// exist, [`RepositoryError::VersionConflict`] when it is at another version than
    /// `expected`, and [`RepositoryError::Infra`] when storage fails. In every case nothing
    /// is written and nothing is recorded.
    async fn write_todo(
        &self,
        write: TodoWrite,
        message: OutboxMessage,
        remembered: Option<IdempotencyRecord>,
    ) -> Result<(), RepositoryError> {
        let tx = self.begin().await?;
        write_in(tx.as_ref(), &write, &message, remembered.as_ref()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// [`UnitOfWork::write_todo`]'s work inside `tx`, uncommitted: the key first, so that of
/// concurrent writes under one key all but the first stop before they write anything.
///
/// # Errors
/// As [`UnitOfWork::write_todo`].
pub async fn write_in(
    tx: &dyn Transaction,
    write: &TodoWrite,
    message: &OutboxMessage,
    remembered: Option<&IdempotencyRecord>,
) -> Result<(), RepositoryError> {
    if let Some(record) = remembered {
        tx.idempotency().record(record).await?;
    }
    let todos = tx.todos();
    match write {
        TodoWrite::Insert(todo) => todos.insert(todo).await?,
        TodoWrite::Update { todo, expected } => todos.update(todo, *expected).await?,
        TodoWrite::Delete { id, expected } => todos.delete(*id, *expected).await?,
    }
    tx.outbox().record(message).await?;
    Ok(())
}

/// One open transaction and the repositories bound to it.
///
/// Everything done through [`Transaction::users`], [`Transaction::todos`] and
/// [`Transaction::outbox`] MUST become
/// visible to others at [`Transaction::commit`], all at once, or not at all if the
/// transaction is dropped without committing. Other readers MUST NOT see any of it before:
/// an adapter either answers them from the state before the transaction (Postgres, with
/// its snapshots) or makes them wait until it ends (the in-memory adapter, with a lock),
/// and says which in its docs. Inside the transaction, use only its repositories: the
/// ordinary ones are outside it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Transaction: Send + Sync {
    /// The user repository inside this transaction.
    fn users(&self) -> Arc<dyn UserRepository>;

    /// The todo repository inside this transaction.
    fn todos(&self) -> Arc<dyn TodoRepository>;

    /// The outbox of this transaction: what is recorded there is committed with the rest.
    fn outbox(&self) -> Arc<dyn Outbox>;

    /// The idempotency records of this transaction: a record is committed with the write
    /// it guards.
    fn idempotency(&self) -> Arc<dyn IdempotencyRecords>;

    /// Makes every change of the transaction visible at once.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the commit fails; then none of the changes are kept.
    async fn commit(self: Box<Self>) -> Result<(), InfraError>;
}
