//! The caller of one GraphQL request: who, from `Authorization: Bearer <token>`, and from
//! where, the address the connection came from.
//!
//! The token is checked once per request, before execution, with the same `Authenticate`
//! use case REST uses. A request without one is anonymous, which is fine for `register` and
//! `logIn`; a field that needs a user then answers `unauthenticated`.

use std::{net::IpAddr, sync::Arc};

use application::{Actor, AppError, UseCases};
use async_graphql::{Context, Error};
use domain::session::SessionToken;

use crate::error::to_graphql;

/// The client's address, as the server accepted the connection: what login and
/// registration limits count by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) IpAddr);

/// Who is calling, as established by the bearer token.
#[derive(Debug)]
pub(crate) enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A valid session.
    User {
        /// The acting user.
        actor: Actor,
        /// The token, for logging out.
        token: SessionToken,
    },
    /// A header that did not authenticate (or the session store failed); every field that
    /// needs a user answers with this error.
    Rejected(Arc<AppError>),
}

impl Caller {
    /// Authenticates `authorization`, the value of the request's `Authorization` header
    /// (`Bearer <token>`), if it has one.
    pub(crate) async fn authenticate(authorization: Option<&str>, use_cases: &UseCases) -> Self {
        let Some(value) = authorization else {
            return Caller::Anonymous;
        };
        let raw = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let rejected = |error: AppError| {
            // Logged once here, rather than by each field that asks for the user.
            error.log_cause("GraphQL field");
            Caller::Rejected(Arc::new(error))
        };
        let Some(raw) = raw else {
            return rejected(AppError::unauthenticated(
                "a valid bearer token is required",
            ));
        };
        match use_cases.authenticate.execute(raw).await {
            Ok(actor) => match SessionToken::parse(raw) {
                Ok(token) => Caller::User { actor, token },
                Err(_) => rejected(AppError::unauthenticated(
                    "a valid bearer token is required",
                )),
            },
            Err(error) => rejected(error.into()),
        }
    }
}

/// The acting user, or the error a field that needs one answers with.
pub(crate) fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Actor, Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { actor, .. }) => Ok(actor),
        Some(Caller::Rejected(error)) => Err(to_graphql(error)),
        Some(Caller::Anonymous) | None => Err(to_graphql(&AppError::unauthenticated(
            "a valid bearer token is required",
        ))),
    }
}

/// The caller's session token, for logging out.
pub(crate) fn token<'a>(ctx: &Context<'a>) -> Result<&'a SessionToken, Error> {
    actor(ctx)?;
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { token, .. }) => Ok(token),
        _ => Err(to_graphql(&AppError::unauthenticated(
            "a valid bearer token is required",
        ))),
    }
}
