//! Plain, storage-shaped records and their conversion to and from domain types: a support
//! crate shared by the driven adapters.
//!
//! Postgres rows and Redis values have the same shape, so one record type serves both: the
//! Postgres adapter reads its rows into these by hand; the Redis adapter stores sessions
//! and cached todos in the [`compact`] binary form, and outbox messages as JSON. Only serde
//! and its formats are dependencies here, so neither driver leaks into the other adapter.
//! Reading a record back goes through the domain constructors: data that was edited by hand
//! or written by a buggy release is reported as corrupt instead of becoming an invalid
//! entity.

pub mod compact;
mod idempotency;
mod messages;

pub use idempotency::OutcomeRecord;
pub use messages::{MessageRecord, ReminderRecord, TodoEventRecord};

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    error::InfraError,
    session::Session,
    todo::{Description, DueDate, Tag, Tags, Title, Todo, TodoId, TodoSnapshot, Version},
    user::{DisplayName, Email, PasswordHash, Role, User, UserId},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stored value that breaks a domain rule.
#[derive(Debug, thiserror::Error)]
#[error("stored {entity} {id} has an invalid {field}")]
pub struct CorruptRecord {
    entity: &'static str,
    id: Uuid,
    field: &'static str,
}

impl From<CorruptRecord> for InfraError {
    fn from(error: CorruptRecord) -> Self {
        InfraError::internal("read stored record", error)
    }
}

/// A todo as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TodoRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub due_date: Option<NaiveDate>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Todo> for TodoRecord {
    fn from(todo: &Todo) -> Self {
        let s = todo.snapshot();
        Self {
            id: s.id.as_uuid(),
            owner_id: s.owner.as_uuid(),
            title: s.title.as_str().to_owned(),
            description: s.description.as_ref().map(|d| d.as_str().to_owned()),
            tags: s.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            due_date: s.due_date.map(DueDate::get),
            completed_at: s.completed_at,
            version: s.version.get(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

impl TryFrom<TodoRecord> for Todo {
    type Error = CorruptRecord;

    fn try_from(r: TodoRecord) -> Result<Self, Self::Error> {
        let corrupt = |field| CorruptRecord {
            entity: "todo",
            id: r.id,
            field,
        };
        let tags = r
            .tags
            .iter()
            .map(|t| Tag::new(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("tag"))?;
        Ok(Todo::restore(TodoSnapshot {
            id: TodoId::from_uuid(r.id),
            owner: UserId::from_uuid(r.owner_id),
            title: Title::new(&r.title).map_err(|_| corrupt("title"))?,
            description: r
                .description
                .as_deref()
                .map(Description::new)
                .transpose()
                .map_err(|_| corrupt("description"))?,
            tags: Tags::new(tags).map_err(|_| corrupt("tags"))?,
            due_date: r
                .due_date
                .map(DueDate::new)
                .transpose()
                .map_err(|_| corrupt("due_date"))?,
            completed_at: r.completed_at,
            version: Version::new(r.version).map_err(|_| corrupt("version"))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }))
    }
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRecord> for User {
    type Error = CorruptRecord;

    fn try_from(r: UserRecord) -> Result<Self, Self::Error> {
        let corrupt = |field| CorruptRecord {
            entity: "user",
            id: r.id,
            field,
        };
        Ok(User {
            id: UserId::from_uuid(r.id),
            email: Email::parse(&r.email).map_err(|_| corrupt("email"))?,
            display_name: DisplayName::new(&r.display_name).map_err(|_| corrupt("display_name"))?,
            password_hash: PasswordHash::new(r.password_hash),
            role: r.role.parse::<Role>().map_err(|_| corrupt("role"))?,
            created_at: r.created_at,
        })
    }
}

/// A session as stored; the token hash is the storage key, not part of the value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: Uuid,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<&Session> for SessionRecord {
    fn from(s: &Session) -> Self {
        Self {
            user_id: s.user_id.as_uuid(),
            role: s.role.as_str().to_owned(),
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }
}

impl SessionRecord {
    /// The session stored under `token_hash`.
    pub fn into_session(
        self,
        token_hash: domain::session::SessionTokenHash,
    ) -> Result<Session, CorruptRecord> {
        Ok(Session {
            token_hash,
            user_id: UserId::from_uuid(self.user_id),
            role: self.role.parse().map_err(|_| CorruptRecord {
                entity: "session of user",
                id: self.user_id,
                field: "role",
            })?,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_todo_survives_the_record_round_trip() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut todo = Todo::create(
            TodoId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
            domain::todo::NewTodo {
                title: Title::new("Title").unwrap(),
                description: Some(Description::new("multi\nline").unwrap()),
                due_date: DueDate::parse("2026-03-02").ok(),
                tags: Tags::new([Tag::new("b").unwrap(), Tag::new("a").unwrap()]).unwrap(),
            },
            now,
        );
        todo.complete(now);
        let json = serde_json::to_string(&TodoRecord::from(&todo)).unwrap();
        let back: TodoRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(Todo::try_from(back).unwrap(), todo);
    }

    #[test]
    fn a_record_that_breaks_a_rule_is_corrupt() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let record = TodoRecord {
            id: Uuid::now_v7(),
            owner_id: Uuid::now_v7(),
            title: "ok".into(),
            description: None,
            tags: vec!["Not A Tag".into()],
            due_date: None,
            completed_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let err = Todo::try_from(record.clone()).unwrap_err();
        assert!(err.to_string().contains("tag"), "{err}");
        let err = Todo::try_from(TodoRecord {
            tags: vec![],
            version: 0,
            ..record
        })
        .unwrap_err();
        assert!(err.to_string().contains("version"), "{err}");
    }
}
