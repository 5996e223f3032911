//! The fault harness: how this service shows that it loses nothing and doubles nothing.
//!
//! It runs the real stack (several `serve` replicas and two workers, on one Postgres and one
//! Redis, each reached through a TCP proxy the harness controls), puts it under load on
//! every protocol, and meanwhile makes things go wrong on a seeded random schedule:
//!
//! - the Postgres or the Redis proxy cut (every connection dropped, new ones refused) or
//!   slowed, for a few seconds;
//! - a replica or a worker SIGKILLed, and started again;
//! - a replica SIGTERMed (it must drain and exit 0), and started again;
//! - a replica's answers lost: the clients reach each replica through a proxy too, which for
//!   a few seconds drops every answer and the connection with it, after the replica has
//!   done the work. Only a retry with the same key can tell the client what happened.
//!
//! The load is one well-behaved client per user: creates, edits, completes and deletes
//! over REST, GraphQL and gRPC, each write with an idempotency key, each failure retried
//! (same key, next replica, with backoff); and one live subscription per user, which
//! resumes after its last event when its stream ends. Then the faults stop, the stack
//! settles, and the promises are checked (see `checks`). The report names the seed: the
//! same seed gives the same schedule of faults, so a failure can be run again.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! TEST_REDIS_URL=redis://127.0.0.1:6379 \
//!   cargo run --release -p faults -- --duration 600 --seed 42
//! ```

mod checks;
mod client;
mod fault;
mod proxy;
mod services;
mod stack;

use std::{
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use anyhow::Context;
use clap::Parser;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use tokio_util::sync::CancellationToken;

use crate::{
    client::{Client, Seen, Stats},
    fault::{FAULTS, FaultLog, Target, inject},
    proxy::Proxy,
    services::{address_of, clear_redis, webhook},
    stack::{Process, Role, free_port},
};

#[derive(Debug, Parser)]
struct Args {
    /// The seed of the fault schedule and the load; the report names it.
    #[arg(long, default_value_t = 20_261_204)]
    seed: u64,
    /// Seconds of load under faults.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// `serve` replicas.
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Workers.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Users, each with a client and a subscription.
    #[arg(long, default_value_t = 6)]
    users: usize,
    /// The `backend` binary; by default the one beside this harness.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Where logs and the report go; by default `target/faults/<seed>`.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let admin_url = std::env::var("FAULTS_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .context("set FAULTS_DATABASE_URL or TEST_DATABASE_URL to a Postgres URL whose role may CREATE DATABASE")?;
    let redis_url = std::env::var("FAULTS_REDIS_URL")
        .or_else(|_| std::env::var("TEST_REDIS_URL"))
        .context("set FAULTS_REDIS_URL or TEST_REDIS_URL to a Redis URL")?;
    let bin = match args.bin.clone() {
        Some(bin) => bin,
        None => std::env::current_exe()?.with_file_name("backend"),
    };
    anyhow::ensure!(
        bin.exists(),
        "no backend binary at {} (build it, or pass --bin)",
        bin.display()
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/faults/{}", args.seed)));
    std::fs::create_dir_all(&out)?;
    writeln!(
        std::io::stdout(),
        "faults: seed {} for {} s; {} replicas, {} workers, {} users; logs in {}",
        args.seed,
        args.duration,
        args.replicas,
        args.workers,
        args.users,
        out.display()
    )?;

    // A database and a key prefix of this run's own.
    let name = format!(
        "faults_{}_{}",
        args.seed,
        chrono::Utc::now().timestamp_millis()
    );
    let admin = sqlx::PgPool::connect(&admin_url).await?;
    // The name is made above from numbers only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    let mut db_url = url::Url::parse(&admin_url)?;
    db_url.set_path(&name);
    let prefix = format!("{name}:");
    let outcome = run(&args, &bin, &out, &db_url, &redis_url, &prefix).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    clear_redis(&redis_url, &prefix).await;
    let report = outcome?;
    std::fs::write(out.join("report.txt"), &report)?;
    write!(std::io::stdout(), "{report}")?;
    if report.contains("VIOLATION") {
        anyhow::bail!("invariants were violated (seed {})", args.seed);
    }
    Ok(())
}

/// Everything between setting up the storage and cleaning it up: the report.
async fn run(
    args: &Args,
    bin: &std::path::Path,
    out: &std::path::Path,
    db_url: &url::Url,
    redis_url: &str,
    prefix: &str,
) -> anyhow::Result<String> {
    let migrated = tokio::process::Command::new(bin)
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", db_url.as_str())
        .env("RUST_LOG", "warn")
        .status()
        .await?;
    anyhow::ensure!(migrated.success(), "migrate failed");

    // The proxies every process goes through.
    let pg_proxy = Proxy::start(address_of(db_url, 5432)?).await?;
    let redis_proxy = Proxy::start(address_of(&url::Url::parse(redis_url)?, 6379)?).await?;
    let mut via_pg = db_url.clone();
    via_pg.set_host(Some("127.0.0.1"))?;
    let _ = via_pg.set_port(Some(pg_proxy.addr().port()));
    let mut via_redis = url::Url::parse(redis_url)?;
    via_redis.set_host(Some("127.0.0.1"))?;
    let _ = via_redis.set_port(Some(redis_proxy.addr().port()));

    // The reminder webhook: every request it gets, as (reminder id, todo id, due date).
    let reminders: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let webhook = webhook(reminders.clone()).await?;

    let common = |port: u16, role: Role| -> Vec<(String, String)> {
        let mut env = vec![
            ("DATABASE_URL", via_pg.to_string()),
            ("REDIS_URL", via_redis.to_string()),
            ("REDIS_KEY_PREFIX", prefix.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("LOGIN_LIMIT_PER_EMAIL", "0".to_owned()),
            ("LOGIN_LIMIT_PER_ADDRESS", "0".to_owned()),
            ("REGISTER_LIMIT_PER_ADDRESS", "0".to_owned()),
            ("HTTP_DRAIN_TIMEOUT_SECS", "10".to_owned()),
            // Shorter than a client's patience for one attempt: under a slow database a
            // write can commit and still be answered 503, the case retries exist for.
            ("HTTP_REQUEST_TIMEOUT_MS", "2500".to_owned()),
            ("WATCH_SESSION_CHECK_MS", "2000".to_owned()),
        ];
        match role {
            Role::Serve => {
                env.push(("HTTP_ADDR", format!("127.0.0.1:{port}")));
                env.push(("WORKER_IN_PROCESS", "false".to_owned()));
            }
            Role::Worker => {
                env.push(("WORKER_HTTP_ADDR", format!("127.0.0.1:{port}")));
                env.push(("WORKER_POLL_INTERVAL_MS", "50".to_owned()));
                // Short leases, so a killed worker's jobs come back within the run.
                env.push(("WORKER_LEASE_SECS", "8".to_owned()));
                env.push(("WORKER_DRAIN_TIMEOUT_SECS", "3".to_owned()));
                env.push(("REMINDER_WEBHOOK_URL", webhook.clone()));
                env.push(("REMINDER_WEBHOOK_SECRET", "faults".to_owned()));
                env.push(("REMINDER_WEBHOOK_TIMEOUT_MS", "1000".to_owned()));
                env.push(("REMINDER_WEBHOOK_ATTEMPTS", "1".to_owned()));
                // A day: every todo due today is reminded at the next minute's tick.
                env.push(("REMINDER_WINDOW_MINUTES", "1440".to_owned()));
            }
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let mut replicas = Vec::new();
    for i in 0..args.replicas {
        let port = free_port()?;
        replicas.push(Arc::new(Process::new(
            Role::Serve,
            format!("replica-{i}"),
            port,
            bin.to_path_buf(),
            common(port, Role::Serve),
            out.join(format!("replica-{i}.log")),
        )));
    }
    let mut workers = Vec::new();
    for i in 0..args.workers {
        let port = free_port()?;
        workers.push(Arc::new(Process::new(
            Role::Worker,
            format!("worker-{i}"),
            port,
            bin.to_path_buf(),
            common(port, Role::Worker),
            out.join(format!("worker-{i}.log")),
        )));
    }
    for process in replicas.iter().chain(&workers) {
        process.start().await?;
    }
    // The clients reach each replica through a proxy of its own.
    let mut fronts = Vec::new();
    for replica in &replicas {
        fronts.push(Proxy::start(([127, 0, 0, 1], replica.port).into()).await?);
    }
    let bases: Vec<String> = fronts
        .iter()
        .map(|front| format!("http://{}", front.addr()))
        .collect();

    // Users, their subscriptions (open before the first write), and their clients.
    let stats = Arc::new(Stats::default());
    let stop_load = CancellationToken::new();
    let stop_watching = CancellationToken::new();
    let mut clients = Vec::new();
    let mut watchers = Vec::new();
    for i in 0..args.users {
        let email = format!("user{i}-{}@faults.example.org", args.seed);
        let client = Client::sign_up(
            email,
            bases.clone(),
            args.seed.wrapping_add(i as u64 + 1),
            stats.clone(),
        )
        .await?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (ready, opened) = tokio::sync::oneshot::channel();
        tokio::spawn(client::watch(
            bases.clone(),
            client.token().to_owned(),
            seen.clone(),
            stop_watching.clone(),
            ready,
        ));
        tokio::time::timeout(Duration::from_secs(10), opened)
            .await
            .context("a subscription did not open")??;
        watchers.push(seen);
        clients.push(client);
    }
    let running: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(client.run(stop_load.clone())))
        .collect();

    // Faults, until the time is up.
    let faults = Arc::new(Mutex::new(FaultLog::default()));
    let mut rng = StdRng::seed_from_u64(args.seed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration);
    let mut in_flight = tokio::task::JoinSet::new();
    while tokio::time::Instant::now() < deadline {
        let pause = Duration::from_millis(rng.random_range(1_500..4_000));
        tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        let fault = FAULTS[rng.random_range(0..FAULTS.len())];
        let length = Duration::from_millis(rng.random_range(1_000..4_000));
        let delay = Duration::from_millis(rng.random_range(200..1_500));
        let which = rng.random_range(0..replicas.len());
        let (replica, front) = (replicas[which].clone(), fronts[which].clone());
        let worker = workers[rng.random_range(0..workers.len())].clone();
        let (pg, redis) = (pg_proxy.clone(), redis_proxy.clone());
        *faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .injected
            .entry(fault)
            .or_default() += 1;
        let log = faults.clone();
        in_flight.spawn(async move {
            let target = Target {
                pg: &pg,
                redis: &redis,
                replica: &replica,
                front: &front,
                worker: &worker,
            };
            inject(fault, length, delay, target, &log).await;
        });
    }
    while in_flight.join_next().await.is_some() {}
    pg_proxy.restore();
    redis_proxy.restore();
    for front in &fronts {
        front.restore();
    }
    for process in replicas.iter().chain(&workers) {
        if !process.running().await {
            process.start().await?;
        }
    }

    // The load stops; each client finishes the write in hand.
    stop_load.cancel();
    let mut clients = Vec::new();
    for client in running {
        clients.push(client.await?);
    }

    // The stack settles: every job delivered, every subscriber caught up.
    let pool = sqlx::PgPool::connect(db_url.as_str()).await?;
    let settled = checks::settle(&pool, &clients, &watchers).await;
    stop_watching.cancel();
    for process in replicas.iter().chain(&workers) {
        process.terminate().await;
    }
    let faults = std::mem::take(&mut *faults.lock().unwrap_or_else(|e| e.into_inner()));
    let reminders = std::mem::take(&mut *reminders.lock().unwrap_or_else(|e| e.into_inner()));
    let violations = checks::run(&pool, &clients, &watchers, &reminders, &faults.injected).await?;

    let mut report = String::new();
    let line = |report: &mut String, text: String| {
        report.push_str(&text);
        report.push('\n');
    };
    line(&mut report, format!("seed: {}", args.seed));
    line(
        &mut report,
        format!(
            "stack: {} replicas, {} workers, {} users, {} s of faults",
            args.replicas, args.workers, args.users, args.duration
        ),
    );
    let attempts: Vec<u64> = stats
        .attempts
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    line(
        &mut report,
        format!(
            "requests: {} (REST {}, GraphQL {}, gRPC {}); writes acknowledged {}, retries {}, answered by replay {}, abandoned {}",
            attempts.iter().sum::<u64>(),
            attempts[0],
            attempts[1],
            attempts[2],
            stats.acknowledged.load(Ordering::Relaxed),
            stats.retries.load(Ordering::Relaxed),
            stats.replays.load(Ordering::Relaxed),
            stats.abandoned.load(Ordering::Relaxed),
        ),
    );
    let injected: Vec<String> = faults
        .injected
        .iter()
        .map(|(fault, n)| format!("{fault:?} {n}"))
        .collect();
    line(
        &mut report,
        format!(
            "faults: {} ({})",
            faults.injected.values().sum::<u64>(),
            injected.join(", ")
        ),
    );
    let events: usize = watchers
        .iter()
        .map(|w| w.lock().unwrap_or_else(|e| e.into_inner()).events.len())
        .sum();
    let opened: u64 = watchers
        .iter()
        .map(|w| w.lock().unwrap_or_else(|e| e.into_inner()).opened)
        .sum();
    line(
        &mut report,
        format!(
            "subscriptions: {} events seen, {} streams opened (resumes included); reminders received: {}",
            events,
            opened,
            reminders.len()
        ),
    );
    if !settled {
        line(
            &mut report,
            "VIOLATION: the stack did not settle (jobs undelivered or subscribers behind) within 120 s".to_owned(),
        );
    }
    for unclean in &faults.unclean_exits {
        line(&mut report, format!("VIOLATION: {unclean}"));
    }
    let unexpected = stats.unexpected.lock().unwrap_or_else(|e| e.into_inner());
    for what in unexpected.iter() {
        line(&mut report, format!("unexpected answer: {what}"));
    }
    for violation in &violations {
        line(&mut report, format!("VIOLATION: {violation}"));
    }
    line(
        &mut report,
        format!(
            "result: {}",
            match violations.len() + usize::from(!settled) + faults.unclean_exits.len() {
                0 => "every invariant held".to_owned(),
                n => format!("{n} violations"),
            }
        ),
    );
    Ok(report)
}
