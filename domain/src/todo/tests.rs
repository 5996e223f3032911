//! Behaviour of the todo aggregate: which changes count, and what they do to the version.

use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap()
}

fn todo() -> Todo {
    let new = NewTodo {
        title: Title::new("Write the report").unwrap(),
        description: None,
        due_date: None,
        tags: Tags::default(),
    };
    Todo::create(
        TodoId::from_uuid(Uuid::now_v7()),
        UserId::from_uuid(Uuid::now_v7()),
        new,
        t0(),
    )
}

fn tag(s: &str) -> Tag {
    Tag::new(s).unwrap()
}

#[test]
fn a_new_todo_is_open_at_version_one() {
    let todo = todo();
    assert_eq!(todo.status(), TodoStatus::Open);
    assert_eq!(todo.version(), Version::INITIAL);
    assert_eq!(todo.completed_at(), None);
    assert_eq!(todo.created_at(), todo.updated_at());
}

#[test]
fn completing_records_the_time_and_bumps_the_version_once() {
    let mut todo = todo();
    let later = t0() + Duration::minutes(5);
    assert!(todo.complete(later));
    assert_eq!(todo.status(), TodoStatus::Done);
    assert_eq!(todo.completed_at(), Some(later));
    assert_eq!(todo.version().get(), 2);
    assert_eq!(todo.updated_at(), later);

    assert!(
        !todo.complete(later + Duration::minutes(1)),
        "completing twice is a no-op"
    );
    assert_eq!(
        todo.completed_at(),
        Some(later),
        "the first completion time is kept"
    );
    assert_eq!(todo.version().get(), 2);
}

#[test]
fn reopening_clears_the_completion_and_is_a_no_op_when_open() {
    let mut todo = todo();
    assert!(!todo.reopen(t0()));
    assert_eq!(todo.version().get(), 1);
    todo.complete(t0());
    assert!(todo.reopen(t0()));
    assert_eq!(todo.status(), TodoStatus::Open);
    assert_eq!(todo.completed_at(), None);
    assert_eq!(todo.version().get(), 3);
}

#[test]
fn applying_changes_counts_as_one_change() {
    let mut todo = todo();
    let changes = TodoChanges {
        title: Some(Title::new("New title").unwrap()),
        description: Some(Some(Description::new("details").unwrap())),
        due_date: Some(DueDate::parse("2026-02-01").ok()),
    };
    assert!(todo.apply(changes.clone(), t0()));
    assert_eq!(todo.version().get(), 2);
    assert_eq!(todo.title().as_str(), "New title");
    assert_eq!(todo.description().map(Description::as_str), Some("details"));
    assert_eq!(
        todo.due_date().map(|d| d.to_string()).as_deref(),
        Some("2026-02-01")
    );

    assert!(
        !todo.apply(changes, t0()),
        "the same values again change nothing"
    );
    assert!(
        !todo.apply(TodoChanges::default(), t0()),
        "no fields change nothing"
    );
    assert_eq!(todo.version().get(), 2);

    let clear = TodoChanges {
        description: Some(None),
        due_date: Some(None),
        ..TodoChanges::default()
    };
    assert!(todo.apply(clear, t0()));
    assert_eq!(todo.description(), None);
    assert_eq!(todo.due_date(), None);
    assert_eq!(todo.version().get(), 3);
}

#[test]
fn tags_are_added_and_removed_idempotently() {
    let mut todo = todo();
    assert_eq!(todo.add_tag(tag("work"), t0()), Ok(true));
    assert_eq!(todo.add_tag(tag("work"), t0()), Ok(false));
    assert_eq!(todo.version().get(), 2);
    assert!(todo.tags().contains(&tag("work")));

    assert!(!todo.remove_tag(&tag("home"), t0()));
    assert!(todo.remove_tag(&tag("work"), t0()));
    assert!(todo.tags().is_empty());
    assert_eq!(todo.version().get(), 3);
}

#[test]
fn the_twenty_first_tag_is_refused_without_changing_the_todo() {
    let mut todo = todo();
    for i in 0..Tags::MAX {
        assert_eq!(todo.add_tag(tag(&format!("t{i}")), t0()), Ok(true));
    }
    let before = todo.clone();
    assert_eq!(todo.add_tag(tag("one-too-many"), t0()), Err(TooManyTags));
    assert_eq!(todo, before);
}

#[test]
fn versions_below_one_are_rejected() {
    assert_eq!(Version::new(0), Err(VersionError));
    assert_eq!(Version::new(-3), Err(VersionError));
    assert_eq!(Version::new(1), Ok(Version::INITIAL));
}

#[derive(Debug, Clone)]
enum Op {
    Complete,
    Reopen,
    AddTag(u8),
    RemoveTag(u8),
    Rename(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Complete),
        Just(Op::Reopen),
        (0u8..25).prop_map(Op::AddTag),
        (0u8..25).prop_map(Op::RemoveTag),
        (0u8..3).prop_map(Op::Rename),
    ]
}

proptest! {
    /// Whatever happens to a todo, the version counts exactly the changes that were
    /// reported, and the status always agrees with `completed_at`.
    #[test]
    fn the_version_counts_exactly_the_reported_changes(ops in proptest::collection::vec(op(), 0..60)) {
        let mut todo = todo();
        let mut changes = 0;
        for (i, op) in ops.into_iter().enumerate() {
            let now = t0() + Duration::seconds(i as i64);
            let before = todo.clone();
            let changed = match op {
                Op::Complete => todo.complete(now),
                Op::Reopen => todo.reopen(now),
                Op::AddTag(n) => todo.add_tag(tag(&format!("t{n}")), now).unwrap_or(false),
                Op::RemoveTag(n) => todo.remove_tag(&tag(&format!("t{n}")), now),
                Op::Rename(n) => todo.apply(TodoChanges { title: Some(Title::new(&format!("title {n}")).unwrap()), ..TodoChanges::default() }, now),
            };
            if changed {
                changes += 1;
                prop_assert_eq!(todo.updated_at(), now);
            } else {
                prop_assert_eq!(&todo, &before);
            }
            prop_assert_eq!(todo.version().get(), 1 + changes);
            prop_assert_eq!(todo.status() == TodoStatus::Done, todo.completed_at().is_some());
            prop_assert!(todo.tags().len() <= Tags::MAX);
        }
    }
}

#[test]
fn a_version_has_one_text_form() {
    for (text, parsed) in [
        ("1", Some(1)),
        ("42", Some(42)),
        ("999999999999999999", Some(999_999_999_999_999_999)),
        ("0", None),
        ("01", None),
        ("+1", None),
        ("-1", None),
        (" 1", None),
        ("1 ", None),
        ("1e3", None),
        ("1000000000000000000", None),
        ("", None),
    ] {
        assert_eq!(
            Version::parse(text).ok().map(Version::get),
            parsed,
            "{text:?}"
        );
    }
}

proptest! {
    /// The pattern the documents give for a version accepts exactly what parses.
    #[test]
    fn the_version_pattern_agrees_with_the_parser(text in "[+ 0-9-]{0,20}|\\PC{0,4}") {
        let pattern = regex::Regex::new(Version::PATTERN).unwrap();
        prop_assert_eq!(pattern.is_match(&text), Version::parse(&text).is_ok());
    }

    /// Every version prints to a text that parses back to it.
    #[test]
    fn every_version_prints_to_its_text_form(n in 1i64..=999_999_999_999_999_999) {
        let version = Version::new(n).unwrap();
        prop_assert_eq!(Version::parse(&version.get().to_string()), Ok(version));
    }
}
