//! The name a user is shown as.

use std::fmt;

use crate::text::has_control;

/// A trimmed name of 1 to 64 characters with no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

/// Why a string is not a [`DisplayName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// More than 64 characters after trimming.
    #[error("must be at most {max} characters", max = DisplayName::MAX_CHARS)]
    TooLong,
    /// Contains a control character such as a newline.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl DisplayName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 64;

    /// What [`DisplayName::new`] accepts, as a regular expression (see the `text` module).
    pub const PATTERN: &'static str = crate::text::trimmed_line_pattern!(62);

    /// Trims and checks `raw`.
    pub fn new(raw: &str) -> Result<Self, DisplayNameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(DisplayNameError::Empty)
        } else if name.chars().count() > Self::MAX_CHARS {
            Err(DisplayNameError::TooLong)
        } else if has_control(name) {
            Err(DisplayNameError::ControlCharacter)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::pattern_tests::{compile, tricky_text};
    use proptest::prelude::*;

    #[test]
    fn new_trims_or_rejects_each_example() {
        let max = "é".repeat(64);
        let over = "é".repeat(65);
        let cases: &[(&str, Result<&str, DisplayNameError>)] = &[
            ("Ann", Ok("Ann")),
            ("  Ann Lee  ", Ok("Ann Lee")),
            (&max, Ok(&max)),
            ("", Err(DisplayNameError::Empty)),
            (" \t ", Err(DisplayNameError::Empty)),
            (&over, Err(DisplayNameError::TooLong)),
            ("Ann\nLee", Err(DisplayNameError::ControlCharacter)),
            ("Ann\u{0}", Err(DisplayNameError::ControlCharacter)),
        ];
        let pattern = compile(DisplayName::PATTERN);
        for (raw, expected) in cases {
            assert_eq!(pattern.is_match(raw), expected.is_ok(), "pattern, {raw:?}");
            let got = DisplayName::new(raw);
            assert_eq!(
                got.as_ref().map(DisplayName::as_str),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_pattern_accepts_exactly_what_new_does(raw in tricky_text(80)) {
            prop_assert_eq!(compile(DisplayName::PATTERN).is_match(&raw), DisplayName::new(&raw).is_ok());
        }

        #[test]
        fn a_display_name_is_trimmed_short_and_printable(raw in "\\PC{0,80}") {
            if let Ok(name) = DisplayName::new(&raw) {
                let s = name.as_str();
                prop_assert_eq!(s, s.trim());
                prop_assert!((1..=DisplayName::MAX_CHARS).contains(&s.chars().count()));
                prop_assert!(!s.chars().any(char::is_control));
            }
        }

        #[test]
        fn names_with_visible_characters_within_the_limit_are_accepted(raw in "[a-zA-Z0-9 äöüé]{0,62}") {
            let candidate = format!("x{raw}x");
            prop_assert!(DisplayName::new(&candidate).is_ok());
        }
    }
}
