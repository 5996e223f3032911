//! Input as a client sent it, and the one place it becomes domain values.
//!
//! Every driving adapter receives the same writes: a new todo, edits to one, a
//! registration, a page of a list. Each write has an input type here holding its fields as
//! given (plain strings and numbers), and one function that turns it into domain values,
//! recording every invalid field in [`FieldViolations`] so a client learns everything wrong
//! with a request at once. An adapter only maps its wire format onto the input type (JSON
//! `null`, GraphQL's undefined, a protobuf field mask) and says how its protocol spells
//! field names ([`FieldNames`]); the rules themselves are written once, here and in the
//! domain's constructors.

use uuid::Uuid;

use crate::FieldViolations;
use domain::pagination::{PageSize, PageSizeError};

/// How a protocol spells the fields the application names. The application names them in
/// snake_case (`due_date`, `tags[2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldNames {
    /// As the application names them: REST's JSON bodies and gRPC's top-level fields.
    SnakeCase,
    /// `dueDate`: GraphQL's.
    CamelCase,
    /// Inside the named message: `todo.due_date`, as gRPC names a field of a nested message.
    Within(&'static str),
}

impl FieldNames {
    /// `field` as this protocol spells it.
    pub fn spell(self, field: &str) -> String {
        match self {
            FieldNames::SnakeCase => field.to_owned(),
            FieldNames::CamelCase => {
                let mut spelled = String::with_capacity(field.len());
                let mut upper = false;
                for c in field.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        spelled.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        spelled.push(c);
                    }
                }
                spelled
            }
            FieldNames::Within(message) => format!("{message}.{field}"),
        }
    }
}

/// What an edit asks of one field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Edit<T> {
    /// Leave it as it is (the field was left out).
    #[default]
    Keep,
    /// Remove it (JSON or GraphQL `null`; a masked empty field in gRPC).
    Clear,
    /// Set it to this.
    Set(T),
}

/// Which page of a list, as given: a size and the cursor an earlier page gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInput {
    /// The page size asked for; `None` for the default. A number that is not one (REST's
    /// query text `+5`, say) is out of range, and an adapter passes it as `i64::MAX`.
    pub size: Option<i64>,
    /// The cursor of the previous page, `None` for the first page.
    pub cursor: Option<String>,
}

/// What a protocol calls a page's two fields.
#[derive(Debug, Clone, Copy)]
pub struct PageFields {
    /// The page size's field (`limit`, `first`, `page_size`).
    pub size: &'static str,
    /// The cursor's field (`cursor`, `after`, `page_token`).
    pub cursor: &'static str,
}

impl PageInput {
    /// The page size and the cursor, recording in `f` what is invalid (the cursor first, on
    /// every protocol). An invalid size leaves the default, so the other fields are still
    /// checked.
    pub fn check(self, f: &mut FieldViolations, names: PageFields) -> (PageSize, Option<Uuid>) {
        let cursor = self.cursor.and_then(|c| {
            f.check(
                names.cursor,
                domain::id::parse_uuid(&c).ok_or("must be the cursor an earlier page gave"),
            )
        });
        let size = self
            .size
            .and_then(|n| {
                let size = u64::try_from(n)
                    .map_err(|_| PageSizeError)
                    .and_then(PageSize::new);
                f.check(names.size, size)
            })
            .unwrap_or_default();
        (size, cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_spells_a_field_its_own_way() {
        assert_eq!(FieldNames::SnakeCase.spell("due_date"), "due_date");
        assert_eq!(FieldNames::CamelCase.spell("due_date"), "dueDate");
        assert_eq!(FieldNames::CamelCase.spell("tags[2]"), "tags[2]");
        assert_eq!(
            FieldNames::Within("todo").spell("due_date"),
            "todo.due_date"
        );
    }

    const NAMES: PageFields = PageFields {
        size: "limit",
        cursor: "cursor",
    };

    #[test]
    fn a_page_out_of_range_or_with_a_foreign_cursor_names_both_fields() {
        let mut f = FieldViolations::default();
        let page = PageInput {
            size: Some(0),
            cursor: Some("not-a-cursor".to_owned()),
        };
        assert_eq!(page.check(&mut f, NAMES), (PageSize::DEFAULT, None));
        let error = f.finish(Some(())).unwrap_err();
        let fields: Vec<&str> = error.fields().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["cursor", "limit"]);
    }

    #[test]
    fn an_absent_page_is_the_first_at_the_default_size() {
        let mut f = FieldViolations::default();
        let id = Uuid::now_v7();
        assert_eq!(
            PageInput::default().check(&mut f, NAMES),
            (PageSize::DEFAULT, None)
        );
        let page = PageInput {
            size: Some(100),
            cursor: Some(id.to_string()),
        };
        assert_eq!(
            page.check(&mut f, NAMES),
            (PageSize::new(100).unwrap(), Some(id))
        );
        assert!(f.is_empty());
    }
}
