//! Turning sqlx errors into domain errors, in one place.

use domain::error::{InfraError, RepositoryError};

/// SQLSTATEs that mean "the server can't take this now", not "the query is wrong":
/// too many connections, shutting down, cannot connect now, statement timeout.
const TRANSIENT_SQLSTATES: [&str; 5] = ["53300", "57P01", "57P02", "57P03", "57014"];

/// An infrastructure failure, classified as unavailable (worth retrying later) or internal.
pub(crate) fn infra(operation: &'static str, error: sqlx::Error) -> InfraError {
    if is_transient(&error) {
        InfraError::unavailable(operation, error)
    } else {
        InfraError::internal(operation, error)
    }
}

/// Whether `error` means "the server can't take this now" (see [`infra`]).
pub(crate) fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| TRANSIENT_SQLSTATES.contains(&code.as_ref())),
        _ => false,
    }
}

/// A failed write: a violated constraint becomes the domain error its name stands for;
/// anything else is an infrastructure failure.
pub(crate) fn write(operation: &'static str, error: sqlx::Error) -> RepositoryError {
    if let sqlx::Error::Database(db) = &error {
        match db.constraint() {
            Some("users_email_key") => return RepositoryError::Duplicate("email"),
            Some("users_pkey" | "todos_pkey") => return RepositoryError::Duplicate("id"),
            Some("todos_owner_id_fkey") => return RepositoryError::UnknownReference("owner"),
            Some("idempotency_keys_pkey") => {
                return RepositoryError::Duplicate("idempotency_key");
            }
            Some("idempotency_keys_user_id_fkey") => {
                return RepositoryError::UnknownReference("owner");
            }
            _ => {}
        }
    }
    RepositoryError::Infra(infra(operation, error))
}
