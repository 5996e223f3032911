//! Todos. Every route needs a bearer token, and another user's todo is always 404.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::todo::Todo;

use driving_http::Problem;

use crate::{
    ApiState,
    dto::{
        CreateTodoRequest, ListTodosParams, TodoPage, TodoResponse, TodoTagPath, UpdateTodoRequest,
    },
    error::ApiError,
    extract::{self, ApiJson, ApiPath, ApiQuery, Auth, IfMatch},
};

/// A todo with its version as the `ETag`.
fn with_etag(status: StatusCode, todo: &Todo) -> Response {
    (
        status,
        [(header::ETAG, extract::etag(todo.version()))],
        Json(TodoResponse::from(todo)),
    )
        .into_response()
}

/// Create a todo.
#[utoipa::path(post, path = "/v1/todos", tag = "todos", security(("bearer" = [])), request_body = CreateTodoRequest,
    responses(
        (status = 201, description = "Created; `Location` and `ETag` are set", body = TodoResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CreateTodoRequest>,
) -> Result<Response, ApiError> {
    let todo = state
        .use_cases
        .create_todo
        .execute(&actor, body.parse()?)
        .await?;
    let mut response = with_etag(StatusCode::CREATED, &todo);
    if let Ok(location) = format!("/v1/todos/{}", todo.id()).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The caller's todos, newest first.
#[utoipa::path(get, path = "/v1/todos", tag = "todos", security(("bearer" = [])), params(ListTodosParams),
    responses(
        (status = 200, description = "A page of todos", body = TodoPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiQuery(params): ApiQuery<ListTodosParams>,
) -> Result<Json<TodoPage>, ApiError> {
    let page = state
        .use_cases
        .list_todos
        .execute(&actor, params.parse()?)
        .await?;
    Ok(Json(TodoPage::from(page)))
}

/// One todo.
#[utoipa::path(get, path = "/v1/todos/{id}", tag = "todos", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The todo's id")),
    responses(
        (status = 200, description = "The todo; `ETag` is its version", body = TodoResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let todo = state
        .use_cases
        .get_todo
        .execute(&actor, extract::todo_id(&id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}

/// Edit title, description or due date. Requires `If-Match` with the todo's `ETag`.
#[utoipa::path(patch, path = "/v1/todos/{id}", tag = "todos", security(("bearer" = [])), request_body = UpdateTodoRequest,
    params(("id" = uuid::Uuid, Path, description = "The todo's id"),
           ("If-Match" = String, Header, pattern = r#"^"[1-9][0-9]{0,17}"$"#,
            description = "The ETag you read, such as `\"3\"`: one strong ETag, not a list and not `*`")),
    responses(
        (status = 200, description = "Updated", body = TodoResponse),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: the todo changed since you read it; `current_version` is its version now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: invalid values; `errors` names each field", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`version_required`: If-Match is missing, or `*`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    ApiJson(body): ApiJson<UpdateTodoRequest>,
) -> Result<Response, ApiError> {
    let id = extract::todo_id(&id)?;
    let todo = state
        .use_cases
        .update_todo
        .execute(&actor, id, expected, body.parse()?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}

/// Delete a todo. Requires `If-Match` with the todo's `ETag`.
#[utoipa::path(delete, path = "/v1/todos/{id}", tag = "todos", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The todo's id"),
           ("If-Match" = String, Header, pattern = r#"^"[1-9][0-9]{0,17}"$"#,
            description = "The ETag you read, such as `\"3\"`: one strong ETag, not a list and not `*`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: the todo changed since you read it; `current_version` is its version now", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`version_required`: If-Match is missing, or `*`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .use_cases
        .delete_todo
        .execute(&actor, extract::todo_id(&id)?, expected)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a todo done (a no-op if it is).
#[utoipa::path(post, path = "/v1/todos/{id}/complete", tag = "todos", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The todo's id")),
    responses(
        (status = 200, description = "The todo, done", body = TodoResponse),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn complete(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let todo = state
        .use_cases
        .complete_todo
        .execute(&actor, extract::todo_id(&id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}

/// Mark a todo open again (a no-op if it is).
#[utoipa::path(post, path = "/v1/todos/{id}/reopen", tag = "todos", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The todo's id")),
    responses(
        (status = 200, description = "The todo, open", body = TodoResponse),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn reopen(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let todo = state
        .use_cases
        .reopen_todo
        .execute(&actor, extract::todo_id(&id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}

/// Tag a todo (a no-op if it has the tag).
#[utoipa::path(put, path = "/v1/todos/{id}/tags/{tag}", tag = "todos", security(("bearer" = [])),
    params(TodoTagPath),
    responses(
        (status = 200, description = "The todo, tagged", body = TodoResponse),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid tag, or too many tags", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_tag(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath((id, tag)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let id = extract::todo_id(&id)?;
    let todo = state
        .use_cases
        .add_tag
        .execute(&actor, id, extract::tag(&tag)?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}

/// Untag a todo (a no-op if it lacks the tag).
#[utoipa::path(delete, path = "/v1/todos/{id}/tags/{tag}", tag = "todos", security(("bearer" = [])),
    params(TodoTagPath),
    responses(
        (status = 200, description = "The todo, untagged", body = TodoResponse),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid tag", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_tag(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath((id, tag)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let id = extract::todo_id(&id)?;
    let todo = state
        .use_cases
        .remove_tag
        .execute(&actor, id, &extract::tag(&tag)?)
        .await?;
    Ok(with_etag(StatusCode::OK, &todo))
}
