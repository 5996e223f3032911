//! Request and response bodies, and their conversion to and from domain types.
//!
//! Requests are parsed into domain values here, at the edge, collecting one message per
//! invalid field, so a client learns everything wrong with a request at once.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    pagination::{Page, PageSize},
    todo::{Description, DueDate, NewTodo, Tag, Title, Todo, TodoChanges, TodoId, TodoStatus},
    user::{DisplayName, Email, Password, User, UserId},
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::{AppError, FieldViolations};

/// Schemas for the fields that carry a domain value, built from the rules the domain
/// publishes (`Title::PATTERN`, `Email::PATTERNS`, ...), so the document says exactly what
/// the constructors accept and cannot drift from them.
mod rules {
    use domain::{
        todo::{Description, DueDate, Tag, Tags, Title},
        user::{DisplayName, Email, Password},
    };
    use utoipa::openapi::{
        AllOfBuilder, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat,
        schema::{SchemaType, Type},
    };

    /// A string, or `null` as well when `nullable`.
    fn text(nullable: bool) -> ObjectBuilder {
        let kind = if nullable {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::from(Type::String)
        };
        ObjectBuilder::new().schema_type(kind)
    }

    fn title_of(what: &str) -> Object {
        text(false)
            .pattern(Some(Title::PATTERN))
            .description(Some(format!(
                "1 to 200 characters once trimmed, no control characters (one line){what}"
            )))
            .examples(["Buy milk"])
            .build()
    }

    pub(super) fn title() -> Object {
        title_of("")
    }

    pub(super) fn new_title() -> Object {
        title_of("; a todo always has a title, so `null` is invalid")
    }

    fn description_of(what: &str) -> Object {
        text(true)
            .pattern(Some(Description::PATTERN))
            .max_length(Some(Description::MAX_CHARS))
            .description(Some(format!(
                "Up to 10,000 characters, not blank, kept as written; line breaks and tabs \
                 are the only control characters allowed{what}"
            )))
            .build()
    }

    pub(super) fn description() -> Object {
        description_of("; `null` is the same as leaving it out")
    }

    pub(super) fn new_description() -> Object {
        description_of("; `null` removes the description")
    }

    fn due_date_of(what: &str) -> Object {
        text(true)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some(DueDate::PATTERN))
            .description(Some(format!(
                "A day of the calendar written `YYYY-MM-DD`, from 0001-01-01 to 9999-12-31{what}"
            )))
            .examples(["2026-12-24"])
            .build()
    }

    pub(super) fn due_date() -> Object {
        due_date_of("; `null` is the same as leaving it out")
    }

    pub(super) fn new_due_date() -> Object {
        due_date_of("; `null` removes the due date")
    }

    pub(super) fn tag() -> Object {
        text(false)
            .pattern(Some(Tag::PATTERN))
            .description(Some(
                "1 to 32 of `a-z`, `A-Z`, `0-9` and `-`, with ASCII white space around; \
                 stored trimmed and lowercased",
            ))
            .examples(["home"])
            .build()
    }

    pub(super) fn tags() -> utoipa::openapi::schema::Array {
        ArrayBuilder::new()
            .items(tag())
            .max_items(Some(Tags::MAX))
            .description(Some(
                "Up to 20 tags as sent, repeats included; stored trimmed and lowercased, a \
                 repeat (after trimming and lowercasing) kept once",
            ))
            .build()
    }

    pub(super) fn email() -> Schema {
        let [shape, local, length] = Email::PATTERNS;
        AllOfBuilder::new()
            .item(text(false).pattern(Some(shape)))
            .item(text(false).pattern(Some(local)))
            .item(text(false).pattern(Some(length)))
            .description(Some(
                "An ASCII address such as `ann@example.org`: dot-separated runs of letters, \
                 digits and ``!#$%&'*+/=?^_`{|}~-`` (at most 64 characters), `@`, and two or more \
                 labels of letters, digits and inner hyphens (each at most 63); at most 254 \
                 characters once trimmed; stored lowercased",
            ))
            .examples(["ann@example.org"])
            .into()
    }

    pub(super) fn password() -> Object {
        text(false)
            .min_length(Some(Password::MIN_CHARS))
            .max_length(Some(Password::MAX_CHARS))
            .description(Some("8 to 128 characters, any, kept exactly (not trimmed)"))
            .examples(["correct horse battery staple"])
            .build()
    }

    pub(super) fn display_name() -> Object {
        text(false)
            .pattern(Some(DisplayName::PATTERN))
            .description(Some(
                "1 to 64 characters once trimmed, no control characters (one line)",
            ))
            .examples(["Ann"])
            .build()
    }
}

/// For optional fields that may also be `null`: absent is `None`, `null` is `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[schema(schema_with = rules::email)]
    email: String,
    #[schema(schema_with = rules::password)]
    password: String,
    #[schema(schema_with = rules::display_name)]
    display_name: String,
}

impl RegisterRequest {
    pub(crate) fn parse(self) -> Result<application::users::Registration, AppError> {
        let mut f = FieldViolations::default();
        let email = f.check("email", Email::parse(&self.email));
        let password = f.check("password", Password::new(self.password));
        let display_name = f.check("display_name", DisplayName::new(&self.display_name));
        let parsed = match (email, password, display_name) {
            (Some(email), Some(password), Some(display_name)) => {
                Some(application::users::Registration {
                    email,
                    display_name,
                    password,
                })
            }
            _ => None,
        };
        f.finish(parsed)
    }
}

/// Login. Any two strings are a well-formed login: one that cannot belong to an account
/// gets the same 401 as a wrong password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogInRequest {
    /// The login email.
    #[schema(example = "ann@example.org")]
    email: String,
    /// The password.
    #[schema(example = "correct horse battery staple")]
    password: String,
}

impl LogInRequest {
    /// Credentials, or 401: a malformed email or password cannot belong to an account, and
    /// saying "invalid" rather than "malformed" keeps the answer the same for every bad login.
    pub(crate) fn parse(self) -> Result<application::users::Credentials, AppError> {
        use application::users::LogInError;
        match (Email::parse(&self.email), Password::new(self.password)) {
            (Ok(email), Ok(password)) => Ok(application::users::Credentials { email, password }),
            _ => Err(AppError::from(LogInError::InvalidCredentials)),
        }
    }
}

/// A user, as anyone may see it (no password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserResponse {
    id: Uuid,
    email: String,
    display_name: String,
    #[schema(inline, value_type = RoleName)]
    role: String,
    created_at: DateTime<Utc>,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.as_str().to_owned(),
            created_at: user.created_at,
        }
    }
}

/// A new session. The token is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub(crate) token: String,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) user: UserResponse,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserPage {
    items: Vec<UserResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<Uuid>,
}

impl From<Page<User, UserId>> for UserPage {
    fn from(page: Page<User, UserId>) -> Self {
        Self {
            items: page.items.iter().map(UserResponse::from).collect(),
            next_cursor: page.next_cursor.map(|id| id.as_uuid()),
        }
    }
}

/// A todo to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTodoRequest {
    #[schema(schema_with = rules::title)]
    title: String,
    #[serde(default)]
    #[schema(schema_with = rules::description)]
    description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = rules::due_date)]
    due_date: Option<String>,
    #[serde(default)]
    #[schema(schema_with = rules::tags)]
    tags: Vec<String>,
}

impl CreateTodoRequest {
    pub(crate) fn parse(self) -> Result<NewTodo, AppError> {
        let mut f = FieldViolations::default();
        let title = f.check("title", Title::new(&self.title));
        // `Some(None)`: no description asked for; `None`: an invalid one (already recorded).
        let description = match self.description {
            None => Some(None),
            Some(d) => f.check("description", Description::new(&d)).map(Some),
        };
        let due_date = match self.due_date {
            None => Some(None),
            Some(d) => f.check("due_date", DueDate::parse(&d)).map(Some),
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

/// Edits to a todo; absent fields stay as they are, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateTodoRequest {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::new_title)]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::new_description)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = rules::new_due_date)]
    due_date: Option<Option<String>>,
}

impl UpdateTodoRequest {
    pub(crate) fn parse(self) -> Result<TodoChanges, AppError> {
        let mut f = FieldViolations::default();
        let mut changes = TodoChanges::default();
        match self.title {
            None => {}
            Some(None) => {
                f.add("title", "must not be null: leave it out to keep the title");
            }
            Some(Some(title)) => changes.title = f.check("title", Title::new(&title)),
        }
        match self.due_date {
            None => {}
            Some(None) => changes.due_date = Some(None),
            Some(Some(d)) => changes.due_date = f.check("due_date", DueDate::parse(&d)).map(Some),
        }
        match self.description {
            None => {}
            Some(None) => changes.description = Some(None),
            Some(Some(d)) => {
                changes.description = f.check("description", Description::new(&d)).map(Some)
            }
        }
        f.finish(Some(changes))
    }
}

/// A todo.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TodoResponse {
    id: Uuid,
    title: String,
    description: Option<String>,
    tags: Vec<String>,
    due_date: Option<NaiveDate>,
    #[schema(inline, value_type = StatusParam)]
    status: &'static str,
    completed_at: Option<DateTime<Utc>>,
    /// Also the response's `ETag`; send it back in `If-Match` to change or delete the todo.
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Todo> for TodoResponse {
    fn from(todo: &Todo) -> Self {
        Self {
            id: todo.id().as_uuid(),
            title: todo.title().as_str().to_owned(),
            description: todo.description().map(|d| d.as_str().to_owned()),
            tags: todo.tags().iter().map(|t| t.as_str().to_owned()).collect(),
            due_date: todo.due_date().map(DueDate::get),
            status: todo.status().as_str(),
            completed_at: todo.completed_at(),
            version: todo.version().get(),
            created_at: todo.created_at(),
            updated_at: todo.updated_at(),
        }
    }
}

/// A page of todos, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TodoPage {
    items: Vec<TodoResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<Uuid>,
}

impl From<Page<Todo, TodoId>> for TodoPage {
    fn from(page: Page<Todo, TodoId>) -> Self {
        Self {
            items: page.items.iter().map(TodoResponse::from).collect(),
            next_cursor: page.next_cursor.map(|id| id.as_uuid()),
        }
    }
}

/// A user's role, for the document.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used: the role is written as text.
pub(crate) enum RoleName {
    Member,
    Admin,
}

/// A todo's status (`open` or `done`), for the document.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // Only its schema is used: the parameter is parsed by hand.
pub(crate) enum StatusParam {
    Open,
    Done,
}

/// Query parameters of `GET /v1/todos`. Kept as text and parsed by hand, so every bad value
/// gets a message naming its parameter; the document still gives each one's type and
/// bounds. An empty value (`?status=`) is a value, and invalid: leave a parameter out to
/// leave it unset.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListTodosParams {
    /// `open` or `done`.
    #[param(inline, value_type = Option<StatusParam>)]
    status: Option<String>,
    /// Only todos with this tag.
    #[param(schema_with = rules::tag)]
    tag: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<String>, format = Uuid)]
    cursor: Option<String>,
    /// 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

impl ListTodosParams {
    pub(crate) fn parse(self) -> Result<application::todos::TodoFilter, AppError> {
        let mut f = FieldViolations::default();
        let status = self.status.and_then(|s| {
            f.check(
                "status",
                match s.as_str() {
                    "open" => Ok(TodoStatus::Open),
                    "done" => Ok(TodoStatus::Done),
                    _ => Err("must be \"open\" or \"done\""),
                },
            )
        });
        let tag = self.tag.and_then(|t| f.check("tag", Tag::new(&t)));
        let cursor = self
            .cursor
            .and_then(|c| f.check("cursor", parse_cursor(&c).map(TodoId::from_uuid)));
        let size = parse_limit(&mut f, self.limit);
        f.finish(Some(application::todos::TodoFilter {
            status,
            tag,
            cursor,
            size,
        }))
    }
}

/// The path of `/v1/todos/{id}/tags/{tag}`, for the document.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only its schema is used: the handlers take the segments as text.
pub(crate) struct TodoTagPath {
    /// The todo's id.
    id: Uuid,
    #[param(schema_with = rules::tag)]
    tag: String,
}

/// Query parameters of `GET /v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListUsersParams {
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<String>, format = Uuid)]
    cursor: Option<String>,
    /// 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

impl ListUsersParams {
    pub(crate) fn parse(self) -> Result<(Option<UserId>, PageSize), AppError> {
        let mut f = FieldViolations::default();
        let cursor = self
            .cursor
            .and_then(|c| f.check("cursor", parse_cursor(&c).map(UserId::from_uuid)));
        let size = parse_limit(&mut f, self.limit);
        f.finish(Some((cursor, size)))
    }
}

/// `limit`: decimal digits only, so `+5` or ` 5` is as invalid as the document says.
fn parse_limit(f: &mut FieldViolations, raw: Option<String>) -> PageSize {
    raw.and_then(|l| {
        let digits = !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
        f.check(
            "limit",
            digits
                .then(|| l.parse::<u64>().ok())
                .flatten()
                .ok_or(domain::pagination::PageSizeError)
                .and_then(PageSize::new),
        )
    })
    .unwrap_or_default()
}

/// `cursor`: a UUID in its hyphenated form, the one `next_cursor` is written in and the one
/// `format: uuid` means, read as every protocol reads ids (`domain::id::parse_uuid`).
fn parse_cursor(raw: &str) -> Result<Uuid, &'static str> {
    domain::id::parse_uuid(raw).ok_or("must be a next_cursor from an earlier page")
}
