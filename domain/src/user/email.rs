//! The email address a user logs in with.

use std::fmt;

/// A trimmed, lowercased email address of a sensible shape, at most 254 characters.
///
/// The check is deliberately stricter than RFC 5322 (no quoted local parts, no IP-literal
/// domains): it accepts the addresses people type, and the only real proof that an address
/// works is a mail that arrives. Lowercasing the whole address makes `Ann@X.org` and
/// `ann@x.org` one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// Longer than 254 characters, the most that fits in an SMTP path.
    #[error("must be at most {max} characters", max = Email::MAX_CHARS)]
    TooLong,
    /// Not of the shape `name@example.org`.
    #[error("must look like name@example.org")]
    Malformed,
}

impl Email {
    /// The longest address accepted (RFC 5321's limit on a forward path).
    pub const MAX_CHARS: usize = 254;
    const MAX_LOCAL_CHARS: usize = 64;
    const MAX_LABEL_CHARS: usize = 63;

    /// Trims, lowercases and checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > Self::MAX_CHARS {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError::Malformed)?;
        if !Self::is_local_part(local) || !Self::is_domain(domain) {
            return Err(EmailError::Malformed);
        }
        Ok(Self(email))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_local_part(local: &str) -> bool {
        !local.is_empty()
            && local.chars().count() <= Self::MAX_LOCAL_CHARS
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"@\"(),:;<>[\\]".contains(c))
    }

    /// Letters, digits and hyphens in at least two dot-separated labels (`example.org`).
    fn is_domain(domain: &str) -> bool {
        let labels: Vec<&str> = domain.split('.').collect();
        labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= Self::MAX_LABEL_CHARS
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_normalises_or_rejects_each_example() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        let too_long = format!(
            "{}@{}.org",
            "a".repeat(60),
            vec!["b".repeat(60); 4].join(".")
        );
        let cases: &[(&str, Result<&str, EmailError>)] = &[
            ("ann@example.org", Ok("ann@example.org")),
            (
                "  Ann.Lee+todo@Example.ORG \n",
                Ok("ann.lee+todo@example.org"),
            ),
            ("a@b.co", Ok("a@b.co")),
            ("x@sub.domain-name.example", Ok("x@sub.domain-name.example")),
            ("", Err(EmailError::Empty)),
            ("   ", Err(EmailError::Empty)),
            ("ann", Err(EmailError::Malformed)),
            ("ann@", Err(EmailError::Malformed)),
            ("@example.org", Err(EmailError::Malformed)),
            ("ann@localhost", Err(EmailError::Malformed)),
            ("ann@@example.org", Err(EmailError::Malformed)),
            ("a b@example.org", Err(EmailError::Malformed)),
            ("ann@exa mple.org", Err(EmailError::Malformed)),
            (".ann@example.org", Err(EmailError::Malformed)),
            ("an..n@example.org", Err(EmailError::Malformed)),
            ("ann@-example.org", Err(EmailError::Malformed)),
            ("ann@example..org", Err(EmailError::Malformed)),
            ("ann@[127.0.0.1]", Err(EmailError::Malformed)),
            (&long_local, Err(EmailError::Malformed)),
            (&too_long, Err(EmailError::TooLong)),
        ];
        for (raw, expected) in cases {
            let got = Email::parse(raw);
            assert_eq!(
                got.as_ref().map(Email::as_str),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn a_parsed_email_is_trimmed_lowercase_and_short_enough(raw in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&raw) {
                let s = email.as_str();
                prop_assert_eq!(s, s.trim());
                prop_assert_eq!(s.to_lowercase(), s);
                prop_assert!(s.chars().count() <= Email::MAX_CHARS);
                prop_assert_eq!(s.matches('@').count(), 1);
            }
        }

        #[test]
        fn parsing_is_idempotent(local in "[a-zA-Z0-9._+-]{1,20}", domain in "[a-zA-Z0-9]{1,10}\\.[a-zA-Z]{2,6}") {
            if let Ok(email) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }

        #[test]
        fn ordinary_addresses_are_accepted(local in "[a-z0-9]{1,20}", host in "[a-z0-9]{1,20}", tld in "[a-z]{2,6}") {
            let raw = format!("{local}@{host}.{tld}");
            prop_assert_eq!(Email::parse(&raw).map(|e| e.as_str().to_owned()), Ok(raw));
        }
    }
}
