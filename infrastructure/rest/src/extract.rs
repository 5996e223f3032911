//! Extractors: everything a handler takes from a request, with failures already turned into
//! [`ApiError`]s.

use application::{Actor, FieldViolation};
use axum::{
    Json,
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header, request::Parts},
};
use domain::{
    idempotency::IdempotencyKey,
    session::SessionToken,
    todo::{Tag, TodoId, Version},
};
use serde::de::DeserializeOwned;

use crate::{ApiState, error::ApiError};

/// A JSON body. Unlike `axum::Json`, its failures are problem responses: 400 for broken
/// JSON, 413 for a body over the limit, 415 for another content type, 422 for JSON of the
/// wrong shape (missing fields, wrong types, unknown fields, unknown enum values).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

pub(crate) fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::validation(vec![FieldViolation::new("body", rejection.body_text())])
        }
        _ => ApiError::malformed(rejection.body_text()),
    }
}

/// Path parameters. Unlike `axum::extract::Path`, a segment that cannot be decoded (not
/// UTF-8, say) is a 400 problem, not a plain-text body.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::malformed(rejection.body_text())),
        }
    }
}

/// Query parameters. Unlike `axum::extract::Query`, a query that does not decode (a
/// parameter given twice, say) is a 400 problem naming the parameter.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::malformed(rejection.body_text())),
        }
    }
}

/// The acting user, from `Authorization: Bearer <token>`. Missing, malformed, unknown and
/// expired tokens all get the same 401.
#[derive(Debug)]
pub(crate) struct Auth(pub(crate) Actor);

impl FromRequestParts<ApiState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        Ok(Self(state.use_cases.authenticate.execute(token).await?))
    }
}

/// Like [`Auth`], and the token itself, for logging out.
#[derive(Debug)]
pub(crate) struct AuthWithToken {
    pub(crate) token: SessionToken,
}

impl FromRequestParts<ApiState> for AuthWithToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let raw = bearer_token(parts)?;
        state.use_cases.authenticate.execute(raw).await?;
        let token = SessionToken::parse(raw).map_err(|_| ApiError::unauthenticated())?;
        Ok(Self { token })
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(ApiError::unauthenticated)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(token.trim())
    } else {
        Err(ApiError::unauthenticated())
    }
}

/// The version a client read, from `If-Match: "<version>"` (the ETag of a todo response).
///
/// Missing, or `*`: 428, because a write without it could overwrite a change the client has
/// not seen. Not of the form `"<version>"` ([`IF_MATCH_PATTERN`]): 400. One of our ETags
/// that is not the todo's current version: 412, from the use case.
#[derive(Debug)]
pub(crate) struct IfMatch(pub(crate) Version);

/// What an `If-Match` value must look like: one strong ETag of ours, a version from 1 with
/// no sign and no leading zero, in quotes. Eighteen digits at most, so every value that
/// matches fits an `i64`. The document publishes it.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) const IF_MATCH_PATTERN: &str = r#"^"[1-9][0-9]{0,17}"$"#;

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if_match(parts.headers.get(header::IF_MATCH)).map(Self)
    }
}

/// The version in an `If-Match` value: see [`IfMatch`].
pub(crate) fn if_match(value: Option<&HeaderValue>) -> Result<Version, ApiError> {
    let value = value.ok_or_else(ApiError::version_required)?.as_bytes();
    if value == b"*" {
        return Err(ApiError::version_required()
            .detail("If-Match: * does not say which version you read; send the ETag"));
    }
    let malformed = || ApiError::malformed("If-Match must be the ETag you read, such as \"3\"");
    let digits = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .ok_or_else(malformed)?;
    // Inside the quotes, a version's one text form, as every protocol reads it.
    std::str::from_utf8(digits)
        .ok()
        .and_then(|v| Version::parse(v).ok())
        .ok_or_else(malformed)
}

/// `Idempotency-Key`, when the client sent one: the key of a write it may retry (see
/// `domain::idempotency`). It is read as the IETF draft writes it, a structured-field string
/// (`"8e03978e-…"`), or bare, as many clients send it; [`IDEMPOTENCY_KEY_PATTERN`] is both.
/// Anything else, or the header twice, is 400.
#[derive(Debug)]
pub(crate) struct IdempotencyKeyHeader(pub(crate) Option<IdempotencyKey>);

/// What `Idempotency-Key` may be: a key, quoted or not. The document publishes it.
#[cfg(test)]
pub(crate) const IDEMPOTENCY_KEY_PATTERN: &str = r#"^(?:"[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$"#;

/// The name of the header.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        idempotency_key(parts.headers.get_all(IDEMPOTENCY_KEY).iter()).map(Self)
    }
}

/// The key in the `Idempotency-Key` values `values`: see [`IdempotencyKeyHeader`].
pub(crate) fn idempotency_key<'a>(
    mut values: impl Iterator<Item = &'a HeaderValue>,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = || {
        ApiError::malformed(
            "Idempotency-Key must be one key of 1 to 255 printable ASCII characters \
             (no `\"` or `\\`), quoted or not",
        )
    };
    if values.next().is_some() {
        return Err(malformed());
    }
    let text = value.to_str().map_err(|_| malformed())?;
    let key = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted,
        None => text,
    };
    IdempotencyKey::new(key).map(Some).map_err(|_| malformed())
}

/// The ETag for a todo at `version`.
pub(crate) fn etag(version: Version) -> String {
    format!("\"{}\"", version.get())
}

/// A todo id from the path. Anything that is not a UUID names no todo: 404.
pub(crate) fn todo_id(raw: &str) -> Result<TodoId, ApiError> {
    domain::id::parse_uuid(raw)
        .map(TodoId::from_uuid)
        .ok_or_else(ApiError::not_found)
}

/// A tag from the path: 422 when it is not a valid tag.
pub(crate) fn tag(raw: &str) -> Result<Tag, ApiError> {
    Tag::new(raw).map_err(|e| ApiError::validation(vec![FieldViolation::new("tag", e)]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The pattern the document gives for `If-Match` accepts exactly what is parsed.
    #[test]
    fn the_idempotency_key_pattern_agrees_with_the_parser() {
        let pattern = regex::Regex::new(IDEMPOTENCY_KEY_PATTERN).unwrap();
        let long = "k".repeat(255);
        let too_long = "k".repeat(256);
        for value in [
            "8e03978e-40d5-43e8-bc93-6894a57f9324",
            "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
            "\"a\"",
            "a",
            long.as_str(),
            too_long.as_str(),
            "\"\"",
            "\"a",
            "a\"",
            "a b",
            "a\\b",
            "",
            "\"a\"b\"",
        ] {
            let header = HeaderValue::from_str(value).unwrap();
            let parsed = idempotency_key(std::iter::once(&header));
            assert_eq!(
                pattern.is_match(value),
                parsed.is_ok(),
                "{value:?}: {parsed:?}"
            );
        }
    }

    #[test]
    fn the_if_match_pattern_agrees_with_the_parser() {
        let pattern = regex::Regex::new(IF_MATCH_PATTERN).unwrap();
        for value in [
            "\"1\"",
            "\"42\"",
            "\"999999999999999999\"",
            "\"1000000000000000000\"",
            "\"0\"",
            "\"01\"",
            "\"+1\"",
            "\"-1\"",
            "1",
            "W/\"1\"",
            "\"1\", \"2\"",
            "\"\"",
            "\"",
            "",
            "*",
            "\"1 \"",
            "\"١\"",
        ] {
            let parsed = if_match(Some(&HeaderValue::from_str(value).unwrap()));
            assert_eq!(pattern.is_match(value), parsed.is_ok(), "{value:?}");
        }
    }

    /// The document's `If-Match` parameter carries the same pattern, on both routes that
    /// take it (the annotations repeat it as a literal, which utoipa requires).
    #[test]
    fn the_document_gives_the_if_match_pattern() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::ApiDoc::openapi()).unwrap();
        for method in ["patch", "delete"] {
            let parameters = doc["paths"]["/v1/todos/{id}"][method]["parameters"]
                .as_array()
                .unwrap();
            let if_match = parameters.iter().find(|p| p["name"] == "If-Match").unwrap();
            assert_eq!(if_match["schema"]["pattern"], IF_MATCH_PATTERN, "{method}");
        }
    }

    /// The document's `Idempotency-Key` parameter carries the same pattern, on every route
    /// that takes it.
    #[test]
    fn the_document_gives_the_idempotency_key_pattern() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::ApiDoc::openapi()).unwrap();
        for (path, method) in [
            ("/v1/todos", "post"),
            ("/v1/todos/{id}", "patch"),
            ("/v1/todos/{id}", "delete"),
        ] {
            let parameters = doc["paths"][path][method]["parameters"].as_array().unwrap();
            let key = parameters
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .unwrap();
            assert_eq!(
                key["schema"]["pattern"], IDEMPOTENCY_KEY_PATTERN,
                "{method} {path}"
            );
            assert_eq!(key["required"], false, "{method} {path}");
        }
    }
}
