//! The input types, and their mapping onto the application's input types.
//!
//! GraphQL delivers each input as plain strings and numbers; the rules that turn them into
//! domain values are the application's (`application::input`), shared with REST and gRPC.
//! Here an input is only mapped onto its application type, with GraphQL's spelling of
//! field names (`dueDate`) for `extensions.fields`.

use application::{
    AppError, FieldViolations,
    input::{Edit, FieldNames, PageFields, PageInput},
    todos::{NewTodoInput, TodoEditsInput, TodoFilter, TodoFilterInput},
    users::{Registration, RegistrationInput},
};
use async_graphql::{ID, InputObject, MaybeUndefined};
use domain::{
    idempotency::IdempotencyKey,
    pagination::PageSize,
    todo::{NewTodo, Tag, TodoChanges, TodoId, TodoStatus, Version},
    user::UserId,
};

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

/// A connection's `first` and `after`.
const PAGE: PageFields = PageFields {
    size: "first",
    cursor: "after",
};

/// The arguments of `todos`.
pub(crate) fn todo_filter(
    first: Option<i32>,
    after: Option<&str>,
    status: Option<TodoStatus>,
    tag: Option<&str>,
) -> Result<TodoFilter, AppError> {
    let mut f = FieldViolations::default();
    let filter = TodoFilterInput {
        status,
        tag: tag.map(str::to_owned),
        page: page(first, after),
    }
    .check(&mut f, PAGE);
    f.finish(Some(filter))
}

/// The arguments of `users`.
pub(crate) fn user_page(
    first: Option<i32>,
    after: Option<&str>,
) -> Result<(Option<UserId>, PageSize), AppError> {
    let mut f = FieldViolations::default();
    let (size, cursor) = page(first, after).check(&mut f, PAGE);
    f.finish(Some((cursor.map(UserId::from_uuid), size)))
}

fn page(first: Option<i32>, after: Option<&str>) -> PageInput {
    PageInput {
        size: first.map(i64::from),
        cursor: after.map(str::to_owned),
    }
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
        RegistrationInput {
            email: self.email,
            password: self.password,
            display_name: self.display_name,
        }
        .parse(FieldNames::CamelCase)
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
        NewTodoInput {
            title: self.title,
            description: self.description,
            due_date: self.due_date,
            tags: self.tags,
        }
        .parse(FieldNames::CamelCase)
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
        TodoEditsInput {
            title: edit(self.title),
            description: edit(self.description),
            due_date: edit(self.due_date),
        }
        .parse(FieldNames::CamelCase)
    }
}

/// GraphQL's three states of an input field, as an edit.
fn edit(field: MaybeUndefined<String>) -> Edit<String> {
    match field {
        MaybeUndefined::Undefined => Edit::Keep,
        MaybeUndefined::Null => Edit::Clear,
        MaybeUndefined::Value(value) => Edit::Set(value),
    }
}
