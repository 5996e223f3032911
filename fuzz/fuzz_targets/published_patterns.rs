//! The patterns the domain publishes (and the API documents repeat) accept exactly what
//! the constructors accept, on any string: a generated client or a schema-driven fuzzer
//! that trusts the document is never refused, and never let through, by surprise.
#![no_main]

use std::sync::LazyLock;

use domain::{
    todo::{Description, DueDate, Tag, Title},
    user::{DisplayName, Email},
};
use libfuzzer_sys::fuzz_target;
use regex::Regex;

struct Patterns {
    title: Regex,
    description: Regex,
    tag: Regex,
    display_name: Regex,
    email: Vec<Regex>,
    due_date: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let compile = |p: &str| Regex::new(p).unwrap();
    Patterns {
        title: compile(Title::PATTERN),
        description: compile(Description::PATTERN),
        tag: compile(Tag::PATTERN),
        display_name: compile(DisplayName::PATTERN),
        email: Email::PATTERNS.iter().map(|p| compile(p)).collect(),
        due_date: compile(DueDate::PATTERN),
    }
});

fuzz_target!(|raw: &str| {
    let p = &*PATTERNS;
    assert_eq!(p.title.is_match(raw), Title::new(raw).is_ok(), "title");
    assert_eq!(
        p.description.is_match(raw) && raw.chars().count() <= Description::MAX_CHARS,
        Description::new(raw).is_ok(),
        "description"
    );
    assert_eq!(p.tag.is_match(raw), Tag::new(raw).is_ok(), "tag");
    assert_eq!(p.display_name.is_match(raw), DisplayName::new(raw).is_ok(), "display name");
    assert_eq!(p.email.iter().all(|r| r.is_match(raw)), Email::parse(raw).is_ok(), "email");
    // `format: date` is the calendar check that goes with the pattern.
    let calendar = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok();
    assert_eq!(p.due_date.is_match(raw) && calendar, DueDate::parse(raw).is_ok(), "due date");
});
