//! # otlp-sdk
//!
//! A fast, simple OpenTelemetry SDK for Rust: traces, metrics and logs, exported over OTLP
//! (gRPC and HTTP). One crate, no async runtime required, and the calls of the OpenTelemetry
//! Python guide, in idiomatic Rust.
//!
//! ```
//! use otlp_sdk::export::ConsoleSpanExporter;
//! use otlp_sdk::resource::{Resource, SERVICE_NAME};
//! use otlp_sdk::trace::TracerProvider;
//! use otlp_sdk::{global, KeyValue};
//!
//! let resource = Resource::new([KeyValue::new(SERVICE_NAME, "my.service.name")]);
//! let provider = TracerProvider::builder()
//!     .with_resource(resource)
//!     .with_batch_exporter(ConsoleSpanExporter::default())
//!     .build();
//! global::set_tracer_provider(provider.clone());
//! let tracer = global::tracer("my.tracer.name");
//! {
//!     let span = tracer.start_as_current_span("span.name");
//!     span.set_attribute("operation.value", 1);
//! }
//! provider.shutdown().unwrap();
//! ```
//!
//! ## Modules
//! - [`trace`]: tracer provider, tracers, spans, samplers, processors.
//! - [`metrics`]: meter provider, meters, instruments, views, readers, metric exporters.
//! - [`context`]: the current context, and carrying it across `.await` and tasks.
//! - [`logs`]: logger provider, log records, and bridges from the `log` and `tracing` crates.
//! - [`propagation`]: W3C trace context and baggage headers across process boundaries.
//! - [`baggage`]: name/value pairs carried in the context.
//! - [`resource`]: the entity producing telemetry.
//! - [`export`]: console, in-memory and OTLP exporters.
//! - [`pipeline`]: the lock-free batch pipeline's settings and counters.
//! - [`global`]: process-wide providers.
//! - [`semconv`]: semantic-convention attribute names.
//! - [`diagnostics`]: the SDK's own error reporting.
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![deny(unsafe_op_in_unsafe_fn)]

mod attributes;
pub mod baggage;
pub mod context;
pub mod diagnostics;
mod env;
mod error;
pub mod export;
pub mod global;
pub mod logs;
pub mod metrics;
pub mod pipeline;
pub mod propagation;
pub mod proto;
pub mod resource;
mod scope;
pub mod semconv;
mod slot;
mod time;
pub mod trace;

pub use attributes::{Array, ArraySlice, Key, KeyValue, StringValue, Value};
pub use error::{ConfigError, ConfigErrorKind, SdkError, SdkResult};
pub use otlp_sdk_macros::traced;
pub use scope::{InstrumentationScope, ScopeBuilder};
pub use time::from_unix_nanos;

/// The README's Rust examples, compiled and run as doctests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    //! Used by the `#[traced]` macro; not a public API.
    pub use crate::context::FutureExt;
    pub use crate::trace::traced::{
        record_error, Description, EndOnDrop, ErrWrap, ViaBoxedError, ViaDebug, ViaDisplay,
        ViaError, ViaType,
    };
}
