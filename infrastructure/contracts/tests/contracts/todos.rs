//! The `TodoRepository` contract.

use std::sync::Arc;

use chrono::Duration;
use domain::{
    error::RepositoryError,
    ports::{TodoQuery, TodoRepository, UserRepository},
    todo::{DueDate, Title, TodoChanges, TodoId, TodoStatus, Version},
    user::UserId,
};
use driven_memory::MemoryStore;
use driven_postgres::{PgTodoRepository, PgUserRepository};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::*;

pub struct Fixture {
    todos: Arc<dyn TodoRepository>,
    users: Arc<dyn UserRepository>,
    _db: Option<TestDatabase>,
}

impl Fixture {
    /// A stored user to own todos (Postgres enforces the foreign key).
    async fn owner(&self) -> UserId {
        let owner = user(&unique_email());
        self.users.insert(&owner).await.unwrap();
        owner.id
    }

    fn query(owner: UserId, limit: u32) -> TodoQuery {
        TodoQuery {
            owner,
            status: None,
            tag: None,
            before: None,
            limit,
        }
    }
}

async fn memory() -> Fixture {
    let store = MemoryStore::new();
    Fixture {
        todos: Arc::new(store.todos()),
        users: Arc::new(store.users()),
        _db: None,
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::new().await;
    Fixture {
        todos: Arc::new(PgTodoRepository::new(db.pool().clone())),
        users: Arc::new(PgUserRepository::new(db.pool().clone())),
        _db: Some(db),
    }
}

contract!(adapters: [memory, postgres], checks: [
    an_inserted_todo_reads_back_equal_with_every_field,
    a_done_todo_reads_back_done,
    an_unknown_id_is_none,
    a_duplicate_id_is_refused,
    a_todo_of_an_unknown_owner_is_refused,
    due_dates_at_both_ends_of_the_range_are_stored,
    an_update_at_the_expected_version_replaces_the_todo,
    an_update_at_a_stale_version_is_a_conflict_and_changes_nothing,
    an_update_of_a_missing_todo_is_not_found,
    concurrent_updates_from_one_version_let_exactly_one_win,
    a_delete_at_the_expected_version_removes_the_todo,
    a_delete_at_a_stale_version_is_a_conflict_and_keeps_the_todo,
    a_delete_of_a_missing_todo_is_not_found,
    a_list_holds_only_the_owners_todos_newest_first,
    a_list_filters_by_status_and_tag,
    a_cursor_pages_through_without_gaps_or_overlaps,
    counts_cover_every_owner_asked_for_and_no_other,
]);

async fn an_inserted_todo_reads_back_equal_with_every_field(f: &Fixture) {
    let todo = full_todo(f.owner().await);
    f.todos.insert(&todo).await.unwrap();

    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
}

async fn a_done_todo_reads_back_done(f: &Fixture) {
    let mut todo = plain_todo(f.owner().await, "Done already");
    todo.complete(t0() + Duration::minutes(1));
    f.todos.insert(&todo).await.unwrap();

    let stored = f.todos.get(todo.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), TodoStatus::Done);
    assert_eq!(stored, todo);
}

async fn an_unknown_id_is_none(f: &Fixture) {
    assert_eq!(
        f.todos
            .get(TodoId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap(),
        None
    );
}

async fn a_duplicate_id_is_refused(f: &Fixture) {
    let todo = plain_todo(f.owner().await, "Once");
    f.todos.insert(&todo).await.unwrap();

    let err = f.todos.insert(&todo).await.unwrap_err();

    assert!(matches!(err, RepositoryError::Duplicate("id")), "{err:?}");
}

async fn a_todo_of_an_unknown_owner_is_refused(f: &Fixture) {
    // What happens when an account is deleted while one of its sessions lives on.
    let todo = plain_todo(UserId::from_uuid(Uuid::now_v7()), "Orphan");

    let err = f.todos.insert(&todo).await.unwrap_err();

    assert!(
        matches!(err, RepositoryError::UnknownReference("owner")),
        "{err:?}"
    );
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), None);
}

async fn due_dates_at_both_ends_of_the_range_are_stored(f: &Fixture) {
    let owner = f.owner().await;
    for due in [DueDate::MIN, DueDate::MAX] {
        let mut todo = plain_todo(owner, "At the edge of time");
        todo.apply(
            TodoChanges {
                due_date: Some(Some(due)),
                ..TodoChanges::default()
            },
            t0(),
        );
        f.todos.insert(&todo).await.unwrap();

        let stored = f.todos.get(todo.id()).await.unwrap().unwrap();
        assert_eq!(stored.due_date(), Some(due));
        assert_eq!(stored, todo);
    }
}

async fn an_update_at_the_expected_version_replaces_the_todo(f: &Fixture) {
    let mut todo = full_todo(f.owner().await);
    f.todos.insert(&todo).await.unwrap();
    let changes = TodoChanges {
        title: Some(Title::new("Renamed").unwrap()),
        description: Some(None),
        due_date: Some(None),
    };
    todo.apply(changes, t0() + Duration::hours(1));
    todo.add_tag(tag("urgent"), t0() + Duration::hours(1))
        .unwrap();

    f.todos.update(&todo, Version::INITIAL).await.unwrap();

    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
}

async fn an_update_at_a_stale_version_is_a_conflict_and_changes_nothing(f: &Fixture) {
    let original = plain_todo(f.owner().await, "Original");
    f.todos.insert(&original).await.unwrap();
    let mut first = original.clone();
    first.complete(t0());
    f.todos.update(&first, Version::INITIAL).await.unwrap();

    let mut stale = original.clone();
    stale.apply(
        TodoChanges {
            title: Some(Title::new("Stale edit").unwrap()),
            ..TodoChanges::default()
        },
        t0(),
    );
    let err = f.todos.update(&stale, Version::INITIAL).await.unwrap_err();

    assert!(matches!(err, RepositoryError::VersionConflict), "{err:?}");
    assert_eq!(f.todos.get(original.id()).await.unwrap(), Some(first));
}

async fn an_update_of_a_missing_todo_is_not_found(f: &Fixture) {
    let todo = plain_todo(f.owner().await, "Never stored");

    let err = f.todos.update(&todo, Version::INITIAL).await.unwrap_err();

    assert!(matches!(err, RepositoryError::NotFound), "{err:?}");
}

async fn concurrent_updates_from_one_version_let_exactly_one_win(f: &Fixture) {
    let todo = plain_todo(f.owner().await, "Contended");
    f.todos.insert(&todo).await.unwrap();

    let writers = (0..8).map(|i| {
        let todos = f.todos.clone();
        let mut edit = todo.clone();
        edit.apply(
            TodoChanges {
                title: Some(Title::new(&format!("Writer {i}")).unwrap()),
                ..TodoChanges::default()
            },
            t0(),
        );
        tokio::spawn(async move { todos.update(&edit, Version::INITIAL).await.map(|()| edit) })
    });
    let results = join_all(writers).await;

    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(RepositoryError::VersionConflict)))
        .count();
    assert_eq!((winners.len(), conflicts), (1, 7), "{results:?}");
    assert_eq!(
        f.todos.get(todo.id()).await.unwrap().as_ref(),
        Some(winners[0]),
        "the winner's write is the one stored"
    );
}

async fn a_delete_at_the_expected_version_removes_the_todo(f: &Fixture) {
    let todo = plain_todo(f.owner().await, "Short-lived");
    f.todos.insert(&todo).await.unwrap();

    f.todos.delete(todo.id(), Version::INITIAL).await.unwrap();

    assert_eq!(f.todos.get(todo.id()).await.unwrap(), None);
}

async fn a_delete_at_a_stale_version_is_a_conflict_and_keeps_the_todo(f: &Fixture) {
    let mut todo = plain_todo(f.owner().await, "Keep me");
    f.todos.insert(&todo).await.unwrap();
    todo.complete(t0());
    f.todos.update(&todo, Version::INITIAL).await.unwrap();

    let err = f
        .todos
        .delete(todo.id(), Version::INITIAL)
        .await
        .unwrap_err();

    assert!(matches!(err, RepositoryError::VersionConflict), "{err:?}");
    assert_eq!(f.todos.get(todo.id()).await.unwrap(), Some(todo));
}

async fn a_delete_of_a_missing_todo_is_not_found(f: &Fixture) {
    let err = f
        .todos
        .delete(TodoId::from_uuid(Uuid::now_v7()), Version::INITIAL)
        .await
        .unwrap_err();

    assert!(matches!(err, RepositoryError::NotFound), "{err:?}");
}

async fn a_list_holds_only_the_owners_todos_newest_first(f: &Fixture) {
    let (ann, bob) = (f.owner().await, f.owner().await);
    let mut ids = Vec::new();
    for i in 0..4 {
        let todo = plain_todo(ann, &format!("Ann {i}"));
        f.todos.insert(&todo).await.unwrap();
        f.todos
            .insert(&plain_todo(bob, &format!("Bob {i}")))
            .await
            .unwrap();
        ids.push(todo.id());
    }
    ids.reverse();

    let listed: Vec<_> = f
        .todos
        .list(&Fixture::query(ann, 10))
        .await
        .unwrap()
        .iter()
        .map(|t| t.id())
        .collect();
    let limited = f.todos.list(&Fixture::query(ann, 2)).await.unwrap();

    assert_eq!(listed, ids);
    assert_eq!(limited.len(), 2);
}

async fn a_list_filters_by_status_and_tag(f: &Fixture) {
    let owner = f.owner().await;
    let open_plain = plain_todo(owner, "open, untagged");
    let mut done_tagged = plain_todo(owner, "done, tagged");
    done_tagged.add_tag(tag("work"), t0()).unwrap();
    done_tagged.complete(t0());
    let mut open_tagged = plain_todo(owner, "open, tagged");
    open_tagged.add_tag(tag("work"), t0()).unwrap();
    open_tagged.add_tag(tag("home"), t0()).unwrap();
    for todo in [&open_plain, &done_tagged, &open_tagged] {
        f.todos.insert(todo).await.unwrap();
    }
    let titles = |todos: Vec<domain::todo::Todo>| {
        todos
            .iter()
            .map(|t| t.title().as_str().to_owned())
            .collect::<Vec<_>>()
    };

    let open = f
        .todos
        .list(&TodoQuery {
            status: Some(TodoStatus::Open),
            ..Fixture::query(owner, 10)
        })
        .await
        .unwrap();
    let done = f
        .todos
        .list(&TodoQuery {
            status: Some(TodoStatus::Done),
            ..Fixture::query(owner, 10)
        })
        .await
        .unwrap();
    let work = f
        .todos
        .list(&TodoQuery {
            tag: Some(tag("work")),
            ..Fixture::query(owner, 10)
        })
        .await
        .unwrap();
    let open_work = f
        .todos
        .list(&TodoQuery {
            status: Some(TodoStatus::Open),
            tag: Some(tag("work")),
            ..Fixture::query(owner, 10)
        })
        .await
        .unwrap();
    let none = f
        .todos
        .list(&TodoQuery {
            tag: Some(tag("nope")),
            ..Fixture::query(owner, 10)
        })
        .await
        .unwrap();

    assert_eq!(titles(open), ["open, tagged", "open, untagged"]);
    assert_eq!(titles(done), ["done, tagged"]);
    assert_eq!(titles(work), ["open, tagged", "done, tagged"]);
    assert_eq!(titles(open_work), ["open, tagged"]);
    assert!(none.is_empty());
}

async fn a_cursor_pages_through_without_gaps_or_overlaps(f: &Fixture) {
    let owner = f.owner().await;
    let mut all = Vec::new();
    for i in 0..7 {
        let todo = plain_todo(owner, &format!("Todo {i}"));
        f.todos.insert(&todo).await.unwrap();
        all.push(todo.id());
    }
    all.reverse();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .todos
            .list(&TodoQuery {
                before: cursor,
                ..Fixture::query(owner, 3)
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|t| t.id());
        seen.extend(page.iter().map(|t| t.id()));
    }

    assert_eq!(seen, all);
}

async fn counts_cover_every_owner_asked_for_and_no_other(f: &Fixture) {
    let (ann, bob, cid, outsider) = (
        f.owner().await,
        f.owner().await,
        f.owner().await,
        f.owner().await,
    );
    for (owner, open, done) in [(ann, 3, 2), (bob, 1, 0), (outsider, 5, 5)] {
        for i in 0..open + done {
            let mut todo = plain_todo(owner, &format!("todo {i}"));
            if i >= open {
                todo.complete(t0());
            }
            f.todos.insert(&todo).await.unwrap();
        }
    }
    let never_stored = UserId::from_uuid(Uuid::now_v7());
    let asked = [ann, bob, cid, never_stored];

    let all = f.todos.count_by_owner(&asked, None).await.unwrap();
    let done = f
        .todos
        .count_by_owner(&asked, Some(TodoStatus::Done))
        .await
        .unwrap();
    let open = f
        .todos
        .count_by_owner(&asked, Some(TodoStatus::Open))
        .await
        .unwrap();

    let expect = |a, b, c| {
        std::collections::HashMap::from([(ann, a), (bob, b), (cid, c), (never_stored, 0)])
    };
    assert_eq!(all, expect(5, 1, 0));
    assert_eq!(done, expect(2, 0, 0));
    assert_eq!(open, expect(3, 1, 0));
    assert!(f.todos.count_by_owner(&[], None).await.unwrap().is_empty());
}
