//! The user repository on Postgres.

use async_trait::async_trait;
use domain::{
    error::{InfraError, RepositoryError},
    ports::UserRepository,
    user::{Email, User, UserId},
};
use sqlx::PgPool;

use crate::{db::Db, error, rows::UserRow};

/// The columns of [`UserRow`], as a macro so `concat!` can build each statement at
/// compile time.
macro_rules! columns {
    () => {
        "id, email, display_name, password_hash, role, created_at"
    };
}

/// [`UserRepository`] on Postgres.
#[derive(Debug, Clone)]
pub struct PgUserRepository {
    db: Db,
}

impl PgUserRepository {
    /// A repository that runs each call on a connection from `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::Pool(pool) }
    }

    pub(crate) fn in_transaction(db: Db) -> Self {
        Self { db }
    }

    fn to_user(UserRow(record): UserRow) -> Result<User, InfraError> {
        User::try_from(record).map_err(InfraError::from)
    }
}

#[async_trait]
impl UserRepository for PgUserRepository {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.users.insert", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn insert(&self, user: &User) -> Result<(), RepositoryError> {
        let mut conn = self.db.conn().await?;
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.role.as_str())
        .bind(user.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| error::write("insert user", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.users.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn get(&self, id: UserId) -> Result<Option<User>, InfraError> {
        let mut conn = self.db.conn().await?;
        sqlx::query_as::<_, UserRow>(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| error::infra("get user", e))?
            .map(Self::to_user)
            .transpose()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.users.find_by_email", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, InfraError> {
        let mut conn = self.db.conn().await?;
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| error::infra("find user by email", e))?
        .map(Self::to_user)
        .transpose()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.users.list", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn list(&self, before: Option<UserId>, limit: u32) -> Result<Vec<User>, InfraError> {
        let mut conn = self.db.conn().await?;
        // Two fixed statements rather than `$1 IS NULL OR id < $1`, so each gets a plan
        // that walks the primary key backwards and stops after `limit` rows.
        let records = match before {
            Some(cursor) => sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                columns!(),
                " FROM users WHERE id < $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(cursor.as_uuid())
            .bind(i64::from(limit)),
            None => sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                columns!(),
                " FROM users ORDER BY id DESC LIMIT $1"
            ))
            .bind(i64::from(limit)),
        }
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| error::infra("list users", e))?;
        records.into_iter().map(Self::to_user).collect()
    }
}
