//! Saturates the gRPC API with `GetTodo` calls and prints one line in the format of
//! `bench/run.sh`'s wrk scripts, so the two protocols land in one results table:
//!
//! ```text
//! RESULT rps=12345.6 p50_ms=1.23 p99_ms=4.56 requests=123456 non2xx=0 sock_err=0
//! ```
//!
//! `--concurrency` calls are in flight at any time, spread over `--connections` HTTP/2
//! connections. With one call per connection it matches wrk's one request per
//! connection; gRPC clients usually multiplex more calls over fewer connections.
//!
//! ```sh
//! cargo run --release -p grpc-load -- --url http://127.0.0.1:8080 --token "$TOKEN" \
//!   --ids ids.txt --concurrency 64 --connections 64 --duration 10
//! ```
//!
//! The client runs on the same machine as the server and costs CPU of its own, so its
//! figures are a lower bound of what the server can do.

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use driving_grpc::api::{GetTodoRequest, todo_service_client::TodoServiceClient};
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tonic::{
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};

#[derive(Debug, Parser)]
struct Args {
    /// The server, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    url: String,
    /// A bearer token of the user who owns the todos.
    #[arg(long)]
    token: String,
    /// A file of todo ids, one per line; calls go through them in turn.
    #[arg(long)]
    ids: PathBuf,
    /// Calls in flight at any time.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
}

/// What one worker saw.
struct Tally {
    latencies: Histogram<u64>,
    errors: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ids: Vec<String> = std::fs::read_to_string(&args.ids)
        .with_context(|| format!("cannot read {}", args.ids.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|id| format!("todos/{}", id.trim()))
        .collect();
    anyhow::ensure!(!ids.is_empty(), "{} holds no ids", args.ids.display());
    let bearer: MetadataValue<_> = format!("Bearer {}", args.token)
        .parse()
        .context("the token is not a valid header value")?;

    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        let endpoint = Endpoint::from_shared(args.url.clone()).context("invalid --url")?;
        channels.push(endpoint.connect().await.context("cannot connect")?);
    }

    let duration = Duration::from_secs(args.duration);
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..args.concurrency.max(1) {
        let client = TodoServiceClient::new(channels[worker % channels.len()].clone());
        let (ids, bearer) = (ids.clone(), bearer.clone());
        workers.spawn(run(client, ids, worker, bearer, started + duration));
    }
    let mut latencies = Histogram::<u64>::new(3)?;
    let mut errors = 0;
    while let Some(tally) = workers.join_next().await {
        let tally = tally??;
        latencies.add(&tally.latencies)?;
        errors += tally.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    // The one line of output, on stdout, for bench/run.sh to parse.
    writeln!(
        std::io::stdout().lock(),
        "RESULT rps={:.1} p50_ms={:.2} p99_ms={:.2} requests={} non2xx={errors} sock_err=0",
        latencies.len() as f64 / elapsed,
        ms(0.50),
        ms(0.99),
        latencies.len() + errors,
    )?;
    Ok(())
}

/// One worker: calls back to back until `until`, starting at its own offset in `ids`.
async fn run(
    mut client: TodoServiceClient<Channel>,
    ids: Vec<String>,
    offset: usize,
    bearer: MetadataValue<tonic::metadata::Ascii>,
    until: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        latencies: Histogram::new(3)?,
        errors: 0,
    };
    let mut next = offset;
    while Instant::now() < until {
        let mut request = tonic::Request::new(GetTodoRequest {
            name: ids[next % ids.len()].clone(),
        });
        next += 1;
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        let sent = Instant::now();
        let outcome = client.get_todo(request).await;
        let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        match outcome {
            // Counted like wrk counts: every answer's latency, errors apart as well.
            Ok(_) => tally.latencies.record(micros)?,
            Err(_) => {
                tally.errors += 1;
                tally.latencies.record(micros)?;
            }
        }
    }
    Ok(tally)
}
