//! Messages to domain values at the edge, and domain values back to messages.
//!
//! A request is mapped onto the application's input type for its write or list
//! (`application::input`), whose rules, shared with REST and GraphQL, turn it into domain
//! values and report every invalid field at once, as a `google.rpc.BadRequest` field
//! violation named by its path in the request (`todo.title`, `page_size`). What is gRPC's
//! own stays here: resource names, etags, field masks, and proto3's empty string for "none".
//!
//! Conventions (AIP-122, AIP-154, AIP-158), stated once here:
//! - a todo's name is `todos/{uuid}`, a user's `users/{uuid}`; a name that is not a todo's
//!   is NOT_FOUND, exactly like someone else's todo, as on every protocol. An empty name is
//!   a missing required field: INVALID_ARGUMENT;
//! - an etag is the version as a decimal string (`"3"`);
//! - `page_size` 0 is the default (20); a page token is the `next_page_token` of the page
//!   before, and nothing else.

use application::{
    AppError, FieldViolations,
    input::{Edit, FieldNames, PageFields, PageInput},
    todos::{NewTodoInput, TodoEditsInput, TodoFilter, TodoFilterInput},
    users::{Registration, RegistrationInput},
};
use chrono::{DateTime, Utc};
use domain::{
    event::{MessageId, TodoChange, TodoEvent},
    idempotency::IdempotencyKey,
    pagination::{Page, PageSize},
    todo::{NewTodo, Tag, Todo, TodoChanges, TodoId, TodoStatus, Version},
    user::{Role, User, UserId},
};
use prost_types::{FieldMask, Timestamp};

use crate::api;

const TODOS: &str = "todos/";
const USERS: &str = "users/";

/// A todo's resource name.
pub(crate) fn todo_name(id: TodoId) -> String {
    format!("{TODOS}{}", id.as_uuid())
}

/// The todo `name` names. Empty is a missing field; anything else that is not
/// `todos/{uuid}` names no todo.
pub(crate) fn parse_todo_name(field: &str, name: &str) -> Result<TodoId, AppError> {
    if name.is_empty() {
        let mut f = FieldViolations::default();
        f.add(field, "is required: `todos/{todo_id}`");
        return f.finish(None);
    }
    name.strip_prefix(TODOS)
        .and_then(domain::id::parse_uuid)
        .map(TodoId::from_uuid)
        .ok_or_else(|| AppError::not_found("no such todo"))
}

/// The event id a watch resumes after: `None` for an empty string.
pub(crate) fn parse_after(after: &str) -> Result<Option<MessageId>, AppError> {
    if after.is_empty() {
        return Ok(None);
    }
    let mut f = FieldViolations::default();
    let id = f.check(
        "after",
        MessageId::parse(after).ok_or("must be the `event_id` of an event received, or empty"),
    );
    f.finish(id).map(Some)
}

/// The idempotency key a `request_id` holds: `None` for an empty one (AIP-155).
pub(crate) fn request_id(raw: &str) -> Result<Option<IdempotencyKey>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let mut f = FieldViolations::default();
    let key = f.check("request_id", IdempotencyKey::new(raw));
    f.finish(key).map(Some)
}

/// The version an etag stands for.
fn parse_etag(f: &mut FieldViolations, field: &str, etag: &str) -> Option<Version> {
    if etag.is_empty() {
        f.add(field, "is required: the etag of the todo as read");
        return None;
    }
    f.check(
        field,
        Version::parse(etag).map_err(|_| "must be the etag of the todo as read"),
    )
}

/// `page_size` and `page_token`.
const PAGE: PageFields = PageFields {
    size: "page_size",
    cursor: "page_token",
};

/// The page a request asks for: `page_size` 0 is the default, an empty token the first page.
fn page(size: i32, token: &str) -> PageInput {
    PageInput {
        size: (size != 0).then_some(i64::from(size)),
        cursor: (!token.is_empty()).then(|| token.to_owned()),
    }
}

/// A `ListTodosRequest` as the use case's filter.
pub(crate) fn todo_filter(request: &api::ListTodosRequest) -> Result<TodoFilter, AppError> {
    let mut f = FieldViolations::default();
    let status = match api::TodoStatus::try_from(request.status) {
        Ok(api::TodoStatus::Unspecified) => None,
        Ok(api::TodoStatus::Open) => Some(TodoStatus::Open),
        Ok(api::TodoStatus::Done) => Some(TodoStatus::Done),
        Err(_) => {
            f.add("status", "must be TODO_STATUS_OPEN or TODO_STATUS_DONE");
            None
        }
    };
    let filter = TodoFilterInput {
        status,
        tag: optional(&request.tag),
        page: page(request.page_size, &request.page_token),
    }
    .check(&mut f, PAGE);
    f.finish(Some(filter))
}

/// A `ListUsersRequest` as the use case's cursor and page size.
pub(crate) fn user_page(
    request: &api::ListUsersRequest,
) -> Result<(Option<UserId>, PageSize), AppError> {
    let mut f = FieldViolations::default();
    let (size, cursor) = page(request.page_size, &request.page_token).check(&mut f, PAGE);
    f.finish(Some((cursor.map(UserId::from_uuid), size)))
}

/// A tag argument.
pub(crate) fn tag(raw: &str) -> Result<Tag, AppError> {
    let mut f = FieldViolations::default();
    let tag = f.check("tag", Tag::new(raw));
    f.finish(tag)
}

/// The etag of a `DeleteTodoRequest`.
pub(crate) fn etag(raw: &str) -> Result<Version, AppError> {
    let mut f = FieldViolations::default();
    let version = parse_etag(&mut f, "etag", raw);
    f.finish(version)
}

/// The todo of a `CreateTodoRequest`.
pub(crate) fn new_todo(todo: Option<&api::Todo>) -> Result<NewTodo, AppError> {
    let Some(todo) = todo else {
        let mut f = FieldViolations::default();
        f.add("todo", "is required");
        return f.finish(None);
    };
    NewTodoInput {
        title: todo.title.clone(),
        description: optional(&todo.description),
        due_date: optional(&todo.due_date),
        tags: todo.tags.clone(),
    }
    .parse(FieldNames::Within("todo"))
}

/// An optional string field: proto3 has no null, so empty is "none".
fn optional(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// A masked optional field: set it, or clear it when empty.
fn set_or_clear(raw: &str) -> Edit<String> {
    optional(raw).map_or(Edit::Clear, Edit::Set)
}

/// What an `UpdateTodoRequest` asks for: the todo, the version the client read, and the
/// changes its mask names.
///
/// The mask follows AIP-134: each path names a field to set from `todo` (an empty
/// description or due date clears it); `*` names all three; an absent or empty mask means
/// "the fields `todo` sets", so a client that sends only a new title changes only the
/// title.
pub(crate) fn update(
    todo: Option<&api::Todo>,
    mask: Option<&FieldMask>,
) -> Result<(TodoId, Version, TodoChanges), AppError> {
    let mut f = FieldViolations::default();
    let Some(todo) = todo else {
        f.add("todo", "is required");
        return f.finish(None);
    };
    let id = parse_todo_name("todo.name", &todo.name)?;
    let version = parse_etag(&mut f, "todo.etag", &todo.etag);
    let paths: Vec<&str> = match mask.map(|m| m.paths.as_slice()).unwrap_or_default() {
        [] => [
            ("title", !todo.title.is_empty()),
            ("description", !todo.description.is_empty()),
            ("due_date", !todo.due_date.is_empty()),
        ]
        .into_iter()
        .filter_map(|(path, set)| set.then_some(path))
        .collect(),
        [all] if all == "*" => vec!["title", "description", "due_date"],
        paths => paths.iter().map(String::as_str).collect(),
    };
    let mut edits = TodoEditsInput::default();
    for path in paths {
        match path {
            "title" => edits.title = Edit::Set(todo.title.clone()),
            "description" => edits.description = set_or_clear(&todo.description),
            "due_date" => edits.due_date = set_or_clear(&todo.due_date),
            other => f.add(
                "update_mask",
                format!("`{other}` cannot be updated: only title, description and due_date"),
            ),
        }
    }
    let changes = edits.check(&mut f, FieldNames::Within("todo"));
    let parsed = version.map(|version| (id, version, changes));
    f.finish(parsed)
}

/// A `RegisterRequest` as a registration.
pub(crate) fn registration(request: api::RegisterRequest) -> Result<Registration, AppError> {
    RegistrationInput {
        email: request.email,
        password: request.password,
        display_name: request.display_name,
    }
    .parse(FieldNames::SnakeCase)
}

/// A time as a protobuf timestamp.
pub(crate) fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        // Always below 2·10⁹ (leap seconds included), so it fits.
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(i32::MAX),
    }
}

/// A todo event as its message.
pub(crate) fn todo_event(event: &TodoEvent) -> api::TodoEvent {
    use api::TodoEventType as Type;
    let (kind, tag) = match &event.change {
        TodoChange::Created => (Type::Created, None),
        TodoChange::Updated => (Type::Updated, None),
        TodoChange::Completed => (Type::Completed, None),
        TodoChange::Reopened => (Type::Reopened, None),
        TodoChange::Tagged(tag) => (Type::Tagged, Some(tag)),
        TodoChange::Untagged(tag) => (Type::Untagged, Some(tag)),
        TodoChange::Deleted => (Type::Deleted, None),
    };
    api::TodoEvent {
        event_id: event.id.to_string(),
        r#type: kind as i32,
        name: todo_name(event.todo_id),
        version: event.version.get(),
        occur_time: Some(timestamp(event.occurred_at)),
        tag: tag.map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }
}

/// A todo as its message.
pub(crate) fn todo(todo: &Todo) -> api::Todo {
    api::Todo {
        name: todo_name(todo.id()),
        title: todo.title().as_str().to_owned(),
        description: todo
            .description()
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
        tags: todo.tags().iter().map(|t| t.as_str().to_owned()).collect(),
        due_date: todo.due_date().map(|d| d.to_string()).unwrap_or_default(),
        status: match todo.status() {
            TodoStatus::Open => api::TodoStatus::Open,
            TodoStatus::Done => api::TodoStatus::Done,
        }
        .into(),
        complete_time: todo.completed_at().map(timestamp),
        etag: todo.version().get().to_string(),
        create_time: Some(timestamp(todo.created_at())),
        update_time: Some(timestamp(todo.updated_at())),
    }
}

/// A page of todos as a list response.
pub(crate) fn todo_page(page: &Page<Todo, TodoId>) -> api::ListTodosResponse {
    api::ListTodosResponse {
        todos: page.items.iter().map(todo).collect(),
        next_page_token: page
            .next_cursor
            .map(|id| id.as_uuid().to_string())
            .unwrap_or_default(),
    }
}

/// A user as their message.
pub(crate) fn user(user: &User) -> api::User {
    api::User {
        name: format!("{USERS}{}", user.id.as_uuid()),
        email: user.email.as_str().to_owned(),
        display_name: user.display_name.as_str().to_owned(),
        role: match user.role {
            Role::Member => api::Role::Member,
            Role::Admin => api::Role::Admin,
        }
        .into(),
        create_time: Some(timestamp(user.created_at)),
    }
}

/// A page of users as a list response.
pub(crate) fn user_list(page: &Page<User, UserId>) -> api::ListUsersResponse {
    api::ListUsersResponse {
        users: page.items.iter().map(user).collect(),
        next_page_token: page
            .next_cursor
            .map(|id| id.as_uuid().to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "todos/01890a5d-ac96-774b-bcce-b302099a8057";

    fn todo(title: &str, description: &str, due_date: &str) -> api::Todo {
        api::Todo {
            name: NAME.into(),
            etag: "3".into(),
            title: title.into(),
            description: description.into(),
            due_date: due_date.into(),
            ..Default::default()
        }
    }

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn fields(error: &AppError) -> Vec<&str> {
        error.fields().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn without_a_mask_the_fields_the_todo_sets_are_changed() {
        let (id, version, changes) = update(Some(&todo("New", "", "")), None).unwrap();
        assert_eq!(id.as_uuid().to_string(), NAME.trim_start_matches(TODOS));
        assert_eq!(version.get(), 3);
        assert_eq!(
            changes.title.map(|t| t.as_str().to_owned()),
            Some("New".into())
        );
        assert_eq!(changes.description, None, "not set, so not changed");
        assert_eq!(changes.due_date, None);
    }

    #[test]
    fn a_masked_empty_field_is_cleared_and_star_names_all_three() {
        let (_, _, changes) = update(
            Some(&todo("", "", "")),
            Some(&mask(&["description", "due_date"])),
        )
        .unwrap();
        assert_eq!(changes.title, None);
        assert_eq!(changes.description, Some(None));
        assert_eq!(changes.due_date, Some(None));

        let error = update(Some(&todo("", "", "")), Some(&mask(&["*"]))).unwrap_err();
        assert_eq!(fields(&error), ["todo.title"], "a title cannot be cleared");
    }

    #[test]
    fn unknown_paths_and_bad_etags_are_each_reported() {
        let mut bad = todo("Fine", "", "");
        bad.etag = "W/\"3\"".into();
        let error = update(Some(&bad), Some(&mask(&["status", "title"]))).unwrap_err();
        assert_eq!(fields(&error), ["todo.etag", "update_mask"]);

        let error = update(None, None).unwrap_err();
        assert_eq!(fields(&error), ["todo"]);
    }

    #[test]
    fn names_that_are_not_a_todos_are_not_found_and_an_empty_one_is_missing() {
        for name in [
            "todos/x",
            "users/01890a5d-ac96-774b-bcce-b302099a8057",
            "todos/",
            NAME.trim_start_matches(TODOS),
        ] {
            let error = parse_todo_name("name", name).unwrap_err();
            assert_eq!(error.code(), "not_found", "{name}");
        }
        let error = parse_todo_name("name", "").unwrap_err();
        assert_eq!(fields(&error), ["name"]);
    }

    #[test]
    fn page_size_zero_is_the_default_and_out_of_range_is_refused() {
        let filter = todo_filter(&api::ListTodosRequest::default()).unwrap();
        assert_eq!(filter.size, PageSize::DEFAULT);
        for page_size in [-1, 101] {
            let error = todo_filter(&api::ListTodosRequest {
                page_size,
                ..Default::default()
            })
            .unwrap_err();
            assert_eq!(fields(&error), ["page_size"]);
        }
    }
}
