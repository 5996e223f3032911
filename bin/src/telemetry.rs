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
//! `trace_id` and `span_id`, so a log search and a trace view join.

use std::fmt;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{
    Resource,
    trace::{SdkTracerProvider, span_processor_with_async_runtime},
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

    /// Sends the spans still buffered and stops the exporter; waits for it on a blocking
    /// thread, as the SDK's batch processor asks.
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(error)) = flushed {
                eprintln!("could not flush the last traces: {error}");
            }
        }
    }
}

/// Installs the global tracing subscriber: `filter` (an env-filter directive such as
/// `info,sqlx=warn`) decides what is logged, `format` how it is written. Logs go to
/// stderr, so stdout stays free for command output such as `config`. Traces go to the
/// OTLP endpoint, when one is configured (see the module docs). Call inside the Tokio
/// runtime: the exporter's connection lives on it.
///
/// Tests do not call this, so they log nothing unless they install a subscriber of their own.
///
/// # Errors
/// When `filter` does not parse, the OTLP settings are invalid, or a subscriber is already
/// installed.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<Telemetry> {
    let traces = tracer_provider()?;
    // The port calls' spans (target `ports`, DEBUG) are worth recording only when they
    // are exported; unless RUST_LOG says otherwise about them, they are on exactly then.
    // One filter for everything: what RUST_LOG keeps is what is logged and traced.
    let directives = if traces.is_some() && !filter.contains(PORT_SPANS) {
        format!("{filter},{PORT_SPANS}=debug")
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
        exporter,
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
