//! The value objects a todo is made of.

use std::{collections::BTreeSet, fmt};

use crate::text::{has_control, has_control_except_newlines};

/// A todo's title: 1 to 200 characters after trimming, on one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Title(String);

/// Why a string is not a [`Title`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TitleError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// More than 200 characters after trimming.
    #[error("must be at most {max} characters", max = Title::MAX_CHARS)]
    TooLong,
    /// Contains a control character such as a newline.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Title {
    /// The longest title accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// What [`Title::new`] accepts, as a regular expression (see the `text` module).
    pub const PATTERN: &'static str = crate::text::trimmed_line_pattern!(198);

    /// Trims and checks `raw`.
    pub fn new(raw: &str) -> Result<Self, TitleError> {
        let title = raw.trim();
        if title.is_empty() {
            Err(TitleError::Empty)
        } else if title.chars().count() > Self::MAX_CHARS {
            Err(TitleError::TooLong)
        } else if has_control(title) {
            Err(TitleError::ControlCharacter)
        } else {
            Ok(Self(title.to_owned()))
        }
    }

    /// The title as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text about a todo: 1 to 10,000 characters, line breaks allowed, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Description(String);

/// Why a string is not a [`Description`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// Nothing but white space; to have no description, leave it out instead.
    #[error("must not be blank (omit it or send null instead)")]
    Blank,
    /// More than 10,000 characters.
    #[error("must be at most {max} characters", max = Description::MAX_CHARS)]
    TooLong,
    /// Contains a control character other than a line break or tab.
    #[error("must not contain control characters other than line breaks and tabs")]
    ControlCharacter,
}

impl Description {
    /// The longest description accepted, in characters.
    pub const MAX_CHARS: usize = 10_000;

    /// What [`Description::new`] accepts, as a regular expression, together with the length
    /// limit: a character that is neither white space nor control, with any text around it
    /// that has no control character other than a line break or a tab.
    #[rustfmt::skip]
    pub const PATTERN: &'static str = concat!(
        "^[^", crate::text::control_except_newlines!(), "]*",
        "[^", crate::text::white_space!(), crate::text::control!(), "]",
        "[^", crate::text::control_except_newlines!(), "]*$",
    );

    /// Checks `raw`, which is kept exactly (white space is part of the text).
    pub fn new(raw: &str) -> Result<Self, DescriptionError> {
        if raw.trim().is_empty() {
            Err(DescriptionError::Blank)
        } else if raw.chars().take(Self::MAX_CHARS + 1).count() > Self::MAX_CHARS {
            Err(DescriptionError::TooLong)
        } else if has_control_except_newlines(raw) {
            Err(DescriptionError::ControlCharacter)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A label on a todo: 1 to 32 characters of `a-z`, `0-9` and `-`, lowercased on the way in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

/// Why a string is not a [`Tag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// Nothing but white space.
    #[error("must not be empty")]
    Empty,
    /// More than 32 characters.
    #[error("must be at most {max} characters", max = Tag::MAX_CHARS)]
    TooLong,
    /// A character other than `a-z`, `0-9` and `-`.
    #[error("may contain only a-z, 0-9 and '-'")]
    InvalidCharacter,
}

impl Tag {
    /// The longest tag accepted, in characters.
    pub const MAX_CHARS: usize = 32;

    /// What [`Tag::new`] accepts, as a regular expression: ASCII white space around 1 to 32
    /// letters, digits and hyphens.
    pub const PATTERN: &'static str = r"^[\t\n\u000C\r ]*[A-Za-z0-9-]{1,32}[\t\n\u000C\r ]*$";

    /// Trims ASCII whitespace, lowercases and checks `raw`. Only ASCII is looked at: a
    /// letter whose lowercase happens to be ASCII (the Kelvin sign `K` is `k`) is refused,
    /// so that what is accepted is exactly `\s*[A-Za-z0-9-]{1,32}\s*`, which a published
    /// pattern can say.
    pub fn new(raw: &str) -> Result<Self, TagError> {
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        let tag = trimmed.to_ascii_lowercase();
        if tag.is_empty() {
            Err(TagError::Empty)
        } else if !tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            Err(TagError::InvalidCharacter)
        } else if tag.len() > Self::MAX_CHARS {
            // Only ASCII is left, so bytes are characters.
            Err(TagError::TooLong)
        } else {
            Ok(Self(tag))
        }
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The set of tags on one todo: no duplicates, sorted, at most [`Tags::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(BTreeSet<Tag>);

/// A todo would carry more than [`Tags::MAX`] tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a todo can have at most {max} tags", max = Tags::MAX)]
pub struct TooManyTags;

impl Tags {
    /// The most tags one todo may carry.
    pub const MAX: usize = 20;

    /// Collects `tags`, dropping duplicates; fails if more than [`Tags::MAX`] remain.
    pub fn new(tags: impl IntoIterator<Item = Tag>) -> Result<Self, TooManyTags> {
        let set: BTreeSet<Tag> = tags.into_iter().collect();
        if set.len() > Self::MAX {
            Err(TooManyTags)
        } else {
            Ok(Self(set))
        }
    }

    /// True if `tag` is in the set.
    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    /// The tags in alphabetical order.
    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    /// How many tags there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `tag`; `Ok(false)` if it was already there.
    pub(crate) fn insert(&mut self, tag: Tag) -> Result<bool, TooManyTags> {
        if self.0.contains(&tag) {
            Ok(false)
        } else if self.0.len() >= Self::MAX {
            Err(TooManyTags)
        } else {
            Ok(self.0.insert(tag))
        }
    }

    /// Removes `tag`; false if it was not there.
    pub(crate) fn remove(&mut self, tag: &Tag) -> bool {
        self.0.remove(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::pattern_tests::{compile, tricky_text};
    use proptest::prelude::*;

    #[test]
    fn title_examples() {
        let max = "t".repeat(200);
        let over = "t".repeat(201);
        let cases: &[(&str, Result<&str, TitleError>)] = &[
            ("Buy milk", Ok("Buy milk")),
            ("  Buy milk \n", Ok("Buy milk")),
            (&max, Ok(&max)),
            ("", Err(TitleError::Empty)),
            ("\n\t ", Err(TitleError::Empty)),
            (&over, Err(TitleError::TooLong)),
            ("Buy\nmilk", Err(TitleError::ControlCharacter)),
            ("Buy \u{1b}[31mmilk", Err(TitleError::ControlCharacter)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Title::new(raw).as_ref().map(Title::as_str),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn description_examples() {
        let max = "d".repeat(10_000);
        let over = "d".repeat(10_001);
        let cases: &[(&str, Result<&str, DescriptionError>)] = &[
            ("Two\nlines\tand a tab", Ok("Two\nlines\tand a tab")),
            ("  kept as written  ", Ok("  kept as written  ")),
            (&max, Ok(&max)),
            ("", Err(DescriptionError::Blank)),
            (" \n ", Err(DescriptionError::Blank)),
            (&over, Err(DescriptionError::TooLong)),
            ("bell\u{7}", Err(DescriptionError::ControlCharacter)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Description::new(raw).as_ref().map(Description::as_str),
                expected.as_ref().map(|s| *s),
                "{:?}",
                &raw[..raw.len().min(20)]
            );
        }
    }

    #[test]
    fn tag_examples() {
        let max = "a".repeat(32);
        let over = "a".repeat(33);
        let cases: &[(&str, Result<&str, TagError>)] = &[
            ("work", Ok("work")),
            (" Work-2026 ", Ok("work-2026")),
            (&max, Ok(&max)),
            ("", Err(TagError::Empty)),
            (&over, Err(TagError::TooLong)),
            ("two words", Err(TagError::InvalidCharacter)),
            ("under_score", Err(TagError::InvalidCharacter)),
            ("café", Err(TagError::InvalidCharacter)),
            ("ÄÖ", Err(TagError::InvalidCharacter)),
            // The Kelvin sign, whose Unicode lowercase is the ASCII `k`.
            ("\u{212A}", Err(TagError::InvalidCharacter)),
            // Non-ASCII space is not trimmed.
            ("\u{3000}work", Err(TagError::InvalidCharacter)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                Tag::new(raw).as_ref().map(Tag::as_str),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn tags_drop_duplicates_and_stop_at_twenty() {
        let tag = |i: usize| Tag::new(&format!("t{i}")).unwrap();
        let twenty = Tags::new((0..20).map(tag)).unwrap();
        assert_eq!(twenty.len(), 20);
        assert_eq!(Tags::new((0..21).map(tag)), Err(TooManyTags));
        assert_eq!(Tags::new((0..30).map(|i| tag(i % 2))).unwrap().len(), 2);

        let mut full = twenty;
        assert_eq!(
            full.insert(tag(0)),
            Ok(false),
            "an existing tag is a no-op even when full"
        );
        assert_eq!(full.insert(tag(99)), Err(TooManyTags));
        assert!(full.remove(&tag(0)));
        assert!(!full.remove(&tag(0)));
    }

    /// The published patterns accept exactly what the constructors accept: every example
    /// above, and (below) any text made of the characters the rules single out.
    #[test]
    fn the_patterns_agree_with_the_constructors_on_the_edges() {
        let title = compile(Title::PATTERN);
        let description = compile(Description::PATTERN);
        let tag = compile(Tag::PATTERN);
        let edges = [
            "",
            " ",
            "a",
            " a ",
            "\na\t",
            "a\nb",
            "a b",
            "\u{85}a",
            "a\u{85}",
            "\u{a0}a\u{3000}",
            "\u{feff}",
            "\u{200b}",
            "\u{212A}",
            "work",
            " Work-2026 ",
            "two words",
            "caf\u{e9}",
            "\u{c}tag\r",
            "\u{b}tag",
        ];
        let lengths = [1, 31, 32, 33, 199, 200, 201, 9_999, 10_000, 10_001];
        let long = lengths.iter().flat_map(|&n| {
            [
                "t".repeat(n),
                format!(" {} ", "t".repeat(n)),
                format!("a{}b", " ".repeat(n - 1)),
            ]
        });
        for raw in edges.iter().map(|s| (*s).to_owned()).chain(long) {
            let short = &raw[..raw.len().min(24)];
            assert_eq!(
                title.is_match(&raw),
                Title::new(&raw).is_ok(),
                "title {short:?}"
            );
            assert_eq!(
                description.is_match(&raw) && raw.chars().count() <= Description::MAX_CHARS,
                Description::new(&raw).is_ok(),
                "description {short:?}"
            );
            assert_eq!(tag.is_match(&raw), Tag::new(&raw).is_ok(), "tag {short:?}");
        }
    }

    proptest! {
        #[test]
        fn the_title_pattern_accepts_exactly_what_title_new_does(raw in tricky_text(230)) {
            prop_assert_eq!(compile(Title::PATTERN).is_match(&raw), Title::new(&raw).is_ok());
        }

        #[test]
        fn the_description_pattern_accepts_exactly_what_description_new_does(raw in tricky_text(60)) {
            prop_assert_eq!(compile(Description::PATTERN).is_match(&raw), Description::new(&raw).is_ok());
        }

        #[test]
        fn the_tag_pattern_accepts_exactly_what_tag_new_does(raw in tricky_text(40)) {
            prop_assert_eq!(compile(Tag::PATTERN).is_match(&raw), Tag::new(&raw).is_ok());
        }

        #[test]
        fn a_title_is_trimmed_printable_and_bounded(raw in "\\PC{0,250}") {
            if let Ok(title) = Title::new(&raw) {
                prop_assert_eq!(title.as_str(), title.as_str().trim());
                prop_assert!((1..=Title::MAX_CHARS).contains(&title.as_str().chars().count()));
                prop_assert!(!title.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn a_tag_only_ever_holds_its_alphabet(raw in "\\PC{0,40}") {
            if let Ok(tag) = Tag::new(&raw) {
                prop_assert!((1..=Tag::MAX_CHARS).contains(&tag.as_str().len()));
                prop_assert!(tag.as_str().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            }
        }

        #[test]
        fn tags_are_case_insensitive(raw in "[a-zA-Z0-9-]{1,32}") {
            prop_assert_eq!(Tag::new(&raw), Tag::new(&raw.to_uppercase()));
        }

        #[test]
        fn a_description_is_kept_byte_for_byte(raw in "[a-z]\\PC{0,300}") {
            let description = Description::new(&raw).unwrap();
            prop_assert_eq!(description.as_str(), raw.as_str());
        }
    }
}
