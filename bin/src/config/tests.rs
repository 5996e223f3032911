//! The declarations, read back: every variable, its rules, and what is printed of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_vars(|name| map.get(name).cloned())
}

#[test]
fn an_empty_environment_selects_the_in_memory_adapters_and_defaults() {
    let config = config(&[]).unwrap();
    assert!(config.database.url.is_none());
    assert!(config.redis.url.is_none());
    assert_eq!(config.session_ttl, Duration::from_secs(86_400));
    assert_eq!(config.cache_ttl, Duration::from_secs(300));
    assert_eq!(config.log_format, LogFormat::Pretty);
    assert_eq!(config.log_filter, "info");
    assert_eq!(config.http.addr.to_string(), "127.0.0.1:8080");
    assert!(config.http.cors_allowed_origins.is_empty());
}

#[test]
fn http_settings_are_read_and_origins_checked() {
    let config = config(&[
        ("HTTP_ADDR", "0.0.0.0:9000"),
        ("HTTP_REQUEST_TIMEOUT_MS", "1500"),
        ("HTTP_DRAIN_TIMEOUT_SECS", "3"),
        (
            "HTTP_CORS_ALLOWED_ORIGINS",
            "https://app.example.org, http://localhost:3000",
        ),
    ])
    .unwrap();
    assert_eq!(config.http.addr.to_string(), "0.0.0.0:9000");
    assert_eq!(config.http.request_timeout, Duration::from_millis(1500));
    assert_eq!(config.http.drain_timeout, Duration::from_secs(3));
    assert_eq!(
        config.http.cors_allowed_origins,
        ["https://app.example.org", "http://localhost:3000"]
    );
    for bad in ["https://app.example.org/path", "not an origin", "*"] {
        let err = super::Config::from_vars(|name| {
            (name == "HTTP_CORS_ALLOWED_ORIGINS").then(|| bad.to_owned())
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("HTTP_CORS_ALLOWED_ORIGINS"),
            "{bad}: {err}"
        );
    }
    let err =
        super::Config::from_vars(|name| (name == "HTTP_ADDR").then(|| "localhost".to_owned()))
            .unwrap_err();
    assert!(err.to_string().contains("HTTP_ADDR"), "{err}");
}

#[test]
fn every_variable_is_read() {
    let config = config(&[
        ("DATABASE_URL", "postgres://app:pw@db:5432/app"),
        ("DATABASE_MAX_CONNECTIONS", "4"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "250"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "1000"),
        ("REDIS_URL", "redis://cache:6379"),
        ("REDIS_KEY_PREFIX", "svc:"),
        ("REDIS_TIMEOUT_MS", "50"),
        ("REDIS_CLIENT_CACHE_ENTRIES", "0"),
        ("REDIS_CLIENT_CACHE_TTL_SECS", "9"),
        ("SESSION_TTL_SECS", "60"),
        ("STARTUP_CONNECT_TIMEOUT_SECS", "11"),
        ("CACHE_TTL_SECS", "5"),
        ("CACHE_CAPACITY", "7"),
        ("IDEMPOTENCY_KEY_TTL_HOURS", "2"),
        ("PASSWORD_HASH_CONCURRENCY", "3"),
        ("PASSWORD_HASH_MAX_WAIT_MS", "0"),
        ("GRAPHQL_MAX_DEPTH", "4"),
        ("GRAPHQL_MAX_COMPLEXITY", "50"),
        ("GRAPHQL_MAX_QUERY_BYTES", "100"),
        ("GRAPHQL_INTROSPECTION", "false"),
        ("GRAPHQL_WS_MAX_MESSAGE_BYTES", "200"),
        ("GRAPHQL_WS_INIT_TIMEOUT_MS", "300"),
        ("HTTP_MAX_CONNECTIONS", "9"),
        ("HTTP_HEADER_READ_TIMEOUT_MS", "400"),
        ("HTTP_IDLE_TIMEOUT_SECS", "6"),
        ("HTTP_SEND_TIMEOUT_SECS", "5"),
        ("HTTP_KEEPALIVE_INTERVAL_SECS", "7"),
        ("HTTP_KEEPALIVE_TIMEOUT_SECS", "8"),
        ("GRPC_MAX_MESSAGE_BYTES", "1024"),
        ("GRPC_HEALTH_INTERVAL_MS", "250"),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("WORKER_IN_PROCESS", "true"),
        ("WORKER_BATCH_SIZE", "5"),
        ("WORKER_LEASE_SECS", "60"),
        ("OUTBOX_RETENTION_HOURS", "48"),
        ("REMINDER_WINDOW_MINUTES", "30"),
        ("REMINDER_WEBHOOK_URL", "http://hooks.example.org/reminders"),
        ("REMINDER_WEBHOOK_SECRET", "s3cret"),
        ("REMINDER_WEBHOOK_TIMEOUT_MS", "2000"),
    ])
    .unwrap();
    let described = format!("{:?}", config.describe());
    assert!(!described.contains("s3cret"), "{described}");
    assert!(config.database.url.is_some());
    let db = &config.database;
    assert_eq!(db.max_connections, 4);
    assert_eq!(db.acquire_timeout, Duration::from_millis(250));
    assert_eq!(db.statement_timeout, Duration::from_secs(1));
    assert!(config.redis.url.is_some());
    let redis = &config.redis;
    assert_eq!(redis.key_prefix, "svc:");
    assert_eq!(redis.timeout, Duration::from_millis(50));
    assert_eq!(redis.client_cache_entries, 0);
    assert_eq!(redis.client_cache_ttl, Duration::from_secs(9));
    assert_eq!(config.session_ttl, Duration::from_secs(60));
    assert_eq!(config.startup_connect_timeout, Duration::from_secs(11));
    assert_eq!(config.cache_ttl, Duration::from_secs(5));
    assert_eq!(config.cache_capacity, 7);
    assert_eq!(config.idempotency_key_ttl, Duration::from_secs(2 * 3600));
    assert_eq!(config.password_hash_concurrency, 3);
    assert_eq!(config.password_hash_max_wait, Duration::ZERO);
    // A protocol's settings exist in the builds that have it.
    #[cfg(feature = "graphql")]
    {
        assert_eq!(config.graphql.max_depth, 4);
        assert_eq!(config.graphql.max_complexity, 50);
        assert_eq!(config.graphql.max_query_bytes, 100);
        assert!(!config.graphql.introspection);
        assert_eq!(config.graphql.ws_max_message_bytes, 200);
        assert_eq!(config.graphql.ws_init_timeout, Duration::from_millis(300));
    }
    assert_eq!(config.http.max_connections, 9);
    assert_eq!(config.http.header_read_timeout, Duration::from_millis(400));
    assert_eq!(config.http.idle_timeout, Duration::from_secs(6));
    assert_eq!(config.http.send_timeout, Duration::from_secs(5));
    assert_eq!(config.http.keepalive_interval, Duration::from_secs(7));
    assert_eq!(config.http.keepalive_timeout, Duration::from_secs(8));
    #[cfg(feature = "grpc")]
    {
        assert_eq!(config.grpc.max_message_bytes, 1024);
        assert_eq!(config.grpc.health_interval, Duration::from_millis(250));
    }
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.log_filter, "debug");
    let worker = &config.worker;
    assert!(worker.in_process);
    assert_eq!(worker.batch_size, 5);
    assert_eq!(worker.lease, Duration::from_secs(60));
    assert_eq!(worker.retention, Duration::from_secs(48 * 3600));
    assert_eq!(worker.reminder_window, Duration::from_secs(30 * 60));
    let hook = &worker.webhook;
    assert_eq!(
        hook.endpoint().unwrap().0.expose().as_str(),
        "http://hooks.example.org/reminders"
    );
    assert_eq!(hook.timeout, Duration::from_secs(2));
}

#[test]
fn worker_settings_that_cannot_work_are_refused() {
    for (vars, named) in [
        (
            vec![("OUTBOX_RETENTION_HOURS", "1")],
            "OUTBOX_RETENTION_HOURS",
        ),
        (vec![("WORKER_BATCH_SIZE", "0")], "WORKER_BATCH_SIZE"),
        (
            vec![("REMINDER_WINDOW_MINUTES", "0")],
            "REMINDER_WINDOW_MINUTES",
        ),
        (
            vec![("REMINDER_WINDOW_MINUTES", "1441")],
            "REMINDER_WINDOW_MINUTES",
        ),
        (
            vec![("REMINDER_WEBHOOK_URL", "https://hooks.example.org")],
            "REMINDER_WEBHOOK_URL",
        ),
        (
            vec![("REMINDER_WEBHOOK_URL", "http://hooks.example.org")],
            "REMINDER_WEBHOOK_SECRET",
        ),
    ] {
        let map: std::collections::HashMap<&str, &str> = vars.into_iter().collect();
        let err =
            super::Config::from_vars(|name| map.get(name).map(|v| (*v).to_owned())).unwrap_err();
        assert!(err.to_string().contains(named), "{err}");
    }
}

#[test]
fn the_worker_runs_in_process_exactly_when_storage_is_in_memory_or_asked_to() {
    assert!(config(&[]).unwrap().worker.in_process);
    let db = ("DATABASE_URL", "postgres://db/app");
    assert!(!config(&[db]).unwrap().worker.in_process);
    assert!(
        config(&[db, ("WORKER_IN_PROCESS", "true")])
            .unwrap()
            .worker
            .in_process
    );
    assert!(
        config(&[("WORKER_IN_PROCESS", "false")])
            .unwrap()
            .worker
            .in_process,
        "no other process could see an in-memory outbox"
    );
}

#[test]
fn errors_name_the_offending_variable() {
    let cases = [
        ("DATABASE_MAX_CONNECTIONS", "many"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("SESSION_TTL_SECS", "-5"),
        ("SESSION_TTL_SECS", "0"),
        ("LOG_FORMAT", "xml"),
        ("CACHE_TTL_SECS", "1.5"),
        ("REDIS_TIMEOUT_MS", "fast"),
        ("REDIS_CLIENT_CACHE_ENTRIES", "-1"),
        ("REDIS_CLIENT_CACHE_TTL_SECS", "0"),
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("PASSWORD_HASH_MAX_WAIT_MS", "-1"),
        ("GRAPHQL_INTROSPECTION", "yes"),
        ("GRAPHQL_MAX_DEPTH", "deep"),
        ("GRPC_HEALTH_INTERVAL_MS", "0"),
        ("HTTP_MAX_CONNECTIONS", "0"),
        ("HTTP_HEADER_READ_TIMEOUT_MS", "0"),
        ("HTTP_IDLE_TIMEOUT_SECS", "0"),
        ("HTTP_KEEPALIVE_INTERVAL_SECS", "0"),
        ("HTTP_KEEPALIVE_TIMEOUT_SECS", "0"),
        ("GRAPHQL_WS_INIT_TIMEOUT_MS", "0"),
        ("GRAPHQL_WS_MAX_MESSAGE_BYTES", "100"),
    ];
    for (var, value) in cases {
        let vars = [
            ("DATABASE_URL", "postgres://localhost/db"),
            ("REDIS_URL", "redis://localhost"),
            (var, value),
        ];
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains(var), "{var}={value}: {err}");
    }
}

#[test]
fn a_wrong_url_is_named_but_never_printed() {
    let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/app")]).unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = config(&[("REDIS_URL", "not a url with secret")]).unwrap_err();
    assert!(err.to_string().contains("REDIS_URL"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn passwords_never_appear_in_debug_output_or_the_description() {
    let config = config(&[
        ("DATABASE_URL", "postgres://app:hunter2@db/app"),
        ("REDIS_URL", "redis://:s3cret@cache:6379"),
    ])
    .unwrap();
    let debug = format!("{config:?}");
    let described = format!("{:?}", config.describe());
    for text in [&debug, &described] {
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret"),
            "{text}"
        );
    }
    assert_eq!(
        config.describe()["DATABASE_URL"],
        "postgres://app:REDACTED@db/app"
    );
    assert_eq!(
        config.describe()["REDIS_URL"],
        "redis://:REDACTED@cache:6379"
    );
}

#[test]
fn no_url_with_credentials_is_ever_printed_wherever_they_hide() {
    let config = config(&[
        ("DATABASE_URL", "postgres://app@db/todo?password=s3cret"),
        ("REDIS_URL", "redis://cache:6379/0?password=s3cret"),
        (
            "REMINDER_WEBHOOK_URL",
            "http://hooks.example.org/services/s3cret?token=s3cret",
        ),
        ("REMINDER_WEBHOOK_SECRET", "s3cret"),
    ])
    .unwrap();
    let printed = format!("{config:?} {:?}", config.describe());
    assert!(!printed.contains("s3cret"), "{printed}");
    assert_eq!(
        config.describe()["REMINDER_WEBHOOK_URL"],
        "http://hooks.example.org/REDACTED?token=REDACTED"
    );
    // Nor in an error about one.
    let err = super::Config::from_vars(|name| {
        (name == "REMINDER_WEBHOOK_URL").then(|| "https://hooks.example.org/s3cret".to_owned())
    })
    .unwrap_err();
    assert!(err.to_string().contains("REMINDER_WEBHOOK_URL"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn empty_variables_count_as_unset() {
    let config = config(&[("DATABASE_URL", ""), ("LOG_FORMAT", " ")]).unwrap();
    assert!(config.database.url.is_none());
    assert_eq!(config.log_format, LogFormat::Pretty);
}

#[test]
fn a_value_not_in_the_declared_form_is_refused_never_defaulted() {
    // A value that is not in the declared form is refused, never read as the default.
    let err = config(&[("GRAPHQL_INTROSPECTION", "yes")]).unwrap_err();
    assert!(err.to_string().contains("GRAPHQL_INTROSPECTION"), "{err}");
    let err = config(&[("TRUSTED_PROXIES", "10.0.0.0/8,nonsense")]).unwrap_err();
    assert!(err.to_string().contains("TRUSTED_PROXIES"), "{err}");
}

#[test]
fn the_description_lists_every_declared_variable_and_redacts_the_secret_ones() {
    let config = config(&[
        ("REMINDER_WEBHOOK_URL", "http://hooks.example.org/s3cret"),
        ("REMINDER_WEBHOOK_SECRET", "a:s3cret"),
    ])
    .unwrap();
    let described = config.describe();
    let declared: Vec<String> = Config::command()
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .collect();
    assert_eq!(
        described.keys().cloned().collect::<Vec<_>>(),
        {
            let mut sorted = declared.clone();
            sorted.sort();
            sorted
        },
        "one line per declared variable"
    );
    assert_eq!(described["REMINDER_WEBHOOK_SECRET"], "(set)");
    assert_eq!(described["DATABASE_URL"], "(unset)");
    assert_eq!(described["HTTP_ADDR"], "127.0.0.1:8080");
    assert_eq!(described["WORKER_IN_PROCESS"], "true");
    assert!(!format!("{described:?}").contains("s3cret"));
}

#[test]
fn the_guide_s_table_is_the_declared_settings() {
    const BEGIN: &str = "<!-- settings: written from bin/src/config by UPDATE_SETTINGS=1 cargo test -p backend --lib config -->\n";
    const END: &str = "<!-- settings: end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/src/configuration.md");
    let generated = reference_table();
    let read = || {
        let page = std::fs::read_to_string(path).unwrap();
        let (head, rest) = page
            .split_once(BEGIN)
            .expect("the configuration chapter has lost its settings table's start marker");
        let (table, tail) = rest
            .split_once(END)
            .expect("the configuration chapter has lost its settings table's end marker");
        (head.to_owned(), table.to_owned(), tail.to_owned())
    };
    if std::env::var_os("UPDATE_SETTINGS").is_some() {
        let (head, _, tail) = read();
        std::fs::write(path, format!("{head}{BEGIN}{generated}{END}{tail}")).unwrap();
    }
    pretty_assertions::assert_eq!(
        read().1,
        generated,
        "the settings changed: run `UPDATE_SETTINGS=1 cargo test -p backend --lib config` to \
         write the table into docs/src/configuration.md, then review the diff"
    );
}
