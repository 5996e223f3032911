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
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use application::jobs::{Delivery, JobOutcome};
use axum::Router;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use domain::event::JobKind;
use driving_http::{
    HttpSettings, Metrics,
    operations::{Readiness, ReadinessCheck},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    app::Jobs,
    config::{Config, HttpConfig, WorkerConfig},
    connection::ConnectionMetrics,
    server,
};

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

/// `backend worker`: the worker, and its own `/healthz`, `/readyz` and `/metrics` on
/// `WORKER_HTTP_ADDR`, bound and not yet running.
///
/// Its listener is served by the API's connection loop ([`server::serve`]), with the same
/// time bounds from the same `HTTP_*` settings (header, idle and send timeouts, the drain)
/// and a connection cap of its own (`WORKER_HTTP_MAX_CONNECTIONS`), behind the shared
/// layers (request ids, the request timeout, metrics, problem documents), so that a port
/// meant for the orchestrator is no softer a target than the API's. It has no CORS and no
/// in-flight limit: no browser calls it, and the probes are never shed. Its routes are the
/// operations routes, whose `/readyz` adds the delivery loop to the backing services.
#[derive(Debug)]
pub struct StandaloneWorker {
    jobs: Arc<Jobs>,
    settings: WorkerConfig,
    metrics: WorkerMetrics,
    listener: TcpListener,
    routes: Router,
    connections: HttpConfig,
    connection_metrics: ConnectionMetrics,
}

impl StandaloneWorker {
    /// Binds `WORKER_HTTP_ADDR` (port 0 picks a free port; see
    /// [`StandaloneWorker::local_addr`]) and builds the probes over `jobs`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(jobs: Arc<Jobs>, config: &Config) -> anyhow::Result<Self> {
        let settings = config.worker.clone();
        let mut registry = Metrics::new();
        let metrics = WorkerMetrics::register(registry.registry_mut());
        let connection_metrics = ConnectionMetrics::register(registry.registry_mut());
        let registry = Arc::new(registry);
        let operations = driving_http::operations::router(
            readiness(jobs.clone(), metrics.clone(), stale_after(&settings)),
            registry.clone(),
        );
        // The probes are never shed: no in-flight limit.
        let layers = HttpSettings {
            request_timeout: config.http.request_timeout,
            cors_allowed_origins: Vec::new(),
            in_flight: None,
        };
        let routes = driving_http::with_layers(operations, &layers, registry);
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("cannot listen on WORKER_HTTP_ADDR={}", settings.http_addr))?;
        Ok(Self {
            jobs,
            settings,
            metrics,
            listener,
            routes,
            connections: HttpConfig {
                max_connections: config.worker.http_max_connections,
                ..config.http.clone()
            },
            connection_metrics,
        })
    }

    /// The address the probes listen on.
    ///
    /// # Errors
    /// When the operating system cannot say (practically never for a bound socket).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs the worker's loops and serves the probes until `shutdown` is cancelled; returns
    /// once both have stopped: the delivery in hand within `WORKER_DRAIN_TIMEOUT_SECS`, the
    /// probes' connections within `HTTP_DRAIN_TIMEOUT_SECS`, side by side.
    ///
    /// # Errors
    /// When the listener's address cannot be read, or its task panicked.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self {
            jobs,
            settings,
            metrics,
            listener,
            routes,
            connections,
            connection_metrics,
        } = self;
        tracing::info!(addr = %listener.local_addr()?, "worker probes and metrics listening");
        let http = tokio::spawn(server::serve(
            listener,
            routes,
            connections,
            connection_metrics,
            shutdown.clone(),
            CancellationToken::new(),
        ));
        run(jobs, settings, metrics, shutdown).await;
        http.await.context("the worker's HTTP listener panicked")
    }
}

/// How long the delivery loop may go without reaching the queue before the worker is not
/// ready: ten poll intervals and half a minute, so a slow claim is not taken for a stuck
/// loop.
fn stale_after(settings: &WorkerConfig) -> TimeDelta {
    TimeDelta::from_std(settings.poll_interval * 10 + Duration::from_secs(30))
        .unwrap_or(TimeDelta::MAX)
}

/// What the worker's `/readyz` reports: the backing services, as the API's does, and
/// `delivery`, up while the delivery loop reached the queue lately. A stuck loop is not
/// ready, whatever the services say.
fn readiness(jobs: Arc<Jobs>, metrics: WorkerMetrics, stale_after: TimeDelta) -> ReadinessCheck {
    Arc::new(move || {
        let (jobs, metrics) = (jobs.clone(), metrics.clone());
        Box::pin(async move {
            let report = jobs.readiness.execute().await;
            let looping = metrics.recently_ok(Utc::now(), stale_after);
            Readiness::new(
                report
                    .checks
                    .iter()
                    .map(|check| (check.name, check.up))
                    .chain([("delivery", looping)]),
            )
        })
    })
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
