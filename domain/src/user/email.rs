//! The email address a user logs in with.

use std::fmt;

/// A trimmed, lowercased email address of a sensible shape, at most 254 characters.
///
/// The check is deliberately stricter than RFC 5322: it accepts the addresses people type
/// and no more. There are no quoted local parts and no IP-literal domains, and only ASCII:
/// internationalised addresses (RFC 6531) still fail at many mail servers, and mixed
/// scripts make lookalike accounts (`раура@example.org` in Cyrillic) possible. The only
/// real proof that an address works is a mail that arrives. Lowercasing the whole address
/// makes `Ann@X.org` and `ann@x.org` one account.
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

/// The characters of a local part besides the dot (RFC 5322's `atext`), as a class.
macro_rules! atext {
    () => {
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
    };
}

/// One domain label: letters, digits and inner hyphens, 1 to 63 characters.
macro_rules! label {
    () => {
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    };
}

impl Email {
    /// The longest address accepted (RFC 5321's limit on a forward path).
    pub const MAX_CHARS: usize = 254;
    const MAX_LOCAL_CHARS: usize = 64;
    const MAX_LABEL_CHARS: usize = 63;

    /// What [`Email::parse`] accepts, as three regular expressions that must all match:
    /// the shape (dot-separated `atext` runs, `@`, two or more labels, white space around);
    /// at most 64 characters before the `@`; and at most 254 once trimmed. One expression
    /// cannot say all three without lookaround, which not every schema tool reads.
    #[rustfmt::skip]
    pub const PATTERNS: [&'static str; 3] = [
        concat!(
            "^[", crate::text::white_space!(), "]*",
            atext!(), r"+(?:\.", atext!(), "+)*@", label!(), r"(?:\.", label!(), ")+",
            "[", crate::text::white_space!(), "]*$",
        ),
        concat!("^[", crate::text::white_space!(), "]*[^@]{1,64}@"),
        concat!(
            "^[", crate::text::white_space!(), "]*",
            "[^", crate::text::white_space!(), "]{1,254}",
            "[", crate::text::white_space!(), "]*$",
        ),
    ];

    /// Trims, checks and lowercases `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim();
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
        Ok(Self(email.to_ascii_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Dot-separated runs of `atext`, at most 64 characters.
    fn is_local_part(local: &str) -> bool {
        local.len() <= Self::MAX_LOCAL_CHARS
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
            })
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
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
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
    use crate::text::pattern_tests::{compile, tricky_text};
    use proptest::prelude::*;

    /// True when all of [`Email::PATTERNS`] match, as a schema with all three would say.
    fn patterns_match(raw: &str) -> bool {
        Email::PATTERNS.iter().all(|p| compile(p).is_match(raw))
    }

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
            ("ann@b\u{fc}cher.de", Err(EmailError::Malformed)),
            ("j\u{f6}rg@example.org", Err(EmailError::Malformed)),
            ("ann.@example.org", Err(EmailError::Malformed)),
            ("\u{a0}ann@example.org\u{3000}", Ok("ann@example.org")),
            (&long_local, Err(EmailError::Malformed)),
            (&too_long, Err(EmailError::TooLong)),
        ];
        for (raw, expected) in cases {
            assert_eq!(patterns_match(raw), expected.is_ok(), "patterns, {raw:?}");
            let got = Email::parse(raw);
            assert_eq!(
                got.as_ref().map(Email::as_str),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_patterns_agree_with_parse_at_the_length_limits() {
        let label = |n: usize| "b".repeat(n);
        for local in [63, 64, 65] {
            for domain_len in [187, 188, 189, 190] {
                // `domain_len` characters of labels of 63 (and a shorter last one) with dots.
                let mut labels = Vec::new();
                let mut left = domain_len;
                while left > 0 {
                    let n = left.min(63);
                    labels.push(label(n));
                    left = left.saturating_sub(n + 1);
                }
                if labels.len() < 2 {
                    continue;
                }
                let raw = format!(" {}@{} ", "a".repeat(local), labels.join("."));
                assert_eq!(patterns_match(&raw), Email::parse(&raw).is_ok(), "{raw:?}");
            }
        }
        for label_len in [62, 63, 64] {
            let raw = format!("a@{}.org", label(label_len));
            assert_eq!(patterns_match(&raw), Email::parse(&raw).is_ok(), "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn the_patterns_accept_exactly_what_parse_does(raw in tricky_text(40)) {
            prop_assert_eq!(patterns_match(&raw), Email::parse(&raw).is_ok());
        }

        #[test]
        fn the_patterns_accept_exactly_what_parse_does_near_the_shape(
            before in tricky_text(3), local in "[a-z.!+_-]{0,70}", at in "@{0,2}",
            domain in "[a-zA-Z0-9.-]{0,70}", after in tricky_text(3),
        ) {
            let raw = format!("{before}{local}{at}{domain}{after}");
            prop_assert_eq!(patterns_match(&raw), Email::parse(&raw).is_ok(), "{:?}", raw);
        }

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
