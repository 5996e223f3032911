//! Outbox messages as stored (Postgres `jsonb`) and as published (Redis stream entries).

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    event::{MessageId, OutboxMessage, Reminder, TodoChange, TodoEvent},
    todo::{DueDate, Tag, Title, TodoId, Version},
    user::UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::CorruptRecord;

/// A todo event as stored and published. `event` is the stable name (`todo.tagged`), and
/// `tag` is present exactly for the tag events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodoEventRecord {
    pub id: Uuid,
    pub event: String,
    pub occurred_at: DateTime<Utc>,
    pub owner_id: Uuid,
    pub todo_id: Uuid,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl From<&TodoEvent> for TodoEventRecord {
    fn from(e: &TodoEvent) -> Self {
        let tag = match &e.change {
            TodoChange::Tagged(tag) | TodoChange::Untagged(tag) => Some(tag.as_str().to_owned()),
            _ => None,
        };
        Self {
            id: e.id.as_uuid(),
            event: e.change.name().to_owned(),
            occurred_at: e.occurred_at,
            owner_id: e.owner.as_uuid(),
            todo_id: e.todo_id.as_uuid(),
            version: e.version.get(),
            tag,
        }
    }
}

impl TryFrom<TodoEventRecord> for TodoEvent {
    type Error = CorruptRecord;

    fn try_from(r: TodoEventRecord) -> Result<Self, Self::Error> {
        let corrupt = |field| CorruptRecord {
            entity: "todo event",
            id: r.id,
            field,
        };
        let tag = || {
            r.tag
                .as_deref()
                .and_then(|t| Tag::new(t).ok())
                .ok_or_else(|| corrupt("tag"))
        };
        let change = match r.event.as_str() {
            "todo.created" => TodoChange::Created,
            "todo.updated" => TodoChange::Updated,
            "todo.completed" => TodoChange::Completed,
            "todo.reopened" => TodoChange::Reopened,
            "todo.tagged" => TodoChange::Tagged(tag()?),
            "todo.untagged" => TodoChange::Untagged(tag()?),
            "todo.deleted" => TodoChange::Deleted,
            _ => return Err(corrupt("event")),
        };
        Ok(TodoEvent {
            id: MessageId::from_uuid(r.id),
            occurred_at: r.occurred_at,
            owner: UserId::from_uuid(r.owner_id),
            todo_id: TodoId::from_uuid(r.todo_id),
            version: Version::new(r.version).map_err(|_| corrupt("version"))?,
            change,
        })
    }
}

/// A reminder as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub todo_id: Uuid,
    pub title: String,
    pub due_date: NaiveDate,
}

impl From<&Reminder> for ReminderRecord {
    fn from(r: &Reminder) -> Self {
        Self {
            id: r.id.as_uuid(),
            owner_id: r.owner.as_uuid(),
            todo_id: r.todo_id.as_uuid(),
            title: r.title.as_str().to_owned(),
            due_date: r.due_date.get(),
        }
    }
}

impl TryFrom<ReminderRecord> for Reminder {
    type Error = CorruptRecord;

    fn try_from(r: ReminderRecord) -> Result<Self, Self::Error> {
        let corrupt = |field| CorruptRecord {
            entity: "reminder",
            id: r.id,
            field,
        };
        Ok(Reminder {
            id: MessageId::from_uuid(r.id),
            owner: UserId::from_uuid(r.owner_id),
            todo_id: TodoId::from_uuid(r.todo_id),
            title: Title::new(&r.title).map_err(|_| corrupt("title"))?,
            due_date: DueDate::new(r.due_date).map_err(|_| corrupt("due_date"))?,
        })
    }
}

/// Any outbox message as stored; `type` says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageRecord {
    TodoEvent(TodoEventRecord),
    Reminder(ReminderRecord),
}

impl From<&OutboxMessage> for MessageRecord {
    fn from(message: &OutboxMessage) -> Self {
        match message {
            OutboxMessage::TodoEvent(e) => MessageRecord::TodoEvent(e.into()),
            OutboxMessage::Reminder(r) => MessageRecord::Reminder(r.into()),
        }
    }
}

impl TryFrom<MessageRecord> for OutboxMessage {
    type Error = CorruptRecord;

    fn try_from(record: MessageRecord) -> Result<Self, Self::Error> {
        Ok(match record {
            MessageRecord::TodoEvent(e) => OutboxMessage::TodoEvent(e.try_into()?),
            MessageRecord::Reminder(r) => OutboxMessage::Reminder(r.try_into()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event(change: TodoChange) -> TodoEvent {
        TodoEvent {
            id: MessageId::from_uuid(Uuid::now_v7()),
            occurred_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
            owner: UserId::from_uuid(Uuid::now_v7()),
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            version: Version::new(3).unwrap(),
            change,
        }
    }

    #[test]
    fn every_message_survives_the_json_round_trip() {
        let tag = Tag::new("home").unwrap();
        let mut messages: Vec<OutboxMessage> = [
            TodoChange::Created,
            TodoChange::Updated,
            TodoChange::Completed,
            TodoChange::Reopened,
            TodoChange::Tagged(tag.clone()),
            TodoChange::Untagged(tag),
            TodoChange::Deleted,
        ]
        .into_iter()
        .map(|c| OutboxMessage::TodoEvent(event(c)))
        .collect();
        messages.push(OutboxMessage::Reminder(Reminder {
            id: MessageId::from_uuid(Uuid::now_v7()),
            owner: UserId::from_uuid(Uuid::now_v7()),
            todo_id: TodoId::from_uuid(Uuid::now_v7()),
            title: Title::new("Pay rent").unwrap(),
            due_date: DueDate::parse("2026-03-02").unwrap(),
        }));
        for message in messages {
            let json = serde_json::to_string(&MessageRecord::from(&message)).unwrap();
            let back: MessageRecord = serde_json::from_str(&json).unwrap();
            assert_eq!(OutboxMessage::try_from(back).unwrap(), message, "{json}");
        }
    }

    #[test]
    fn an_unknown_event_or_a_tag_event_without_its_tag_is_corrupt() {
        let mut record = TodoEventRecord::from(&event(TodoChange::Created));
        record.event = "todo.exploded".into();
        assert!(TodoEvent::try_from(record.clone()).is_err());
        record.event = "todo.tagged".into();
        assert!(TodoEvent::try_from(record).is_err());
    }
}
