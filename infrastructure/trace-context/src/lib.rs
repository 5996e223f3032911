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

/// The remote context `get` describes, if it holds a valid one.
fn extract(get: &dyn Extractor) -> Option<Context> {
    let cx = TraceContextPropagator::new().extract(get);
    cx.span().span_context().is_valid().then_some(cx)
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
/// row, a stream entry). `None` when there is no sampled trace (no OpenTelemetry layer, or
/// outside any span).
pub fn current() -> Option<String> {
    if !exporting() {
        return None;
    }
    let cx = Span::current().context();
    if !cx.span().span_context().is_valid() {
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
/// that should continue the trace on the other side (the reminder webhook).
pub fn inject_headers(headers: &mut http::HeaderMap) {
    if !exporting() {
        return;
    }
    let cx = Span::current().context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut HeadersMut(headers));
    }
}

/// The current span's trace id and span id, as lower-case hex: for a log line to join its
/// trace. `None` outside a span that OpenTelemetry knows.
pub fn current_ids() -> Option<(String, String)> {
    if !exporting() {
        return None;
    }
    let cx = Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
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
