//! Logging and tracing: one subscriber for the whole process, set up by `main`.
//!
//! One filter, `RUST_LOG`, and two outputs:
//!
//! - **logs** to stderr, as text or JSON (`LOG_FORMAT`);
//! - **traces** to an OpenTelemetry collector over OTLP/gRPC, when
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. The
//!   SDK reads the rest of the standard variables itself: `OTEL_SERVICE_NAME` (default
//!   `todo-backend` here), `OTEL_TRACES_SAMPLER` and its `_ARG`, `OTEL_RESOURCE_ATTRIBUTES`,
//!   `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT`, `OTEL_BSP_*`. The spans of requests and
//!   use cases (INFO) are exported, and those of the Postgres, Redis and webhook calls
//!   under them (target `ports`, DEBUG), which only an exporter turns on.
//!
//! (One filter rather than one per output: with a filter per layer, spans of the worker's
//! loop lost their parents in the exported traces.)
//!
//! With no endpoint, no OpenTelemetry layer is installed at all: nothing is exported and no
//! span pays for it. With one, every log line written inside a span carries that span's
//! `trace_id` and `span_id`, so a log search and a trace view join. Only the commands that
//! run until stopped (`serve`, `worker`) export; a one-shot command never waits on a
//! collector.
//!
//! A collector that is down or slow costs spans, never the service: a batch that cannot be
//! sent is dropped, with a warning at most once a minute (and a line when export works
//! again), and at exit the last spans get [`FLUSH_GRACE`] before the process leaves
//! without them.

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SdkTracerProvider, SpanData, SpanExporter, span_processor_with_async_runtime},
};
use tracing::{Event, Subscriber};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{self, Writer},
    },
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// The target of the spans around each Postgres, Redis and webhook call.
const PORT_SPANS: &str = "ports";

/// The service name traces carry when `OTEL_SERVICE_NAME` does not say.
const SERVICE_NAME: &str = "todo-backend";

/// How long the process waits, at exit, for the collector to take the last spans. The SDK's
/// own shutdown ignores its timeout and waits for every batch's export (up to
/// `OTEL_EXPORTER_OTLP_TIMEOUT` each), which against a collector that accepts connections
/// and never answers held an exit for over a minute: longer than any orchestrator's grace.
pub const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// The least time between two warnings that export fails.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The HTTP/2 and gRPC stack's crates. The exporter's own requests run through them, so
/// their DEBUG and TRACE spans, exported, would make more exports: with an exporter, they
/// are kept at INFO unless `RUST_LOG` names them.
const EXPORT_STACK: [&str; 5] = ["h2", "hyper", "hyper_util", "tonic", "tower"];

/// What `init` started: flush it before the process exits.
#[derive(Debug)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn exports_traces(&self) -> bool {
        self.traces.is_some()
    }

    /// Sends the spans still buffered and stops the exporter, waiting at most
    /// [`FLUSH_GRACE`]. The SDK's shutdown blocks, so it runs on a thread of its own; not
    /// on Tokio's blocking pool, whose threads the runtime waits for when `main` returns,
    /// which would give the grace back to a collector that does not answer.
    pub async fn shutdown(self) {
        let Some(provider) = self.traces else {
            return;
        };
        let (done, flushed) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("trace-flush".into())
            .spawn(move || {
                let _ = done.send(provider.shutdown());
            });
        if let Err(error) = spawned {
            eprintln!("could not flush the last traces: {error}");
            return;
        }
        match tokio::time::timeout(FLUSH_GRACE, flushed).await {
            Ok(Ok(Ok(()))) | Ok(Err(_)) => {}
            Ok(Ok(Err(error))) => eprintln!("could not flush the last traces: {error}"),
            Err(_) => eprintln!(
                "the trace collector did not take the last spans within {}s; they are dropped",
                FLUSH_GRACE.as_secs()
            ),
        }
    }
}

/// Installs the global tracing subscriber: `filter` (an env-filter directive such as
/// `info,sqlx=warn`) decides what is logged, `format` how it is written. Logs go to
/// stderr, so stdout stays free for command output such as `config`. Traces go to the
/// OTLP endpoint when `traced` and one is configured (see the module docs). Call inside
/// the Tokio runtime: the exporter's connection lives on it.
///
/// Tests do not call this, so they log nothing unless they install a subscriber of their own.
///
/// # Errors
/// When `filter` does not parse, the OTLP settings are invalid, or a subscriber is already
/// installed.
pub fn init(format: LogFormat, filter: &str, traced: bool) -> anyhow::Result<Telemetry> {
    let traces = if traced { tracer_provider()? } else { None };
    // One filter for everything: what RUST_LOG keeps is what is logged and traced.
    let directives = if traces.is_some() {
        exported_directives(filter)
    } else {
        filter.to_owned()
    };
    let filter = EnvFilter::try_new(&directives)
        .map_err(|e| anyhow::anyhow!("invalid RUST_LOG={filter:?}: {e}"))?;
    let otel = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(SERVICE_NAME))
            // Parents from the `tracing` span tree, not from OpenTelemetry's thread-local
            // context, which a future that moves between Tokio's threads does not keep.
            .with_context_activation(false)
    });
    if otel.is_some() {
        trace_context::enable();
    }
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    match format {
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .event_format(WithTraceIds(format::Format::default())),
            )
            .try_init()?,
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .event_format(WithTraceIds(
                        format::Format::default()
                            .json()
                            .flatten_event(true)
                            .with_current_span(true),
                    )),
            )
            .try_init()?,
    }
    Ok(Telemetry { traces })
}

/// `filter` with what an exporter changes: the port calls' spans (target `ports`, DEBUG),
/// worth recording only when they are exported, turned on; the exporter's own stack
/// ([`EXPORT_STACK`]) kept at INFO. Either only where `filter` says nothing about them.
fn exported_directives(filter: &str) -> String {
    let named = |target: &str| {
        filter
            .split(',')
            .any(|d| d.trim().split(['=', '[']).next() == Some(target))
    };
    let mut directives = filter.to_owned();
    if !named(PORT_SPANS) {
        directives.push_str(&format!(",{PORT_SPANS}=debug"));
    }
    for target in EXPORT_STACK.iter().filter(|t| !named(t)) {
        directives.push_str(&format!(",{target}=info"));
    }
    directives
}

/// The value of `name` when set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The tracer provider the `OTEL_*` variables ask for, or `None` when they ask for none.
fn tracer_provider() -> anyhow::Result<Option<SdkTracerProvider>> {
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .is_some();
    if disabled || !endpoint {
        return Ok(None);
    }
    let protocol =
        var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(protocol) = protocol.filter(|p| p != "grpc") {
        anyhow::bail!(
            "invalid OTEL_EXPORTER_OTLP_PROTOCOL={protocol:?}: this build exports over grpc only"
        );
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .context("invalid OTLP exporter settings (OTEL_EXPORTER_OTLP_*)")?;
    let mut resource = Resource::builder();
    if var("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    // Exported from a task on the Tokio runtime rather than the SDK's own thread: tonic's
    // channel is driven by the runtime it was made on.
    let batches = span_processor_with_async_runtime::BatchSpanProcessor::builder(
        Reported::new(exporter),
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_span_processor(batches)
            .with_resource(resource.build())
            .build(),
    ))
}

/// An exporter that says when `E` fails: the SDK drops a batch it could not send without a
/// word. A warning at most every [`WARN_EVERY`], with the spans lost since the last one,
/// and a line when a batch goes through again. The lines are written outside any span, so
/// they are logged and never exported themselves.
#[derive(Debug)]
struct Reported<E> {
    inner: E,
    failures: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    /// Whether the last batch failed.
    failing: bool,
    /// Spans lost since the last warning.
    lost: usize,
    /// When the last warning was written.
    warned: Option<Instant>,
}

impl<E> Reported<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        // A poisoned lock only means a log line panicked: the counts are still counts.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records how a batch of `spans` went, and writes a line if one is due.
    fn record(&self, spans: usize, result: &OTelSdkResult) {
        let mut failures = self.failures();
        match result {
            Ok(()) if failures.failing => {
                let lost = failures.lost;
                *failures = Failures::default();
                drop(failures);
                tracing::info!(spans_lost = lost, "trace export works again");
            }
            Ok(()) => {}
            Err(error) => {
                failures.failing = true;
                failures.lost += spans;
                if failures.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    let lost = std::mem::take(&mut failures.lost);
                    failures.warned = Some(Instant::now());
                    drop(failures);
                    tracing::warn!(
                        %error,
                        spans_lost = lost,
                        "cannot export traces; their spans are dropped (warned at most once a minute)"
                    );
                }
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.record(spans, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An event format that adds the current span's `trace_id` and `span_id` to what `F`
/// writes: as two more fields of a JSON line, or in front of a text line. Lines outside a
/// traced span are written as `F` writes them.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = trace_context::current_ids() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_suffix("}\n") {
            // A JSON object: two more fields, before it closes. The ids are hex, so they
            // need no escaping.
            Some(open) if line.starts_with('{') => {
                writeln!(
                    writer,
                    "{open},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
                )
            }
            _ => write!(writer, "trace_id={trace_id} span_id={span_id} {line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use opentelemetry_sdk::error::OTelSdkError;

    use super::*;

    #[test]
    fn an_exporter_turns_on_the_port_spans_and_keeps_its_own_stack_quiet_unless_told() {
        assert_eq!(
            exported_directives("info"),
            "info,ports=debug,h2=info,hyper=info,hyper_util=info,tonic=info,tower=info"
        );
        assert_eq!(
            exported_directives("trace,ports=info,h2=trace,tower[span]=debug"),
            "trace,ports=info,h2=trace,tower[span]=debug,hyper=info,hyper_util=info,tonic=info"
        );
        // A target that only starts like one of them is not one of them.
        assert!(exported_directives("hyperion=debug").contains(",hyper=info"));
    }

    #[derive(Debug)]
    struct Accepting;

    impl SpanExporter for Accepting {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn failed_batches_are_counted_warned_about_once_a_minute_and_forgotten_when_export_works() {
        let reported = Reported::new(Accepting);
        let failed: OTelSdkResult = Err(OTelSdkError::InternalFailure("unreachable".into()));

        reported.record(3, &failed);
        let warned = reported.failures().warned.unwrap();
        assert_eq!(reported.failures().lost, 0, "the warning reported them");

        reported.record(4, &failed);
        reported.record(5, &failed);
        let failures = reported.failures();
        assert_eq!(
            failures.warned,
            Some(warned),
            "no second warning in a minute"
        );
        assert_eq!(failures.lost, 9, "counted for the next one");
        assert!(failures.failing);
        drop(failures);

        reported.record(6, &Ok(()));
        let failures = reported.failures();
        assert!(!failures.failing && failures.lost == 0 && failures.warned.is_none());
    }
}
