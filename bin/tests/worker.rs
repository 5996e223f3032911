//! The worker end to end: events from a committed change to the publisher, reminders to
//! the notifier, and what happens when Redis is down, a worker is killed, a worker is
//! stopped, or two workers share a database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use application::{Actor, users::Registration};
use backend::{Application, server::HttpServer, worker};
use chrono::{TimeZone, Utc};
use domain::ports::{EventFeed, FeedStart, UnitOfWork};
use domain::{
    event::{MessageId, OutboxMessage, Reminder},
    todo::{DueDate, NewTodo, Tags, Title, Todo, TodoChanges},
    user::{DisplayName, Email, Password},
};
use driven_postgres::PgUnitOfWork;
use driven_redis::RedisEventPublisher;
use futures_util::StreamExt;
use prometheus_client::registry::Registry;
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{closed_within, config, proxy::Proxy, server::spawn_app_with};
use test_servers::{TestDatabase, TestRedis};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// Polls `check` every 20 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {limit:?}");
}

/// The events in the app's Redis stream, as (name, todo id, version).
async fn stream(redis: &TestRedis) -> Vec<(String, String, i64)> {
    let mut conn = redis.manager().await;
    let key = format!("{}{}", redis.key_prefix(), RedisEventPublisher::STREAM);
    let reply: redis::streams::StreamRangeReply = conn.xrange_all(key).await.unwrap();
    reply
        .ids
        .iter()
        .map(|entry| {
            let payload: String = entry.get("payload").unwrap();
            let event: Value = serde_json::from_str(&payload).unwrap();
            let name: String = entry.get("event").unwrap();
            assert_eq!(event["event"], name.as_str());
            let owner: String = entry.get("owner_id").unwrap();
            assert_eq!(event["owner_id"], owner.as_str());
            (
                name,
                event["todo_id"].as_str().unwrap().to_owned(),
                event["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A member registered through the use cases, as the actor they act as.
async fn member(app: &Application) -> Actor {
    let user = app
        .use_cases
        .register
        .register(
            Registration {
                email: Email::parse(&format!("w{}@example.org", Uuid::now_v7().simple())).unwrap(),
                display_name: DisplayName::new("Worker Test").unwrap(),
                password: Password::new("password-123".into()).unwrap(),
            },
            None,
        )
        .await
        .unwrap();
    Actor {
        id: user.id,
        role: user.role,
    }
}

fn new_todo(title: &str, due: Option<&str>) -> NewTodo {
    NewTodo {
        title: Title::new(title).unwrap(),
        description: None,
        due_date: due.map(|d| DueDate::parse(d).unwrap()),
        tags: Tags::default(),
    }
}

/// The outbox row of `id`: (attempts, delivered, last error).
async fn job_row(db: &TestDatabase, id: Uuid) -> (i32, bool, Option<String>) {
    sqlx::query_as(
        "SELECT attempts, delivered_at IS NOT NULL, last_error FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

/// Records a reminder for a made-up todo straight into the outbox, as the reminder job
/// would: its id.
async fn enqueue_reminder(app: &Application) -> Uuid {
    let actor = member(app).await;
    let todo = app
        .use_cases
        .create_todo
        .execute(&actor, new_todo("Pay rent", Some("2026-03-10")))
        .await
        .unwrap();
    let reminder = Reminder {
        id: MessageId::from_uuid(Uuid::now_v7()),
        owner: actor.id,
        todo_id: todo.id(),
        title: todo.title().clone(),
        due_date: todo.due_date().unwrap(),
    };
    let unit_of_work = PgUnitOfWork::new(app.backends.postgres.clone().unwrap());
    let tx = unit_of_work.begin().await.unwrap();
    assert!(
        tx.outbox()
            .record(&OutboxMessage::Reminder(reminder.clone()))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    reminder.id.as_uuid()
}

#[tokio::test]
async fn every_change_reaches_the_redis_stream_in_order_with_its_version() {
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("WORKER_POLL_INTERVAL_MS", "10"),
    ])
    .await;
    let token = app.user("events@example.org").await;
    let (status, etag, todo) = app
        .json(
            Method::POST,
            "/v1/todos",
            Some(&token),
            &[],
            Some(json!({"title": "Write the report"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = todo["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/todos/{id}");
    let (status, _, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(&token),
            &[("if-match", etag.unwrap().as_str())],
            Some(json!({"title": "Write the final report"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for step in ["complete", "reopen"] {
        let (status, _, _) = app
            .json(
                Method::POST,
                &format!("{path}/{step}"),
                Some(&token),
                &[],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}");
    }
    let (status, _, current) = app.json(Method::GET, &path, Some(&token), &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["version"], 4);
    let etag = format!("\"{}\"", current["version"]);
    let (status, _, _) = app
        .json(
            Method::DELETE,
            &path,
            Some(&token),
            &[("if-match", &etag)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let expected: Vec<(String, String, i64)> = [
        ("todo.created", 1),
        ("todo.updated", 2),
        ("todo.completed", 3),
        ("todo.reopened", 4),
        ("todo.deleted", 5),
    ]
    .into_iter()
    .map(|(name, version)| (name.to_owned(), id.clone(), version))
    .collect();
    eventually(
        Duration::from_secs(10),
        "all five events published",
        || async { stream(&app.redis).await.len() >= expected.len() },
    )
    .await;
    assert_eq!(stream(&app.redis).await, expected);
    // A job is marked delivered just after its event is added to the stream, so the
    // last mark may land a moment after the last event shows up.
    eventually(
        Duration::from_secs(10),
        "every job is marked delivered",
        || async {
            let backlog: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                    .fetch_one(app.db.pool())
                    .await
                    .unwrap();
            backlog == 0
        },
    )
    .await;
    // The worker counts a batch's outcomes once the whole batch is marked.
    eventually(
        Duration::from_secs(10),
        "five deliveries counted as done",
        || async {
            let metrics = app
                .client
                .get(format!("{}/metrics", app.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            metrics.contains(r#"jobs_total{kind="todo_event",outcome="done"} 5"#)
        },
    )
    .await;
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
}

/// The worker's `job_claims_total` series of `cause`, summed over what they found.
async fn claims(app: &support::server::TestApp, cause: &str) -> u64 {
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("job_claims_total{{cause=\"{cause}\"")))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test]
async fn a_commit_wakes_the_worker_at_once_and_a_lost_listener_comes_back() {
    // A poll of a minute: whatever is delivered within seconds was woken by a signal.
    let app = spawn_app_with(&[
        ("WORKER_IN_PROCESS", "true"),
        ("WORKER_POLL_INTERVAL_MS", "60000"),
    ])
    .await;
    let actor = member(&app.app).await;
    let todos = &app.app.use_cases;
    let todo = todos
        .create_todo
        .execute(&actor, new_todo("Wake up", None))
        .await
        .unwrap();
    // Changes in quick succession: each waits for the one before it to be delivered,
    // and that delivery is what wakes the worker for it.
    todos
        .complete_todo
        .execute(&actor, todo.id())
        .await
        .unwrap();
    todos.reopen_todo.execute(&actor, todo.id()).await.unwrap();
    todos
        .complete_todo
        .execute(&actor, todo.id())
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "four events published", || async {
        stream(&app.redis).await.len() >= 4
    })
    .await;
    let versions: Vec<i64> = stream(&app.redis).await.iter().map(|e| e.2).collect();
    assert_eq!(versions, [1, 2, 3, 4]);

    // The listening connection dies (a failover, a restart, an operator): the signal
    // comes back on a new one, and what was committed meanwhile goes out.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query = 'LISTEN \"outbox_recorded\"'",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listening connection, now gone");
    todos
        .create_todo
        .execute(&actor, new_todo("After the cut", None))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "the fifth event published",
        || async { stream(&app.redis).await.len() >= 5 },
    )
    .await;
    // The fifth event may go out before the listener is back (a worker that has just
    // delivered claims again at once), so the new connection is waited for, not assumed.
    eventually(Duration::from_secs(5), "listening again", || async {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query = 'LISTEN \"outbox_recorded\"'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        listening == 1
    })
    .await;
    assert_eq!(
        claims(&app, "poll").await,
        1,
        "only the claim at start-up was a poll's"
    );
    assert!(claims(&app, "signal").await >= 3);
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_in_memory_server_delivers_events_in_process() {
    // A poll of a minute: the commit itself wakes the worker.
    let config = config(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("WORKER_POLL_INTERVAL_MS", "60000"),
    ]);
    assert!(config.worker.in_process, "in memory, serve runs the worker");
    let app = Application::build(&config).await.unwrap();
    let mut events = app
        .jobs
        .event_bus
        .as_ref()
        .unwrap()
        .subscribe(FeedStart::Now)
        .await
        .unwrap();
    let server = HttpServer::bind(&app, &config).await.unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(server.run(shutdown.clone()));
    let actor = member(&app).await;

    let todo = app
        .use_cases
        .create_todo
        .execute(&actor, new_todo("Hello", None))
        .await
        .unwrap();
    app.use_cases
        .complete_todo
        .execute(&actor, todo.id())
        .await
        .unwrap();

    for (name, version) in [("todo.created", 1), ("todo.completed", 2)] {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap()
            .event;
        assert_eq!(
            (
                event.change.name(),
                event.todo_id,
                event.version.get(),
                event.owner
            ),
            (name, todo.id(), version, actor.id)
        );
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn events_wait_in_the_outbox_while_redis_is_down_and_go_out_when_it_is_back() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let target = url::Url::parse(redis.url())
        .unwrap()
        .socket_addrs(|| Some(6379))
        .unwrap()[0];
    let proxy = Proxy::start(target).await;
    let proxied = format!("redis://127.0.0.1:{}", proxy.addr().port());
    let config = config(&[
        ("DATABASE_URL", db.url()),
        ("REDIS_URL", &proxied),
        ("REDIS_KEY_PREFIX", redis.key_prefix()),
        ("REDIS_TIMEOUT_MS", "200"),
        ("WORKER_POLL_INTERVAL_MS", "10"),
        ("WORKER_BACKOFF_BASE_MS", "50"),
        ("WORKER_BACKOFF_MAX_SECS", "1"),
    ]);
    let app = Application::build(&config).await.unwrap();
    let shutdown = CancellationToken::new();
    let metrics = worker::WorkerMetrics::register(&mut Registry::default());
    let running = tokio::spawn(worker::run(
        app.jobs.clone(),
        config.worker.clone(),
        metrics,
        shutdown.clone(),
    ));
    let actor = member(&app).await;

    proxy.cut();
    let mut created: Vec<Todo> = Vec::new();
    for title in ["one", "two", "three"] {
        created.push(
            app.use_cases
                .create_todo
                .execute(&actor, new_todo(title, None))
                .await
                .unwrap(),
        );
    }
    eventually(
        Duration::from_secs(10),
        "delivery attempts failing",
        || async {
            let failed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbox WHERE attempts >= 2 AND delivered_at IS NULL",
            )
            .fetch_one(db.pool())
            .await
            .unwrap();
            failed == 3
        },
    )
    .await;
    assert!(stream(&redis).await.is_empty(), "nothing got through");

    proxy.restore();
    eventually(Duration::from_secs(15), "the backlog delivered", || async {
        stream(&redis).await.len() == 3
    })
    .await;
    let published: Vec<String> = stream(&redis).await.into_iter().map(|e| e.1).collect();
    let mut expected: Vec<String> = created.iter().map(|t| t.id().to_string()).collect();
    let mut got = published.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    eventually(
        Duration::from_secs(5),
        "every job marked delivered",
        || async {
            let stats = app.jobs.queue.stats().await.unwrap();
            stats.backlog == 0 && stats.dead == 0
        },
    )
    .await;
    shutdown.cancel();
    running.await.unwrap();
}

/// `backend worker` as a child process, over `db` and `redis`, posting reminders to
/// `webhook`.
fn spawn_worker(
    db: &TestDatabase,
    redis: &TestRedis,
    webhook: &str,
    extra: &[(&str, &str)],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("worker")
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env("REDIS_URL", redis.url())
        .env("REDIS_KEY_PREFIX", redis.key_prefix())
        .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
        .env("WORKER_POLL_INTERVAL_MS", "10")
        .env("REMINDER_WEBHOOK_URL", webhook)
        .env("REMINDER_WEBHOOK_SECRET", "test-secret")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn app_over(
    db: &TestDatabase,
    redis: &TestRedis,
    extra: &[(&str, &str)],
) -> (Application, backend::config::Config) {
    let mut vars = vec![
        ("DATABASE_URL", db.url()),
        ("REDIS_URL", redis.url()),
        ("REDIS_KEY_PREFIX", redis.key_prefix()),
        ("WORKER_POLL_INTERVAL_MS", "10"),
    ];
    vars.extend_from_slice(extra);
    let config = config(&vars);
    (Application::build(&config).await.unwrap(), config)
}

#[tokio::test]
async fn a_job_killed_mid_flight_is_delivered_again_after_its_lease() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (app, _) = app_over(&db, &redis, &[]).await;
    let id = enqueue_reminder(&app).await;
    // A webhook that takes far longer than the worker waits: the job stays in flight.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let mut child = spawn_worker(
        &db,
        &redis,
        &slow.uri(),
        &[
            ("REMINDER_WEBHOOK_TIMEOUT_MS", "1500"),
            ("REMINDER_WEBHOOK_ATTEMPTS", "1"),
            ("WORKER_LEASE_SECS", "6"),
        ],
    );
    eventually(
        Duration::from_secs(20),
        "the worker calling the webhook",
        || async {
            !slow
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        },
    )
    .await;

    child.kill().unwrap(); // SIGKILL: no chance to report anything.
    child.wait().unwrap();
    assert_eq!(
        job_row(&db, id).await,
        (1, false, None),
        "claimed, in flight"
    );
    let lease_end: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT available_at FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();

    // A healthy worker (logging notifier) picks it up once the lease has run out.
    let fast = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fast)
        .await;
    let (healthy, config) = app_over(
        &db,
        &redis,
        &[
            ("REMINDER_WEBHOOK_URL", &fast.uri()),
            ("REMINDER_WEBHOOK_SECRET", "test-secret"),
        ],
    )
    .await;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker::run(
        healthy.jobs.clone(),
        config.worker.clone(),
        worker::WorkerMetrics::register(&mut Registry::default()),
        shutdown.clone(),
    ));
    eventually(
        Duration::from_secs(15),
        "the job delivered again",
        || async { job_row(&db, id).await.1 },
    )
    .await;
    let delivered_at: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT delivered_at FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(delivered_at >= lease_end, "not before the lease ran out");
    assert_eq!(job_row(&db, id).await, (2, true, None));
    let sent = fast.received_requests().await.unwrap();
    assert_eq!(
        sent[0].headers.get("x-reminder-id").unwrap(),
        id.to_string().as_str()
    );
    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn sigterm_lets_the_job_in_hand_finish_and_the_worker_exits_cleanly() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (app, _) = app_over(&db, &redis, &[]).await;
    let id = enqueue_reminder(&app).await;
    let webhook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(1500)))
        .expect(1)
        .mount(&webhook)
        .await;
    let mut child = spawn_worker(
        &db,
        &redis,
        &webhook.uri(),
        &[("REMINDER_WEBHOOK_TIMEOUT_MS", "5000")],
    );
    eventually(
        Duration::from_secs(20),
        "the worker calling the webhook",
        || async {
            !webhook
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        },
    )
    .await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();

    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        job_row(&db, id).await,
        (1, true, None),
        "the job in hand was finished and marked delivered"
    );
}

#[tokio::test]
async fn two_workers_send_each_reminder_once_and_run_each_tick_once() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let webhook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(3)
        .mount(&webhook)
        .await;
    let settings = [
        ("REMINDER_WEBHOOK_URL", webhook.uri()),
        ("REMINDER_WEBHOOK_SECRET", "test-secret".to_owned()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, _) = app_over(&db, &redis, &settings).await;
    let (b, _) = app_over(&db, &redis, &settings).await;
    let actor = member(&a).await;
    // Three open todos due on 2026-03-10, one done, one due the day after.
    for title in ["one", "two", "three"] {
        a.use_cases
            .create_todo
            .execute(&actor, new_todo(title, Some("2026-03-10")))
            .await
            .unwrap();
    }
    let done = a
        .use_cases
        .create_todo
        .execute(&actor, new_todo("done", Some("2026-03-10")))
        .await
        .unwrap();
    a.use_cases
        .complete_todo
        .execute(&actor, done.id())
        .await
        .unwrap();
    let later = a
        .use_cases
        .create_todo
        .execute(&actor, new_todo("later", None))
        .await
        .unwrap();
    a.use_cases
        .update_todo
        .execute(
            &actor,
            later.id(),
            later.version(),
            TodoChanges {
                due_date: Some(DueDate::parse("2026-03-11").ok()),
                ..TodoChanges::default()
            },
        )
        .await
        .unwrap();

    // Both workers run the same ticks at once: 23:30 and 23:31 on the due day.
    let mut runs = Vec::new();
    for minute in [30, 31] {
        let tick = Utc.with_ymd_and_hms(2026, 3, 10, 23, minute, 0).unwrap();
        let (ra, rb) = tokio::join!(a.jobs.reminders.run(tick), b.jobs.reminders.run(tick));
        runs.push((ra.unwrap(), rb.unwrap()));
    }
    assert!(
        matches!(runs[0], (Some(3), None) | (None, Some(3))),
        "one worker ran the first tick and enqueued three: {runs:?}"
    );
    assert!(
        matches!(runs[1], (Some(0), None) | (None, Some(0))),
        "the next tick found them all reminded already: {runs:?}"
    );

    // Both deliver at once until the queue is empty.
    let drain = |app: Application| async move {
        for _ in 0..50 {
            app.jobs.deliver.run_once(&|| true).await.unwrap();
        }
    };
    tokio::join!(drain(a.clone()), drain(b.clone()));

    let sent = webhook.received_requests().await.unwrap();
    let mut ids: Vec<String> = sent
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["todo_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (sent.len(), ids.len()),
        (3, 3),
        "three reminders, each once"
    );
}

/// A webhook that answers 204 after `delay`, and the reminder ids it was sent, in order.
async fn slow_webhook(delay: Duration) -> MockServer {
    let webhook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(delay))
        .mount(&webhook)
        .await;
    webhook
}

/// The `X-Reminder-Id`s `webhook` received, in order.
async fn reminder_ids(webhook: &MockServer) -> Vec<String> {
    webhook
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            r.headers
                .get("x-reminder-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Asserts every id of `sent` appears once, and that they are `expected` many.
fn each_once(sent: &[String], expected: usize) {
    let mut distinct = sent.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        (sent.len(), distinct.len()),
        (expected, expected),
        "each reminder sent exactly once: {sent:?}"
    );
}

#[tokio::test]
async fn two_workers_and_a_slow_webhook_send_each_reminder_once() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    // Ten reminders at 700 ms each is 7 s of work, and the lease is 6 s (the shortest
    // allowed: twice the Redis publisher's 2.5 s bound, and a bit): a batch that
    // delivered all it claimed before marking any would see its lease end under it, and
    // the other worker send them again.
    let webhook = slow_webhook(Duration::from_millis(700)).await;
    let settings = [
        ("REMINDER_WEBHOOK_URL", webhook.uri()),
        ("REMINDER_WEBHOOK_SECRET", "test-secret".to_owned()),
        ("REMINDER_WEBHOOK_TIMEOUT_MS", "1000".to_owned()),
        ("REMINDER_WEBHOOK_ATTEMPTS", "1".to_owned()),
        ("WORKER_LEASE_SECS", "6".to_owned()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (a, config) = app_over(&db, &redis, &settings).await;
    let (b, _) = app_over(&db, &redis, &settings).await;
    for _ in 0..10 {
        enqueue_reminder(&a).await;
    }
    let shutdown = CancellationToken::new();
    let workers: Vec<_> = [a.clone(), b]
        .into_iter()
        .map(|app| {
            tokio::spawn(worker::run(
                app.jobs.clone(),
                config.worker.clone(),
                worker::WorkerMetrics::register(&mut Registry::default()),
                shutdown.clone(),
            ))
        })
        .collect();

    eventually(
        Duration::from_secs(60),
        "every reminder delivered",
        || async { a.jobs.queue.stats().await.unwrap().backlog == 0 },
    )
    .await;
    // Past one more lease: a second copy would have gone out by now.
    tokio::time::sleep(Duration::from_secs(7)).await;
    each_once(&reminder_ids(&webhook).await, 10);
    shutdown.cancel();
    for worker in workers {
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn sigterm_mid_batch_leaves_nothing_sent_unmarked() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (app, _) = app_over(&db, &redis, &[]).await;
    for _ in 0..10 {
        enqueue_reminder(&app).await;
    }
    let webhook = slow_webhook(Duration::from_millis(700)).await;
    // A drain timeout shorter than the batch: a worker that marked its batch done only at
    // the end would leave the reminders it had sent unmarked, to be sent again.
    let mut child = spawn_worker(
        &db,
        &redis,
        &webhook.uri(),
        &[
            ("REMINDER_WEBHOOK_TIMEOUT_MS", "1000"),
            ("REMINDER_WEBHOOK_ATTEMPTS", "1"),
            ("WORKER_LEASE_SECS", "30"),
            ("WORKER_DRAIN_TIMEOUT_SECS", "2"),
        ],
    );
    eventually(Duration::from_secs(20), "two reminders sent", || async {
        reminder_ids(&webhook).await.len() >= 2
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");

    // Another worker takes over at once: what the first gave back is not leased.
    let (taker, config) = app_over(
        &db,
        &redis,
        &[
            ("REMINDER_WEBHOOK_URL", &webhook.uri()),
            ("REMINDER_WEBHOOK_SECRET", "test-secret"),
        ],
    )
    .await;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker::run(
        taker.jobs.clone(),
        config.worker.clone(),
        worker::WorkerMetrics::register(&mut Registry::default()),
        shutdown.clone(),
    ));
    eventually(
        Duration::from_secs(20),
        "every reminder delivered, well before the first worker's lease ends",
        || async { taker.jobs.queue.stats().await.unwrap().backlog == 0 },
    )
    .await;
    each_once(&reminder_ids(&webhook).await, 10);
    shutdown.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn dead_jobs_are_listed_and_requeued_from_the_command_line() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (app, _) = app_over(&db, &redis, &[]).await;
    let id = enqueue_reminder(&app).await;
    let now = Utc::now();
    let claimed = app
        .jobs
        .queue
        .claim(now, now + chrono::TimeDelta::seconds(30), 10)
        .await
        .unwrap();
    let reminder = claimed
        .iter()
        .find(|job| job.message.id().as_uuid() == id)
        .unwrap();
    app.jobs
        .queue
        .fail(
            reminder.message.id(),
            reminder.attempt,
            "webhook answered 500",
            None,
            now,
        )
        .await
        .unwrap();
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_backend"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };

    let dead = cli(&["jobs", "dead"]);
    let listed = String::from_utf8(dead.stdout).unwrap();
    assert!(dead.status.success());
    assert!(listed.contains(&id.to_string()), "{listed}");
    assert!(listed.contains("reminder"), "{listed}");
    assert!(listed.contains("webhook answered 500"), "{listed}");

    let retry = cli(&["jobs", "retry", &id.to_string()]);
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    assert_eq!(job_row(&db, id).await.0, 0, "attempts start afresh");
    let again = cli(&["jobs", "retry", &id.to_string()]);
    assert!(!again.status.success(), "no longer dead");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no dead job"));
    let listed = String::from_utf8(cli(&["jobs", "dead"]).stdout).unwrap();
    assert_eq!(listed.trim(), "no dead jobs");
}

/// `backend worker`'s listener and loops over `db` (through `database_url`) and `redis`,
/// with `extra` settings, on a free port: its address, and the token that stops it.
async fn standalone_worker(
    database_url: &str,
    redis: &TestRedis,
    extra: &[(&str, &str)],
) -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut vars = vec![
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis.url()),
        ("REDIS_KEY_PREFIX", redis.key_prefix()),
        ("WORKER_HTTP_ADDR", "127.0.0.1:0"),
    ];
    vars.extend_from_slice(extra);
    let config = config(&vars);
    let app = Application::build(&config).await.unwrap();
    let worker = worker::StandaloneWorker::bind(app.jobs.clone(), &config)
        .await
        .unwrap();
    let addr = worker.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));
    (addr, shutdown, running)
}

#[tokio::test]
async fn the_workers_readiness_names_each_service_and_the_delivery_loop() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (url, proxy) = support::server::through_a_proxy(&db).await;
    // Probes wait half the request timeout at most: 1 s here.
    let (addr, shutdown, running) =
        standalone_worker(&url, &redis, &[("HTTP_REQUEST_TIMEOUT_MS", "2000")]).await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();

    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(ready.headers().contains_key("x-request-id"));
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready", "checks": {"delivery": "up", "postgres": "up", "redis": "up"}})
    );

    // A database that hangs is named, rather than the probe waiting for as long as TCP does.
    proxy.freeze();
    let unready = get("/readyz").await.unwrap();
    proxy.thaw();
    assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unready.json::<Value>().await.unwrap(),
        json!({"status": "unavailable", "checks": {"delivery": "up", "postgres": "down", "redis": "up"}})
    );

    let metrics = get("/metrics").await.unwrap();
    assert_eq!(
        metrics.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let metrics = metrics.text().await.unwrap();
    for series in [
        "outbox_backlog ",
        r#"jobs_total{kind="reminder",outcome="done"}"#,
        r#"http_requests_total{method="GET",route="/readyz",status="503"} 1"#,
        "http_open_connections ",
    ] {
        assert!(metrics.contains(series), "{series} missing from {metrics}");
    }
    // Anything else is REST's problem document, as on the API's listener.
    let unknown = get("/v1/todos").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );

    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// A GET of `path` on `stream`, and its whole answer, which must be a 200 of at most 64 KiB
/// ending in `end`.
async fn get_on(stream: &mut tokio::net::TcpStream, path: &str, end: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: worker\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    while !String::from_utf8_lossy(&answer).ends_with(end) && answer.len() < 64 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed mid-answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

#[tokio::test]
async fn the_workers_listener_bounds_its_connections() {
    let db = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let (addr, shutdown, running) = standalone_worker(
        db.url(),
        &redis,
        &[
            ("HTTP_HEADER_READ_TIMEOUT_MS", "300"),
            ("WORKER_HTTP_MAX_CONNECTIONS", "2"),
        ],
    )
    .await;
    let connect = || tokio::net::TcpStream::connect(addr);

    // A connection that sends nothing, and one that sends its head a byte at a time, are
    // dropped after the header timeout, and give their places back.
    let mut silent = connect().await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "a silent connection stayed open"
    );
    let mut slow = connect().await.unwrap();
    let trickle = {
        use tokio::io::AsyncWriteExt;
        let (mut reader, mut writer) = slow.split();
        let trickle = async {
            for byte in b"GET /healthz HTTP/1.1\r\nx-padding: ".iter().cycle() {
                if writer.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let closed = async {
            let mut buffer = [0u8; 64];
            use tokio::io::AsyncReadExt;
            let _ = reader.read(&mut buffer).await;
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            tokio::select! {
                () = trickle => false,
                () = closed => true,
            }
        })
        .await
    };
    assert_eq!(trickle, Ok(true), "a slow client kept its connection");

    // Two connections served and kept open fill the cap: a third is closed at once, and
    // counted.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect().await.unwrap();
        get_on(&mut stream, "/healthz", "\r\n\r\n").await;
        held.push(stream);
    }
    let mut refused = connect().await.unwrap();
    assert!(
        closed_within(&mut refused, Duration::from_secs(5)).await,
        "a third connection was kept"
    );
    let metrics = get_on(&mut held[0], "/metrics", "# EOF\n").await;
    assert!(
        metrics.contains("http_connections_refused_total 1"),
        "the refusal is counted: {metrics}"
    );
    assert!(
        metrics.contains(r#"http_connections_closed_total{reason="header_read"} 2"#),
        "the two slow connections are counted: {metrics}"
    );

    shutdown.cancel();
    running.await.unwrap().unwrap();
}
