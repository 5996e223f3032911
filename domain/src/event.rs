//! Domain events, reminders, and the messages the outbox carries to the worker.
//!
//! A [`TodoEvent`] says what happened to a todo. The use case that makes the change records
//! the event through the transaction's [`Outbox`](crate::ports::Outbox), so the change and
//! its event are committed together or not at all. The worker later delivers it, at least
//! once, to the [`EventPublisher`](crate::ports::EventPublisher).
//!
//! A [`Reminder`] is work of another kind that travels the same way: the periodic reminder
//! job enqueues one per todo that falls due soon, and the worker hands it to the
//! [`Notifier`](crate::ports::Notifier). Both are [`OutboxMessage`]s, so retries, dead
//! letters and metrics work the same for both.

use std::fmt;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{
    todo::{DueDate, Tag, Title, Todo, TodoId, Version},
    user::UserId,
};

/// Identifies one outbox message: a UUIDv7, so messages sort by the time they were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(Uuid);

impl MessageId {
    /// Wraps an id from the [`IdGenerator`](crate::ports::IdGenerator).
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The event id `raw` names as a client sends it back (to resume after it), or `None`
    /// when it cannot be one: every event id is a UUIDv7 in the hyphenated form. So a nil
    /// id, a v4 or a cursor in another form is refused at once, before any search.
    pub fn parse(raw: &str) -> Option<Self> {
        crate::id::parse_uuid(raw)
            .filter(|id| id.get_version() == Some(uuid::Version::SortRand))
            .map(Self)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What happened to a todo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TodoChange {
    /// It was created.
    Created,
    /// Its title, description or due date changed.
    Updated,
    /// It was completed.
    Completed,
    /// It was reopened.
    Reopened,
    /// This tag was added.
    Tagged(Tag),
    /// This tag was removed.
    Untagged(Tag),
    /// It was deleted.
    Deleted,
}

impl TodoChange {
    /// The stable name of the event, such as `todo.created`: what storage and consumers
    /// see.
    pub fn name(&self) -> &'static str {
        match self {
            TodoChange::Created => "todo.created",
            TodoChange::Updated => "todo.updated",
            TodoChange::Completed => "todo.completed",
            TodoChange::Reopened => "todo.reopened",
            TodoChange::Tagged(_) => "todo.tagged",
            TodoChange::Untagged(_) => "todo.untagged",
            TodoChange::Deleted => "todo.deleted",
        }
    }
}

/// One change to one todo, as its consumers learn of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoEvent {
    /// The event's own id (UUIDv7); consumers use it to drop a repeat delivery.
    pub id: MessageId,
    /// When the change was made.
    pub occurred_at: DateTime<Utc>,
    /// Whose todo it is.
    pub owner: UserId,
    /// Which todo.
    pub todo_id: TodoId,
    /// The todo's version after the change. For a deletion, the version after the deleted
    /// one, so that versions keep increasing through the todo's whole life.
    pub version: Version,
    /// What happened.
    pub change: TodoChange,
}

impl TodoEvent {
    /// The event of `change`, which left `todo` as it is now (for a deletion: as it was
    /// when deleted).
    pub fn of(id: MessageId, occurred_at: DateTime<Utc>, todo: &Todo, change: TodoChange) -> Self {
        let version = match change {
            TodoChange::Deleted => todo.version().next(),
            _ => todo.version(),
        };
        Self {
            id,
            occurred_at,
            owner: todo.owner(),
            todo_id: todo.id(),
            version,
            change,
        }
    }
}

/// A nudge that an open todo falls due soon.
///
/// A todo due on day D is due by the end of D, in UTC: its deadline is midnight at the
/// start of D + 1. Each (todo, due date) pair is reminded of once; changing the due date
/// makes a new pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// The message's id (UUIDv7); also the idempotency key a receiver can drop repeats by.
    pub id: MessageId,
    /// Whose todo it is.
    pub owner: UserId,
    /// Which todo.
    pub todo_id: TodoId,
    /// Its title when the reminder was made.
    pub title: Title,
    /// The day it is due.
    pub due_date: DueDate,
}

impl Reminder {
    /// The instant a todo due on `date` is due: the end of that day, in UTC. For the last
    /// representable day that is just past its end, which is never within reach anyway.
    pub fn deadline_of(date: DueDate) -> DateTime<Utc> {
        let day = date.get();
        let next = day.succ_opt().unwrap_or(day);
        next.and_time(NaiveTime::MIN).and_utc()
    }

    /// The due dates whose deadline falls in `(from, from + window]`, as an inclusive
    /// range: the todos a reminder tick at `from` looks for. `None` when no day's deadline
    /// falls in the window (a window shorter than a day that does not cross midnight).
    pub fn due_dates_within(from: DateTime<Utc>, window: TimeDelta) -> Option<(DueDate, DueDate)> {
        Self::due_dates_between(from, from + window)
    }

    /// The due dates whose deadline falls in `(from, until]`, as an inclusive range, or
    /// `None` when no day's deadline does.
    pub fn due_dates_between(
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<(DueDate, DueDate)> {
        // Day D's deadline (the start of D + 1) is after `from` exactly when D is `from`'s
        // day or later, and at or before `until` exactly when D + 1 is `until`'s day or
        // earlier.
        let first = from.date_naive();
        let last = until.date_naive().pred_opt()?;
        if last < first {
            return None;
        }
        Some((DueDate::new(first).ok()?, DueDate::new(last).ok()?))
    }

    /// The key that makes a reminder unique: one per todo and due date.
    pub fn dedupe_key(&self) -> String {
        format!("reminder:{}:{}", self.todo_id, self.due_date)
    }
}

/// Work for the worker, recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxMessage {
    /// A todo changed: publish it.
    TodoEvent(TodoEvent),
    /// A todo falls due soon: notify its owner.
    Reminder(Reminder),
}

impl OutboxMessage {
    /// What the message is delivered in order with: the todo, for a todo event (its events
    /// go out in the order they were recorded, so a subscriber sees version 2 before
    /// version 3); nothing for a reminder.
    pub fn ordering_key(&self) -> Option<uuid::Uuid> {
        match self {
            Self::TodoEvent(event) => Some(event.todo_id.as_uuid()),
            Self::Reminder(_) => None,
        }
    }

    /// The message's id.
    pub fn id(&self) -> MessageId {
        match self {
            OutboxMessage::TodoEvent(event) => event.id,
            OutboxMessage::Reminder(reminder) => reminder.id,
        }
    }

    /// The kind of job, for metrics and listings: `todo_event` or `reminder`.
    pub fn kind(&self) -> JobKind {
        match self {
            OutboxMessage::TodoEvent(_) => JobKind::TodoEvent,
            OutboxMessage::Reminder(_) => JobKind::Reminder,
        }
    }

    /// A key that no other message may share, when the message must exist only once
    /// (reminders); `None` when every message is distinct anyway (events).
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            OutboxMessage::TodoEvent(_) => None,
            OutboxMessage::Reminder(reminder) => Some(reminder.dedupe_key()),
        }
    }
}

/// The kinds of job the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Publish a [`TodoEvent`].
    TodoEvent,
    /// Send a [`Reminder`].
    Reminder,
}

impl JobKind {
    /// Every kind, for metrics that list them all.
    pub const ALL: [JobKind; 2] = [JobKind::TodoEvent, JobKind::Reminder];

    /// The stable name used in storage, metrics and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::TodoEvent => "todo_event",
            JobKind::Reminder => "reminder",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::todo::{NewTodo, Tags};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).unwrap()
    }

    fn date(s: &str) -> DueDate {
        DueDate::parse(s).unwrap()
    }

    #[test]
    fn a_day_is_due_at_its_end() {
        assert_eq!(
            Reminder::deadline_of(date("2026-03-10")),
            Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn an_hour_before_midnight_looks_at_todays_todos_only() {
        assert_eq!(
            Reminder::due_dates_within(at(23, 5), TimeDelta::hours(1)),
            Some((date("2026-03-10"), date("2026-03-10")))
        );
        // The window (22:00, 23:00] holds no midnight.
        assert_eq!(
            Reminder::due_dates_within(at(22, 0), TimeDelta::hours(1)),
            None
        );
        // (23:00, 00:00] holds exactly tonight's.
        assert_eq!(
            Reminder::due_dates_within(at(23, 0), TimeDelta::hours(1)),
            Some((date("2026-03-10"), date("2026-03-10")))
        );
    }

    #[test]
    fn a_window_of_days_spans_their_dates() {
        assert_eq!(
            Reminder::due_dates_within(at(12, 0), TimeDelta::days(2)),
            Some((date("2026-03-10"), date("2026-03-11")))
        );
    }

    #[test]
    fn a_deletion_carries_the_version_after_the_deleted_one() {
        let todo = Todo::create(
            TodoId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
            NewTodo {
                title: Title::new("x").unwrap(),
                description: None,
                due_date: None,
                tags: Tags::default(),
            },
            at(9, 0),
        );
        let id = MessageId::from_uuid(Uuid::now_v7());
        let deleted = TodoEvent::of(id, at(10, 0), &todo, TodoChange::Deleted);
        assert_eq!(deleted.version.get(), 2);
        assert_eq!(deleted.owner, todo.owner());
        let created = TodoEvent::of(id, at(10, 0), &todo, TodoChange::Created);
        assert_eq!(created.version.get(), 1);
        assert_eq!(created.change.name(), "todo.created");
    }

    #[test]
    fn reminders_are_unique_per_todo_and_due_date() {
        let todo_id = TodoId::from_uuid(Uuid::from_u128(7));
        let reminder = |day: &str| Reminder {
            id: MessageId::from_uuid(Uuid::now_v7()),
            owner: UserId::from_uuid(Uuid::from_u128(1)),
            todo_id,
            title: Title::new("x").unwrap(),
            due_date: date(day),
        };
        assert_eq!(
            reminder("2026-03-10").dedupe_key(),
            reminder("2026-03-10").dedupe_key()
        );
        assert_ne!(
            reminder("2026-03-10").dedupe_key(),
            reminder("2026-03-11").dedupe_key()
        );
    }
}
