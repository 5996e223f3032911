//! The binary's subcommands, run as an operator runs them: as a process, configured through
//! its environment, against a fresh test database.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use test_servers::{TestDatabase, TestRedis};

use crate::support::proxy::Proxy;

/// Runs the binary in an empty directory (so no `.env` is picked up) with only `env` set,
/// feeding `stdin` to it.
fn backend(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn count(db: &TestDatabase, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// A fresh database with the migrations undone, so `migrate` has work to do.
async fn empty_database() -> TestDatabase {
    let db = TestDatabase::new().await;
    for sql in [
        "DROP TABLE idempotency_keys",
        "DROP TABLE outbox",
        "DROP FUNCTION outbox_notify_recorded, outbox_notify_released",
        "DROP TABLE schedule_ticks",
        "DROP TABLE todos",
        "DROP TABLE users",
        "DROP TABLE _sqlx_migrations",
    ] {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }
    db
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let db = empty_database().await;
    let env = [("DATABASE_URL", db.url())];

    let first = backend(&["migrate"], &env, "");
    let second = backend(&["migrate"], &env, "");

    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0);
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        count(&db, "SELECT count(*) FROM _sqlx_migrations").await,
        i64::try_from(files).unwrap(),
        "every migration applied once"
    );
}

#[tokio::test]
async fn users_create_reads_the_password_from_the_environment_or_stdin() {
    let db = TestDatabase::new().await;

    let admin = backend(
        &[
            "users",
            "create",
            "--email",
            "Root@Example.org",
            "--display-name",
            "Root",
            "--admin",
        ],
        &[
            ("DATABASE_URL", db.url()),
            ("USER_PASSWORD", "from-the-environment"),
        ],
        "",
    );
    let member = backend(
        &[
            "users",
            "create",
            "--email",
            "ann@example.org",
            "--display-name",
            "Ann",
        ],
        &[("DATABASE_URL", db.url())],
        "from-standard-input\n",
    );

    assert!(admin.status.success(), "{}", text(&admin.stderr));
    assert!(
        text(&admin.stdout).contains("created admin user"),
        "{}",
        text(&admin.stdout)
    );
    assert!(member.status.success(), "{}", text(&member.stderr));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM users WHERE email = 'root@example.org' AND role = 'admin'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM users WHERE email = 'ann@example.org' AND role = 'member'"
        )
        .await,
        1
    );
    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
}

#[tokio::test]
async fn users_create_refuses_bad_input_with_a_clear_message() {
    let db = TestDatabase::new().await;
    let env = [
        ("DATABASE_URL", db.url()),
        ("USER_PASSWORD", "long-enough-password"),
    ];
    let create = |email: &str, name: &str| {
        backend(
            &["users", "create", "--email", email, "--display-name", name],
            &env,
            "",
        )
    };

    assert!(create("ann@example.org", "Ann").status.success());
    let taken = create("ANN@example.org", "Ann again");
    let bad_email = create("not-an-email", "X");
    let bad_name = create("x@example.org", "  ");
    let short = backend(
        &[
            "users",
            "create",
            "--email",
            "y@example.org",
            "--display-name",
            "Y",
        ],
        &[("DATABASE_URL", db.url())],
        "short\n",
    );
    let in_argv = backend(
        &[
            "users",
            "create",
            "--email",
            "z@example.org",
            "--display-name",
            "Z",
            "--password",
            "x",
        ],
        &env,
        "",
    );

    for (output, expected) in [
        (&taken, "already exists"),
        (&bad_email, "--email"),
        (&bad_name, "--display-name"),
        (&short, "at least 8 characters"),
        (&in_argv, "--password"),
    ] {
        assert!(
            !output.status.success(),
            "expected failure mentioning {expected}"
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{expected}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn seed_creates_the_demo_data_once() {
    let db = TestDatabase::new().await;
    let env = [
        ("DATABASE_URL", db.url()),
        ("USER_PASSWORD", "demo-password"),
    ];

    let first = backend(&["seed"], &env, "");
    let second = backend(&["seed"], &env, "");

    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("with 3 todos"),
        "{}",
        text(&first.stdout)
    );
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("nothing to do"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM todos").await, 3);
}

#[test]
fn commands_that_write_users_need_a_database() {
    for args in [
        &["seed"][..],
        &[
            "users",
            "create",
            "--email",
            "a@b.org",
            "--display-name",
            "A",
        ],
        &["migrate"],
    ] {
        let output = backend(args, &[("USER_PASSWORD", "long-enough")], "");
        assert!(!output.status.success(), "{args:?}");
        assert!(
            text(&output.stderr).contains("DATABASE_URL"),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn config_prints_the_effective_settings_with_secrets_redacted() {
    let output = backend(
        &["config"],
        &[
            (
                "DATABASE_URL",
                "postgres://app:hunter2@db.internal:5432/app",
            ),
            ("REDIS_URL", "redis://:s3cret@cache:6379"),
            ("SESSION_TTL_SECS", "60"),
        ],
        "",
    );

    let out = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        out.contains("DATABASE_URL=postgres://app:REDACTED@db.internal:5432/app"),
        "{out}"
    );
    assert!(
        out.contains("REDIS_URL=redis://:REDACTED@cache:6379"),
        "{out}"
    );
    assert!(out.contains("SESSION_TTL_SECS=60"), "{out}");
    assert!(!out.contains("hunter2") && !out.contains("s3cret"), "{out}");
}

#[test]
fn a_bad_variable_is_named_in_the_error() {
    let output = backend(&["config"], &[("CACHE_TTL_SECS", "soon")], "");

    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("CACHE_TTL_SECS"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_lease_too_short_for_the_webhook_stops_start_up_naming_it() {
    // Three requests of 5 s, with 200 ms and 400 ms between them: 15.6 s at the longest,
    // so a lease must be longer than 31.2 s.
    let output = backend(
        &["serve"],
        &[
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("REMINDER_WEBHOOK_URL", "http://127.0.0.1:9/reminders"),
            ("REMINDER_WEBHOOK_SECRET", "s3cret"),
            ("WORKER_LEASE_SECS", "31"),
        ],
        "",
    );

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("WORKER_LEASE_SECS"), "{stderr}");
    assert!(stderr.contains("31.2s"), "{stderr}");
}

#[test]
fn an_unreachable_database_fails_with_the_variable_named() {
    let output = backend(
        &["migrate"],
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
            ("STARTUP_CONNECT_TIMEOUT_SECS", "0"),
        ],
        "",
    );

    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("DATABASE_URL"),
        "{}",
        text(&output.stderr)
    );
}

/// `url` with its host and port replaced by a cut proxy's, and the proxy.
async fn behind_a_cut_proxy(url: &str) -> (String, Proxy) {
    let mut url = url::Url::parse(url).unwrap();
    let target = url.socket_addrs(|| None).unwrap()[0];
    let proxy = Proxy::start(target).await;
    proxy.cut();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr().port())).unwrap();
    (url.to_string(), proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_for_a_database_that_is_not_up_yet() {
    let db = empty_database().await;
    let (url, proxy) = behind_a_cut_proxy(db.url()).await;
    let run = tokio::task::spawn_blocking(move || {
        backend(
            &["migrate"],
            &[
                ("DATABASE_URL", &url),
                ("DATABASE_ACQUIRE_TIMEOUT_MS", "300"),
                ("STARTUP_CONNECT_TIMEOUT_SECS", "60"),
            ],
            "",
        )
    });
    // Long enough for a few refused attempts, well inside the patience.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    proxy.restore();
    let output = run.await.unwrap();

    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("not reachable yet"), "{stderr}");
    assert!(count(&db, "SELECT count(*) FROM _sqlx_migrations").await > 0);
}

#[test]
fn a_refusal_that_waiting_cannot_cure_stops_start_up_at_once() {
    // Without TEST_DATABASE_URL this falls back to a container's URL; either way the
    // server is up and answers that the database does not exist.
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(TestDatabase::new());
    let mut url = url::Url::parse(db.url()).unwrap();
    url.set_path("no_such_database");
    let output = backend(
        &["migrate"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("STARTUP_CONNECT_TIMEOUT_SECS", "20"),
        ],
        "",
    );

    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("not reachable yet"), "retried: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_for_a_redis_that_is_not_up_yet() {
    let redis = TestRedis::new().await;
    let (url, proxy) = behind_a_cut_proxy(redis.url()).await;
    let vars = std::collections::HashMap::from([
        ("REDIS_URL", url),
        ("REDIS_KEY_PREFIX", redis.key_prefix().to_owned()),
        ("STARTUP_CONNECT_TIMEOUT_SECS", "60".to_owned()),
    ]);
    let config = backend::Config::from_vars(|name| vars.get(name).cloned()).unwrap();
    let build = tokio::spawn(async move { backend::Application::build(&config).await });
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert!(!build.is_finished(), "start-up did not wait for Redis");
    proxy.restore();

    let app = build.await.unwrap().unwrap();
    assert!(app.backends.redis.is_some());
}

#[test]
fn sigterm_while_waiting_for_the_database_stops_cleanly() {
    use std::io::{BufRead, BufReader};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDatabase::new());
    let (url, _proxy) = runtime.block_on(behind_a_cut_proxy(db.url()));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", &url)
        .env("DATABASE_ACQUIRE_TIMEOUT_MS", "300")
        .env("STARTUP_CONNECT_TIMEOUT_SECS", "60")
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let waiting = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("not reachable yet"));
    assert!(waiting, "serve never said it was waiting for the database");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();

    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter()
            .any(|line| line.contains("stopped during start-up")),
        "{rest:?}"
    );
}

#[test]
fn graphql_schema_prints_the_checked_in_sdl() {
    let out = backend(&["graphql-schema"], &[], "");

    assert!(out.status.success(), "{}", text(&out.stderr));
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infrastructure/graphql/schema.graphql"
    ))
    .unwrap();
    assert_eq!(text(&out.stdout), checked_in);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_0_on_a_success_and_1_on_anything_else() {
    let vars = std::collections::HashMap::from([("HTTP_ADDR", "127.0.0.1:0")]);
    let config =
        backend::Config::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).unwrap();
    let app = backend::Application::build(&config).await.unwrap();
    let server = backend::server::HttpServer::bind(&app, &config)
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    // The binary blocks this thread while it runs; the server answers on the other one.
    let probe =
        |url: String| tokio::task::spawn_blocking(move || backend(&["probe", &url], &[], ""));

    let up = probe(format!("{base}/readyz")).await.unwrap();
    assert!(up.status.success(), "{}", text(&up.stderr));

    let unauthorised = probe(format!("{base}/v1/todos")).await.unwrap();
    assert_eq!(unauthorised.status.code(), Some(1));
    assert!(
        text(&unauthorised.stderr).contains("401"),
        "{}",
        text(&unauthorised.stderr)
    );

    let closed = probe("http://127.0.0.1:1/healthz".to_owned())
        .await
        .unwrap();
    assert_eq!(closed.status.code(), Some(1));
    assert!(
        text(&closed.stderr).contains("did not answer"),
        "{}",
        text(&closed.stderr)
    );
    shutdown.cancel();
}
