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
    extract::{self, ApiJson, ApiPath, ApiQuery, Auth, IdempotencyKeyHeader, IfMatch},
};

/// The header that says an answer is the replay of an earlier request with the same
/// `Idempotency-Key`.
const REPLAYED: &str = "idempotent-replayed";

/// Marks `response` as a replay when it is one.
fn replayed(mut response: Response, replayed: bool) -> Response {
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, header::HeaderValue::from_static("true"));
    }
    response
}

/// A todo with its version as the `ETag`.
fn with_etag(status: StatusCode, todo: &Todo) -> Response {
    (
        status,
        [(header::ETAG, extract::etag(todo.version()))],
        Json(TodoResponse::from(todo)),
    )
        .into_response()
}

/// Create a todo. Send an `Idempotency-Key` to be able to retry safely: a retry with the
/// same key and body gets the first answer again, and creates nothing.
#[utoipa::path(post, path = "/v1/todos", tag = "todos", security(("bearer" = [])), request_body = CreateTodoRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = r#"^(?:"[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$"#,
            description = "A key of your choosing (a UUID, say) for a request you may send again: a retry with the same key and the same request gets the first answer, and writes nothing more; with another request, 409 `idempotency_key_reused`. 1 to 255 printable ASCII characters without `\"` or `\\`, quoted (an HTTP structured-field string, as the IETF draft writes it) or not. Keys are yours alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`)")),
    responses(
        (status = 201, description = "Created; `Location` and `ETag` are set. With an `Idempotency-Key` sent before with the same body: the first answer again, byte for byte, with `Idempotent-Replayed: true`", body = TodoResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_reused`: the `Idempotency-Key` was sent before with another request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: invalid values; `errors` names each field", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<CreateTodoRequest>,
) -> Result<Response, ApiError> {
    let new = body.parse()?;
    let use_case = &state.use_cases.create_todo;
    let (todo, replay) = match key {
        Some(key) => {
            let created = use_case.execute_once(&actor, new, key).await?;
            (created.value, created.replayed)
        }
        None => (use_case.execute(&actor, new).await?, false),
    };
    let mut response = with_etag(StatusCode::CREATED, &todo);
    if let Ok(location) = format!("/v1/todos/{}", todo.id()).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(replayed(response, replay))
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
            description = "The ETag you read, such as `\"3\"`: one strong ETag, not a list and not `*`"),
           ("Idempotency-Key" = Option<String>, Header, pattern = r#"^(?:"[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$"#,
            description = "A key of your choosing (a UUID, say) for a request you may send again: a retry with the same key and the same request gets the first answer, and writes nothing more; with another request, 409 `idempotency_key_reused`. 1 to 255 printable ASCII characters without `\"` or `\\`, quoted (an HTTP structured-field string, as the IETF draft writes it) or not. Keys are yours alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`)")),
    responses(
        (status = 200, description = "Updated. With an `Idempotency-Key` sent before with the same request: the first answer again, with `Idempotent-Replayed: true`", body = TodoResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: the todo changed since you read it; `current_version` is its version now", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_reused`: the `Idempotency-Key` was sent before with another request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: invalid values; `errors` names each field", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`version_required`: If-Match is missing, or `*`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<UpdateTodoRequest>,
) -> Result<Response, ApiError> {
    let id = extract::todo_id(&id)?;
    let changes = body.parse()?;
    let use_case = &state.use_cases.update_todo;
    let (todo, replay) = match key {
        Some(key) => {
            let updated = use_case
                .execute_once(&actor, id, expected, changes, key)
                .await?;
            (updated.value, updated.replayed)
        }
        None => (
            use_case.execute(&actor, id, expected, changes).await?,
            false,
        ),
    };
    Ok(replayed(with_etag(StatusCode::OK, &todo), replay))
}

/// Delete a todo. Requires `If-Match` with the todo's `ETag`.
#[utoipa::path(delete, path = "/v1/todos/{id}", tag = "todos", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The todo's id"),
           ("If-Match" = String, Header, pattern = r#"^"[1-9][0-9]{0,17}"$"#,
            description = "The ETag you read, such as `\"3\"`: one strong ETag, not a list and not `*`"),
           ("Idempotency-Key" = Option<String>, Header, pattern = r#"^(?:"[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$"#,
            description = "A key of your choosing (a UUID, say) for a request you may send again: a retry with the same key and the same request gets the first answer, and writes nothing more; with another request, 409 `idempotency_key_reused`. 1 to 255 printable ASCII characters without `\"` or `\\`, quoted (an HTTP structured-field string, as the IETF draft writes it) or not. Keys are yours alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`)")),
    responses(
        (status = 204, description = "Deleted. With an `Idempotency-Key` sent before with the same request: the first answer again, with `Idempotent-Replayed: true`",
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the answer to an earlier request with the same `Idempotency-Key`"))),
        (status = 409, description = "`idempotency_key_reused`: the `Idempotency-Key` was sent before with another request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such todo (or not yours)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: the todo changed since you read it; `current_version` is its version now", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`version_required`: If-Match is missing, or `*`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
) -> Result<Response, ApiError> {
    let id = extract::todo_id(&id)?;
    let use_case = &state.use_cases.delete_todo;
    let replay = match key {
        Some(key) => {
            use_case
                .execute_once(&actor, id, expected, key)
                .await?
                .replayed
        }
        None => {
            use_case.execute(&actor, id, expected).await?;
            false
        }
    };
    Ok(replayed(StatusCode::NO_CONTENT.into_response(), replay))
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
