//! The worker's use cases, built over the same adapters as the API's.

use std::sync::Arc;

use anyhow::Context;
use application::{
    jobs::{DeliverJobs, EnqueueReminders, Housekeeping, ListDeadJobs, RetryDeadJob, RetryPolicy},
    readiness::CheckReadiness,
};
use domain::ports::{
    Clock, EventPublisher, IdGenerator, IdempotencyRecords, JobQueue, JobSignal, Notifier,
    ReadinessProbe, ScheduleLedger, TodoRepository, UnitOfWork,
};
use driven_memory::MemoryEventBus;

use super::OpenTelemetryLinks;
use crate::config::Config;

/// The worker's use cases, over the same adapters as the rest.
pub struct Jobs {
    /// Delivers outbox jobs.
    pub deliver: DeliverJobs,
    /// The periodic reminder job.
    pub reminders: EnqueueReminders,
    /// The periodic housekeeping job.
    pub housekeeping: Housekeeping,
    /// `backend jobs dead`.
    pub list_dead: ListDeadJobs,
    /// `backend jobs retry`.
    pub retry_dead: RetryDeadJob,
    /// The queue itself, for the backlog metrics.
    pub queue: Arc<dyn JobQueue>,
    /// What wakes the delivery loop when jobs are recorded.
    pub signal: Arc<dyn JobSignal>,
    /// The worker's readiness: the same backing services as the API's.
    pub readiness: CheckReadiness,
    /// The in-process event bus, when events are not published to Redis: what a
    /// subscriber in this process listens to.
    pub event_bus: Option<MemoryEventBus>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("deliver", &self.deliver)
            .field("event_bus", &self.event_bus.is_some())
            .finish_non_exhaustive()
    }
}

/// The adapters the worker's use cases are built from.
pub(super) struct JobPorts {
    pub(super) todos: Arc<dyn TodoRepository>,
    pub(super) unit_of_work: Arc<dyn UnitOfWork>,
    pub(super) idempotency: Arc<dyn IdempotencyRecords>,
    pub(super) queue: Arc<dyn JobQueue>,
    pub(super) signal: Arc<dyn JobSignal>,
    pub(super) ledger: Arc<dyn ScheduleLedger>,
    pub(super) publisher: Arc<dyn EventPublisher>,
    pub(super) notifier: Arc<dyn Notifier>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ids: Arc<dyn IdGenerator>,
    pub(super) probes: Vec<Arc<dyn ReadinessProbe>>,
}

impl Jobs {
    pub(super) fn new(
        config: &Config,
        ports: JobPorts,
        event_bus: Option<MemoryEventBus>,
    ) -> anyhow::Result<Self> {
        let worker = &config.worker;
        let delta = |d: std::time::Duration, var: &str| {
            chrono::TimeDelta::from_std(d).with_context(|| format!("{var} is too large"))
        };
        Ok(Self {
            deliver: DeliverJobs::new(
                ports.queue.clone(),
                ports.publisher,
                ports.notifier,
                ports.clock.clone(),
                RetryPolicy {
                    max_attempts: worker.max_attempts,
                    base_delay: worker.backoff_base,
                    max_delay: worker.backoff_max,
                },
                worker.lease,
                worker.batch_size,
            )
            .context("WORKER_LEASE_SECS is too short for the deliveries")?
            .with_span_links(Arc::new(OpenTelemetryLinks)),
            reminders: EnqueueReminders::new(
                ports.todos,
                ports.unit_of_work,
                ports.ledger.clone(),
                ports.ids,
                delta(worker.reminder_window, "REMINDER_WINDOW_MINUTES")?,
                delta(worker.retention, "OUTBOX_RETENTION_HOURS")?,
            ),
            housekeeping: Housekeeping::new(
                ports.queue.clone(),
                ports.ledger,
                ports.idempotency,
                delta(worker.retention, "OUTBOX_RETENTION_HOURS")?,
                delta(config.idempotency_key_ttl, "IDEMPOTENCY_KEY_TTL_HOURS")?,
            ),
            list_dead: ListDeadJobs::new(ports.queue.clone()),
            retry_dead: RetryDeadJob::new(ports.queue.clone(), ports.clock),
            queue: ports.queue,
            signal: ports.signal,
            readiness: CheckReadiness::new(ports.probes),
            event_bus,
        })
    }
}
