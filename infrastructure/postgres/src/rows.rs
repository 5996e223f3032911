//! Reading rows into the storage records that the driven adapters share.
//!
//! The records crate knows no database driver, so the mapping from columns to fields is
//! written here, by name: a renamed column fails loudly in the contract tests instead of
//! shifting values between fields.

use driven_records::{TodoRecord, UserRecord};
use sqlx::{FromRow, Row, postgres::PgRow};

/// A `todos` row.
pub(crate) struct TodoRow(pub(crate) TodoRecord);

impl FromRow<'_, PgRow> for TodoRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self(TodoRecord {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            tags: row.try_get("tags")?,
            due_date: row.try_get("due_date")?,
            completed_at: row.try_get("completed_at")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        }))
    }
}

/// A `users` row.
pub(crate) struct UserRow(pub(crate) UserRecord);

impl FromRow<'_, PgRow> for UserRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self(UserRecord {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
            created_at: row.try_get("created_at")?,
        }))
    }
}
