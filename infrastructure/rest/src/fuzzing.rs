//! Entry points for the fuzz targets in `fuzz/`: each runs one piece of a route's request
//! parsing on arbitrary input, exactly as the handlers do, without a server. Each asserts
//! what a client is promised: no panic, and a refusal is a client error (4xx) with a
//! problem code, never a 5xx. Built only with the `fuzzing` feature; not part of the API.
// A fuzz target reports a broken promise by panicking.
#![allow(clippy::unwrap_used, clippy::panic)]

use axum::{
    Json,
    extract::Query,
    http::{HeaderValue, Uri},
};
use regex::Regex;
use serde::de::DeserializeOwned;
use std::sync::LazyLock;

use crate::{
    dto::{
        CreateTodoRequest, ListTodosParams, ListUsersParams, LogInRequest, RegisterRequest,
        UpdateTodoRequest,
    },
    error::ApiError,
    extract,
};

/// `bytes` as the JSON body of each route that takes one: decoded by axum's `Json`, then
/// parsed into domain values.
pub fn request_bodies(bytes: &[u8]) {
    body::<RegisterRequest>(bytes, |dto| dto.parse().map(drop));
    body::<LogInRequest>(bytes, |dto| dto.parse().map(drop));
    body::<CreateTodoRequest>(bytes, |dto| dto.parse().map(drop));
    body::<UpdateTodoRequest>(bytes, |dto| dto.parse().map(drop));
}

fn body<T: DeserializeOwned>(
    bytes: &[u8],
    parse: impl FnOnce(T) -> Result<(), application::AppError>,
) {
    let outcome = Json::<T>::from_bytes(bytes)
        .map_err(|rejection| extract::json_rejection(&rejection))
        .and_then(|Json(dto)| parse(dto).map_err(ApiError::from));
    if let Err(error) = outcome {
        assert_client_error(&error);
    }
}

/// `value` as an `If-Match` header: accepted exactly when the document's pattern matches,
/// and then a version that prints back as the ETag that names it; otherwise 400 or 428.
pub fn if_match(value: &[u8]) {
    static PATTERN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(extract::IF_MATCH_PATTERN).unwrap());
    let Ok(header) = HeaderValue::from_bytes(value) else {
        return; // Not a header value: the HTTP layer refuses it before any route.
    };
    let documented = std::str::from_utf8(value).is_ok_and(|text| PATTERN.is_match(text));
    match extract::if_match(Some(&header)) {
        Ok(version) => {
            assert!(
                documented,
                "accepted, but the document's pattern refuses it"
            );
            let etag = HeaderValue::from_str(&extract::etag(version)).unwrap();
            assert_eq!(extract::if_match(Some(&etag)).ok(), Some(version));
        }
        Err(error) => {
            assert!(!documented, "refused, but the document's pattern allows it");
            assert!([400, 428].contains(&error.status().as_u16()), "{error:?}");
        }
    }
}

/// `query` as the query string of both list routes: decoded by axum's `Query`, then parsed
/// (`status`, `tag`, `cursor`, `limit`).
pub fn list_queries(query: &str) {
    let Ok(uri) = format!("/v1/todos?{query}").parse::<Uri>() else {
        return; // Not a URI: the HTTP layer refuses it before any route.
    };
    // A query that does not decode is the extractor's 400 (`ApiQuery`).
    if let Ok(Query(params)) = Query::<ListTodosParams>::try_from_uri(&uri)
        && let Err(error) = params.parse()
    {
        assert_client_error(&ApiError::from(error));
    }
    if let Ok(Query(params)) = Query::<ListUsersParams>::try_from_uri(&uri)
        && let Err(error) = params.parse()
    {
        assert_client_error(&ApiError::from(error));
    }
}

fn assert_client_error(error: &ApiError) {
    assert!(error.status().is_client_error(), "{error:?}");
}
