//! The input types, and their parsing into domain values at the edge.
//!
//! Inputs arrive as plain strings and numbers; each is parsed with the domain's own
//! constructors, collecting one message per invalid field, so a client learns everything
//! wrong with its input at once (`extensions.fields`), exactly as REST reports it.

use application::{AppError, FieldViolations, todos::TodoFilter, users::Registration};
use async_graphql::{ID, InputObject, MaybeUndefined};
use domain::{
    idempotency::IdempotencyKey,
    pagination::PageSize,
    todo::{Description, DueDate, NewTodo, Tag, Title, TodoChanges, TodoId, TodoStatus, Version},
    user::{DisplayName, Email, Password, UserId},
};
use uuid::Uuid;

/// A todo id from an `ID` argument. Anything that is not a UUID names no todo, so it is
/// "not found", as on every protocol.
pub(crate) fn todo_id(id: &ID) -> Result<TodoId, AppError> {
    domain::id::parse_uuid(id.as_str())
        .map(TodoId::from_uuid)
        .ok_or_else(|| AppError::not_found("no such todo"))
}

/// The version the client read.
pub(crate) fn version(field: &str, raw: i64) -> Result<Version, AppError> {
    let mut f = FieldViolations::default();
    let version = f.check(field, Version::new(raw));
    f.finish(version)
}

/// An `idempotencyKey` argument, when given.
pub(crate) fn idempotency_key(raw: Option<&str>) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let mut f = FieldViolations::default();
    let key = f.check("idempotencyKey", IdempotencyKey::new(raw));
    f.finish(key).map(Some)
}

/// A tag argument.
pub(crate) fn tag(raw: &str) -> Result<Tag, AppError> {
    let mut f = FieldViolations::default();
    let tag = f.check("tag", Tag::new(raw));
    f.finish(tag)
}

/// `first` and `after` of a connection: a page size and a cursor (an id from an edge).
fn page(
    f: &mut FieldViolations,
    first: Option<i32>,
    after: Option<&str>,
) -> (PageSize, Option<Uuid>) {
    let size = first
        .and_then(|n| {
            f.check(
                "first",
                u64::try_from(n)
                    .map_err(|_| domain::pagination::PageSizeError)
                    .and_then(PageSize::new),
            )
        })
        .unwrap_or_default();
    let cursor = after.and_then(|c| {
        f.check(
            "after",
            domain::id::parse_uuid(c).ok_or("must be a cursor from an edge of an earlier page"),
        )
    });
    (size, cursor)
}

/// The arguments of `todos`.
pub(crate) fn todo_filter(
    first: Option<i32>,
    after: Option<&str>,
    status: Option<TodoStatus>,
    tag: Option<&str>,
) -> Result<TodoFilter, AppError> {
    let mut f = FieldViolations::default();
    let (size, cursor) = page(&mut f, first, after);
    let tag = tag.and_then(|t| f.check("tag", Tag::new(t)));
    f.finish(Some(TodoFilter {
        status,
        tag,
        cursor: cursor.map(TodoId::from_uuid),
        size,
    }))
}

/// The arguments of `users`.
pub(crate) fn user_page(
    first: Option<i32>,
    after: Option<&str>,
) -> Result<(Option<UserId>, PageSize), AppError> {
    let mut f = FieldViolations::default();
    let (size, cursor) = page(&mut f, first, after);
    f.finish(Some((cursor.map(UserId::from_uuid), size)))
}

/// A new account.
#[derive(InputObject, Debug)]
pub(crate) struct RegisterInput {
    /// An ASCII address such as `ann@example.org`: dot-separated runs of letters, digits
    /// and ``!#$%&'*+/=?^_`{|}~-`` (at most 64 characters), `@`, and two or more labels of
    /// letters, digits and inner hyphens (each at most 63); at most 254 characters once
    /// trimmed; stored lowercased. The REST document gives it as patterns.
    email: String,
    /// 8 to 128 characters, any, kept exactly (not trimmed).
    password: String,
    /// 1 to 64 characters once trimmed, no control characters (one line).
    display_name: String,
}

impl RegisterInput {
    pub(crate) fn parse(self) -> Result<Registration, AppError> {
        let mut f = FieldViolations::default();
        let email = f.check("email", Email::parse(&self.email));
        let password = f.check("password", Password::new(self.password));
        let display_name = f.check("displayName", DisplayName::new(&self.display_name));
        let parsed = match (email, password, display_name) {
            (Some(email), Some(password), Some(display_name)) => Some(Registration {
                email,
                display_name,
                password,
            }),
            _ => None,
        };
        f.finish(parsed)
    }
}

/// A todo to create.
#[derive(InputObject, Debug)]
pub(crate) struct CreateTodoInput {
    /// 1 to 200 characters once trimmed, no control characters (one line).
    title: String,
    /// Up to 10,000 characters, not blank, kept as written; line breaks and tabs are the
    /// only control characters allowed. `null` is the same as leaving it out.
    description: Option<String>,
    /// A day of the calendar written `YYYY-MM-DD`, from 0001-01-01 to 9999-12-31. `null` is
    /// the same as leaving it out.
    due_date: Option<String>,
    /// Up to 20 tags as sent, repeats included (21 tags of which 20 differ are too many),
    /// each 1 to 32 of `a-z`, `A-Z`, `0-9` and `-` with ASCII white space around; stored
    /// trimmed and lowercased, a repeat kept once.
    #[graphql(default)]
    tags: Vec<String>,
}

impl CreateTodoInput {
    pub(crate) fn parse(self) -> Result<NewTodo, AppError> {
        let mut f = FieldViolations::default();
        let title = f.check("title", Title::new(&self.title));
        let description = match self.description {
            None => Some(None),
            Some(d) => f.check("description", Description::new(&d)).map(Some),
        };
        let due_date = match self.due_date {
            None => Some(None),
            Some(d) => f.check("dueDate", DueDate::parse(&d)).map(Some),
        };
        let tags = f.tags("tags", &self.tags);
        let parsed = match (title, description, due_date, tags) {
            (Some(title), Some(description), Some(due_date), Some(tags)) => Some(NewTodo {
                title,
                description,
                due_date,
                tags,
            }),
            _ => None,
        };
        f.finish(parsed)
    }
}

/// Edits to a todo: a field left out stays as it is; `null` clears `description` or
/// `dueDate`.
#[derive(InputObject, Debug)]
pub(crate) struct UpdateTodoInput {
    /// A new title, as in `CreateTodoInput`. A todo always has one: `null` is invalid.
    title: MaybeUndefined<String>,
    /// A new description, as in `CreateTodoInput`, or `null` to remove it.
    description: MaybeUndefined<String>,
    /// A new due date, as in `CreateTodoInput`, or `null` to remove it.
    due_date: MaybeUndefined<String>,
}

impl UpdateTodoInput {
    pub(crate) fn parse(self) -> Result<TodoChanges, AppError> {
        let mut f = FieldViolations::default();
        let mut changes = TodoChanges::default();
        match self.title {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                f.add("title", "must not be null: leave it out to keep the title");
            }
            MaybeUndefined::Value(title) => changes.title = f.check("title", Title::new(&title)),
        }
        match self.description {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => changes.description = Some(None),
            MaybeUndefined::Value(d) => {
                changes.description = f.check("description", Description::new(&d)).map(Some);
            }
        }
        match self.due_date {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => changes.due_date = Some(None),
            MaybeUndefined::Value(d) => {
                changes.due_date = f.check("dueDate", DueDate::parse(&d)).map(Some);
            }
        }
        f.finish(Some(changes))
    }
}
