//! The one place where errors become GraphQL errors.
//!
//! Every error carries `extensions.code` from the application's vocabulary (the table in
//! `docs/src/errors.md`). Invalid input lists each field in `extensions.fields`; a version mismatch carries
//! `extensions.currentVersion`; an unavailable backend `extensions.retryAfterSeconds` when
//! known. An internal error says "internal error" and nothing more; its cause is logged
//! once, inside the request's span, so the line carries the request id.

use application::{AppError, ErrorKind};
use async_graphql::{Error, ErrorExtensions, Value};

/// Codes of errors that only GraphQL has: the request itself was refused before any
/// resolver ran.
pub mod codes {
    /// The query text does not parse, does not validate against the schema, or the body is
    /// not a GraphQL request.
    pub const MALFORMED_REQUEST: &str = "malformed_request";
    /// The query nests deeper than the limit.
    pub const QUERY_TOO_DEEP: &str = "query_too_deep";
    /// The query would cost more than the limit (each connection's `first` multiplies).
    pub const QUERY_TOO_COMPLEX: &str = "query_too_complex";
    /// The query text is longer than the limit.
    pub const QUERY_TOO_LARGE: &str = "query_too_large";
    /// A mutation sent over GET, or a method `/graphql` does not serve.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// An operation the transport does not carry: a subscription over HTTP, or a query or
    /// mutation over the WebSocket.
    pub const OPERATION_NOT_SUPPORTED: &str = "operation_not_supported";
    /// `__schema` or `__type` asked for while introspection is switched off.
    pub const INTROSPECTION_DISABLED: &str = "introspection_disabled";
    /// A body that is not `application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
}

/// `error` as a GraphQL error, its cause logged once.
pub(crate) fn report(error: impl Into<AppError>) -> Error {
    let error = error.into();
    error.log_cause("GraphQL field");
    to_graphql(&error)
}

/// The mapping from the vocabulary: the code as it is, the message unless internal, and
/// the details each kind carries. Does not log; [`report`] does.
pub(crate) fn to_graphql(error: &AppError) -> Error {
    let message = match error.kind() {
        ErrorKind::Internal => "internal error".to_owned(),
        _ => error.message().to_owned(),
    };
    let code = error.code();
    let fields: Vec<Value> = error
        .fields()
        .iter()
        .map(|f| {
            Value::from_json(serde_json::json!({"field": f.field, "message": f.message}))
                .unwrap_or(Value::Null)
        })
        .collect();
    let current_version = error.current_version().map(|v| v.get());
    let omitted = error.omitted_fields();
    let retry_after = error.retry_after().map(|d| d.as_secs_f64().ceil() as u64);
    Error::new(message).extend_with(move |_, extensions| {
        extensions.set("code", code);
        if !fields.is_empty() {
            extensions.set("fields", Value::List(fields.clone()));
        }
        if omitted > 0 {
            extensions.set("omittedFields", omitted);
        }
        if let Some(version) = current_version {
            extensions.set("currentVersion", version);
        }
        if let Some(seconds) = retry_after {
            extensions.set("retryAfterSeconds", seconds);
        }
    })
}
