//! Users and sessions.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Extension, Json,
    extract::{ConnectInfo, State},
    http::StatusCode,
    response::IntoResponse,
};

use driving_http::Problem;

use crate::{
    ApiState,
    dto::{
        ListUsersParams, LogInRequest, RegisterRequest, SessionResponse, UserPage, UserResponse,
    },
    error::ApiError,
    extract::{ApiJson, ApiQuery, Auth, AuthWithToken},
};

/// The client's address, as the server accepted the connection (absent when the router is
/// called without one, as in tests).
fn client_address(client: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    client.map(|Extension(ConnectInfo(address))| address.ip())
}

/// Register a new member.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserResponse),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid values", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many registrations from this address; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a registration is allowed"))),
    ))]
pub(crate) async fn register(
    State(state): State<ApiState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .use_cases
        .register
        .register(body.parse()?, client_address(client))
        .await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(&user))))
}

/// Log in: returns a bearer token, once.
#[utoipa::path(post, path = "/v1/sessions", tag = "users", request_body = LogInRequest,
    responses(
        (status = 201, description = "Logged in", body = SessionResponse),
        (status = 401, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many attempts for this email or from this address; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until an attempt is allowed"))),
    ))]
pub(crate) async fn log_in(
    State(state): State<ApiState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<LogInRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let logged_in = state
        .use_cases
        .log_in
        .execute(body.parse()?, client_address(client))
        .await?;
    let body = SessionResponse {
        token: logged_in.token.expose().to_owned(),
        expires_at: logged_in.session.expires_at,
        user: UserResponse::from(&logged_in.user),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Log out: the token stops working.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "users", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn log_out(
    State(state): State<ApiState>,
    auth: AuthWithToken,
) -> Result<StatusCode, ApiError> {
    state.use_cases.log_out.execute(&auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log out everywhere: every token of the caller stops working, this one included.
#[utoipa::path(delete, path = "/v1/sessions", tag = "users", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session of the caller ended"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn log_out_everywhere(
    State(state): State<ApiState>,
    Auth(actor): Auth,
) -> Result<StatusCode, ApiError> {
    state.use_cases.log_out_everywhere.execute(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn me(
    State(state): State<ApiState>,
    Auth(actor): Auth,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.use_cases.current_user.execute(&actor).await?;
    Ok(Json(UserResponse::from(&user)))
}

/// Every user, newest first (administrators only).
#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])), params(ListUsersParams),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Auth(actor): Auth,
    ApiQuery(params): ApiQuery<ListUsersParams>,
) -> Result<Json<UserPage>, ApiError> {
    let (cursor, size) = params.parse()?;
    let page = state
        .use_cases
        .list_users
        .execute(&actor, cursor, size)
        .await?;
    Ok(Json(UserPage::from(page)))
}
