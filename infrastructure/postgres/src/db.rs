//! Where a repository's queries go: the pool, or one open transaction.
//!
//! The same repository code serves both: it asks [`Db::conn`] for a connection and runs its
//! SQL on it. Outside a unit of work that is a pooled connection; inside one it is the
//! transaction's connection, locked for the duration of one repository call.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use domain::error::InfraError;
use sqlx::{PgConnection, PgPool, Postgres, pool::PoolConnection};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

/// An open transaction, shared by the repositories of one unit of work. `None` once it has
/// been committed.
pub(crate) type SharedTx = Arc<Mutex<Option<sqlx::Transaction<'static, Postgres>>>>;

/// The source of connections for a repository.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Pool(PgPool),
    Tx(SharedTx),
}

/// A connection borrowed from a [`Db`].
pub(crate) enum Conn {
    Pooled(PoolConnection<Postgres>),
    Tx(
        OwnedMappedMutexGuard<
            Option<sqlx::Transaction<'static, Postgres>>,
            sqlx::Transaction<'static, Postgres>,
        >,
    ),
}

impl Db {
    /// A connection to run one repository call on.
    pub(crate) async fn conn(&self) -> Result<Conn, InfraError> {
        match self {
            Db::Pool(pool) => pool
                .acquire()
                .await
                .map(Conn::Pooled)
                .map_err(|e| crate::error::infra("acquire connection", e)),
            Db::Tx(tx) => {
                let guard: OwnedMutexGuard<_> = tx.clone().lock_owned().await;
                OwnedMutexGuard::try_map(guard, Option::as_mut)
                    .map(Conn::Tx)
                    .map_err(|_| {
                        InfraError::internal(
                            "use transaction",
                            "the transaction was already committed",
                        )
                    })
            }
        }
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Tx(tx) => tx,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Tx(tx) => tx,
        }
    }
}
