//! Small text rules shared by several value objects, and the pieces of the patterns that
//! publish them.
//!
//! Each value object that parses text also states its rule as a regular expression
//! (`Title::PATTERN`, `Email::PATTERNS`, ...). The API documents publish those patterns, so
//! a client, a generated client or a schema-driven fuzzer knows exactly what is accepted.
//! The patterns use only syntax that ECMA-262 (JSON Schema's dialect), Python's `re` and
//! Rust's `regex` read the same way: `^`, `$`, classes with `\uXXXX` escapes, bounded
//! repeats and groups; no lookaround. Each type's tests check that its pattern and its
//! constructor agree on every input.

/// The characters `str::trim` removes (Unicode `White_Space`), as the inside of a
/// character class.
macro_rules! white_space {
    () => {
        r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// The characters `char::is_control` matches (general category `Cc`), as the inside of a
/// character class.
macro_rules! control {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}

/// Like [`control!`], without the line breaks and the tab that multi-line text allows.
macro_rules! control_except_newlines {
    () => {
        r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F"
    };
}

/// A pattern for one line of text that is trimmed and then 1 to `max` characters long: any
/// white space around it, then a first character that is neither white space nor control,
/// up to `max - 2` characters that are not control, and a last character like the first.
/// `$inner` is `max - 2`, as a literal; the type's tests check it against its constant.
#[rustfmt::skip]
macro_rules! trimmed_line_pattern {
    ($inner:literal) => {
        concat!(
            "^[", $crate::text::white_space!(), "]*",
            "[^", $crate::text::white_space!(), $crate::text::control!(), "]",
            "(?:[^", $crate::text::control!(), "]{0,", $inner, "}",
            "[^", $crate::text::white_space!(), $crate::text::control!(), "])?",
            "[", $crate::text::white_space!(), "]*$",
        )
    };
}

pub(crate) use {control, control_except_newlines, trimmed_line_pattern, white_space};

/// True when `s` contains a control character (newline, tab, NUL, escape, ...).
///
/// Free-text fields that end up in one-line UIs and logs (titles, display names, tags)
/// reject them; a description may span lines and uses [`has_control_except_newlines`].
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Like [`has_control`], but allows line breaks and tabs, which multi-line text needs.
pub(crate) fn has_control_except_newlines(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Test helpers: a pattern, compiled, and strategies that reach its edges.
#[cfg(test)]
pub(crate) mod pattern_tests {
    use proptest::prelude::*;

    /// `pattern` compiled by Rust's `regex`, which reads it as JSON Schema would.
    pub(crate) fn compile(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    /// Strings made mostly of the characters that the rules single out: white space, control
    /// characters, line breaks, the ASCII the formats use, and some other letters, in runs
    /// long enough to cross the length limits.
    pub(crate) fn tricky_text(max_len: usize) -> impl Strategy<Value = String> {
        let alphabet = prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::char::range('A', 'Z'),
            1 => prop::char::range('0', '9'),
            1 => prop::sample::select(vec!['-', '.', '@', '_', '+', '"', ',', ';', '[', '\\']),
            2 => prop::sample::select(vec![
                ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}',
            ]),
            1 => prop::sample::select(vec!['\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{9f}']),
            1 => prop::sample::select(vec!['é', 'ß', 'İ', 'K', 'ſ', '日', '😀', '\u{feff}', '\u{200b}']),
            1 => any::<char>(),
        ];
        prop::collection::vec(alphabet, 0..=max_len).prop_map(|chars| chars.into_iter().collect())
    }
}
