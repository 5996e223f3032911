//! The worker: delivers outbox jobs and runs the periodic jobs, until shutdown.
//!
//! It runs as `backend worker` (with its own `/healthz`, `/readyz` and `/metrics` on
//! `WORKER_HTTP_ADDR`), or inside `serve` (`WORKER_IN_PROCESS`, always in memory), where
//! its metrics join the API's `/metrics`. Either way it is three loops over the use cases
//! in [`Jobs`]:
//!
//! - **delivery**: claim a batch, deliver it, repeat; when the batch was not full, wait
//!   until a commit records jobs (the queue's [`JobSignal`](domain::ports::JobSignal):
//!   `LISTEN/NOTIFY` on Postgres), or `WORKER_POLL_INTERVAL_MS` at most, the safety net
//!   for a signal that was lost;
//! - **schedule**: at the start of every minute, the reminder and housekeeping jobs. The
//!   tick's identity is the minute itself, so every replica names it the same and the
//!   schedule ledger lets exactly one of them run it;
//! - **gauges**: every few seconds, the backlog, its oldest job and the dead count.
//!
//! On shutdown the delivery loop claims nothing more and finishes the batch in hand,
//! within `WORKER_DRAIN_TIMEOUT_SECS`; a batch cut off there is not lost, only delivered
//! again when its lease ends.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use application::jobs::{Delivery, JobOutcome};
use axum::{Router, http::StatusCode, routing::get};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use domain::event::JobKind;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{app::Jobs, config::WorkerConfig};

/// How often the backlog gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// The labels of `jobs_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    outcome: &'static str,
}

/// The worker's metrics, in whichever registry renders `/metrics`.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    jobs: Family<JobLabels, Counter>,
    backlog: Gauge,
    oldest_age: Gauge<f64, AtomicU64>,
    dead: Gauge,
    latency: Histogram,
    /// Claims made, by what started them and whether they found work.
    claims: Family<ClaimLabels, Counter>,
    /// When the delivery loop last reached the queue, in Unix milliseconds.
    last_ok_ms: Arc<AtomicI64>,
}

/// The labels of `job_claims_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClaimLabels {
    /// `signal` (jobs were recorded), `poll` (the safety net's timer) or `more` (the
    /// previous claim was full).
    cause: &'static str,
    /// `jobs` or `empty`.
    found: &'static str,
}

/// Why the delivery loop claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Signal,
    Poll,
    More,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Signal => "signal",
            Cause::Poll => "poll",
            Cause::More => "more",
        }
    }
}

impl WorkerMetrics {
    /// Registers the worker's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            jobs: Family::default(),
            backlog: Gauge::default(),
            oldest_age: Gauge::default(),
            dead: Gauge::default(),
            // 1 ms to about 65 s: commit-to-delivery, retries included.
            latency: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.001, 2.0, 17,
            )),
            // A worker that just started counts as having reached the queue: it is not
            // stale until it has failed to for a whole window.
            last_ok_ms: Arc::new(AtomicI64::new(Utc::now().timestamp_millis())),
            claims: Family::default(),
        };
        registry.register(
            "jobs",
            "Outbox jobs handled, by kind and outcome (done, failed: retried later, dead)",
            metrics.jobs.clone(),
        );
        // Every series exists from the start, so a rate over it is never "no data".
        for kind in JobKind::ALL {
            for outcome in ["done", "failed", "dead"] {
                let _ = metrics.jobs.get_or_create(&JobLabels {
                    kind: kind.as_str(),
                    outcome,
                });
            }
        }
        registry.register(
            "outbox_backlog",
            "Outbox jobs not yet delivered and not dead",
            metrics.backlog.clone(),
        );
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox job (0 when there is none)",
            metrics.oldest_age.clone(),
        );
        registry.register(
            "outbox_dead",
            "Dead outbox jobs, waiting for `backend jobs retry`",
            metrics.dead.clone(),
        );
        registry.register(
            "job_delivery_latency_seconds",
            "From the commit that recorded a job to its delivery",
            metrics.latency.clone(),
        );
        registry.register(
            "job_claims",
            "Claims on the job queue, by cause (signal: jobs were recorded; poll: the safety \
             net's timer; more: the previous claim was full) and by whether they found jobs",
            metrics.claims.clone(),
        );
        for cause in [Cause::Signal, Cause::Poll, Cause::More] {
            for found in ["jobs", "empty"] {
                let _ = metrics.claims.get_or_create(&ClaimLabels {
                    cause: cause.as_str(),
                    found,
                });
            }
        }
        metrics
    }

    fn claimed(&self, cause: Cause, found: bool) {
        self.claims
            .get_or_create(&ClaimLabels {
                cause: cause.as_str(),
                found: if found { "jobs" } else { "empty" },
            })
            .inc();
    }

    fn record(&self, outcome: &JobOutcome) {
        let label = match outcome.delivery {
            Delivery::Delivered => "done",
            Delivery::Retrying(_) => "failed",
            Delivery::Dead => "dead",
        };
        self.jobs
            .get_or_create(&JobLabels {
                kind: outcome.kind.as_str(),
                outcome: label,
            })
            .inc();
        if outcome.delivery == Delivery::Delivered {
            self.latency
                .observe(outcome.age.to_std().unwrap_or_default().as_secs_f64());
        }
    }

    /// Whether the delivery loop reached the queue within `within` of `now`.
    fn recently_ok(&self, now: DateTime<Utc>, within: TimeDelta) -> bool {
        let last = self.last_ok_ms.load(Ordering::Relaxed);
        now.timestamp_millis() - last <= within.num_milliseconds()
    }
}

/// Runs the worker's loops until `shutdown` is cancelled, then returns once they have
/// stopped.
pub async fn run(
    jobs: Arc<Jobs>,
    settings: WorkerConfig,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) {
    tracing::info!(
        batch = settings.batch_size,
        lease_secs = settings.lease.as_secs(),
        "worker started"
    );
    let mut loops = JoinSet::new();
    loops.spawn(deliver(
        jobs.clone(),
        settings.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    loops.spawn(schedule(jobs.clone(), shutdown.clone()));
    loops.spawn(gauges(jobs, metrics, shutdown));
    while let Some(result) = loops.join_next().await {
        if let Err(error) = result {
            tracing::error!(%error, "a worker loop failed");
        }
    }
    tracing::info!("worker stopped");
}

async fn deliver(
    jobs: Arc<Jobs>,
    settings: WorkerConfig,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) {
    // Asked before each delivery: a stopping worker starts none, and gives the rest of
    // its batch back.
    let keep_going = || !shutdown.is_cancelled();
    // The first claim takes whatever was recorded while no worker ran.
    let mut cause = Cause::Poll;
    while !shutdown.is_cancelled() {
        let batch = jobs.deliver.run_once(&keep_going);
        tokio::pin!(batch);
        let result = tokio::select! {
            result = &mut batch => result,
            () = shutdown.cancelled() => {
                // Claim nothing more; let the delivery in hand finish, within the bound.
                match tokio::time::timeout(settings.drain_timeout, &mut batch).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(
                            drain_timeout_secs = settings.drain_timeout.as_secs(),
                            "the delivery in hand outlived the drain timeout; it is redelivered after its lease"
                        );
                        return;
                    }
                }
            }
        };
        let full = match result {
            Ok(outcomes) => {
                metrics
                    .last_ok_ms
                    .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
                metrics.claimed(cause, !outcomes.is_empty());
                for outcome in &outcomes {
                    metrics.record(outcome);
                }
                outcomes.len() >= jobs.deliver.batch() as usize
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "cannot reach the job queue"
                );
                false
            }
        };
        cause = if full {
            // A full batch means there may be more: go again at once.
            Cause::More
        } else {
            // Wait until jobs become claimable: a commit recorded some, or a delivery
            // freed a job that waited for an earlier one of its todo. The poll is the
            // safety net for a signal that was lost.
            tokio::select! {
                () = jobs.signal.recorded() => Cause::Signal,
                () = tokio::time::sleep(settings.poll_interval) => Cause::Poll,
                () = shutdown.cancelled() => Cause::Poll,
            }
        };
    }
}

/// The start of the minute after `now`.
fn next_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = TimeDelta::minutes(1);
    now.duration_trunc(minute).unwrap_or(now) + minute
}

async fn schedule(jobs: Arc<Jobs>, shutdown: CancellationToken) {
    loop {
        let tick = next_minute(Utc::now());
        let wait = (tick - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = jobs.reminders.run(tick).await {
            tracing::warn!(error = &error as &dyn std::error::Error, %tick, "the reminder job failed; the next tick catches up");
        }
        if let Err(error) = jobs.housekeeping.run(tick).await {
            tracing::warn!(error = &error as &dyn std::error::Error, %tick, "housekeeping failed");
        }
    }
}

async fn gauges(jobs: Arc<Jobs>, metrics: WorkerMetrics, shutdown: CancellationToken) {
    loop {
        match jobs.queue.stats().await {
            Ok(stats) => {
                metrics
                    .backlog
                    .set(i64::try_from(stats.backlog).unwrap_or(i64::MAX));
                metrics
                    .dead
                    .set(i64::try_from(stats.dead).unwrap_or(i64::MAX));
                let age = stats.oldest_recorded_at.map_or(0.0, |oldest| {
                    (Utc::now() - oldest)
                        .to_std()
                        .unwrap_or_default()
                        .as_secs_f64()
                });
                metrics.oldest_age.set(age);
            }
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "cannot measure the job queue"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(GAUGE_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// `backend worker`: the worker, and its own probes and metrics on `settings.http_addr`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn run_standalone(
    jobs: Arc<Jobs>,
    settings: WorkerConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = WorkerMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let listener = TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("cannot listen on WORKER_HTTP_ADDR={}", settings.http_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "worker probes and metrics listening");
    // Ready while the backing services answer and the delivery loop reached the queue
    // lately (a stuck loop is not ready, whatever the services say).
    let stale_after = TimeDelta::from_std(settings.poll_interval * 10 + Duration::from_secs(30))
        .unwrap_or(TimeDelta::MAX);
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get({
                let jobs = jobs.clone();
                let metrics = metrics.clone();
                move || async move {
                    let report = jobs.readiness.execute().await;
                    let looping = metrics.recently_ok(Utc::now(), stale_after);
                    if report.is_ready() && looping {
                        (StatusCode::OK, "ready")
                    } else if !looping {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the delivery loop has not reached the queue lately",
                        )
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "a backing service is down")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || async move {
                let mut text = String::new();
                match encode(&mut text, &registry) {
                    Ok(()) => (StatusCode::OK, text),
                    Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                }
            }),
        );
    let http_shutdown = shutdown.clone();
    let http = tokio::spawn(async move {
        axum::serve(listener, probes)
            .with_graceful_shutdown(http_shutdown.cancelled_owned())
            .await
    });
    run(jobs, settings, metrics, shutdown).await;
    match http.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error).context("the worker's HTTP listener failed"),
        Err(error) => Err(error).context("the worker's HTTP listener panicked"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn ticks_fall_on_the_minute() {
        let at = |h, m, s| Utc.with_ymd_and_hms(2026, 3, 10, h, m, s).unwrap();
        assert_eq!(
            next_minute(at(23, 59, 30)),
            at(0, 0, 0) + TimeDelta::days(1)
        );
        assert_eq!(next_minute(at(10, 0, 0)), at(10, 1, 0));
    }
}
