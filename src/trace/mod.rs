//! Traces: the guide's whole trace API.
//!
//! | Python guide | otlp-sdk |
//! |---|---|
//! | `TracerProvider(resource=resource)` | [`TracerProvider::builder`]`().with_resource(resource)` |
//! | `provider.add_span_processor(BatchSpanProcessor(exporter))` | `.with_batch_exporter(exporter)` / `.with_span_processor(BatchSpanProcessor::new(exporter))` |
//! | `trace.set_tracer_provider(provider)` | [`global::set_tracer_provider`](crate::global::set_tracer_provider) |
//! | `trace.get_tracer("my.tracer.name")` | [`global::tracer`](crate::global::tracer)`("my.tracer.name")` |
//! | `with tracer.start_as_current_span("x") as span:` | `let span = tracer.start_as_current_span("x");` |
//! | `@tracer.start_as_current_span("x")` | `#[otlp_sdk::traced("x")]` |
//! | `span.set_attribute(k, v)` / `span.add_event(name)` | [`SpanHandle::set_attribute`] / [`SpanHandle::add_event`] |
//! | `span.set_status(Status(StatusCode.ERROR))` | `span.set_status(Status::error(""))` |
//! | `span.record_exception(e)` | `span.record_exception(&e)` |
//! | `trace.get_current_span().get_span_context()` | [`get_current_span`]`().span_context()` |
//!
//! ```
//! use otlp_sdk::trace::{get_current_span, Status, TracerProvider};
//! use otlp_sdk::export::ConsoleSpanExporter;
//!
//! let provider = TracerProvider::builder()
//!     .with_batch_exporter(ConsoleSpanExporter::default())
//!     .build();
//! let tracer = provider.tracer("my.tracer.name");
//! {
//!     let span = tracer.start_as_current_span("span.name");
//!     span.set_attribute("operation.value", 1);
//!     span.add_event("Starting some work", []);
//!     let cx = get_current_span().span_context().clone();
//!     assert_eq!(cx.trace_id().to_string().len(), 32);
//!     span.set_status(Status::error(""));
//! }
//! provider.shutdown().unwrap();
//! ```

pub(crate) mod id;
mod id_generator;
mod limits;
mod pool;
mod processor;
mod provider;
mod sampler;
pub(crate) mod span;
mod span_data;
pub(crate) mod span_rc;
pub(crate) mod traced;
mod tracer;

pub use id::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, TraceStateError};
pub use id_generator::{IdGenerator, RandomIdGenerator};
pub use limits::SpanLimits;
pub use processor::{BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanProcessor};
pub use provider::{TracerProvider, TracerProviderBuilder};
pub use sampler::{ParentBased, Sampler, SamplingDecision, SamplingResult, ShouldSample};
pub use span::{Span, SpanHandle};
pub use span_data::{Event, Link, SpanData, SpanKind, Status};
pub use tracer::{SpanBuilder, SpanGuard, Tracer};

use crate::context::Context;

/// The current span of this thread (a non-recording handle with an invalid context when there
/// is none), as Python's `trace.get_current_span()`.
pub fn get_current_span() -> SpanHandle {
    Context::map_current(|cx| cx.span())
}
