//! The W3C trace context (`traceparent`, `tracestate`) across the boundaries a change
//! crosses: into a request, onto its outbox row, through the worker, into the Redis stream
//! entry, and out to the webhook.
//!
//! Spans themselves are `tracing` spans everywhere in this project; the `tracing-opentelemetry`
//! layer, installed by the composition root when an OTLP endpoint is configured, turns them
//! into OpenTelemetry spans. What `tracing` cannot say is "this span continues a trace that
//! came from outside" and "this span follows from that one, which ended long ago in another
//! process". Those two, and turning the current span into text that can be stored, are this
//! crate. With no OpenTelemetry layer installed, each function does nothing and costs a
//! lookup.
//!
//! A delivery is *linked* to the request that wrote its event, never its child: it may
//! happen much later, after retries, in another process, and a trace that waited an hour for
//! its last span would be useless to read.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicBool, Ordering},
};

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (and map key) of the W3C trace context's parent.
pub const TRACEPARENT: &str = "traceparent";
/// The header (and map key) of the W3C trace context's vendor state.
pub const TRACESTATE: &str = "tracestate";

/// Whether spans are exported: set once, at start-up, by whoever installs the
/// OpenTelemetry layer.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Says that an OpenTelemetry layer is installed and spans are exported. Until this is
/// called, every function here returns at once, and [`exporting`] is `false`: a process
/// that exports nothing pays nothing for traces.
pub fn enable() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// Whether spans are exported. Adapters ask before doing work only a trace needs, such as
/// formatting a span name for the trace view.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The longest `tracestate` adopted from a caller, in bytes. The W3C recommendation asks
/// that at least 512 characters be passed on; a longer one is dropped (the `traceparent`
/// is still continued). Without a cap, a caller's 8 KiB header would ride on every span of
/// its trace, and enough of them would push an export batch past the collector's 4 MiB
/// message limit, losing every span in it.
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// Whether `value` is a `traceparent` as the W3C recommendation writes one: a two-digit
/// version (never `ff`), a 32-digit trace id and a 16-digit parent id, and two flag digits,
/// all lower-case hex, joined by dashes. A later version may append `-` and more fields;
/// version `00` may not. The propagator parses numbers with Rust's integer parsing, which
/// also takes a leading `+`; this check comes first, so nothing looser gets through.
pub fn well_formed(value: &str) -> bool {
    let bytes = value.as_bytes();
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let fields_ok = bytes.len() >= 55
        && [2, 35, 52].iter().all(|&i| bytes[i] == b'-')
        && bytes[..55]
            .iter()
            .enumerate()
            .all(|(i, b)| matches!(i, 2 | 35 | 52) || lower_hex(b));
    let version = value.get(..2);
    fields_ok
        && version != Some("ff")
        && (bytes.len() == 55 || (version != Some("00") && bytes[55] == b'-'))
}

/// What a caller sent, as the propagator may read it: a `traceparent` only when
/// [`well_formed`], a `tracestate` only up to [`MAX_TRACESTATE_BYTES`].
struct Checked<'a>(&'a dyn Extractor);

impl Extractor for Checked<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?;
        match key {
            TRACEPARENT => well_formed(value).then_some(value),
            TRACESTATE => (value.len() <= MAX_TRACESTATE_BYTES).then_some(value),
            _ => Some(value),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}

/// The remote context `get` describes, if it holds a valid one.
fn extract(get: &dyn Extractor) -> Option<Context> {
    let cx = TraceContextPropagator::new().extract(&Checked(get));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Whether `cx` names a span that is recorded and exported. A caller may ask for its trace
/// not to be sampled (flags `00`), and the default sampler (`parentbased_always_on`)
/// honours that: such a trace leaves nothing to find, so nothing points at it.
fn sampled(cx: &Context) -> bool {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid() && sc.is_sampled()
}

/// Makes `span` continue the caller's trace named by the W3C headers in `headers`, if they
/// name one. Call before anything is recorded in `span`: a span that has started keeps its
/// parent. Headers that do not parse are ignored, as the W3C recommendation asks: the span
/// starts a trace of its own.
pub fn continue_from_headers(span: &Span, headers: &http::HeaderMap) {
    if !exporting() {
        return;
    }
    if let Some(cx) = extract(&Headers(headers)) {
        let _ = span.set_parent(cx);
    }
}

/// Like [`continue_from_headers`], from a `traceparent` and `tracestate` given some other
/// way (a WebSocket's `connection_init` payload).
pub fn continue_from(span: &Span, traceparent: &str, tracestate: Option<&str>) {
    if !exporting() {
        return;
    }
    let mut map = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    if let Some(state) = tracestate {
        map.insert(TRACESTATE.to_owned(), state.to_owned());
    }
    if let Some(cx) = extract(&map) {
        let _ = span.set_parent(cx);
    }
}

/// The current span's context as a `traceparent`, to store with what it caused (an outbox
/// row, a stream entry). `None` when there is no sampled trace (no OpenTelemetry layer,
/// outside any span, or a trace its caller asked not to sample).
pub fn current() -> Option<String> {
    if !exporting() {
        return None;
    }
    let cx = Span::current().context();
    if !sampled(&cx) {
        return None;
    }
    let mut map = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut map);
    map.remove(TRACEPARENT)
}

/// Links `span` to the span `traceparent` names: "follows from", not "child of". Call
/// before anything is recorded in `span`. A `traceparent` that does not parse is ignored.
pub fn link(span: &Span, traceparent: &str) {
    if !exporting() {
        return;
    }
    let map = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    if let Some(cx) = extract(&map) {
        span.add_link(cx.span().span_context().clone());
    }
}

/// Adds the current span's `traceparent` (and `tracestate`) to `headers`, for a request
/// that should continue the trace on the other side (the reminder webhook). Nothing when
/// the current span is not sampled.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    if !exporting() {
        return;
    }
    let cx = Span::current().context();
    if sampled(&cx) {
        TraceContextPropagator::new().inject_context(&cx, &mut HeadersMut(headers));
    }
}

/// The current span's trace id and span id, as lower-case hex: for a log line to join its
/// trace. `None` outside a sampled span (a line that named a trace no one can find would
/// send its reader looking for nothing).
pub fn current_ids() -> Option<(String, String)> {
    if !exporting() {
        return None;
    }
    let cx = Span::current().context();
    if !sampled(&cx) {
        return None;
    }
    let span = cx.span();
    let sc = span.span_context();
    Some((sc.trace_id().to_string(), sc.span_id().to_string()))
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` says nothing: no header rather than an empty one.
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn traced<T>(f: impl FnOnce() -> T) -> T {
        enable();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    #[test]
    fn a_span_continues_the_callers_trace_and_its_context_travels_as_text() {
        traced(|| {
            let mut headers = http::HeaderMap::new();
            headers.insert(TRACEPARENT, CALLER.parse().unwrap());
            let span = tracing::info_span!("request");
            continue_from_headers(&span, &headers);
            let carried = span.in_scope(current).unwrap();
            assert!(
                carried.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "{carried}"
            );
            assert!(!carried.contains("00f067aa0ba902b7"), "a span of its own");
            let (trace, _) = span.in_scope(current_ids).unwrap();
            assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");

            let mut out = http::HeaderMap::new();
            span.in_scope(|| inject_headers(&mut out));
            assert_eq!(out[TRACEPARENT], carried.as_str());
        });
    }

    #[test]
    fn only_a_traceparent_written_as_the_recommendation_writes_it_is_well_formed() {
        assert!(well_formed(CALLER));
        assert!(well_formed(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later-fields"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b-01",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_loose_traceparent_starts_a_trace_of_its_own() {
        traced(|| {
            let span = tracing::info_span!("request");
            continue_from(
                &span,
                "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            );
            let (trace, _) = span.in_scope(current_ids).unwrap();
            assert!(
                !trace.ends_with("bf92f3577b34da6a3ce929d0e0e4736"),
                "{trace}"
            );
        });
    }

    #[test]
    fn a_short_tracestate_travels_on_and_a_long_one_is_dropped_but_the_trace_continued() {
        traced(|| {
            let short = "vendor=abc,other=def";
            let span = tracing::info_span!("request");
            continue_from(&span, CALLER, Some(short));
            let mut out = http::HeaderMap::new();
            span.in_scope(|| inject_headers(&mut out));
            assert_eq!(out[TRACESTATE], short);

            let long = format!("vendor={}", "a".repeat(MAX_TRACESTATE_BYTES));
            let span = tracing::info_span!("request");
            continue_from(&span, CALLER, Some(&long));
            let mut out = http::HeaderMap::new();
            span.in_scope(|| inject_headers(&mut out));
            assert!(out.get(TRACESTATE).is_none(), "{out:?}");
            let (trace, _) = span.in_scope(current_ids).unwrap();
            assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        });
    }

    #[test]
    fn a_trace_its_caller_did_not_sample_is_neither_carried_nor_named_in_logs() {
        traced(|| {
            let span = tracing::info_span!("request");
            continue_from(
                &span,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                None,
            );
            assert_eq!(span.in_scope(current), None);
            assert_eq!(span.in_scope(current_ids), None);
            let mut out = http::HeaderMap::new();
            span.in_scope(|| inject_headers(&mut out));
            assert!(out.is_empty(), "{out:?}");
        });
    }

    #[test]
    fn garbage_starts_a_trace_of_its_own_and_nothing_outside_a_trace_is_carried() {
        traced(|| {
            let span = tracing::info_span!("request");
            continue_from(&span, "00-not-a-trace-01", None);
            let (trace, _) = span.in_scope(current_ids).unwrap();
            assert_ne!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(current(), None, "outside any span");
        });
        assert_eq!(current(), None, "no OpenTelemetry layer");
    }
}
