//! The writes and the list of todos, as a client sent them; see [`crate::input`].

use domain::todo::{Description, DueDate, NewTodo, Tag, Title, TodoChanges, TodoId, TodoStatus};

use crate::{
    AppError, FieldViolations,
    input::{Edit, FieldNames, PageFields, PageInput},
    todos::TodoFilter,
};

/// A todo to create, its fields as given.
#[derive(Debug, Clone, Default)]
pub struct NewTodoInput {
    /// The title.
    pub title: String,
    /// The description, if one was given.
    pub description: Option<String>,
    /// The due date, `YYYY-MM-DD`, if one was given.
    pub due_date: Option<String>,
    /// The tags, as sent: repeats count towards the limit.
    pub tags: Vec<String>,
}

impl NewTodoInput {
    /// The new todo, or invalid input naming every bad field as `names` spells it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when any field is invalid.
    pub fn parse(self, names: FieldNames) -> Result<NewTodo, AppError> {
        let mut f = FieldViolations::default();
        let todo = self.check(&mut f, names);
        f.finish(todo)
    }

    /// The new todo, recording in `f` what is invalid: for an adapter that checks fields of
    /// its own in the same request.
    pub fn check(self, f: &mut FieldViolations, names: FieldNames) -> Option<NewTodo> {
        let title = f.check(&names.spell("title"), Title::new(&self.title));
        let description = match self.description {
            None => Some(None),
            Some(d) => f
                .check(&names.spell("description"), Description::new(&d))
                .map(Some),
        };
        let due_date = match self.due_date {
            None => Some(None),
            Some(d) => f
                .check(&names.spell("due_date"), DueDate::parse(&d))
                .map(Some),
        };
        let tags = f.tags(&names.spell("tags"), &self.tags);
        Some(NewTodo {
            title: title?,
            description: description?,
            due_date: due_date?,
            tags: tags?,
        })
    }
}

/// Edits to a todo's plain fields, as given.
#[derive(Debug, Clone, Default)]
pub struct TodoEditsInput {
    /// A new title. A todo always has one, so [`Edit::Clear`] is invalid.
    pub title: Edit<String>,
    /// A new description, or none.
    pub description: Edit<String>,
    /// A new due date, `YYYY-MM-DD`, or none.
    pub due_date: Edit<String>,
}

impl TodoEditsInput {
    /// The changes, or invalid input naming every bad field as `names` spells it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when any field is invalid.
    pub fn parse(self, names: FieldNames) -> Result<TodoChanges, AppError> {
        let mut f = FieldViolations::default();
        let changes = self.check(&mut f, names);
        f.finish(Some(changes))
    }

    /// The changes, recording in `f` what is invalid (an invalid field is left unchanged).
    pub fn check(self, f: &mut FieldViolations, names: FieldNames) -> TodoChanges {
        let title = match self.title {
            Edit::Keep => None,
            Edit::Clear => {
                f.add(
                    &names.spell("title"),
                    "must not be null: leave it out to keep the title",
                );
                None
            }
            Edit::Set(title) => f.check(&names.spell("title"), Title::new(&title)),
        };
        TodoChanges {
            title,
            description: edit(f, &names.spell("description"), self.description, |d| {
                Description::new(d)
            }),
            due_date: edit(f, &names.spell("due_date"), self.due_date, DueDate::parse),
        }
    }
}

/// One optional field's edit: `None` to keep it, `Some(None)` to clear it.
fn edit<T, E: ToString>(
    f: &mut FieldViolations,
    field: &str,
    edit: Edit<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match edit {
        Edit::Keep => None,
        Edit::Clear => Some(None),
        Edit::Set(raw) => f.check(field, parse(&raw)).map(Some),
    }
}

/// Which todos to list, as given. The status is already one of the two, because every
/// protocol offers it as a choice (an enum, or REST's two words).
#[derive(Debug, Clone, Default)]
pub struct TodoFilterInput {
    /// Only todos with this status.
    pub status: Option<TodoStatus>,
    /// Only todos with this tag.
    pub tag: Option<String>,
    /// Which page.
    pub page: PageInput,
}

impl TodoFilterInput {
    /// The filter, recording in `f` what is invalid: the tag, then the page. The tag's field
    /// is `tag` on every protocol.
    pub fn check(self, f: &mut FieldViolations, page: PageFields) -> TodoFilter {
        let tag = self.tag.and_then(|t| f.check("tag", Tag::new(&t)));
        let (size, cursor) = self.page.check(f, page);
        TodoFilter {
            status: self.status,
            tag,
            cursor: cursor.map(TodoId::from_uuid),
            size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(error: &AppError) -> Vec<&str> {
        error.fields().iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn every_invalid_field_of_a_new_todo_is_named_as_the_protocol_spells_it() {
        let input = NewTodoInput {
            title: " ".to_owned(),
            description: Some(String::new()),
            due_date: Some("tomorrow".to_owned()),
            tags: vec!["ok".to_owned(), "not ok".to_owned()],
        };
        let error = input.clone().parse(FieldNames::CamelCase).unwrap_err();
        assert_eq!(
            fields(&error),
            ["title", "description", "dueDate", "tags[1]"]
        );
        let error = input.parse(FieldNames::Within("todo")).unwrap_err();
        assert_eq!(
            fields(&error),
            [
                "todo.title",
                "todo.description",
                "todo.due_date",
                "todo.tags[1]"
            ]
        );
    }

    #[test]
    fn a_new_todo_with_only_a_title_has_nothing_else() {
        let todo = NewTodoInput {
            title: "  Buy milk ".to_owned(),
            ..NewTodoInput::default()
        }
        .parse(FieldNames::SnakeCase)
        .unwrap();
        assert_eq!(todo.title.as_str(), "Buy milk");
        assert_eq!((todo.description, todo.due_date), (None, None));
        assert!(todo.tags.is_empty());
    }

    #[test]
    fn edits_keep_clear_or_set_and_a_cleared_title_is_refused() {
        let changes = TodoEditsInput {
            title: Edit::Set("New".to_owned()),
            description: Edit::Clear,
            due_date: Edit::Keep,
        }
        .parse(FieldNames::SnakeCase)
        .unwrap();
        assert_eq!(changes.title.unwrap().as_str(), "New");
        assert_eq!(changes.description, Some(None));
        assert_eq!(changes.due_date, None);

        let error = TodoEditsInput {
            title: Edit::Clear,
            due_date: Edit::Set("2026-02-30".to_owned()),
            ..TodoEditsInput::default()
        }
        .parse(FieldNames::SnakeCase)
        .unwrap_err();
        assert_eq!(fields(&error), ["title", "due_date"]);
    }
}
