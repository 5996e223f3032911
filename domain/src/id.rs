//! The one text form of an id that every protocol accepts.
//!
//! Ids (todo ids, cursors, page tokens, event ids) travel as text, and `uuid` reads many
//! texts as the same UUID: braces, `urn:uuid:`, no hyphens. Accepting them on one protocol
//! and not another would make the protocols disagree about what is valid, and the
//! documents (`format: uuid`) name one form. So every adapter reads ids with
//! [`parse_uuid`]: the hyphenated form, as every id is written out.

use uuid::Uuid;

/// The text form of an id, as a regular expression: what [`parse_uuid`] accepts.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// The UUID `raw` spells in the hyphenated form (`0193f2c4-…`, 36 characters), or `None`
/// for anything else, including the other forms `uuid` itself would read.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    // Only the hyphenated form is 36 characters long.
    if raw.len() != 36 {
        return None;
    }
    Uuid::try_parse(raw).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_the_hyphenated_form_is_an_id() {
        let id = "0193f2c4-8d2e-7c3a-9b1f-3c5d7e9f1a2b";
        assert_eq!(parse_uuid(id).unwrap().to_string(), id);
        assert!(parse_uuid(&id.to_uppercase()).is_some());
        for other in [
            "{0193f2c4-8d2e-7c3a-9b1f-3c5d7e9f1a2b}",
            "urn:uuid:0193f2c4-8d2e-7c3a-9b1f-3c5d7e9f1a2b",
            "0193f2c48d2e7c3a9b1f3c5d7e9f1a2b",
            "0193f2c4-8d2e-7c3a-9b1f-3c5d7e9f1a2",
            "",
        ] {
            assert_eq!(parse_uuid(other), None, "{other}");
        }
    }

    proptest! {
        #[test]
        fn the_pattern_accepts_exactly_what_parses(raw in "\\PC{0,40}|[0-9a-fA-F-]{30,40}") {
            let pattern = regex::Regex::new(UUID_PATTERN).unwrap();
            prop_assert_eq!(pattern.is_match(&raw), parse_uuid(&raw).is_some());
        }

        #[test]
        fn every_uuid_prints_to_a_text_that_parses_back(bits in any::<u128>()) {
            let id = Uuid::from_u128(bits);
            prop_assert_eq!(parse_uuid(&id.to_string()), Some(id));
        }
    }
}
