//! The one place where errors become HTTP responses.
//!
//! Every error body is an RFC 9457 problem (`application/problem+json`) with a stable
//! machine-readable `code`, the request id, and per-field messages for validation failures.
//! A 5xx is logged once, here, with its whole cause chain; the client gets a generic message.

use application::{
    todos::{
        AddTagError, CreateTodoError, DeleteTodoError, GetTodoError, ListTodosError,
        RemoveTagError, StatusChangeError, UpdateTodoError,
    },
    users::{
        AuthenticateError, CurrentUserError, ListUsersError, LogInError, LogOutError,
        LogOutEverywhereError, RegisterError,
    },
};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::error::{InfraError, InfraErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

use crate::observability::current_request_id;

/// The most field errors one problem lists. A request can only hold so many invalid fields
/// within the body limit, but listing them all would let one request buy a response many
/// times its own size; past the cap, `detail` says how many more there were.
pub(crate) const MAX_FIELD_ERRORS: usize = 20;

/// One invalid input field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldError {
    /// The field, as named in the request (`title`, `tags[2]`, `limit`).
    pub(crate) field: String,
    /// What is wrong with it.
    pub(crate) message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// A URI naming the kind of problem: `urn:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    /// A short summary of the kind of problem.
    title: &'static str,
    /// The HTTP status code.
    status: u16,
    /// What went wrong this time, when there is more to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// A stable code for programs to branch on, such as `version_mismatch`.
    code: &'static str,
    /// The request id, also in the `x-request-id` header and every log line.
    request_id: Option<String>,
    /// For validation failures: what is wrong with each field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

/// An error on its way to becoming a problem response. Boxed, so that `Result<T, ApiError>`
/// stays small on the happy path.
#[derive(Debug)]
pub(crate) struct ApiError(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: Option<String>,
    errors: Vec<FieldError>,
    /// The cause of a 5xx, logged and never sent.
    cause: Option<InfraError>,
    /// For a 503: how many seconds to wait before retrying (`Retry-After`).
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self(Box::new(Details {
            status,
            code,
            title,
            detail: None,
            errors: Vec::new(),
            cause: None,
            retry_after_secs: None,
        }))
    }

    /// A problem for an error response that some layer made without one (a framework
    /// rejection, say), keeping its status.
    pub(crate) fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            status if status.is_server_error() => {
                Self::new(status, "internal", "Something went wrong on our side")
            }
            status => Self::new(
                status,
                "malformed_request",
                "The request could not be parsed",
            ),
        }
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The request could not be parsed",
        )
        .detail(detail)
    }
    pub(crate) fn validation(mut errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some values are invalid",
        );
        if errors.len() > MAX_FIELD_ERRORS {
            let more = errors.len() - MAX_FIELD_ERRORS;
            errors.truncate(MAX_FIELD_ERRORS);
            error = error.detail(format!(
                "the first {MAX_FIELD_ERRORS} are listed; {more} more invalid fields are not"
            ));
        }
        error.0.errors = errors;
        error
    }
    pub(crate) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid bearer token is required",
        )
    }
    pub(crate) fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "You may not do this")
    }
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource")
    }
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This method is not allowed here",
        )
    }
    pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            code,
            "The request conflicts with the current state",
        )
        .detail(detail)
    }
    pub(crate) fn version_mismatch() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
            "The resource changed since you read it",
        )
        .detail("If-Match does not match the current ETag; read the resource again and retry")
    }
    pub(crate) fn version_required() -> Self {
        Self::new(StatusCode::PRECONDITION_REQUIRED, "version_required", "If-Match is required")
            .detail("send the ETag you read in If-Match, so that you never overwrite a change you have not seen")
    }
    pub(crate) fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        )
        .detail(format!("the limit is {} bytes", crate::BODY_LIMIT_BYTES))
    }
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Expected a JSON body",
        )
        .detail("send Content-Type: application/json")
    }
    pub(crate) fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "The request took too long",
        )
    }
    pub(crate) fn infra(cause: InfraError) -> Self {
        // Whole seconds, rounded up: HTTP has no finer unit, and 0 would invite a stampede.
        let retry_after_secs = cause
            .retry_delay()
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        let mut error = match cause.kind() {
            InfraErrorKind::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "A backing service is unavailable; try again later",
            ),
            InfraErrorKind::Internal => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side",
            ),
        };
        error.0.cause = Some(cause);
        error.0.retry_after_secs = retry_after_secs.map(|s| s.max(1));
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let request_id = current_request_id();
        if let Some(cause) = &this.cause {
            // Logged once, here, with the whole chain; the client sees only the title. A
            // backing service that is down or busy is a warning (the service is working as
            // designed, and the log names what to look at); anything else is an error.
            match cause.kind() {
                InfraErrorKind::Unavailable => tracing::warn!(
                    status = this.status.as_u16(),
                    error = cause as &dyn std::error::Error,
                    "request failed: a backing service is unavailable"
                ),
                InfraErrorKind::Internal => tracing::error!(
                    status = this.status.as_u16(),
                    error = cause as &dyn std::error::Error,
                    "request failed"
                ),
            }
        }
        let body = Problem {
            kind: format!("urn:problem:{}", this.code),
            title: this.title,
            status: this.status.as_u16(),
            detail: this.detail,
            code: this.code,
            request_id,
            errors: this.errors,
        };
        let mut response = (this.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = this.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if this.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"todo-backend\""),
            );
        }
        response
    }
}

impl From<InfraError> for ApiError {
    fn from(error: InfraError) -> Self {
        Self::infra(error)
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailTaken => {
                Self::conflict("email_taken", "a user with this email already exists")
            }
            RegisterError::Infra(e) => e.into(),
        }
    }
}

impl From<LogInError> for ApiError {
    fn from(error: LogInError) -> Self {
        match error {
            LogInError::InvalidCredentials => {
                Self::unauthenticated().detail("invalid email or password")
            }
            LogInError::Infra(e) => e.into(),
        }
    }
}

impl From<LogOutError> for ApiError {
    fn from(error: LogOutError) -> Self {
        match error {
            LogOutError::Infra(e) => e.into(),
        }
    }
}

impl From<LogOutEverywhereError> for ApiError {
    fn from(error: LogOutEverywhereError) -> Self {
        match error {
            LogOutEverywhereError::Infra(e) => e.into(),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::Unauthenticated => Self::unauthenticated(),
            AuthenticateError::Infra(e) => e.into(),
        }
    }
}

impl From<CurrentUserError> for ApiError {
    fn from(error: CurrentUserError) -> Self {
        match error {
            CurrentUserError::Gone => {
                Self::unauthenticated().detail("the user of this session no longer exists")
            }
            CurrentUserError::Infra(e) => e.into(),
        }
    }
}

impl From<ListUsersError> for ApiError {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Forbidden => {
                Self::forbidden().detail("only administrators may list users")
            }
            ListUsersError::Infra(e) => e.into(),
        }
    }
}

impl From<CreateTodoError> for ApiError {
    fn from(error: CreateTodoError) -> Self {
        match error {
            CreateTodoError::OwnerGone => {
                Self::unauthenticated().detail("the user of this session no longer exists")
            }
            CreateTodoError::Infra(e) => e.into(),
        }
    }
}

impl From<GetTodoError> for ApiError {
    fn from(error: GetTodoError) -> Self {
        match error {
            GetTodoError::NotFound => Self::not_found(),
            GetTodoError::Infra(e) => e.into(),
        }
    }
}

impl From<ListTodosError> for ApiError {
    fn from(error: ListTodosError) -> Self {
        match error {
            ListTodosError::Infra(e) => e.into(),
        }
    }
}

impl From<UpdateTodoError> for ApiError {
    fn from(error: UpdateTodoError) -> Self {
        match error {
            UpdateTodoError::NotFound => Self::not_found(),
            UpdateTodoError::VersionConflict { .. } => Self::version_mismatch(),
            UpdateTodoError::Infra(e) => e.into(),
        }
    }
}

impl From<DeleteTodoError> for ApiError {
    fn from(error: DeleteTodoError) -> Self {
        match error {
            DeleteTodoError::NotFound => Self::not_found(),
            DeleteTodoError::VersionConflict { .. } => Self::version_mismatch(),
            DeleteTodoError::Infra(e) => e.into(),
        }
    }
}

impl From<StatusChangeError> for ApiError {
    fn from(error: StatusChangeError) -> Self {
        match error {
            StatusChangeError::NotFound => Self::not_found(),
            StatusChangeError::Contended => Self::conflict(
                "contended",
                "the todo is being changed by others; try again",
            ),
            StatusChangeError::Infra(e) => e.into(),
        }
    }
}

impl From<AddTagError> for ApiError {
    fn from(error: AddTagError) -> Self {
        match error {
            AddTagError::NotFound => Self::not_found(),
            AddTagError::TooManyTags(e) => Self::validation(vec![FieldError::new("tag", e)]),
            AddTagError::Contended => Self::conflict(
                "contended",
                "the todo is being changed by others; try again",
            ),
            AddTagError::Infra(e) => e.into(),
        }
    }
}

impl From<RemoveTagError> for ApiError {
    fn from(error: RemoveTagError) -> Self {
        match error {
            RemoveTagError::NotFound => Self::not_found(),
            RemoveTagError::Contended => Self::conflict(
                "contended",
                "the todo is being changed by others; try again",
            ),
            RemoveTagError::Infra(e) => e.into(),
        }
    }
}
