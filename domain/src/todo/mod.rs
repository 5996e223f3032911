//! The todo aggregate: a user's task, and the rules for changing it.
//!
//! Behaviour lives on [`Todo`]: each change is a method that returns whether anything
//! changed. A real change bumps [`Version`] and `updated_at`; a no-op (completing a done
//! todo, adding a tag it already has, renaming to the same title) changes nothing, so a
//! client repeating a request never causes a spurious conflict for another client.

mod due_date;
mod values;

pub use due_date::{DueDate, DueDateError};
pub use values::{
    Description, DescriptionError, Tag, TagError, Tags, Title, TitleError, TooManyTags,
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::user::UserId;

/// The identity of a todo: a UUIDv7, so ids sort by creation time and serve as cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TodoId(Uuid);

impl TodoId {
    /// Wraps an id from the [`IdGenerator`](crate::ports::IdGenerator) or from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The id as a UUID, for storage and transport.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for TodoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How many times a todo has changed: 1 when created, one more for every change.
///
/// Clients send back the version they saw; a write against any other version is a
/// conflict. This is optimistic concurrency: nobody holds a lock, and nobody silently
/// overwrites someone else's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

/// A version number below 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a version is a whole number from 1 up")]
pub struct VersionError;

impl Version {
    /// The version of a todo that was just created.
    pub const INITIAL: Version = Version(1);

    /// The text form of a version (an ETag's inside, a gRPC `etag`), as a regular
    /// expression: plain decimal digits, no sign, no leading zero, at most 18 of them (so
    /// it fits in an `i64`). What [`Version::parse`] accepts.
    pub const PATTERN: &'static str = "^[1-9][0-9]{0,17}$";

    /// The version `text` spells in its one text form, [`Version::PATTERN`]. `"+1"`, `"01"`
    /// and `" 1"` are refused, though a number parser would read them: every protocol
    /// accepts exactly the same text.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let well_formed = matches!(text.as_bytes(), [b'1'..=b'9', rest @ ..]
            if rest.len() <= 17 && rest.iter().all(u8::is_ascii_digit));
        if !well_formed {
            return Err(VersionError);
        }
        text.parse::<i64>()
            .map_err(|_| VersionError)
            .and_then(Self::new)
    }

    /// Accepts a version from storage or from a client.
    pub fn new(n: i64) -> Result<Self, VersionError> {
        if n >= 1 {
            Ok(Self(n))
        } else {
            Err(VersionError)
        }
    }

    /// The version as a number.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The version after this one. A deleted todo's cache entry is invalidated with the
    /// version after its last, so that no copy of any version it had can be cached again.
    pub fn next(self) -> Self {
        // Saturating: a todo would need 2^63 changes to get here.
        Self(self.0.saturating_add(1))
    }
}

/// Whether a todo is still to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TodoStatus {
    /// Not done yet.
    Open,
    /// Completed; `completed_at` says when.
    Done,
}

impl TodoStatus {
    /// The stable lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TodoStatus::Open => "open",
            TodoStatus::Done => "done",
        }
    }
}

/// What a new todo starts with, apart from the fields the system assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTodo {
    /// The title.
    pub title: Title,
    /// An optional description.
    pub description: Option<Description>,
    /// An optional due date.
    pub due_date: Option<DueDate>,
    /// The initial tags.
    pub tags: Tags,
}

/// Edits to the plain fields of a todo. `None` leaves a field as it is; for the optional
/// fields, `Some(None)` clears them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TodoChanges {
    /// A new title.
    pub title: Option<Title>,
    /// A new description, or `Some(None)` to remove it.
    pub description: Option<Option<Description>>,
    /// A new due date, or `Some(None)` to remove it.
    pub due_date: Option<Option<DueDate>>,
}

/// Every field of a todo, as storage holds it. Used to rebuild a [`Todo`] in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoSnapshot {
    /// See [`Todo::id`].
    pub id: TodoId,
    /// See [`Todo::owner`].
    pub owner: UserId,
    /// See [`Todo::title`].
    pub title: Title,
    /// See [`Todo::description`].
    pub description: Option<Description>,
    /// See [`Todo::tags`].
    pub tags: Tags,
    /// See [`Todo::due_date`].
    pub due_date: Option<DueDate>,
    /// See [`Todo::completed_at`]; `Some` exactly when the todo is done.
    pub completed_at: Option<DateTime<Utc>>,
    /// See [`Todo::version`].
    pub version: Version,
    /// See [`Todo::created_at`].
    pub created_at: DateTime<Utc>,
    /// See [`Todo::updated_at`].
    pub updated_at: DateTime<Utc>,
}

/// A todo owned by one user.
///
/// The status is derived from `completed_at`, so "done but never completed" cannot be
/// represented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    snapshot: TodoSnapshot,
}

impl Todo {
    /// A new open todo at version 1.
    pub fn create(id: TodoId, owner: UserId, new: NewTodo, now: DateTime<Utc>) -> Self {
        Self {
            snapshot: TodoSnapshot {
                id,
                owner,
                title: new.title,
                description: new.description,
                tags: new.tags,
                due_date: new.due_date,
                completed_at: None,
                version: Version::INITIAL,
                created_at: now,
                updated_at: now,
            },
        }
    }

    /// Rebuilds a todo that was stored earlier.
    pub fn restore(snapshot: TodoSnapshot) -> Self {
        Self { snapshot }
    }

    /// All fields, for storage.
    pub fn snapshot(&self) -> &TodoSnapshot {
        &self.snapshot
    }

    /// The todo's id.
    pub fn id(&self) -> TodoId {
        self.snapshot.id
    }
    /// The user who owns the todo; nobody else may see it.
    pub fn owner(&self) -> UserId {
        self.snapshot.owner
    }
    /// The title.
    pub fn title(&self) -> &Title {
        &self.snapshot.title
    }
    /// The description, if any.
    pub fn description(&self) -> Option<&Description> {
        self.snapshot.description.as_ref()
    }
    /// The tags, sorted.
    pub fn tags(&self) -> &Tags {
        &self.snapshot.tags
    }
    /// The due date, if any.
    pub fn due_date(&self) -> Option<DueDate> {
        self.snapshot.due_date
    }
    /// Open or done.
    pub fn status(&self) -> TodoStatus {
        match self.snapshot.completed_at {
            Some(_) => TodoStatus::Done,
            None => TodoStatus::Open,
        }
    }
    /// When the todo was completed, if it is done.
    pub fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.snapshot.completed_at
    }
    /// The current version.
    pub fn version(&self) -> Version {
        self.snapshot.version
    }
    /// When the todo was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.snapshot.created_at
    }
    /// When the todo last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.snapshot.updated_at
    }

    /// Marks the todo done. A no-op (false) if it already is; the first completion time is
    /// kept.
    pub fn complete(&mut self, now: DateTime<Utc>) -> bool {
        if self.snapshot.completed_at.is_some() {
            return false;
        }
        self.snapshot.completed_at = Some(now);
        self.touch(now)
    }

    /// Marks the todo open again. A no-op (false) if it is open.
    pub fn reopen(&mut self, now: DateTime<Utc>) -> bool {
        if self.snapshot.completed_at.is_none() {
            return false;
        }
        self.snapshot.completed_at = None;
        self.touch(now)
    }

    /// Applies `changes` as one change (one version step). False if every field already had
    /// the requested value.
    pub fn apply(&mut self, changes: TodoChanges, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        if let Some(title) = changes.title {
            changed |= replace(&mut self.snapshot.title, title);
        }
        if let Some(description) = changes.description {
            changed |= replace(&mut self.snapshot.description, description);
        }
        if let Some(due_date) = changes.due_date {
            changed |= replace(&mut self.snapshot.due_date, due_date);
        }
        changed && self.touch(now)
    }

    /// Adds `tag`. `Ok(false)` if the todo already has it (even when it has the maximum).
    pub fn add_tag(&mut self, tag: Tag, now: DateTime<Utc>) -> Result<bool, TooManyTags> {
        let added = self.snapshot.tags.insert(tag)?;
        Ok(added && self.touch(now))
    }

    /// Removes `tag`. A no-op (false) if the todo does not have it.
    pub fn remove_tag(&mut self, tag: &Tag, now: DateTime<Utc>) -> bool {
        self.snapshot.tags.remove(tag) && self.touch(now)
    }

    /// Records a change: the next version, and the time. Returns true for chaining.
    fn touch(&mut self, now: DateTime<Utc>) -> bool {
        self.snapshot.version = self.snapshot.version.next();
        self.snapshot.updated_at = now;
        true
    }
}

/// Sets `*slot` to `value`; true if that changed it.
fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        false
    } else {
        *slot = value;
        true
    }
}

#[cfg(test)]
mod tests;
