//! Demo data: a user with a few todos, written as one unit.
//!
//! This is the example's use of the [`UnitOfWork`]: the user and their todos are created in
//! one transaction, so a failure half-way leaves no user without todos behind, and running
//! the seed again finds the user and does nothing.

use std::sync::Arc;

use chrono::Duration;
use domain::{
    error::{InfraError, RepositoryError},
    event::{MessageId, OutboxMessage, TodoChange, TodoEvent},
    ports::{Clock, IdGenerator, PasswordHasher, UnitOfWork},
    todo::{Description, DueDate, NewTodo, Tag, Tags, Title, Todo, TodoId},
    user::{DisplayName, Email, Password, Role, User, UserId},
};

/// Who the demo user is.
#[derive(Debug)]
pub struct DemoUser {
    /// Their login email.
    pub email: Email,
    /// Their display name.
    pub display_name: DisplayName,
    /// Their password.
    pub password: Password,
}

/// What seeding did.
#[derive(Debug)]
pub enum SeedOutcome {
    /// The demo user and this many todos were created.
    Created {
        /// The new user.
        user: User,
        /// How many todos they got.
        todos: usize,
    },
    /// A user with the demo email exists already; nothing was written.
    AlreadyPresent,
}

/// Why seeding failed; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Storage or hashing failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Creates the demo user and their todos, once.
#[derive(Clone)]
pub struct SeedDemo {
    unit_of_work: Arc<dyn UnitOfWork>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl SeedDemo {
    /// Builds the use case.
    pub fn new(
        unit_of_work: Arc<dyn UnitOfWork>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            unit_of_work,
            hasher,
            clock,
            ids,
        }
    }

    /// Creates `demo` and a few todos, unless a user with that email exists.
    #[tracing::instrument(name = "seed_demo", skip_all)]
    pub async fn execute(&self, demo: DemoUser) -> Result<SeedOutcome, SeedError> {
        // Hash before the transaction starts, so the slow part holds no locks.
        let password_hash = self.hasher.hash(&demo.password).await?;
        let now = self.clock.now();

        let tx = self.unit_of_work.begin().await?;
        if tx.users().find_by_email(&demo.email).await?.is_some() {
            return Ok(SeedOutcome::AlreadyPresent); // dropping `tx` rolls back (nothing to undo)
        }
        let user = User {
            id: UserId::from_uuid(self.ids.generate()),
            email: demo.email,
            display_name: demo.display_name,
            password_hash,
            role: Role::Member,
            created_at: now,
        };
        match tx.users().insert(&user).await {
            Ok(()) => {}
            // Another seed run won the race between our read and our insert.
            Err(RepositoryError::Duplicate("email")) => return Ok(SeedOutcome::AlreadyPresent),
            Err(RepositoryError::Infra(e)) => return Err(e.into()),
            Err(other) => return Err(InfraError::internal("insert demo user", other).into()),
        }
        let todos = demo_todos(&user, now, self.ids.as_ref());
        for todo in &todos {
            tx.todos().insert(todo).await.map_err(|e| match e {
                RepositoryError::Infra(e) => e,
                other => InfraError::internal("insert demo todo", other),
            })?;
            // Seeded todos are created like any other: their events go out too.
            let id = MessageId::from_uuid(self.ids.generate());
            let event = TodoEvent::of(id, now, todo, TodoChange::Created);
            tx.outbox().record(&OutboxMessage::TodoEvent(event)).await?;
        }
        tx.commit().await?;
        tracing::info!(user_id = %user.id, todos = todos.len(), "demo data created");
        Ok(SeedOutcome::Created {
            user,
            todos: todos.len(),
        })
    }
}

impl std::fmt::Debug for SeedDemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedDemo").finish_non_exhaustive()
    }
}

/// Three todos that show off the model: one plain, one tagged with a due date and a
/// description, one done.
// Every literal below is non-empty, short, and free of control characters (titles,
// description) or made of a-z only (tags), so the constructors cannot fail; the unit test
// `the_demo_todos_use_valid_literals` runs this code.
#[allow(clippy::expect_used)]
fn demo_todos(user: &User, now: chrono::DateTime<chrono::Utc>, ids: &dyn IdGenerator) -> Vec<Todo> {
    let title = |s: &str| Title::new(s).expect("valid literal title");
    let tags = Tags::new(
        [Tag::new("home"), Tag::new("errands")]
            .into_iter()
            .map(|t| t.expect("valid literal tag")),
    )
    .expect("two tags are within the limit");
    let mut todos = vec![
        NewTodo {
            title: title("Try the API with curl"),
            description: None,
            due_date: None,
            tags: Tags::default(),
        },
        NewTodo {
            title: title("Buy groceries"),
            description: Some(
                Description::new("Milk, eggs, coffee").expect("valid literal description"),
            ),
            // In two days: within the due-date range for any clock before the year 9999.
            due_date: DueDate::new((now + Duration::days(2)).date_naive()).ok(),
            tags,
        },
        NewTodo {
            title: title("Read the README"),
            description: None,
            due_date: None,
            tags: Tags::default(),
        },
    ]
    .into_iter()
    .map(|new| Todo::create(TodoId::from_uuid(ids.generate()), user.id, new, now))
    .collect::<Vec<_>>();
    if let Some(last) = todos.last_mut() {
        last.complete(now);
    }
    todos
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::ports::{
        MockPasswordHasher, MockTodoRepository, MockTransaction, MockUnitOfWork, MockUserRepository,
    };

    use super::*;
    use crate::test_support::*;

    fn demo() -> DemoUser {
        DemoUser {
            email: email("demo@example.org"),
            display_name: DisplayName::new("Demo").unwrap(),
            password: password("demo-password"),
        }
    }

    fn hasher() -> Arc<MockPasswordHasher> {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|p| Ok(fake_hash(p.expose())));
        Arc::new(hasher)
    }

    /// A unit of work whose one transaction uses `users` and `todos` and expects `commits`
    /// commits.
    fn unit_of_work(
        users: MockUserRepository,
        todos: MockTodoRepository,
        commits: usize,
    ) -> Arc<MockUnitOfWork> {
        unit_of_work_recording(users, todos, commits).0
    }

    /// [`unit_of_work`], and the events recorded in its transaction.
    fn unit_of_work_recording(
        users: MockUserRepository,
        todos: MockTodoRepository,
        commits: usize,
    ) -> (Arc<MockUnitOfWork>, Recorded) {
        let tx = Mutex::new(Some((Arc::new(users), Arc::new(todos))));
        let (outbox, recorded) = recording_outbox();
        let outbox = Arc::new(outbox);
        let mut uow = MockUnitOfWork::new();
        uow.expect_begin().times(1).returning(move || {
            let (users, todos) = tx.lock().unwrap().take().unwrap();
            let mut tx = MockTransaction::new();
            tx.expect_users().returning(move || users.clone());
            tx.expect_todos().returning(move || todos.clone());
            let outbox = outbox.clone();
            tx.expect_outbox().returning(move || outbox.clone());
            tx.expect_commit().times(commits).returning(|| Ok(()));
            Ok(Box::new(tx))
        });
        (Arc::new(uow), recorded)
    }

    #[tokio::test]
    async fn a_fresh_store_gets_the_user_and_three_todos_in_one_commit() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        users.expect_insert().times(1).returning(|_| Ok(()));
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().times(3).returning(|_| Ok(()));
        let (unit_of_work, recorded) = unit_of_work_recording(users, todos, 1);

        let outcome = SeedDemo::new(unit_of_work, hasher(), fixed_clock(), sequential_ids())
            .execute(demo())
            .await
            .unwrap();

        assert!(
            matches!(outcome, SeedOutcome::Created { todos: 3, .. }),
            "{outcome:?}"
        );
        let events = recorded.lock().unwrap();
        assert_eq!(events.len(), 3, "one todo.created per demo todo");
        assert!(events.iter().all(|e| e.change == TodoChange::Created));
    }

    #[tokio::test]
    async fn an_existing_demo_user_means_nothing_is_written() {
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_email()
            .returning(|_| Ok(Some(user("demo@example.org", "x"))));
        users.expect_insert().never();
        let mut todos = MockTodoRepository::new();
        todos.expect_insert().never();

        let outcome = SeedDemo::new(
            unit_of_work(users, todos, 0),
            hasher(),
            fixed_clock(),
            sequential_ids(),
        )
        .execute(demo())
        .await
        .unwrap();

        assert!(
            matches!(outcome, SeedOutcome::AlreadyPresent),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn losing_the_insert_race_is_already_present() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        users
            .expect_insert()
            .returning(|_| Err(RepositoryError::Duplicate("email")));

        let outcome = SeedDemo::new(
            unit_of_work(users, MockTodoRepository::new(), 0),
            hasher(),
            fixed_clock(),
            sequential_ids(),
        )
        .execute(demo())
        .await
        .unwrap();

        assert!(
            matches!(outcome, SeedOutcome::AlreadyPresent),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_failing_todo_insert_aborts_without_committing() {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().returning(|_| Ok(None));
        users.expect_insert().returning(|_| Ok(()));
        let mut todos = MockTodoRepository::new();
        todos
            .expect_insert()
            .returning(|_| Err(RepositoryError::Infra(infra_down())));

        let err = SeedDemo::new(
            unit_of_work(users, todos, 0),
            hasher(),
            fixed_clock(),
            sequential_ids(),
        )
        .execute(demo())
        .await
        .unwrap_err();

        assert!(matches!(err, SeedError::Infra(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_transaction_that_cannot_start_is_an_error() {
        let mut uow = MockUnitOfWork::new();
        uow.expect_begin().returning(|| Err(infra_down()));

        let err = SeedDemo::new(Arc::new(uow), hasher(), fixed_clock(), sequential_ids())
            .execute(demo())
            .await
            .unwrap_err();

        assert!(matches!(err, SeedError::Infra(_)), "{err:?}");
    }

    #[test]
    fn the_demo_todos_use_valid_literals() {
        let owner = user("demo@example.org", "x");
        let todos = demo_todos(&owner, T0, sequential_ids().as_ref());
        let titles: Vec<&str> = todos.iter().map(|t| t.title().as_str()).collect();
        assert_eq!(
            titles,
            ["Try the API with curl", "Buy groceries", "Read the README"]
        );
        assert_eq!(todos[1].tags().len(), 2);
        assert!(todos[1].description().is_some());
        assert_eq!(todos[2].status(), domain::todo::TodoStatus::Done);
    }
}
