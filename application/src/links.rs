//! Span links: how a span is tied to one that ended long ago, perhaps in another process.
//!
//! The worker's delivery of an event follows from the request that made the change, and a
//! subscriber's delivery follows from the worker's publish. Neither is a child of the
//! other: it may happen much later, after retries, elsewhere. Tracing systems call that a
//! link. The use cases name the moment and the two ends; what a link is belongs to the
//! tracing system, which the composition root supplies (OpenTelemetry, through the
//! `trace-context` crate). The application knows `tracing` spans and nothing more.

use tracing::Span;

/// Links spans to the spans that W3C trace contexts name.
pub trait SpanLinks: Send + Sync {
    /// Links `span` to the span that `trace_parent` (a W3C `traceparent`) names: "follows
    /// from", not "child of".
    fn link(&self, span: &Span, trace_parent: &str);
}
