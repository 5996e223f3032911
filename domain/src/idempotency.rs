//! Writes a client may retry: the key it sends with one, and the outcome remembered under
//! it.
//!
//! A client that did not hear back from a write cannot tell whether it happened; retrying
//! a create would then make a second todo. So a write may carry an [`IdempotencyKey`] (REST
//! `Idempotency-Key`, gRPC `request_id`, a GraphQL argument). The first request with a key
//! stores its outcome under it, scoped to the user, in the same transaction as the write
//! itself; a retry with the same key and the same request gets that outcome back instead
//! of writing again, and a retry with another request is refused. A request is compared by
//! its [`Fingerprint`]: the operation and its input, hashed.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{todo::Todo, user::UserId};

/// A key a client sends with a write it may retry: 1 to 255 printable ASCII characters,
/// other than `"` and `\` (the characters an HTTP structured-field string holds without
/// escapes). A UUID is a good choice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

/// A key that breaks [`IdempotencyKey::PATTERN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1 to 255 printable ASCII characters, without `\"` or `\\`")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// The longest key.
    pub const MAX_LEN: usize = 255;

    /// What a key may be, as a regular expression.
    pub const PATTERN: &'static str = r#"^[!#-\[\]-~]{1,255}$"#;

    /// Accepts `raw` as it is: nothing is trimmed, since a key is compared byte for byte.
    pub fn new(raw: &str) -> Result<Self, InvalidIdempotencyKey> {
        let valid = (1..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdempotencyKey").field(&self.0).finish()
    }
}

/// What a request asked for, hashed: the operation's name and its input, each field
/// length-prefixed so that no two requests can hash alike by shifting text between fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `operation` with the fields `input`, in order.
    pub fn of(operation: &str, input: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for field in std::iter::once(&operation).chain(input) {
            hash.update((field.len() as u64).to_be_bytes());
            hash.update(field.as_bytes());
        }
        Self(hash.finalize().into())
    }

    /// A stored fingerprint.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The bytes, to store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// What the first request with a key produced, which a retry gets back.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The todo as the write left it (created or updated).
    Todo(Todo),
    /// The todo was deleted.
    Deleted,
}

/// One remembered write: whose, under which key, for which request, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// The user the key belongs to: keys of two users never meet.
    pub user: UserId,
    /// The key the client sent.
    pub key: IdempotencyKey,
    /// What the request asked for.
    pub fingerprint: Fingerprint,
    /// What came of it.
    pub outcome: Outcome,
    /// When it was written; housekeeping forgets it a configured time later.
    pub recorded_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_key_is_printable_ascii_without_quotes_or_backslashes() {
        assert!(IdempotencyKey::new("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::new(&"k".repeat(255)).is_ok());
        for bad in [
            "",
            " key",
            "a\"b",
            "a\\b",
            "ключ",
            "tab\there",
            &"k".repeat(256),
        ] {
            assert!(IdempotencyKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fingerprints_tell_requests_apart_however_their_text_is_split() {
        let a = Fingerprint::of("create_todo", &["ab", "c"]);
        assert_eq!(a, Fingerprint::of("create_todo", &["ab", "c"]));
        assert_ne!(a, Fingerprint::of("create_todo", &["a", "bc"]));
        assert_ne!(a, Fingerprint::of("update_todo", &["ab", "c"]));
    }

    proptest! {
        #[test]
        fn the_key_pattern_agrees_with_the_constructor(raw in "\\PC{0,8}|[!-~]{0,300}") {
            let pattern = regex::Regex::new(IdempotencyKey::PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&raw), IdempotencyKey::new(&raw).is_ok());
        }
    }
}
