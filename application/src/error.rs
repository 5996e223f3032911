//! One error vocabulary for every protocol.
//!
//! Each use case keeps its own error enum, which documents what can go wrong with it. Each
//! enum also converts into [`AppError`]: a kind from a small fixed set, a stable machine
//! code, a message safe to show to a client, and the details some kinds carry. Driving
//! adapters map [`ErrorKind`] to their transport in exactly one function (an HTTP status,
//! a gRPC status, a GraphQL `extensions.code`), so the three protocols always agree, and a
//! new use-case error needs one conversion here rather than one mapping per protocol.

use std::{borrow::Cow, fmt, time::Duration};

use domain::{
    error::{InfraError, InfraErrorKind},
    todo::{Tag, Tags, TooManyTags, Version},
};

/// What kind of failure, independent of any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input breaks a rule; [`AppError::fields`] says what is wrong with each field.
    InvalidInput,
    /// No valid credentials or session.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// No such resource, or it belongs to someone else (ids reveal nothing).
    NotFound,
    /// The resource changed since the client read it; [`AppError::current_version`] says to
    /// what.
    VersionMismatch,
    /// The request conflicts with the current state, such as an email that is taken.
    Conflict,
    /// The caller holds as much of something as one caller may (open subscriptions, say);
    /// releasing some, or waiting, will make room.
    LimitExceeded,
    /// A backing service is down or busy; trying again later may work.
    Unavailable,
    /// A bug or corrupt data. The client learns nothing more; the cause is logged.
    Internal,
}

/// The stable machine codes clients branch on. A code never changes meaning; a new
/// situation gets a new code.
pub mod codes {
    /// [`ErrorKind::InvalidInput`](super::ErrorKind::InvalidInput).
    pub const VALIDATION_FAILED: &str = "validation_failed";
    /// [`ErrorKind::Conflict`](super::ErrorKind::Conflict): an idempotency key sent before
    /// with a different request.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "idempotency_key_reused";
    /// [`ErrorKind::Unauthenticated`](super::ErrorKind::Unauthenticated).
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    /// [`ErrorKind::Forbidden`](super::ErrorKind::Forbidden).
    pub const FORBIDDEN: &str = "forbidden";
    /// [`ErrorKind::NotFound`](super::ErrorKind::NotFound).
    pub const NOT_FOUND: &str = "not_found";
    /// [`ErrorKind::VersionMismatch`](super::ErrorKind::VersionMismatch).
    pub const VERSION_MISMATCH: &str = "version_mismatch";
    /// A conflict: the email belongs to another account.
    pub const EMAIL_TAKEN: &str = "email_taken";
    /// A conflict: other writers won every retry of a change that carries no version.
    pub const CONTENDED: &str = "contended";
    /// [`ErrorKind::LimitExceeded`](super::ErrorKind::LimitExceeded): too many live
    /// subscriptions at once.
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "too_many_subscriptions";
    /// [`ErrorKind::LimitExceeded`](super::ErrorKind::LimitExceeded): too many attempts
    /// (to log in, to register) in a short time; the error says when to try again.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// [`ErrorKind::Unavailable`](super::ErrorKind::Unavailable).
    pub const UNAVAILABLE: &str = "unavailable";
    /// [`ErrorKind::Internal`](super::ErrorKind::Internal).
    pub const INTERNAL: &str = "internal";

    /// A live stream's last item: its reader fell too far behind
    /// ([`WatchEnd::Lagged`](crate::todos::WatchEnd::Lagged)).
    pub const SUBSCRIBER_LAGGED: &str = "subscriber_lagged";
    /// A live stream's last item: the event feed failed
    /// ([`WatchEnd::Interrupted`](crate::todos::WatchEnd::Interrupted)).
    pub const FEED_INTERRUPTED: &str = "feed_interrupted";
    /// A live stream's last item: its session was logged out or expired
    /// ([`WatchEnd::SessionEnded`](crate::todos::WatchEnd::SessionEnded)).
    pub const SESSION_ENDED: &str = "session_ended";
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field as the client named it: `title`, `tags[2]`, `limit`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldViolation {
    /// `field` is invalid because of `message`.
    pub fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// The most field violations an error lists. A request can break far more (a field mask
/// of two million empty paths, say); past this, the error says only how many more there
/// were, on every protocol, so its size never follows the request's.
pub const MAX_FIELD_VIOLATIONS: usize = 20;

/// Collects field violations while a driving adapter parses its input into domain values,
/// so that a client learns everything wrong with a request at once rather than one field
/// per attempt: the first [`MAX_FIELD_VIOLATIONS`], and how many more.
///
/// ```
/// # use application::{FieldViolations, ErrorKind};
/// let mut fields = FieldViolations::default();
/// let n = fields.check("limit", "x".parse::<u8>());
/// let error = fields.finish(n).unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::InvalidInput);
/// assert_eq!(error.fields()[0].field, "limit");
/// ```
#[derive(Debug, Default)]
pub struct FieldViolations {
    listed: Vec<FieldViolation>,
    /// Violations past the first [`MAX_FIELD_VIOLATIONS`]: counted, not kept.
    omitted: usize,
}

impl FieldViolations {
    /// The parsed value, or `None` after recording why `field` is invalid.
    pub fn check<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.add(field, e)).ok()
    }

    /// Records that `field` is invalid because of `message`.
    pub fn add(&mut self, field: &str, message: impl ToString) {
        if self.listed.len() < MAX_FIELD_VIOLATIONS {
            self.listed.push(FieldViolation::new(field, message));
        } else {
            self.omitted += 1;
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// A todo's tags from the strings a client sent as `field`. The count is checked first,
    /// so a request with thousands of tags is refused with one message, not one per tag;
    /// duplicates count too, since the list a client sends is what it means. Then each tag
    /// (as `field[i]`), then the set.
    pub fn tags(&mut self, field: &str, raw: &[String]) -> Option<Tags> {
        if raw.len() > Tags::MAX {
            return self.check(field, Err::<Tags, _>(TooManyTags));
        }
        let tags: Vec<Option<Tag>> = raw
            .iter()
            .enumerate()
            .map(|(i, t)| self.check(&format!("{field}[{i}]"), Tag::new(t)))
            .collect();
        let tags: Option<Vec<Tag>> = tags.into_iter().collect();
        self.check(field, Tags::new(tags?))
    }

    /// `value` if no field failed, else invalid input listing every failure.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] when any check failed or `value` is `None`.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, AppError> {
        match value {
            Some(value) if self.listed.is_empty() => Ok(value),
            _ => Err(AppError::invalid_fields(self)),
        }
    }
}

/// A use-case error, classified for the driving adapters. Boxed, so that a `Result` that
/// carries one stays small on the happy path.
#[derive(Debug)]
pub struct AppError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    code: &'static str,
    message: Cow<'static, str>,
    fields: Vec<FieldViolation>,
    /// Field violations past those listed.
    omitted_fields: usize,
    current_version: Option<Version>,
    retry_after: Option<Duration>,
    cause: Option<InfraError>,
}

impl AppError {
    fn new(kind: ErrorKind, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            kind,
            code,
            message: message.into(),
            fields: Vec::new(),
            omitted_fields: 0,
            current_version: None,
            retry_after: None,
            cause: None,
        }))
    }

    /// Invalid input, with what is wrong with each field.
    pub fn invalid_input(fields: Vec<FieldViolation>) -> Self {
        let mut violations = FieldViolations::default();
        for field in fields {
            violations.add(&field.field, field.message);
        }
        Self::invalid_fields(violations)
    }

    /// Invalid input, with what `violations` recorded: the first
    /// [`MAX_FIELD_VIOLATIONS`] listed, and the message says how many more there were.
    pub fn invalid_fields(violations: FieldViolations) -> Self {
        let message: Cow<'static, str> = match violations.omitted {
            0 => "some values are invalid".into(),
            more => format!(
                "some values are invalid: the first {MAX_FIELD_VIOLATIONS} are listed, and \
                 {more} more are not"
            )
            .into(),
        };
        let mut error = Self::new(ErrorKind::InvalidInput, codes::VALIDATION_FAILED, message);
        error.0.fields = violations.listed;
        error.0.omitted_fields = violations.omitted;
        error
    }

    /// No valid credentials or session; `message` says which, as far as is safe.
    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unauthenticated, codes::UNAUTHENTICATED, message)
    }

    /// Not allowed.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, codes::FORBIDDEN, message)
    }

    /// No such resource (or not the caller's).
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotFound, codes::NOT_FOUND, message)
    }

    /// The client's version is stale; `current` is the stored one, when known.
    pub fn version_mismatch(current: Option<Version>) -> Self {
        let mut error = Self::new(
            ErrorKind::VersionMismatch,
            codes::VERSION_MISMATCH,
            "the resource changed since you read it; read it again and retry",
        );
        error.0.current_version = current;
        error
    }

    /// A conflict with the current state, under its own `code` (such as `email_taken`).
    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// A per-caller limit reached, under its own `code` (such as `too_many_subscriptions`).
    pub fn limit_exceeded(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::LimitExceeded, code, message)
    }

    /// A per-caller limit reached for now, under its own `code` (such as `rate_limited`):
    /// trying again after `retry_after` will work.
    pub fn rate_limited(
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: Duration,
    ) -> Self {
        let mut error = Self::new(ErrorKind::LimitExceeded, code, message);
        error.0.retry_after = Some(retry_after);
        error
    }

    /// A backing service (or this instance) cannot take the request now, under its own
    /// `code`; `retry_after` says when to try again, if known.
    pub fn unavailable(
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: Option<Duration>,
    ) -> Self {
        let mut error = Self::new(ErrorKind::Unavailable, code, message);
        error.0.retry_after = retry_after;
        error
    }

    /// The kind, for the adapter's one mapping function.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// What to tell the client; never internal detail.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// For invalid input: each field and what is wrong with it.
    pub fn fields(&self) -> &[FieldViolation] {
        &self.0.fields
    }

    /// For invalid input: how many more fields were invalid than [`AppError::fields`]
    /// lists.
    pub fn omitted_fields(&self) -> usize {
        self.0.omitted_fields
    }

    /// For a version mismatch: the version now stored, when known.
    pub fn current_version(&self) -> Option<Version> {
        self.0.current_version
    }

    /// For unavailable: how long to wait before retrying, when the adapter knows.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Logs the infrastructure failure behind this error, if any, for `what` failed (`"RPC"`,
    /// `"GraphQL field"`): a warning when a backend is unavailable (the service is working as
    /// designed, and the line names what to look at), an error otherwise. An adapter calls it
    /// once per error, inside the request's span, so the line carries the request id.
    pub fn log_cause(&self, what: &str) {
        if let Some(cause) = self.cause() {
            match self.kind() {
                ErrorKind::Unavailable => tracing::warn!(
                    code = self.code(),
                    error = cause as &dyn std::error::Error,
                    "{what} failed: a backing service is unavailable"
                ),
                _ => tracing::error!(
                    code = self.code(),
                    error = cause as &dyn std::error::Error,
                    "{what} failed"
                ),
            }
        }
    }

    /// For unavailable and internal: the infrastructure failure behind it, to log once. It
    /// MUST NOT be sent to clients.
    pub fn cause(&self) -> Option<&InfraError> {
        self.0.cause.as_ref()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .cause
            .as_ref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

impl From<InfraError> for AppError {
    fn from(cause: InfraError) -> Self {
        let mut error = match cause.kind() {
            InfraErrorKind::Unavailable => Self::new(
                ErrorKind::Unavailable,
                codes::UNAVAILABLE,
                "a backing service is unavailable; try again later",
            ),
            InfraErrorKind::Internal => Self::new(
                ErrorKind::Internal,
                codes::INTERNAL,
                "something went wrong on our side",
            ),
        };
        error.0.retry_after = cause.retry_delay();
        error.0.cause = Some(cause);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_lists_the_first_twenty_violations_and_counts_the_rest() {
        let mut fields = FieldViolations::default();
        for i in 0..2_000_000 {
            fields.add("update_mask", format!("path {i}"));
        }
        let error = fields.finish(None::<()>).unwrap_err();
        assert_eq!(error.fields().len(), MAX_FIELD_VIOLATIONS);
        assert_eq!(error.fields()[19].message, "path 19");
        assert_eq!(error.omitted_fields(), 1_999_980);
        assert!(
            error.message().contains("1999980 more"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn tags_are_counted_as_sent_repeats_included() {
        let mut raw: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        let mut fields = FieldViolations::default();
        assert_eq!(fields.tags("tags", &raw).map(|t| t.len()), Some(20));
        raw.push(" T0 ".into());
        let mut fields = FieldViolations::default();
        assert!(fields.tags("tags", &raw).is_none(), "21 tags, 20 distinct");
        let error = fields.finish(None::<()>).unwrap_err();
        assert_eq!(error.fields()[0].field, "tags");
    }

    #[test]
    fn an_unavailable_backend_keeps_its_retry_hint_and_its_cause() {
        let cause =
            InfraError::unavailable("hash password", "busy").retry_after(Duration::from_secs(1));
        let error = AppError::from(cause);

        assert_eq!(
            (error.kind(), error.code()),
            (ErrorKind::Unavailable, "unavailable")
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(
            error.cause().map(InfraError::operation),
            Some("hash password")
        );
    }

    #[test]
    fn an_internal_failure_says_nothing_of_its_cause_to_the_client() {
        let error = AppError::from(InfraError::internal(
            "read stored record",
            "column secret_table.x is corrupt",
        ));

        assert_eq!(error.kind(), ErrorKind::Internal);
        assert!(!error.message().contains("secret_table"));
        assert!(!error.to_string().contains("secret_table"));
    }

    #[test]
    fn every_use_case_error_has_its_kind_and_code() {
        use crate::{todos::*, users::*};
        use domain::todo::TooManyTags;

        let v = |n| Version::new(n).unwrap();
        let cases: Vec<(AppError, ErrorKind, &str)> = vec![
            (
                RegisterError::EmailTaken.into(),
                ErrorKind::Conflict,
                "email_taken",
            ),
            (
                LogInError::InvalidCredentials.into(),
                ErrorKind::Unauthenticated,
                "unauthenticated",
            ),
            (
                AuthenticateError::Unauthenticated.into(),
                ErrorKind::Unauthenticated,
                "unauthenticated",
            ),
            (
                CurrentUserError::Gone.into(),
                ErrorKind::Unauthenticated,
                "unauthenticated",
            ),
            (
                ListUsersError::Forbidden.into(),
                ErrorKind::Forbidden,
                "forbidden",
            ),
            (
                CreateTodoError::OwnerGone.into(),
                ErrorKind::Unauthenticated,
                "unauthenticated",
            ),
            (
                GetTodoError::NotFound.into(),
                ErrorKind::NotFound,
                "not_found",
            ),
            (
                UpdateTodoError::NotFound.into(),
                ErrorKind::NotFound,
                "not_found",
            ),
            (
                UpdateTodoError::VersionConflict {
                    expected: v(1),
                    current: v(3),
                }
                .into(),
                ErrorKind::VersionMismatch,
                "version_mismatch",
            ),
            (
                DeleteTodoError::VersionConflict {
                    expected: v(1),
                    current: v(2),
                }
                .into(),
                ErrorKind::VersionMismatch,
                "version_mismatch",
            ),
            (
                DeleteTodoError::NotFound.into(),
                ErrorKind::NotFound,
                "not_found",
            ),
            (
                StatusChangeError::NotFound.into(),
                ErrorKind::NotFound,
                "not_found",
            ),
            (
                StatusChangeError::Contended.into(),
                ErrorKind::Conflict,
                "contended",
            ),
            (
                AddTagError::TooManyTags(TooManyTags).into(),
                ErrorKind::InvalidInput,
                "validation_failed",
            ),
            (
                AddTagError::Contended.into(),
                ErrorKind::Conflict,
                "contended",
            ),
            (
                RemoveTagError::NotFound.into(),
                ErrorKind::NotFound,
                "not_found",
            ),
            (
                ListTodosError::Infra(InfraError::unavailable("list todos", "down")).into(),
                ErrorKind::Unavailable,
                "unavailable",
            ),
            (
                LogOutError::Infra(InfraError::internal("delete session", "bug")).into(),
                ErrorKind::Internal,
                "internal",
            ),
        ];
        for (error, kind, code) in cases {
            assert_eq!((error.kind(), error.code()), (kind, code), "{error:?}");
            assert!(!error.message().is_empty());
        }
    }

    #[test]
    fn a_version_mismatch_carries_the_current_version_and_too_many_tags_names_the_field() {
        let error = AppError::from(crate::todos::UpdateTodoError::VersionConflict {
            expected: Version::INITIAL,
            current: Version::new(4).unwrap(),
        });
        assert_eq!(error.current_version(), Version::new(4).ok());

        let error = AppError::from(crate::todos::AddTagError::TooManyTags(
            domain::todo::TooManyTags,
        ));
        assert_eq!(error.fields()[0].field, "tag");
    }
}
