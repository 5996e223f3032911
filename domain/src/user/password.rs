//! Passwords, which must never be printed, and their hashes.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A plain-text password of 8 to 128 characters, as typed by the user.
///
/// It wraps a [`SecretString`], so it is wiped from memory when dropped and its `Debug`
/// output is `[REDACTED]`: a password can end up in a log line only if code calls
/// [`Password::expose`] and prints the result.
pub struct Password(SecretString);

/// Why a string is not an acceptable [`Password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than 8 characters.
    #[error("must be at least {min} characters", min = Password::MIN_CHARS)]
    TooShort,
    /// More than 128 characters. Rejected before hashing, so nobody can make the server
    /// hash megabytes of input.
    #[error("must be at most {max} characters", max = Password::MAX_CHARS)]
    TooLong,
}

impl Password {
    /// NIST SP 800-63B's minimum for a user-chosen password.
    pub const MIN_CHARS: usize = 8;
    /// The longest password accepted; long enough for any passphrase.
    pub const MAX_CHARS: usize = 128;

    /// Checks the length of `raw`. Passwords are not trimmed: every character counts.
    pub fn new(raw: String) -> Result<Self, PasswordError> {
        // Count at most MAX + 1 characters, so a huge input costs nothing to reject.
        let chars = raw.chars().take(Self::MAX_CHARS + 1).count();
        if chars < Self::MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > Self::MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(SecretString::from(raw)))
        }
    }

    /// The password text, for the password hasher only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$m=...`), as the
/// [`PasswordHasher`](crate::ports::PasswordHasher) produced it.
///
/// A hash is not the password, but it is what an attacker would brute-force, so it is kept
/// out of `Debug` output too.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string from the hasher or from storage.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage and verification.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn length_limits_are_inclusive_and_counted_in_characters() {
        let cases: &[(String, Result<(), PasswordError>)] = &[
            ("1234567".into(), Err(PasswordError::TooShort)),
            ("12345678".into(), Ok(())),
            ("ééééééé".into(), Err(PasswordError::TooShort)),
            ("éééééééé".into(), Ok(())),
            ("x".repeat(128), Ok(())),
            ("x".repeat(129), Err(PasswordError::TooLong)),
            ("x".repeat(1_000_000), Err(PasswordError::TooLong)),
            ("        ".into(), Ok(())),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Password::new(raw.clone()).map(|_| ()),
                *expected,
                "{} chars",
                raw.chars().count()
            );
        }
    }

    #[test]
    fn debug_output_never_contains_the_password_or_the_hash() {
        let password = Password::new("correct horse battery".into()).unwrap();
        let hash = PasswordHash::new("$argon2id$v=19$secret-salt".into());
        let printed = format!("{password:?} {hash:?}");
        assert!(!printed.contains("horse"), "{printed}");
        assert!(!printed.contains("secret-salt"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    proptest! {
        #[test]
        fn accepted_passwords_are_kept_exactly(raw in "\\PC{8,128}") {
            let password = Password::new(raw.clone()).unwrap();
            prop_assert_eq!(password.expose(), raw.as_str());
        }

        #[test]
        fn any_password_over_the_limit_is_rejected(raw in "\\PC{129,400}") {
            prop_assert_eq!(Password::new(raw).map(|_| ()), Err(PasswordError::TooLong));
        }
    }
}
