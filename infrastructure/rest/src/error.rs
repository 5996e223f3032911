//! The one place where errors become HTTP responses.
//!
//! Every error body is an RFC 9457 problem (`driving_http::Problem`) with a stable
//! machine-readable `code`, the request id, and per-field messages for validation failures.
//! Use-case errors arrive as the application's [`AppError`] and are mapped to a status by
//! kind in one function, [`status_of`]; the few errors only HTTP has (a body that is not
//! JSON, a missing `If-Match`, ...) are made here too. A 5xx is logged once, here, with its
//! whole cause chain; the client gets a generic message.

use application::{AppError, ErrorKind, FieldViolation};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::error::InfraError;
use driving_http::{FieldError, Problem};

/// The HTTP status and problem title for each kind of use-case error: the REST column of
/// the vocabulary table in `docs/src/errors.md`.
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
        ErrorKind::LimitExceeded => (
            StatusCode::TOO_MANY_REQUESTS,
            "A limit on what one caller may hold at once was reached",
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

    /// The status this error is answered with.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn status(&self) -> StatusCode {
        self.0.status
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
        .detail(format!(
            "the limit is {} bytes",
            driving_http::BODY_LIMIT_BYTES
        ))
    }
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Expected a JSON body",
        )
        .detail("send Content-Type: application/json")
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
        // At most `MAX_FIELD_VIOLATIONS`: the collector keeps no more, and its message
        // (the detail) counts the rest.
        api.0.errors = error
            .fields()
            .iter()
            .map(|v| FieldError {
                field: v.field.clone(),
                message: v.message.clone(),
            })
            .collect();
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
        let mut problem = Problem::new(this.status, this.code, this.title)
            .errors(this.errors)
            .current_version(this.current_version);
        if let Some(detail) = this.detail {
            problem = problem.detail(detail);
        }
        let mut response = problem.into_response();
        let headers = response.headers_mut();
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
