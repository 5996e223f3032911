//! Adding and removing a todo's tags.

use std::convert::Infallible;

use domain::{
    error::InfraError,
    event::TodoChange,
    todo::{Tag, Todo, TodoId, TooManyTags},
};

use super::{TodoPorts, modify::ModifyError};
use crate::{Actor, AppError, FieldViolation};

/// Why a tag could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddTagError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// The todo already has the most tags allowed.
    #[error(transparent)]
    TooManyTags(#[from] TooManyTags),
    /// Other writers kept changing the todo; trying again later will likely work.
    #[error("the todo is being changed by others; try again")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Why a tag could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveTagError {
    /// No such todo, or it belongs to someone else.
    #[error("todo not found")]
    NotFound,
    /// Other writers kept changing the todo; trying again later will likely work.
    #[error("the todo is being changed by others; try again")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Tags one of the actor's todos. Adding a tag it already has changes nothing.
#[derive(Debug, Clone)]
pub struct AddTag {
    ports: TodoPorts,
}

impl AddTag {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Adds `tag` and returns the todo as stored.
    #[tracing::instrument(name = "add_tag", skip_all, fields(user_id = %actor.id, todo_id = %id, tag = %tag))]
    pub async fn execute(&self, actor: &Actor, id: TodoId, tag: Tag) -> Result<Todo, AddTagError> {
        self.ports
            .modify(actor, id, TodoChange::Tagged(tag.clone()), |todo, now| {
                todo.add_tag(tag.clone(), now)
            })
            .await
            .map_err(|error| match error {
                ModifyError::NotFound => AddTagError::NotFound,
                ModifyError::Contended => AddTagError::Contended,
                ModifyError::Rule(too_many) => AddTagError::TooManyTags(too_many),
                ModifyError::Infra(e) => AddTagError::Infra(e),
            })
    }
}

/// Untags one of the actor's todos. Removing a tag it does not have changes nothing.
#[derive(Debug, Clone)]
pub struct RemoveTag {
    ports: TodoPorts,
}

impl RemoveTag {
    /// Builds the use case.
    pub fn new(ports: TodoPorts) -> Self {
        Self { ports }
    }

    /// Removes `tag` and returns the todo as stored.
    #[tracing::instrument(name = "remove_tag", skip_all, fields(user_id = %actor.id, todo_id = %id, tag = %tag))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: TodoId,
        tag: &Tag,
    ) -> Result<Todo, RemoveTagError> {
        self.ports
            .modify(actor, id, TodoChange::Untagged(tag.clone()), |todo, now| {
                Ok::<_, Infallible>(todo.remove_tag(tag, now))
            })
            .await
            .map_err(|error| match error {
                ModifyError::NotFound => RemoveTagError::NotFound,
                ModifyError::Contended => RemoveTagError::Contended,
                ModifyError::Rule(never) => match never {},
                ModifyError::Infra(e) => RemoveTagError::Infra(e),
            })
    }
}

impl From<AddTagError> for AppError {
    fn from(error: AddTagError) -> Self {
        match error {
            AddTagError::NotFound => AppError::not_found("no such todo"),
            AddTagError::TooManyTags(e) => {
                AppError::invalid_input(vec![FieldViolation::new("tag", e)])
            }
            AddTagError::Contended => super::contended(),
            AddTagError::Infra(e) => e.into(),
        }
    }
}

impl From<RemoveTagError> for AppError {
    fn from(error: RemoveTagError) -> Self {
        match error {
            RemoveTagError::NotFound => AppError::not_found("no such todo"),
            RemoveTagError::Contended => super::contended(),
            RemoveTagError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{
        error::RepositoryError,
        ports::{MockTodoCache, MockTodoRepository},
    };

    use super::*;
    use crate::test_support::*;

    fn tag(s: &str) -> Tag {
        Tag::new(s).unwrap()
    }

    #[tokio::test]
    async fn a_tag_is_added_then_removed() {
        let actor = member();
        let todo = todo_of(&actor);

        let tagged = AddTag::new(ports_holding(&todo, Ok(())))
            .execute(&actor, todo.id(), tag("garden"))
            .await
            .unwrap();
        assert!(tagged.tags().contains(&tag("garden")));

        let untagged = RemoveTag::new(ports_holding(&tagged, Ok(())))
            .execute(&actor, todo.id(), &tag("garden"))
            .await
            .unwrap();
        assert!(untagged.tags().is_empty());
        assert_eq!(untagged.version().get(), 3);
    }

    #[tokio::test]
    async fn a_twenty_first_tag_is_refused() {
        let actor = member();
        let mut todo = todo_of(&actor);
        for i in 0..20 {
            todo.add_tag(tag(&format!("t{i}")), T0).unwrap();
        }
        let mut todos = MockTodoRepository::new();
        let stored = todo.clone();
        todos
            .expect_get()
            .returning(move |_| Ok(Some(stored.clone())));
        todos.expect_update().never();
        let ports = todo_ports(todos, MockTodoCache::new());

        let err = AddTag::new(ports)
            .execute(&actor, todo.id(), tag("extra"))
            .await
            .unwrap_err();

        assert!(matches!(err, AddTagError::TooManyTags(_)), "{err:?}");
    }

    /// A repository failure and checks of the errors it must become.
    type Case = (
        fn() -> RepositoryError,
        fn(&AddTagError) -> bool,
        fn(&RemoveTagError) -> bool,
    );

    #[tokio::test]
    async fn each_failure_maps_to_its_own_error() {
        let actor = member();
        let mut todo = todo_of(&actor);
        todo.add_tag(tag("old"), T0).unwrap();
        let cases: [Case; 3] = [
            (
                || RepositoryError::NotFound,
                |e| matches!(e, AddTagError::NotFound),
                |e| matches!(e, RemoveTagError::NotFound),
            ),
            (
                || RepositoryError::VersionConflict,
                |e| matches!(e, AddTagError::Contended),
                |e| matches!(e, RemoveTagError::Contended),
            ),
            (
                || RepositoryError::Infra(infra_down()),
                |e| matches!(e, AddTagError::Infra(_)),
                |e| matches!(e, RemoveTagError::Infra(_)),
            ),
        ];
        for (make, check_add, check_remove) in cases {
            let err = AddTag::new(ports_holding(&todo, Err(make)))
                .execute(&actor, todo.id(), tag("new"))
                .await
                .unwrap_err();
            assert!(check_add(&err), "add: {err:?}");
            let err = RemoveTag::new(ports_holding(&todo, Err(make)))
                .execute(&actor, todo.id(), &tag("old"))
                .await
                .unwrap_err();
            assert!(check_remove(&err), "remove: {err:?}");
        }
    }
}
