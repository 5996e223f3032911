//! RFC 9457 problem documents: the one error body of every HTTP route that is not GraphQL.

use axum::{
    Json,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::observability::current_request_id;

/// One invalid input field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as named in the request (`title`, `tags[2]`, `limit`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An RFC 9457 problem document (`application/problem+json`). The request id is filled in
/// when the response is made, from the request being handled.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
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

impl Problem {
    /// A problem with `status`, a stable `code` and a short `title`.
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            kind: format!("urn:problem:{code}"),
            title,
            status: status.as_u16(),
            detail: None,
            code,
            request_id: None,
            errors: Vec::new(),
            current_version: None,
        }
    }

    /// What went wrong this time.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The invalid fields.
    pub fn errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The version now stored, for a version mismatch.
    pub fn current_version(mut self, version: Option<i64>) -> Self {
        self.current_version = version;
        self
    }

    /// 413: the body is over [`crate::BODY_LIMIT_BYTES`].
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        )
        .detail(format!("the limit is {} bytes", crate::BODY_LIMIT_BYTES))
    }

    /// 503: the request took longer than allowed.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "The request took too long",
        )
    }

    /// 503: the server holds as many requests as it takes at once; shed, not queued.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "The server is busy; try again shortly",
        )
    }

    /// A problem for an error response that some layer made without one (a framework
    /// rejection, say), keeping its status.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource")
            }
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a JSON body",
            ),
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
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        self.request_id = current_request_id();
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// The longest body of a bare error response that is read to become a problem's detail.
const BARE_ERROR_BODY_LIMIT: usize = 4096;

/// Turns any error response without a body format of its own into a problem document.
///
/// Handlers and extractors answer with problems (or GraphQL responses) by construction;
/// this catches the rest: rejections from a framework layer, routes added by libraries (the
/// docs page), anything a future change forgets. A client can then rely on structured
/// errors everywhere. The plain-text reason of a 4xx becomes the `detail`; a bare 5xx body
/// is never sent.
pub(crate) async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Any JSON is a format of its own: problems, the readiness report, GraphQL responses
    // (`application/graphql-response+json`). gRPC answers 200 with its status in trailers.
    if !(status.is_client_error() || status.is_server_error()) || content_type.contains("json") {
        return response;
    }
    let mut problem = Problem::for_status(status);
    if status.is_client_error() {
        let body = axum::body::to_bytes(response.into_body(), BARE_ERROR_BODY_LIMIT).await;
        if let Some(text) = body
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .filter(|text| !text.trim().is_empty())
        {
            problem = problem.detail(text);
        }
    }
    problem.into_response()
}
