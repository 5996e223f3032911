//! The todo repository on Postgres.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::{
    error::{InfraError, RepositoryError},
    event::OutboxMessage,
    ports::{TodoQuery, TodoRepository, TodoWrite},
    todo::{DueDate, Todo, TodoId, TodoStatus, Version},
    user::UserId,
};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, types::Json};

use crate::{db::Db, error, rows::TodoRow};
use driven_records::{MessageRecord, TodoRecord};

/// The columns of [`TodoRecord`], as a macro so `concat!` can build each statement at
/// compile time.
macro_rules! columns {
    () => {
        "id, owner_id, title, description, tags, due_date, completed_at, version, created_at, updated_at"
    };
}

/// [`TodoRepository`] on Postgres.
#[derive(Debug, Clone)]
pub struct PgTodoRepository {
    db: Db,
}

impl PgTodoRepository {
    /// A repository that runs each call on a connection from `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { db: Db::Pool(pool) }
    }

    pub(crate) fn in_transaction(db: Db) -> Self {
        Self { db }
    }

    /// After a compare-and-set touched no row: was the todo gone, or at another version?
    async fn explain_miss(conn: &mut PgConnection, id: TodoId) -> RepositoryError {
        match sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM todos WHERE id = $1)")
            .bind(id.as_uuid())
            .fetch_one(conn)
            .await
        {
            Ok(true) => RepositoryError::VersionConflict,
            Ok(false) => RepositoryError::NotFound,
            Err(e) => RepositoryError::Infra(error::infra("check todo exists", e)),
        }
    }
}

/// `INSERT INTO outbox` of the message bound to `$1`..`$4` and the trace context bound to
/// `$trace` (the statement's last parameter), for each row the CTE `written` returns (none
/// when the todo change touched no row), as [`crate::outbox`] records it.
macro_rules! record_if_written {
    ($trace:literal) => {
        concat!(
            "recorded AS (INSERT INTO outbox (id, kind, dedupe_key, payload, trace_parent) \
             SELECT $1, $2, $3, $4, ",
            $trace,
            " FROM written ON CONFLICT (dedupe_key) DO NOTHING) \
             SELECT EXISTS (SELECT 1 FROM written)"
        )
    };
}

/// [`domain::ports::UnitOfWork::write_todo`] in one statement: the todo change and the
/// outbox insert are two data-modifying CTEs, and one statement is atomic in Postgres
/// (it runs in its own implicit transaction). That is one round trip where a transaction
/// takes four: `BEGIN`, the change, the outbox `INSERT`, `COMMIT`.
///
/// The outbox row is inserted only if the change touched a row, so a lost compare-and-set
/// records nothing; a failed insert (a duplicate id, an unknown owner) fails the statement.
pub(crate) async fn write_with_message(
    pool: &PgPool,
    write: &TodoWrite,
    message: &OutboxMessage,
) -> Result<(), RepositoryError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| error::infra("acquire connection", e))?;
    let (id, query) = match write {
        TodoWrite::Insert(todo) => {
            let r = TodoRecord::from(todo);
            let query = sqlx::query_scalar::<_, bool>(concat!(
                "WITH written AS (INSERT INTO todos (",
                columns!(),
                ") VALUES ($5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING 1), ",
                record_if_written!("$15")
            ));
            (
                todo.id(),
                bind_message(query, message)
                    .bind(r.id)
                    .bind(r.owner_id)
                    .bind(r.title)
                    .bind(r.description)
                    .bind(r.tags)
                    .bind(r.due_date)
                    .bind(r.completed_at)
                    .bind(r.version)
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .bind(trace_context::current()),
            )
        }
        TodoWrite::Update { todo, expected } => {
            let r = TodoRecord::from(todo);
            let query = sqlx::query_scalar::<_, bool>(concat!(
                "WITH written AS (UPDATE todos SET title = $7, description = $8, tags = $9, \
                 due_date = $10, completed_at = $11, version = $12, updated_at = $13 \
                 WHERE id = $5 AND version = $6 RETURNING 1), ",
                record_if_written!("$14")
            ));
            (
                todo.id(),
                bind_message(query, message)
                    .bind(r.id)
                    .bind(expected.get())
                    .bind(r.title)
                    .bind(r.description)
                    .bind(r.tags)
                    .bind(r.due_date)
                    .bind(r.completed_at)
                    .bind(r.version)
                    .bind(r.updated_at)
                    .bind(trace_context::current()),
            )
        }
        TodoWrite::Delete { id, expected } => {
            let query = sqlx::query_scalar::<_, bool>(concat!(
                "WITH written AS (DELETE FROM todos WHERE id = $5 AND version = $6 RETURNING 1), ",
                record_if_written!("$7")
            ));
            (
                *id,
                bind_message(query, message)
                    .bind(id.as_uuid())
                    .bind(expected.get())
                    .bind(trace_context::current()),
            )
        }
    };
    let written = query
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| error::write("write todo and record its event", e))?;
    if written {
        Ok(())
    } else {
        Err(PgTodoRepository::explain_miss(&mut conn, id).await)
    }
}

type ScalarQuery<'q> = sqlx::query::QueryScalar<'q, Postgres, bool, sqlx::postgres::PgArguments>;

/// Binds the outbox message to `$1`..`$4`.
fn bind_message<'q>(query: ScalarQuery<'q>, message: &OutboxMessage) -> ScalarQuery<'q> {
    query
        .bind(message.id().as_uuid())
        .bind(message.kind().as_str())
        .bind(message.dedupe_key())
        .bind(Json(MessageRecord::from(message)))
}

#[async_trait]
impl TodoRepository for PgTodoRepository {
    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.insert", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn insert(&self, todo: &Todo) -> Result<(), RepositoryError> {
        let r = TodoRecord::from(todo);
        let mut conn = self.db.conn().await?;
        sqlx::query(concat!(
            "INSERT INTO todos (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(r.id)
        .bind(r.owner_id)
        .bind(r.title)
        .bind(r.description)
        .bind(r.tags)
        .bind(r.due_date)
        .bind(r.completed_at)
        .bind(r.version)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| error::write("insert todo", e))?;
        Ok(())
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.get", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn get(&self, id: TodoId) -> Result<Option<Todo>, InfraError> {
        let mut conn = self.db.conn().await?;
        sqlx::query_as::<_, TodoRow>(concat!("SELECT ", columns!(), " FROM todos WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| error::infra("get todo", e))?
            .map(|TodoRow(r)| Todo::try_from(r).map_err(InfraError::from))
            .transpose()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.update", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn update(&self, todo: &Todo, expected: Version) -> Result<(), RepositoryError> {
        let r = TodoRecord::from(todo);
        let mut conn = self.db.conn().await?;
        // The version check is in the WHERE clause, so check and write are one atomic
        // statement: of two concurrent updates from the same version, the second finds
        // no row (Postgres re-evaluates the condition after the first commits).
        let updated = sqlx::query(
            "UPDATE todos SET title = $3, description = $4, tags = $5, due_date = $6, \
             completed_at = $7, version = $8, updated_at = $9 \
             WHERE id = $1 AND version = $2",
        )
        .bind(r.id)
        .bind(expected.get())
        .bind(r.title)
        .bind(r.description)
        .bind(r.tags)
        .bind(r.due_date)
        .bind(r.completed_at)
        .bind(r.version)
        .bind(r.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| error::write("update todo", e))?;
        if updated.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Self::explain_miss(&mut conn, todo.id()).await)
        }
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.delete", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn delete(&self, id: TodoId, expected: Version) -> Result<(), RepositoryError> {
        let mut conn = self.db.conn().await?;
        let deleted = sqlx::query("DELETE FROM todos WHERE id = $1 AND version = $2")
            .bind(id.as_uuid())
            .bind(expected.get())
            .execute(&mut *conn)
            .await
            .map_err(|e| error::write("delete todo", e))?;
        if deleted.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Self::explain_miss(&mut conn, id).await)
        }
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.list", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn list(&self, query: &TodoQuery) -> Result<Vec<Todo>, InfraError> {
        // Only the filters that are set go into the SQL, so each combination gets a plan
        // that uses the matching index (see the todos migration).
        let mut sql = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            columns!(),
            " FROM todos WHERE owner_id = "
        ));
        sql.push_bind(query.owner.as_uuid());
        if let Some(status) = query.status {
            sql.push(" AND (completed_at IS NOT NULL) = ")
                .push_bind(status == TodoStatus::Done);
        }
        if let Some(tag) = &query.tag {
            sql.push(" AND tags @> ARRAY[")
                .push_bind(tag.as_str().to_owned())
                .push("]::text[]");
        }
        if let Some(cursor) = query.before {
            sql.push(" AND id < ").push_bind(cursor.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));

        let mut conn = self.db.conn().await?;
        let records = sql
            .build_query_as::<TodoRow>()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| error::infra("list todos", e))?;
        records
            .into_iter()
            .map(|TodoRow(r)| Todo::try_from(r).map_err(InfraError::from))
            .collect()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.open_due_between", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn open_due_between(
        &self,
        first: DueDate,
        last: DueDate,
        after: Option<TodoId>,
        limit: u32,
    ) -> Result<Vec<Todo>, InfraError> {
        // Served by `todos_open_due_date_idx`; the nil UUID sorts before every real id.
        let after = after.map_or(uuid::Uuid::nil(), |id| id.as_uuid());
        let mut conn = self.db.conn().await?;
        let records = sqlx::query_as::<_, TodoRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM todos WHERE completed_at IS NULL AND due_date BETWEEN $1 AND $2",
            " AND id > $3 ORDER BY id LIMIT $4"
        ))
        .bind(first.get())
        .bind(last.get())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| error::infra("list todos falling due", e))?;
        records
            .into_iter()
            .map(|TodoRow(r)| Todo::try_from(r).map_err(InfraError::from))
            .collect()
    }

    #[tracing::instrument(target = "ports", level = "debug", name = "db.todos.count_by_owner", skip_all, fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn count_by_owner(
        &self,
        owners: &[UserId],
        status: Option<TodoStatus>,
    ) -> Result<HashMap<UserId, u64>, InfraError> {
        let ids: Vec<uuid::Uuid> = owners.iter().map(UserId::as_uuid).collect();
        // One statement for every owner; `owner_id = ANY($1)` walks the owner index once
        // per owner, and the status filter matches the status index's expression.
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT owner_id, count(*) FROM todos WHERE owner_id = ANY(",
        );
        sql.push_bind(ids).push(")");
        if let Some(status) = status {
            sql.push(" AND (completed_at IS NOT NULL) = ")
                .push_bind(status == TodoStatus::Done);
        }
        sql.push(" GROUP BY owner_id");
        let mut conn = self.db.conn().await?;
        let rows: Vec<(uuid::Uuid, i64)> = sql
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| error::infra("count todos", e))?;
        let mut counts: HashMap<UserId, u64> = owners.iter().map(|o| (*o, 0)).collect();
        for (owner, count) in rows {
            // A count is never negative; 0 would be the safe reading of a broken one.
            counts.insert(UserId::from_uuid(owner), u64::try_from(count).unwrap_or(0));
        }
        Ok(counts)
    }
}
