//! One function per route. Each parses, calls one use case, and builds the response.

pub(crate) mod todos;
pub(crate) mod users;

use crate::error::ApiError;

/// Any path that is not a route.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found().detail("no such route")
}

/// A route that exists, with a method it does not have.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
