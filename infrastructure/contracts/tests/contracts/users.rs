//! The `UserRepository` contract.

use std::sync::Arc;

use domain::{error::RepositoryError, ports::UserRepository, user::Email};
use driven_memory::MemoryStore;
use driven_postgres::PgUserRepository;
use test_servers::TestDatabase;

use crate::support::*;

pub struct Fixture {
    users: Arc<dyn UserRepository>,
    _db: Option<TestDatabase>,
}

async fn memory() -> Fixture {
    Fixture {
        users: Arc::new(MemoryStore::new().users()),
        _db: None,
    }
}

async fn postgres() -> Fixture {
    let db = TestDatabase::new().await;
    Fixture {
        users: Arc::new(PgUserRepository::new(db.pool().clone())),
        _db: Some(db),
    }
}

contract!(adapters: [memory, postgres], checks: [
    an_inserted_user_reads_back_equal_by_id_and_by_email,
    unknown_ids_and_emails_are_none,
    a_duplicate_email_is_refused_and_the_first_user_kept,
    a_duplicate_id_is_refused,
    concurrent_registrations_with_one_email_let_exactly_one_in,
    users_are_listed_newest_first_in_pages,
]);

async fn an_inserted_user_reads_back_equal_by_id_and_by_email(f: &Fixture) {
    let ann = user(&unique_email());
    f.users.insert(&ann).await.unwrap();

    assert_eq!(f.users.get(ann.id).await.unwrap(), Some(ann.clone()));
    assert_eq!(f.users.find_by_email(&ann.email).await.unwrap(), Some(ann));
}

async fn unknown_ids_and_emails_are_none(f: &Fixture) {
    assert_eq!(f.users.get(user("x@example.org").id).await.unwrap(), None);
    assert_eq!(
        f.users
            .find_by_email(&Email::parse("nobody@example.org").unwrap())
            .await
            .unwrap(),
        None
    );
}

async fn a_duplicate_email_is_refused_and_the_first_user_kept(f: &Fixture) {
    let email = unique_email();
    let first = user(&email);
    f.users.insert(&first).await.unwrap();

    let err = f.users.insert(&user(&email)).await.unwrap_err();

    assert!(
        matches!(err, RepositoryError::Duplicate("email")),
        "{err:?}"
    );
    assert_eq!(
        f.users.find_by_email(&first.email).await.unwrap(),
        Some(first)
    );
}

async fn a_duplicate_id_is_refused(f: &Fixture) {
    let first = user(&unique_email());
    f.users.insert(&first).await.unwrap();
    let same_id = domain::user::User {
        email: Email::parse(&unique_email()).unwrap(),
        ..first.clone()
    };

    let err = f.users.insert(&same_id).await.unwrap_err();

    assert!(matches!(err, RepositoryError::Duplicate("id")), "{err:?}");
}

async fn concurrent_registrations_with_one_email_let_exactly_one_in(f: &Fixture) {
    let email = unique_email();
    let attempts = (0..8).map(|_| {
        let users = f.users.clone();
        let candidate = user(&email);
        tokio::spawn(async move { users.insert(&candidate).await })
    });
    let results = join_all(attempts).await;

    let ok = results.iter().filter(|r| r.is_ok()).count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Err(RepositoryError::Duplicate("email"))))
        .count();
    assert_eq!((ok, duplicates), (1, 7), "{results:?}");
}

async fn users_are_listed_newest_first_in_pages(f: &Fixture) {
    let mut created = Vec::new();
    for _ in 0..5 {
        let u = user(&unique_email());
        f.users.insert(&u).await.unwrap();
        created.push(u.id);
    }
    created.reverse(); // newest first

    let first_page: Vec<_> = f
        .users
        .list(None, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    let second_page: Vec<_> = f
        .users
        .list(first_page.last().copied(), 3)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();

    assert_eq!(first_page, created[..3]);
    assert_eq!(second_page, created[3..]);
}
