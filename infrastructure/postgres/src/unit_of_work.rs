//! The unit of work on Postgres: one database transaction.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{
    error::{InfraError, RepositoryError},
    event::OutboxMessage,
    idempotency::IdempotencyRecord,
    ports::{
        IdempotencyRecords, Outbox, TodoRepository, TodoWrite, Transaction, UnitOfWork,
        UserRepository, write_in,
    },
};
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::{
    PgIdempotencyRecords, PgTodoRepository, PgUserRepository,
    db::{Db, SharedTx},
    error,
    group_commit::{GroupCommit, GroupCommitSettings, GroupCommitStats, Outcome},
    outbox::PgOutbox,
};

/// [`UnitOfWork`] on Postgres: each transaction is one sqlx transaction at Postgres' default
/// isolation (read committed), which is enough because every write in it either inserts
/// or compares-and-sets a version.
///
/// Creates go through group commit ([`crate::group_commit`]): those that arrive together
/// share one statement and one commit, and each caller still gets its own outcome.
#[derive(Debug, Clone)]
pub struct PgUnitOfWork {
    pool: PgPool,
    /// `None` when group commit is off (a batch of at most one create).
    group: Option<Arc<GroupCommit>>,
}

impl PgUnitOfWork {
    /// A unit of work on `pool`, with group commit at its default settings.
    pub fn new(pool: PgPool) -> Self {
        Self::with_group_commit(pool, GroupCommitSettings::default())
    }

    /// A unit of work on `pool` that groups creates as `settings` say.
    pub fn with_group_commit(pool: PgPool, settings: GroupCommitSettings) -> Self {
        let group =
            (settings.max_batch > 1).then(|| Arc::new(GroupCommit::new(pool.clone(), settings)));
        Self { pool, group }
    }

    /// What group commit has done so far; `None` when it is off.
    pub fn group_commit_stats(&self) -> Option<GroupCommitStats> {
        self.group.as_ref().map(|group| group.stats())
    }
}

#[async_trait]
impl UnitOfWork for PgUnitOfWork {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.transaction.begin", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn begin(&self) -> Result<Box<dyn Transaction>, InfraError> {
        let tx = self
            .pool
            .begin()
            .await
            .map_err(|e| error::infra("begin transaction", e))?;
        Ok(Box::new(PgTransaction {
            tx: Arc::new(Mutex::new(Some(tx))),
        }))
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.transaction.write_todo", skip_all, fields(otel.kind = "client", db.system.name = "postgresql", db.operation.batch.size = tracing::field::Empty))]
    async fn write_todo(
        &self,
        write: TodoWrite,
        message: OutboxMessage,
        remembered: Option<IdempotencyRecord>,
    ) -> Result<(), RepositoryError> {
        // A create without a key joins the next batch; a batch that failed as a whole
        // sends it on alone, below.
        if let (Some(group), TodoWrite::Insert(todo), None) = (&self.group, &write, &remembered) {
            match group.create(&write, todo, &message).await {
                Outcome::Written { result, batch } => {
                    tracing::Span::current().record("db.operation.batch.size", batch);
                    return result;
                }
                Outcome::WriteAlone => {}
            }
        }
        match remembered {
            // The common case, in one statement.
            None => crate::todos::write_with_message(&self.pool, &write, &message).await,
            // With a key, a transaction: the key's insert must be able to wait for a
            // concurrent one under the same key and fail before anything is written.
            Some(record) => {
                let tx = self.begin().await?;
                write_in(tx.as_ref(), &write, &message, Some(&record)).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }
}

/// An open transaction. If it is dropped without `commit`, sqlx rolls it back.
#[derive(Debug)]
struct PgTransaction {
    tx: SharedTx,
}

#[async_trait]
impl Transaction for PgTransaction {
    fn users(&self) -> Arc<dyn UserRepository> {
        Arc::new(PgUserRepository::in_transaction(Db::Tx(self.tx.clone())))
    }

    fn todos(&self) -> Arc<dyn TodoRepository> {
        Arc::new(PgTodoRepository::in_transaction(Db::Tx(self.tx.clone())))
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        Arc::new(PgOutbox {
            db: Db::Tx(self.tx.clone()),
        })
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyRecords> {
        Arc::new(PgIdempotencyRecords::in_transaction(Db::Tx(
            self.tx.clone(),
        )))
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.transaction.commit", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn commit(self: Box<Self>) -> Result<(), InfraError> {
        // Taking the transaction out leaves `None`, so a repository still holding the
        // shared handle gets a clear error instead of writing outside the transaction.
        let tx = self.tx.lock().await.take().ok_or_else(|| {
            InfraError::internal(
                "commit transaction",
                "the transaction was already committed",
            )
        })?;
        tx.commit()
            .await
            .map_err(|e| error::infra("commit transaction", e))
    }
}
