//! The output types: what a client can select.

use async_graphql::{
    ComplexObject, Context, Enum, ID, Result, SimpleObject,
    connection::{Connection, Edge},
    dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use domain::{
    pagination::Page,
    todo::{Todo, TodoId, TodoStatus},
    user::{Role, User, UserId},
};

use crate::loaders::{TodoCountKey, TodoCounts};

/// Whether a todo is still to do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TodoStatus")]
pub(crate) enum StatusGql {
    /// Not done yet.
    Open,
    /// Completed.
    Done,
}

impl From<TodoStatus> for StatusGql {
    fn from(status: TodoStatus) -> Self {
        match status {
            TodoStatus::Open => StatusGql::Open,
            TodoStatus::Done => StatusGql::Done,
        }
    }
}

impl From<StatusGql> for TodoStatus {
    fn from(status: StatusGql) -> Self {
        match status {
            StatusGql::Open => TodoStatus::Open,
            StatusGql::Done => TodoStatus::Done,
        }
    }
}

/// What a user may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub(crate) enum RoleGql {
    /// An ordinary user.
    Member,
    /// An operator who may list every user.
    Admin,
}

impl From<Role> for RoleGql {
    fn from(role: Role) -> Self {
        match role {
            Role::Member => RoleGql::Member,
            Role::Admin => RoleGql::Admin,
        }
    }
}

/// A todo of the calling user.
#[derive(SimpleObject, Debug)]
#[graphql(name = "Todo")]
pub(crate) struct TodoGql {
    /// The todo's id (a UUIDv7: ids sort by creation time).
    id: ID,
    /// 1 to 200 characters, one line.
    title: String,
    /// Up to 10,000 characters.
    description: Option<String>,
    /// Up to 20 tags of `a-z`, `0-9` and `-`, sorted.
    tags: Vec<String>,
    /// The due date, `YYYY-MM-DD`.
    due_date: Option<String>,
    /// Open or done.
    status: StatusGql,
    /// When the todo was completed; set exactly when it is done.
    completed_at: Option<DateTime<Utc>>,
    /// How many times the todo changed; send it back as `expectedVersion` to change it.
    version: i64,
    /// When the todo was created.
    created_at: DateTime<Utc>,
    /// When the todo last changed.
    updated_at: DateTime<Utc>,
}

impl From<&Todo> for TodoGql {
    fn from(todo: &Todo) -> Self {
        Self {
            id: ID(todo.id().to_string()),
            title: todo.title().as_str().to_owned(),
            description: todo.description().map(|d| d.as_str().to_owned()),
            tags: todo.tags().iter().map(|t| t.as_str().to_owned()).collect(),
            due_date: todo.due_date().map(|d| d.to_string()),
            status: todo.status().into(),
            completed_at: todo.completed_at(),
            version: todo.version().get(),
            created_at: todo.created_at(),
            updated_at: todo.updated_at(),
        }
    }
}

/// A registered user, as anyone may see them (no password hash).
#[derive(SimpleObject, Debug)]
#[graphql(name = "User", complex)]
pub(crate) struct UserGql {
    /// The user's id.
    id: ID,
    /// The login email.
    email: String,
    /// The name shown to others.
    display_name: String,
    /// Member or admin.
    role: RoleGql,
    /// When the user registered.
    created_at: DateTime<Utc>,
    #[graphql(skip)]
    user_id: UserId,
}

#[ComplexObject]
impl UserGql {
    /// How many todos the user has, only those with `status` when given. Members may ask
    /// about themselves, administrators about anyone. For a page of users this is one
    /// batched query, not one per user.
    async fn todo_count(&self, ctx: &Context<'_>, status: Option<StatusGql>) -> Result<u64> {
        let loader = ctx.data::<DataLoader<TodoCounts>>()?;
        let key = TodoCountKey {
            owner: self.user_id,
            status: status.map(TodoStatus::from),
        };
        Ok(loader
            .load_one(key)
            .await
            .map_err(|e| e.as_ref().clone())?
            .unwrap_or(0))
    }
}

impl From<&User> for UserGql {
    fn from(user: &User) -> Self {
        Self {
            id: ID(user.id.to_string()),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.into(),
            created_at: user.created_at,
            user_id: user.id,
        }
    }
}

/// A new session. The token is shown here once and never again.
#[derive(SimpleObject, Debug)]
#[graphql(name = "Session")]
pub(crate) struct SessionGql {
    /// Send as `Authorization: Bearer <token>`.
    pub(crate) token: String,
    /// When the session ends.
    pub(crate) expires_at: DateTime<Utc>,
    /// Who logged in.
    pub(crate) user: UserGql,
}

/// A page of todos as a Relay connection: each edge's cursor is the todo's id, the same
/// cursor REST's `next_cursor` is; pass `pageInfo.endCursor` as `after` for the next page.
pub(crate) type TodoConnection = Connection<String, TodoGql>;

/// A page of users, like [`TodoConnection`].
pub(crate) type UserConnection = Connection<String, UserGql>;

/// A page of the use case's as a connection.
pub(crate) fn todo_page(page: Page<Todo, TodoId>) -> TodoConnection {
    let mut connection = Connection::new(false, page.next_cursor.is_some());
    connection.edges = page
        .items
        .iter()
        .map(|todo| Edge::new(todo.id().to_string(), TodoGql::from(todo)))
        .collect();
    connection
}

/// A page of users as a connection.
pub(crate) fn user_page(page: Page<User, UserId>) -> UserConnection {
    let mut connection = Connection::new(false, page.next_cursor.is_some());
    connection.edges = page
        .items
        .iter()
        .map(|user| Edge::new(user.id.to_string(), UserGql::from(user)))
        .collect();
    connection
}

/// What happened to a todo.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TodoEventType")]
pub(crate) enum TodoEventTypeGql {
    /// It was created.
    Created,
    /// Its title, description or due date changed.
    Updated,
    /// It was completed.
    Completed,
    /// It was reopened.
    Reopened,
    /// A tag was added (`tag` says which).
    Tagged,
    /// A tag was removed (`tag` says which).
    Untagged,
    /// It was deleted.
    Deleted,
}

/// One change to one of the caller's todos. Delivery is at least once: the same `eventId`
/// is the same event, delivered again; order by `version` within a todo.
#[derive(SimpleObject, Debug)]
#[graphql(name = "TodoEvent")]
pub(crate) struct TodoEventGql {
    /// The event's id (a UUIDv7).
    event_id: ID,
    /// What happened.
    r#type: TodoEventTypeGql,
    /// The todo's id.
    todo_id: ID,
    /// The todo's version after the change (for a deletion, the one after the last).
    version: i64,
    /// When the change was made.
    occurred_at: DateTime<Utc>,
    /// The tag, for `TAGGED` and `UNTAGGED`.
    tag: Option<String>,
}

impl From<&domain::event::TodoEvent> for TodoEventGql {
    fn from(event: &domain::event::TodoEvent) -> Self {
        use domain::event::TodoChange;
        let (kind, tag) = match &event.change {
            TodoChange::Created => (TodoEventTypeGql::Created, None),
            TodoChange::Updated => (TodoEventTypeGql::Updated, None),
            TodoChange::Completed => (TodoEventTypeGql::Completed, None),
            TodoChange::Reopened => (TodoEventTypeGql::Reopened, None),
            TodoChange::Tagged(tag) => (TodoEventTypeGql::Tagged, Some(tag)),
            TodoChange::Untagged(tag) => (TodoEventTypeGql::Untagged, Some(tag)),
            TodoChange::Deleted => (TodoEventTypeGql::Deleted, None),
        };
        Self {
            event_id: ID(event.id.to_string()),
            r#type: kind,
            todo_id: ID(event.todo_id.to_string()),
            version: event.version.get(),
            occurred_at: event.occurred_at,
            tag: tag.map(|t| t.as_str().to_owned()),
        }
    }
}
