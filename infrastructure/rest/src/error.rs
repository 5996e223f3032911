//! The one place where errors become HTTP responses.
//!
//! Every error body is an RFC 9457 problem (`application/problem+json`) with a stable
//! machine-readable `code`, the request id, and per-field messages for validation failures.
//! Use-case errors arrive as the application's [`AppError`] and are mapped to a status by
//! kind in one function, [`status_of`]; the few errors only HTTP has (a body that is not
//! JSON, a missing `If-Match`, ...) are made here too. A 5xx is logged once, here, with its
//! whole cause chain; the client gets a generic message.

use application::{AppError, ErrorKind, FieldViolation, error::codes};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::error::InfraError;
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
    field: String,
    /// What is wrong with it.
    message: String,
}

impl From<FieldViolation> for FieldError {
    fn from(v: FieldViolation) -> Self {
        Self {
            field: v.field,
            message: v.message,
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
    /// For `version_mismatch`: the version now stored (the `ETag` to read again).
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<i64>,
}

/// The HTTP status and problem title for each kind of use-case error: the REST column of
/// the vocabulary table in the README.
///
/// A version mismatch is 412 because the client's version always arrives in `If-Match`: a
/// failed precondition, in HTTP's words.
pub(crate) fn status_of(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "Some values are invalid"),
        ErrorKind::Unauthenticated => {
            (StatusCode::UNAUTHORIZED, "A valid bearer token is required")
        }
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "You may not do this"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "No such resource"),
        ErrorKind::VersionMismatch => (
            StatusCode::PRECONDITION_FAILED,
            "The resource changed since you read it",
        ),
        ErrorKind::Conflict => (
            StatusCode::CONFLICT,
            "The request conflicts with the current state",
        ),
        ErrorKind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "A backing service is unavailable; try again later",
        ),
        ErrorKind::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
        ),
    }
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
    current_version: Option<i64>,
    /// The cause of a 5xx, logged and never sent.
    cause: Option<AppError>,
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
            current_version: None,
            cause: None,
            retry_after_secs: None,
        }))
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    // Errors of the application's vocabulary, made here for the extractors.

    pub(crate) fn validation(fields: Vec<FieldViolation>) -> Self {
        AppError::invalid_input(fields).into()
    }
    pub(crate) fn unauthenticated() -> Self {
        AppError::unauthenticated("a valid bearer token is required").into()
    }
    pub(crate) fn not_found() -> Self {
        AppError::not_found("no such resource").into()
    }
    pub(crate) fn version_mismatch() -> Self {
        AppError::version_mismatch(None).into()
    }

    // Errors only HTTP has.

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The request could not be parsed",
        )
        .detail(detail)
    }
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This method is not allowed here",
        )
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

    /// A problem for an error response that some layer made without one (a framework
    /// rejection, say), keeping its status.
    pub(crate) fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            status if status.is_server_error() => {
                Self::new(status, codes::INTERNAL, "Something went wrong on our side")
            }
            status => Self::new(
                status,
                "malformed_request",
                "The request could not be parsed",
            ),
        }
    }
}

/// The mapping from the application's vocabulary: status by kind, the code and message as
/// they are, the details each kind carries.
impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let (status, title) = status_of(error.kind());
        let mut api = Self::new(status, error.code(), title);
        // An internal error says nothing beyond its title, not even a generic sentence.
        if error.kind() != ErrorKind::Internal {
            api = api.detail(error.message());
        }
        let mut fields: Vec<FieldError> = error
            .fields()
            .iter()
            .cloned()
            .map(FieldError::from)
            .collect();
        if fields.len() > MAX_FIELD_ERRORS {
            let more = fields.len() - MAX_FIELD_ERRORS;
            fields.truncate(MAX_FIELD_ERRORS);
            api = api.detail(format!(
                "the first {MAX_FIELD_ERRORS} are listed; {more} more invalid fields are not"
            ));
        }
        api.0.errors = fields;
        api.0.current_version = error.current_version().map(|v| v.get());
        // Whole seconds, rounded up: HTTP has no finer unit, and 0 would invite a stampede.
        api.0.retry_after_secs = error
            .retry_after()
            .map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1));
        if error.cause().is_some() {
            api.0.cause = Some(error);
        }
        api
    }
}

impl From<InfraError> for ApiError {
    fn from(error: InfraError) -> Self {
        AppError::from(error).into()
    }
}

/// `?` on a use case's own error: through the vocabulary, never mapped here directly.
macro_rules! through_the_vocabulary {
    ($($error:ty),+ $(,)?) => {
        $(impl From<$error> for ApiError {
            fn from(error: $error) -> Self {
                AppError::from(error).into()
            }
        })+
    };
}

through_the_vocabulary!(
    application::users::RegisterError,
    application::users::LogInError,
    application::users::LogOutError,
    application::users::LogOutEverywhereError,
    application::users::AuthenticateError,
    application::users::CurrentUserError,
    application::users::ListUsersError,
    application::todos::CreateTodoError,
    application::todos::GetTodoError,
    application::todos::ListTodosError,
    application::todos::UpdateTodoError,
    application::todos::DeleteTodoError,
    application::todos::StatusChangeError,
    application::todos::AddTagError,
    application::todos::RemoveTagError,
);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let request_id = current_request_id();
        if let Some(error) = &this.cause {
            // Logged once, here, with the whole chain; the client sees only the message. A
            // backing service that is down or busy is a warning (the service is working as
            // designed, and the log names what to look at); anything else is an error.
            match error.kind() {
                ErrorKind::Unavailable => tracing::warn!(
                    status = this.status.as_u16(),
                    error = error as &dyn std::error::Error,
                    "request failed: a backing service is unavailable"
                ),
                _ => tracing::error!(
                    status = this.status.as_u16(),
                    error = error as &dyn std::error::Error,
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
            current_version: this.current_version,
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
