//! Request and response bodies, and their conversion to and from domain types.
//!
//! A request body or query is mapped onto the application's input type for its write or
//! list (`application::input`), whose rules, shared with GraphQL and gRPC, turn it into
//! domain values and name every invalid field at once. What is REST's own stays here: JSON's
//! absent-or-`null`, and the query text of `status` and `limit`.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    pagination::{Page, PageSize},
    todo::{DueDate, NewTodo, Todo, TodoChanges, TodoId, TodoStatus},
    user::{Email, Password, User, UserId},
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use application::{
    AppError, FieldViolations,
    input::{Edit, FieldNames, PageFields, PageInput},
    todos::{NewTodoInput, TodoEditsInput, TodoFilterInput},
    users::RegistrationInput,
};

use crate::rules;

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
        RegistrationInput {
            email: self.email,
            password: self.password,
            display_name: self.display_name,
        }
        .parse(FieldNames::SnakeCase)
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
        NewTodoInput {
            title: self.title,
            description: self.description,
            due_date: self.due_date,
            tags: self.tags,
        }
        .parse(FieldNames::SnakeCase)
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
        TodoEditsInput {
            title: edit(self.title),
            description: edit(self.description),
            due_date: edit(self.due_date),
        }
        .parse(FieldNames::SnakeCase)
    }
}

/// A JSON field that may be absent or `null`, as an edit.
fn edit(field: Option<Option<String>>) -> Edit<String> {
    match field {
        None => Edit::Keep,
        Some(None) => Edit::Clear,
        Some(Some(value)) => Edit::Set(value),
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
        let filter = TodoFilterInput {
            status,
            tag: self.tag,
            page: page(self.limit, self.cursor),
        }
        .check(&mut f, PAGE);
        f.finish(Some(filter))
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
        let (size, cursor) = page(self.limit, self.cursor).check(&mut f, PAGE);
        f.finish(Some((cursor.map(UserId::from_uuid), size)))
    }
}

/// A list's `limit` and `cursor` query parameters.
const PAGE: PageFields = PageFields {
    size: "limit",
    cursor: "cursor",
};

/// The page the query text asks for. `limit` is decimal digits only, so `+5` or ` 5` is as
/// out of range as the document says.
fn page(limit: Option<String>, cursor: Option<String>) -> PageInput {
    let size = limit.map(|l| {
        let digits = !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| l.parse::<i64>().ok())
            .flatten()
            .unwrap_or(i64::MAX)
    });
    PageInput { size, cursor }
}
