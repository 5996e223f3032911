//! Small text rules shared by several value objects.

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
