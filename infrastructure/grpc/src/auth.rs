//! The caller of an RPC, from `authorization: Bearer <token>` in the metadata.
//!
//! A tower layer (an axum middleware) in front of the API's services checks the token once
//! per call, with the same `Authenticate` use case as REST and GraphQL, and hands the
//! result to the handler in the request's extensions. A call without a valid token never
//! reaches a handler: it is answered UNAUTHENTICATED here. The two calls that need no token
//! (`Register` and `LogIn`) are the only exceptions, and they are listed by name below.

use std::sync::Arc;

use application::{Actor, AppError, UseCases};
use axum::{
    body::Body,
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use domain::session::SessionToken;
use tonic::Status;

use crate::status::report;

/// The methods anyone may call, as `/{service}/{method}` paths.
const PUBLIC: &[&str] = &[
    "/todo.v1.UserService/Register",
    "/todo.v1.UserService/LogIn",
];

/// An authenticated caller, put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The acting user.
    pub(crate) actor: Actor,
    /// The session's token, for logging out.
    pub(crate) token: SessionToken,
}

/// The layer: authenticates every call but the public ones.
pub(crate) async fn authenticate(
    State(use_cases): State<Arc<UseCases>>,
    mut request: Request,
    next: Next,
) -> Response {
    if PUBLIC.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match caller(header, &use_cases).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => report(error).into_http::<Body>(),
    }
}

/// Who sends `authorization`.
async fn caller(authorization: Option<&str>, use_cases: &UseCases) -> Result<Caller, AppError> {
    let missing = || AppError::unauthenticated("a valid bearer token is required");
    let raw = authorization
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(missing)?;
    let actor = use_cases.authenticate.execute(raw).await?;
    let token = SessionToken::parse(raw).map_err(|_| missing())?;
    Ok(Caller { actor, token })
}

/// The caller of `request`, as the layer established.
///
/// # Errors
/// UNAUTHENTICATED if the layer did not run, which would be a wiring mistake: this keeps
/// such a mistake from ever serving a call anonymously.
pub(crate) fn caller_of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            report(AppError::unauthenticated(
                "a valid bearer token is required",
            ))
        })
}
