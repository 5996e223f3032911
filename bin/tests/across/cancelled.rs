//! A caller that goes away midway (a client that disconnects, a deadline that passes)
//! drops its request's future wherever it is. Nothing it leaves behind may touch the next
//! caller's write.

use std::time::Duration;

use domain::{
    ports::{UnitOfWork, UserRepository},
    user::{DisplayName, Email, PasswordHash, Role, User, UserId},
};
use driven_postgres::{PgUnitOfWork, PgUserRepository, PoolSettings};
use test_servers::TestDatabase;
use uuid::Uuid;

use crate::support::server::through_a_proxy;

/// A cancelled `BEGIN`: the statement is on its way to Postgres when its caller goes away.
/// If its connection went back to the pool inside the transaction that `BEGIN` opens, the
/// next write on that connection would run inside it too: answered as done, never
/// committed, and gone when the connection closes. sqlx 0.9.0 did exactly that; 0.9.1
/// rolls such a transaction back. The proxy holds the `BEGIN` until its caller has gone,
/// and the pool has one connection, so the next write takes the same one.
#[tokio::test]
async fn a_write_after_a_cancelled_begin_is_committed() {
    let db = TestDatabase::new().await;
    let (url, proxy) = through_a_proxy(&db).await;
    let one = driven_postgres::connect(
        &url,
        PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )
    .await
    .unwrap();
    let unit_of_work = PgUnitOfWork::new(one.clone());
    let writer = PgUserRepository::new(one);
    let others = PgUserRepository::new(db.pool().clone());

    for round in 0..3 {
        proxy.freeze();
        let cancelled =
            tokio::time::timeout(Duration::from_millis(100), unit_of_work.begin()).await;
        assert!(
            cancelled.is_err(),
            "round {round}: BEGIN got through a frozen proxy"
        );
        proxy.thaw();

        // A write of its own, outside any transaction, on the pool's one connection.
        let user = user();
        writer.insert(&user).await.unwrap();
        assert!(
            others.get(user.id).await.unwrap().is_some(),
            "round {round}: a write answered as done is not committed"
        );
    }
}

fn user() -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: Email::parse(&format!("u{}@example.org", Uuid::now_v7().simple())).unwrap(),
        display_name: DisplayName::new("Cancelled Caller").unwrap(),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        role: Role::Member,
        created_at: chrono::Utc::now(),
    }
}
