//! Login sessions: an opaque bearer token for the client, only its hash for the server.
//!
//! The token is 256 random bits, shown to the client once at login. The server stores the
//! SHA-256 of it, so a leaked session store holds nothing a client could present. SHA-256
//! (not argon2) is enough here: a random 256-bit token cannot be guessed, so there is
//! nothing for a slow hash to protect.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::user::{Role, UserId};

/// How many random bytes a token carries: 256 bits.
pub const TOKEN_BYTES: usize = 32;
/// Length of 32 bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;

/// The secret a client presents as `Authorization: Bearer <token>`.
///
/// `Debug` never prints it; [`SessionToken::expose`] is for the one response that hands it
/// to the client.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

/// A string that cannot be a token this service issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed session token")]
pub struct MalformedToken;

impl SessionToken {
    /// The token made of `bytes`, which MUST come from a cryptographically secure random
    /// source: the [`TokenGenerator`](crate::ports::TokenGenerator) port supplies them, so
    /// the domain itself touches no random source and tests can fix the token.
    pub fn from_bytes(bytes: [u8; TOKEN_BYTES]) -> Self {
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts a token presented by a client, if it has the shape of one we issue.
    ///
    /// Checking the shape first means junk never reaches the session store.
    pub fn parse(raw: &str) -> Result<Self, MalformedToken> {
        let well_formed = raw.len() == TOKEN_CHARS
            && URL_SAFE_NO_PAD
                .decode(raw)
                .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES);
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(MalformedToken)
        }
    }

    /// The token text, to send to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the session is stored.
    pub fn hash(&self) -> SessionTokenHash {
        SessionTokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

/// The SHA-256 of a [`SessionToken`]: the key a session is stored under.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTokenHash([u8; 32]);

impl SessionTokenHash {
    /// Lowercase hex, for use in storage keys.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for SessionTokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell two sessions apart in a log.
        write!(f, "SessionTokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A logged-in session: whose it is and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The hash of the token the client holds.
    pub token_hash: SessionTokenHash,
    /// The user who logged in.
    pub user_id: UserId,
    /// The user's role at login. Kept in the session so that authenticating a request
    /// needs no database read; a role change takes effect at the next login.
    pub role: Role,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When the session stops being valid.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// True once `now` has reached the expiry time.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A token whose bytes are all `seed`: distinct seeds, distinct tokens.
    fn token(seed: u8) -> SessionToken {
        SessionToken::from_bytes([seed; TOKEN_BYTES])
    }

    #[test]
    fn tokens_from_distinct_bytes_are_distinct_and_parse_back() {
        let a = token(1);
        let b = token(2);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), TOKEN_CHARS);
        assert_eq!(SessionToken::parse(a.expose()), Ok(a.clone()));
        assert_eq!(SessionToken::parse(a.expose()).unwrap().hash(), a.hash());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let valid = token(3);
        let too_short = &valid.expose()[1..];
        let bad_alphabet = format!("{}+", &valid.expose()[1..]);
        for raw in [
            "",
            "bench-token",
            too_short,
            &bad_alphabet,
            &format!("{} ", valid.expose()),
        ] {
            assert_eq!(SessionToken::parse(raw), Err(MalformedToken), "{raw:?}");
        }
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_token_text() {
        let token = SessionToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            token.hash().to_hex(),
            hex::encode(Sha256::digest(token.expose().as_bytes()))
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = token(4);
        assert!(!format!("{token:?}").contains(token.expose()));
        assert!(!format!("{:?}", token.hash()).contains(&token.hash().to_hex()));
    }

    #[test]
    fn a_session_expires_exactly_at_its_expiry_time() {
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, 0, 0, 0).unwrap();
        let session = Session {
            token_hash: token(5).hash(),
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            role: Role::Member,
            created_at: now,
            expires_at: now + chrono::Duration::seconds(10),
        };
        assert!(!session.is_expired(now + chrono::Duration::seconds(9)));
        assert!(session.is_expired(now + chrono::Duration::seconds(10)));
    }

    proptest! {
        #[test]
        fn only_43_character_base64url_strings_parse(raw in "[A-Za-z0-9_-]{0,50}") {
            let parsed = SessionToken::parse(&raw);
            // 43 base64url characters decode to 32 bytes only when the last one carries no
            // stray bits, so some 43-character strings are still rejected.
            if parsed.is_ok() {
                prop_assert_eq!(raw.len(), TOKEN_CHARS);
            }
            if raw.len() != TOKEN_CHARS {
                prop_assert!(parsed.is_err());
            }
        }
    }
}
