//! The one place where errors become gRPC statuses.
//!
//! Every status carries a `google.rpc.ErrorInfo` whose `reason` is the stable code of the
//! application's vocabulary (`docs/src/errors.md`), so clients branch on the same codes over
//! every protocol. The details some kinds have travel too:
//! - invalid input: a `google.rpc.BadRequest`, one field violation per invalid field, at
//!   most 20 of them; past that, `omitted_fields` in the ErrorInfo's metadata says how
//!   many more there were;
//! - a version mismatch: the current version, as `current_version` in the ErrorInfo's
//!   metadata;
//! - an unavailable backend: a `google.rpc.RetryInfo` when the retry delay is known.
//!
//! An internal error says "internal error" and nothing more. Its cause is logged once,
//! inside the RPC's span, so the log line carries the request id.

use std::collections::HashMap;

use application::{AppError, ErrorKind, error::codes};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of every `google.rpc.ErrorInfo` this service sends: the logical owner of
/// the reason codes.
pub const ERROR_DOMAIN: &str = "todo.v1";

/// The ErrorInfo metadata key that carries the current version of a todo after a version
/// mismatch.
pub const CURRENT_VERSION: &str = "current_version";

/// The ErrorInfo metadata key that says how many invalid fields the `BadRequest` does not
/// list (it lists at most `application::MAX_FIELD_VIOLATIONS`).
pub const OMITTED_FIELDS: &str = "omitted_fields";

/// Codes of errors that only gRPC has: the call was refused before any use case ran.
pub mod grpc_codes {
    /// The message could not be decoded, or a field of it is not what the proto says.
    pub const MALFORMED_REQUEST: &str = "malformed_request";
    /// The message is larger than the server accepts.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The client's deadline (`grpc-timeout`), or the server's own limit, passed first.
    pub const TIMEOUT: &str = "timeout";
    /// No such method.
    pub const UNIMPLEMENTED: &str = "unimplemented";
    /// Any other status a framework layer answered with on its own.
    pub const FAILED: &str = "failed";
}

/// `error` as a status, its cause logged once.
pub(crate) fn report(error: impl Into<AppError>) -> Status {
    let error = error.into();
    error.log_cause("RPC");
    to_status(&error)
}

/// The mapping from the vocabulary, in one function: the gRPC code for the kind, the
/// message unless internal, and the details. Does not log; [`report`] does.
pub fn to_status(error: &AppError) -> Status {
    let code = match error.kind() {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::Forbidden => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::VersionMismatch => Code::Aborted,
        // AIP-193: ALREADY_EXISTS for a resource that exists; ABORTED for a concurrency
        // conflict the client may retry.
        ErrorKind::Conflict
            if matches!(
                error.code(),
                codes::EMAIL_TAKEN | codes::IDEMPOTENCY_KEY_REUSED
            ) =>
        {
            Code::AlreadyExists
        }
        ErrorKind::Conflict => Code::Aborted,
        ErrorKind::LimitExceeded => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Internal => Code::Internal,
    };
    let message = match error.kind() {
        ErrorKind::Internal => "internal error",
        _ => error.message(),
    };
    let mut metadata = HashMap::new();
    if let Some(version) = error.current_version() {
        metadata.insert(CURRENT_VERSION.to_owned(), version.get().to_string());
    }
    if error.omitted_fields() > 0 {
        metadata.insert(
            OMITTED_FIELDS.to_owned(),
            error.omitted_fields().to_string(),
        );
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(error.code(), ERROR_DOMAIN, metadata);
    for violation in error.fields() {
        details.add_bad_request_violation(violation.field.clone(), violation.message.clone());
    }
    if let Some(delay) = error.retry_after() {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, message, details)
}

/// A status with only an ErrorInfo: for the refusals the adapter makes itself.
pub(crate) fn refusal(code: Code, reason: &str, message: impl Into<String>) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()),
    )
}

/// Gives `status` an ErrorInfo if it has none: for what tonic itself answers (a message
/// that does not decode, one that is too large, an unknown method), so that every error a
/// client sees carries a reason code, whoever made it.
pub(crate) fn with_reason(status: Status) -> Status {
    if status.code() == Code::Ok || status.get_error_details().error_info().is_some() {
        return status;
    }
    let reason = match status.code() {
        Code::ResourceExhausted | Code::OutOfRange => grpc_codes::PAYLOAD_TOO_LARGE,
        Code::DeadlineExceeded | Code::Cancelled => grpc_codes::TIMEOUT,
        Code::Unimplemented => grpc_codes::UNIMPLEMENTED,
        Code::Internal | Code::InvalidArgument => grpc_codes::MALFORMED_REQUEST,
        Code::Unauthenticated => codes::UNAUTHENTICATED,
        Code::Unavailable => codes::UNAVAILABLE,
        _ => grpc_codes::FAILED,
    };
    // tonic reports a message it cannot decode as INTERNAL, and one over the size limit as
    // OUT_OF_RANGE. To the client the first is bad input, and the second is what the gRPC
    // spec calls a message larger than the server accepts: RESOURCE_EXHAUSTED. (Nothing
    // else answers OUT_OF_RANGE: the vocabulary never maps to it.)
    let code = match status.code() {
        Code::Internal => Code::InvalidArgument,
        Code::OutOfRange => Code::ResourceExhausted,
        code => code,
    };
    refusal(code, reason, status.message())
}

#[cfg(test)]
mod tests {
    use application::FieldViolation;
    use domain::todo::Version;

    use super::*;

    fn reason(status: &Status) -> String {
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn each_kind_maps_to_its_code_with_the_vocabulary_code_as_reason() {
        let cases = [
            (
                AppError::invalid_input(vec![FieldViolation::new("title", "empty")]),
                Code::InvalidArgument,
                "validation_failed",
            ),
            (
                AppError::unauthenticated("no"),
                Code::Unauthenticated,
                "unauthenticated",
            ),
            (
                AppError::forbidden("no"),
                Code::PermissionDenied,
                "forbidden",
            ),
            (AppError::not_found("no"), Code::NotFound, "not_found"),
            (
                AppError::version_mismatch(Version::new(3).ok()),
                Code::Aborted,
                "version_mismatch",
            ),
            (
                AppError::conflict(codes::EMAIL_TAKEN, "taken"),
                Code::AlreadyExists,
                "email_taken",
            ),
            (
                AppError::conflict(codes::CONTENDED, "busy"),
                Code::Aborted,
                "contended",
            ),
        ];
        for (error, code, expected) in cases {
            let status = to_status(&error);
            assert_eq!(status.code(), code, "{expected}");
            assert_eq!(reason(&status), expected);
            assert_eq!(
                status
                    .get_error_details()
                    .error_info()
                    .map(|i| i.domain.as_str()),
                Some(ERROR_DOMAIN)
            );
        }
    }

    #[test]
    fn invalid_input_lists_every_field_and_a_mismatch_the_current_version() {
        let status = to_status(&AppError::invalid_input(vec![
            FieldViolation::new("title", "must not be empty"),
            FieldViolation::new("tags[0]", "bad tag"),
        ]));
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["title", "tags[0]"]);

        let status = to_status(&AppError::version_mismatch(Version::new(7).ok()));
        let info = status.get_error_details().error_info().cloned();
        assert_eq!(
            info.and_then(|i| i.metadata.get(CURRENT_VERSION).cloned()),
            Some("7".to_owned())
        );
    }

    #[test]
    fn unavailable_keeps_its_retry_hint_and_internal_says_nothing() {
        use std::time::Duration;

        use domain::error::InfraError;

        let busy = InfraError::unavailable("hash password", "all slots busy")
            .retry_after(Duration::from_secs(2));
        let status = to_status(&AppError::from(busy));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(reason(&status), "unavailable");
        let retry = status.get_error_details().retry_info().cloned();
        assert_eq!(
            retry.and_then(|r| r.retry_delay),
            Some(Duration::from_secs(2))
        );

        let bug = InfraError::internal("read todo", "row 7: title is 900 characters long");
        let status = to_status(&AppError::from(bug));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(reason(&status), "internal");
        assert_eq!(status.message(), "internal error");
        assert!(!format!("{status:?}").contains("row 7"), "{status:?}");
    }

    #[test]
    fn framework_statuses_get_a_reason_and_ours_keep_theirs() {
        let decoded = with_reason(Status::internal("failed to decode Protobuf message"));
        assert_eq!(decoded.code(), Code::InvalidArgument);
        assert_eq!(reason(&decoded), grpc_codes::MALFORMED_REQUEST);

        let big = with_reason(Status::out_of_range("decoded message length too large"));
        assert_eq!(big.code(), Code::ResourceExhausted);
        assert_eq!(reason(&big), grpc_codes::PAYLOAD_TOO_LARGE);

        let ours = with_reason(to_status(&AppError::not_found("no")));
        assert_eq!(ours.code(), Code::NotFound);
        assert_eq!(reason(&ours), "not_found");
    }
}
