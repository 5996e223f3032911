//! The mutation root: changes.

use std::sync::Arc;

use application::{
    AppError, UseCases,
    users::{Credentials, LogInError},
};
use async_graphql::{Context, ID, Object, Result};
use domain::user::{Email, Password};

use crate::{
    auth::{ClientAddress, actor, token},
    error::report,
    inputs::{self, CreateTodoInput, RegisterInput, UpdateTodoInput},
    replays::Replays,
    types::{SessionGql, TodoGql, UserGql},
};

/// What a client can change: the mutation root. One request selects at most 10 of its
/// fields (10 writes), else `query_too_complex`.
#[derive(Debug, Default)]
pub struct Mutation;

/// Notes that this field's answer is a replay, when it is.
fn replayed(ctx: &Context<'_>, replayed: bool) {
    if replayed && let Some(replays) = ctx.data_opt::<Replays>() {
        replays.add(ctx.item.node.response_key().node.to_string());
    }
}

/// The client's address, when the request came over a connection the server accepted.
fn client_address(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<ClientAddress>().map(|address| address.0)
}

#[Object]
impl Mutation {
    /// Registers a new member. `email_taken` when the email has an account; `rate_limited`
    /// (with `retryAfter`) past `REGISTER_LIMIT_PER_ADDRESS` registrations a minute from one
    /// address.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<UserGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let user = use_cases
            .register
            .register(input.parse().map_err(report)?, client_address(ctx))
            .await
            .map_err(report)?;
        Ok(UserGql::from(&user))
    }

    /// Logs in: the session's token is returned here, once. A wrong password and an unknown
    /// email get the same `unauthenticated`. Past `LOGIN_LIMIT_PER_EMAIL` attempts a minute
    /// for one email, or `LOGIN_LIMIT_PER_ADDRESS` from one address, `rate_limited` (with
    /// `retryAfter`), before any password is checked.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<SessionGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        // A malformed email or password cannot belong to an account: the same answer as a
        // wrong one, so the error says nothing about which it was.
        let credentials = match (Email::parse(&email), Password::new(password)) {
            (Ok(email), Ok(password)) => Credentials { email, password },
            _ => return Err(report(AppError::from(LogInError::InvalidCredentials))),
        };
        let logged_in = use_cases
            .log_in
            .execute(credentials, client_address(ctx))
            .await
            .map_err(report)?;
        Ok(SessionGql {
            token: logged_in.token.expose().to_owned(),
            expires_at: logged_in.session.expires_at,
            user: UserGql::from(&logged_in.user),
        })
    }

    /// Ends the caller's session: the token stops working.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        use_cases
            .log_out
            .execute(token(ctx)?)
            .await
            .map_err(report)?;
        Ok(true)
    }

    /// Creates a todo, open, at version 1.
    ///
    /// `idempotencyKey`: a key of the client's choosing (a UUID, say) for a request it may
    /// send again. A retry with the same key and the same arguments gets the first answer,
    /// and writes nothing more (the field's response key is listed in the response's
    /// `extensions.idempotentReplayed`; when every field of the response is a replay, the
    /// HTTP header `Idempotent-Replayed: true` says so too). The same key with other
    /// arguments: `idempotency_key_reused`. 1 to 255 printable ASCII characters
    /// without `"` or `\\`, else `validation_failed` on `idempotencyKey`. Keys are the
    /// caller's alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`).
    async fn create_todo(
        &self,
        ctx: &Context<'_>,
        input: CreateTodoInput,
        idempotency_key: Option<String>,
    ) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let new = input.parse().map_err(report)?;
        let todo = match inputs::idempotency_key(idempotency_key.as_deref()).map_err(report)? {
            Some(key) => {
                let created = use_cases
                    .create_todo
                    .execute_once(actor, new, key)
                    .await
                    .map_err(report)?;
                replayed(ctx, created.replayed);
                created.value
            }
            None => use_cases
                .create_todo
                .execute(actor, new)
                .await
                .map_err(report)?,
        };
        Ok(TodoGql::from(&todo))
    }

    /// Edits title, description and due date, if the todo is still at `expectedVersion`;
    /// otherwise `version_mismatch`, with `extensions.currentVersion`.
    ///
    /// `idempotencyKey`: a key of the client's choosing (a UUID, say) for a request it may
    /// send again. A retry with the same key and the same arguments gets the first answer,
    /// and writes nothing more (the field's response key is listed in the response's
    /// `extensions.idempotentReplayed`; when every field of the response is a replay, the
    /// HTTP header `Idempotent-Replayed: true` says so too). The same key with other
    /// arguments: `idempotency_key_reused`. 1 to 255 printable ASCII characters
    /// without `"` or `\\`, else `validation_failed` on `idempotencyKey`. Keys are the
    /// caller's alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`).
    async fn update_todo(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i64,
        input: UpdateTodoInput,
        idempotency_key: Option<String>,
    ) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let expected = inputs::version("expectedVersion", expected_version).map_err(report)?;
        let changes = input.parse().map_err(report)?;
        let todo = match inputs::idempotency_key(idempotency_key.as_deref()).map_err(report)? {
            Some(key) => {
                let updated = use_cases
                    .update_todo
                    .execute_once(actor, id, expected, changes, key)
                    .await
                    .map_err(report)?;
                replayed(ctx, updated.replayed);
                updated.value
            }
            None => use_cases
                .update_todo
                .execute(actor, id, expected, changes)
                .await
                .map_err(report)?,
        };
        Ok(TodoGql::from(&todo))
    }

    /// Marks a todo done (a no-op if it is).
    async fn complete_todo(&self, ctx: &Context<'_>, id: ID) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let todo = use_cases
            .complete_todo
            .execute(actor, id)
            .await
            .map_err(report)?;
        Ok(TodoGql::from(&todo))
    }

    /// Marks a todo open again (a no-op if it is).
    async fn reopen_todo(&self, ctx: &Context<'_>, id: ID) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let todo = use_cases
            .reopen_todo
            .execute(actor, id)
            .await
            .map_err(report)?;
        Ok(TodoGql::from(&todo))
    }

    /// Tags a todo (a no-op if it has the tag).
    async fn add_tag(&self, ctx: &Context<'_>, id: ID, tag: String) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let tag = inputs::tag(&tag).map_err(report)?;
        let todo = use_cases
            .add_tag
            .execute(actor, id, tag)
            .await
            .map_err(report)?;
        Ok(TodoGql::from(&todo))
    }

    /// Untags a todo (a no-op if it lacks the tag).
    async fn remove_tag(&self, ctx: &Context<'_>, id: ID, tag: String) -> Result<TodoGql> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let id = inputs::todo_id(&id).map_err(report)?;
        let tag = inputs::tag(&tag).map_err(report)?;
        let todo = use_cases
            .remove_tag
            .execute(actor, id, &tag)
            .await
            .map_err(report)?;
        Ok(TodoGql::from(&todo))
    }

    /// Deletes a todo if it is still at `expectedVersion`. Returns the deleted id.
    ///
    /// `idempotencyKey`: a key of the client's choosing (a UUID, say) for a request it may
    /// send again. A retry with the same key and the same arguments gets the first answer,
    /// and writes nothing more (the field's response key is listed in the response's
    /// `extensions.idempotentReplayed`; when every field of the response is a replay, the
    /// HTTP header `Idempotent-Replayed: true` says so too). The same key with other
    /// arguments: `idempotency_key_reused`. 1 to 255 printable ASCII characters
    /// without `"` or `\\`, else `validation_failed` on `idempotencyKey`. Keys are the
    /// caller's alone, and kept for a day (`IDEMPOTENCY_KEY_TTL_HOURS`).
    async fn delete_todo(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i64,
        idempotency_key: Option<String>,
    ) -> Result<ID> {
        let use_cases = ctx.data::<Arc<UseCases>>()?;
        let actor = actor(ctx)?;
        let todo_id = inputs::todo_id(&id).map_err(report)?;
        let expected = inputs::version("expectedVersion", expected_version).map_err(report)?;
        match inputs::idempotency_key(idempotency_key.as_deref()).map_err(report)? {
            Some(key) => {
                let deleted = use_cases
                    .delete_todo
                    .execute_once(actor, todo_id, expected, key)
                    .await
                    .map_err(report)?;
                replayed(ctx, deleted.replayed);
            }
            None => use_cases
                .delete_todo
                .execute(actor, todo_id, expected)
                .await
                .map_err(report)?,
        }
        Ok(id)
    }
}
