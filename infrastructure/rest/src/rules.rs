//! Schemas for the fields that carry a domain value, built from the rules the domain
//! publishes (`Title::PATTERN`, `Email::PATTERNS`, ...), so the document says exactly what
//! the constructors accept and cannot drift from them.

use domain::{
    todo::{Description, DueDate, Tag, Tags, Title},
    user::{DisplayName, Email, Password},
};
use utoipa::openapi::{
    AllOfBuilder, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat,
    schema::{SchemaType, Type},
};

/// A string, or `null` as well when `nullable`.
fn text(nullable: bool) -> ObjectBuilder {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::from(Type::String)
    };
    ObjectBuilder::new().schema_type(kind)
}

fn title_of(what: &str) -> Object {
    text(false)
        .pattern(Some(Title::PATTERN))
        .description(Some(format!(
            "1 to 200 characters once trimmed, no control characters (one line){what}"
        )))
        .examples(["Buy milk"])
        .build()
}

pub(super) fn title() -> Object {
    title_of("")
}

pub(super) fn new_title() -> Object {
    title_of("; a todo always has a title, so `null` is invalid")
}

fn description_of(what: &str) -> Object {
    text(true)
        .pattern(Some(Description::PATTERN))
        .max_length(Some(Description::MAX_CHARS))
        .description(Some(format!(
            "Up to 10,000 characters, not blank, kept as written; line breaks and tabs \
             are the only control characters allowed{what}"
        )))
        .build()
}

pub(super) fn description() -> Object {
    description_of("; `null` is the same as leaving it out")
}

pub(super) fn new_description() -> Object {
    description_of("; `null` removes the description")
}

fn due_date_of(what: &str) -> Object {
    text(true)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(DueDate::PATTERN))
        .description(Some(format!(
            "A day of the calendar written `YYYY-MM-DD`, from 0001-01-01 to 9999-12-31{what}"
        )))
        .examples(["2026-12-24"])
        .build()
}

pub(super) fn due_date() -> Object {
    due_date_of("; `null` is the same as leaving it out")
}

pub(super) fn new_due_date() -> Object {
    due_date_of("; `null` removes the due date")
}

pub(super) fn tag() -> Object {
    text(false)
        .pattern(Some(Tag::PATTERN))
        .description(Some(
            "1 to 32 of `a-z`, `A-Z`, `0-9` and `-`, with ASCII white space around; \
             stored trimmed and lowercased",
        ))
        .examples(["home"])
        .build()
}

pub(super) fn tags() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(tag())
        .max_items(Some(Tags::MAX))
        .description(Some(
            "Up to 20 tags as sent, repeats included; stored trimmed and lowercased, a \
             repeat (after trimming and lowercasing) kept once",
        ))
        .build()
}

pub(super) fn email() -> Schema {
    let [shape, local, length] = Email::PATTERNS;
    AllOfBuilder::new()
        .item(text(false).pattern(Some(shape)))
        .item(text(false).pattern(Some(local)))
        .item(text(false).pattern(Some(length)))
        .description(Some(
            "An ASCII address such as `ann@example.org`: dot-separated runs of letters, \
             digits and ``!#$%&'*+/=?^_`{|}~-`` (at most 64 characters), `@`, and two or more \
             labels of letters, digits and inner hyphens (each at most 63); at most 254 \
             characters once trimmed; stored lowercased",
        ))
        .examples(["ann@example.org"])
        .into()
}

pub(super) fn password() -> Object {
    text(false)
        .min_length(Some(Password::MIN_CHARS))
        .max_length(Some(Password::MAX_CHARS))
        .description(Some("8 to 128 characters, any, kept exactly (not trimmed)"))
        .examples(["correct horse battery staple"])
        .build()
}

pub(super) fn display_name() -> Object {
    text(false)
        .pattern(Some(DisplayName::PATTERN))
        .description(Some(
            "1 to 64 characters once trimmed, no control characters (one line)",
        ))
        .examples(["Ann"])
        .build()
}
