//! Fan-out latency: how long after a write commits its event reaches each of many live
//! subscribers, against the plain stack's floor measured in the same run.
//!
//! ```text
//! fanout app   --url http://127.0.0.1:8080 --token "$TOKEN"
//! fanout redis --redis redis://127.0.0.1:6379
//! ```
//!
//! - `app`: `--subscribers` `WatchTodos` streams (spread over `--connections` HTTP/2
//!   connections) watch one user; `CreateTodo` calls go out at `--rate` a second. Each
//!   delivery is timed from the moment its `CreateTodo` returned, which is after the
//!   commit: outbox, worker, Redis stream, the server's reader, its broadcast and the gRPC
//!   stream are all inside the figure. An event that beats the reply counts as 0 ms.
//! - `redis`: the floor under that, with no application at all: `--subscribers` clients,
//!   each on its own connection with `XREAD BLOCK` on a bare stream, and a writer that
//!   `XADD`s at the same rate. Each delivery is timed from just before its `XADD`.
//!
//! Both print one line:
//!
//! ```text
//! RESULT deliveries=30000 missing=0 p50_ms=52.1 p99_ms=104.9 max_ms=130.2
//! ```

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use driving_grpc::api::{
    CreateTodoRequest, Todo, WatchTodosRequest, todo_service_client::TodoServiceClient,
};
use hdrhistogram::Histogram;
use redis::{
    AsyncCommands,
    streams::{StreamReadOptions, StreamReadReply},
};
use tokio::task::JoinSet;
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::{Channel, Endpoint},
};

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    target: Target,
    /// Live subscribers.
    #[arg(long, default_value_t = 100, global = true)]
    subscribers: usize,
    /// Writes a second.
    #[arg(long, default_value_t = 20, global = true)]
    rate: u32,
    /// Seconds of writing.
    #[arg(long, default_value_t = 15, global = true)]
    duration: u64,
}

#[derive(Debug, Subcommand)]
enum Target {
    /// The application: `WatchTodos` subscribers, `CreateTodo` writes.
    App {
        /// The server, e.g. `http://127.0.0.1:8080`.
        #[arg(long)]
        url: String,
        /// A bearer token; every subscriber watches this user.
        #[arg(long)]
        token: String,
        /// HTTP/2 connections the subscribers are spread over.
        #[arg(long, default_value_t = 10)]
        connections: usize,
    },
    /// The floor: bare `XADD` and `XREAD BLOCK` on a Redis stream.
    Redis {
        /// The Redis server.
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        redis: String,
    },
}

/// When each write was made (committed, for the app), by its key.
type Written = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let writes = u64::from(args.rate) * args.duration;
    let written: Written = Arc::default();
    let mut readers = JoinSet::new();
    let writer = match &args.target {
        Target::App {
            url,
            token,
            connections,
        } => {
            let bearer: MetadataValue<Ascii> = format!("Bearer {token}").parse()?;
            let mut channels = Vec::new();
            for _ in 0..(*connections).max(1) {
                channels.push(Endpoint::from_shared(url.clone())?.connect().await?);
            }
            for n in 0..args.subscribers {
                let channel = channels[n % channels.len()].clone();
                let mut request = tonic::Request::new(WatchTodosRequest::default());
                request
                    .metadata_mut()
                    .insert("authorization", bearer.clone());
                // Returns once the server has subscribed: no write below is missed.
                let mut stream = TodoServiceClient::new(channel)
                    .watch_todos(request)
                    .await
                    .context("open WatchTodos")?
                    .into_inner();
                readers.spawn(async move {
                    let mut seen = Vec::new();
                    while seen.len() < writes as usize {
                        match stream.message().await {
                            Ok(Some(event)) => seen.push((event.name, Instant::now())),
                            _ => break,
                        }
                    }
                    seen
                });
            }
            let client = TodoServiceClient::new(channels[0].clone());
            tokio::spawn(write_app(
                client,
                bearer,
                args.rate,
                writes,
                written.clone(),
            ))
        }
        Target::Redis { redis } => {
            let client = redis::Client::open(redis.as_str())?;
            let stream = format!("fanout-bench-{}", std::process::id());
            for _ in 0..args.subscribers {
                let mut conn = client.get_multiplexed_async_connection().await?;
                let stream = stream.clone();
                readers.spawn(async move {
                    let options = StreamReadOptions::default().block(1_000).count(100);
                    let mut last = "0-0".to_owned();
                    let mut seen = Vec::new();
                    while seen.len() < writes as usize {
                        let reply: Option<StreamReadReply> = conn
                            .xread_options(&[&stream], &[&last], &options)
                            .await
                            .unwrap_or(None);
                        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                            last.clone_from(&entry.id);
                            if let Some(key) = entry.get::<String>("key") {
                                seen.push((key, Instant::now()));
                            }
                        }
                    }
                    seen
                });
            }
            let conn = client.get_multiplexed_async_connection().await?;
            tokio::spawn(write_redis(
                conn,
                stream,
                args.rate,
                writes,
                written.clone(),
            ))
        }
    };
    writer.await??;

    let mut all = histogram();
    let mut missing = 0u64;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            done = readers.join_next() => match done {
                Some(result) => {
                    let (histogram, delivered) = latencies(&written, result?);
                    all.add(&histogram)?;
                    missing += writes.saturating_sub(delivered);
                }
                None => break,
            },
            () = &mut deadline => {
                missing += writes * readers.len() as u64;
                readers.abort_all();
                break;
            }
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    // The one line of output, on stdout, for bench/fanout.sh to parse.
    writeln!(
        std::io::stdout().lock(),
        "RESULT deliveries={} missing={missing} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        all.len(),
        ms(all.value_at_quantile(0.5)),
        ms(all.value_at_quantile(0.99)),
        ms(all.max()),
    )?;
    Ok(())
}

/// One subscriber's latencies, in microseconds, and how many it received.
fn latencies(written: &Written, seen: Vec<(String, Instant)>) -> (Histogram<u64>, u64) {
    let written = written.lock().unwrap_or_else(PoisonError::into_inner);
    let mut latencies = histogram();
    let mut delivered = 0;
    for (key, at) in seen {
        // An event that overtook its write's reply (and so its timestamp): 0 ms.
        let since = written
            .get(&key)
            .map_or(Duration::ZERO, |made| at.saturating_duration_since(*made));
        latencies.saturating_record(since.as_micros() as u64);
        delivered += 1;
    }
    (latencies, delivered)
}

/// Microseconds from 1 µs to a minute, to 3 significant figures; anything longer counts as a
/// minute. (A histogram that resizes itself clamps on `saturating_record` instead.)
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| unreachable!("1 ≤ 60,000,000 and 3 figures are valid bounds"))
}

async fn write_app(
    mut client: TodoServiceClient<Channel>,
    bearer: MetadataValue<Ascii>,
    rate: u32,
    writes: u64,
    written: Written,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    for n in 0..writes {
        ticks.tick().await;
        let mut request = tonic::Request::new(CreateTodoRequest {
            todo: Some(Todo {
                title: format!("fan-out {n}"),
                ..Todo::default()
            }),
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        let todo = client.create_todo(request).await?.into_inner();
        let committed = Instant::now();
        written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(todo.name)
            .or_insert(committed);
    }
    Ok(())
}

async fn write_redis(
    mut conn: redis::aio::MultiplexedConnection,
    stream: String,
    rate: u32,
    writes: u64,
    written: Written,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    for n in 0..writes {
        ticks.tick().await;
        let key = format!("w{n}");
        written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Instant::now());
        let _: String = conn.xadd(&stream, "*", &[("key", key.as_str())]).await?;
    }
    let _: () = conn.del(&stream).await?;
    Ok(())
}
