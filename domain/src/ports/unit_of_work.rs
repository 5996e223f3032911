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
    ports::{Outbox, TodoRepository, UserRepository},
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

    /// Makes one change to one todo and records `message` in the outbox, atomically: both
    /// are kept, or neither is. It is what every todo use case writes.
    ///
    /// The provided body does it in a transaction from [`UnitOfWork::begin`]. An adapter
    /// that can do the same in fewer round trips overrides it (Postgres: one statement
    /// instead of `BEGIN`, two `INSERT`s and `COMMIT`); the contract is the same.
    ///
    /// # Errors
    /// MUST return [`RepositoryError::NotFound`] when the todo of an update or a deletion
    /// does not exist, [`RepositoryError::VersionConflict`] when it is at another version
    /// than `expected`, and [`RepositoryError::Infra`] when storage fails. In every case
    /// nothing is written and nothing is recorded.
    async fn write_todo(
        &self,
        write: TodoWrite,
        message: OutboxMessage,
    ) -> Result<(), RepositoryError> {
        let tx = self.begin().await?;
        let todos = tx.todos();
        match &write {
            TodoWrite::Insert(todo) => todos.insert(todo).await?,
            TodoWrite::Update { todo, expected } => todos.update(todo, *expected).await?,
            TodoWrite::Delete { id, expected } => todos.delete(*id, *expected).await?,
        }
        tx.outbox().record(&message).await?;
        tx.commit().await?;
        Ok(())
    }
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

    /// Makes every change of the transaction visible at once.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the commit fails; then none of the changes are kept.
    async fn commit(self: Box<Self>) -> Result<(), InfraError>;
}
