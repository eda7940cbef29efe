//! Logs: the OpenTelemetry logs SDK, and bridges from Rust's logging facades.
//!
//! Applications keep logging through the [`log`] crate (or `tracing`, with the `tracing`
//! feature); a bridge turns each line into a [`LogRecord`] that carries the trace id and span
//! id of the span current when it was written, so a backend can show a trace's logs.
//!
//! | Python | otlp-sdk |
//! |---|---|
//! | `LoggerProvider(resource=resource)` | [`LoggerProvider::builder`]`().with_resource(resource)` |
//! | `provider.add_log_record_processor(BatchLogRecordProcessor(exporter))` | `.with_batch_exporter(exporter)` |
//! | `set_logger_provider(provider)` | [`global::set_logger_provider`](crate::global::set_logger_provider) |
//! | `logging.getLogger().addHandler(LoggingHandler(...))` | [`LogBridge::new`]`(&provider).install(level)` |
//!
//! ```
//! use otlp_sdk::logs::{InMemoryLogExporter, LogBridge, LoggerProvider};
//! use otlp_sdk::trace::TracerProvider;
//!
//! let logs = InMemoryLogExporter::default();
//! let logger_provider = LoggerProvider::builder().with_batch_exporter(logs.clone()).build();
//! LogBridge::new(&logger_provider).install(log::LevelFilter::Info).unwrap();
//!
//! let tracer = TracerProvider::default().tracer("my.tracer.name");
//! let trace_id = {
//!     let span = tracer.start_as_current_span("my-operation");
//!     log::info!("doing some work");
//!     span.span_context().trace_id()
//! };
//! logger_provider.shutdown().unwrap();
//! assert_eq!(logs.emitted_logs()[0].record.trace_id, trace_id);
//! ```
//!
//! Records flow like spans: [`Logger::emit`] → the [`LogProcessor`]s ([`BatchLogProcessor`]
//! on the shared lock-free [`pipeline`](crate::pipeline), or [`SimpleLogProcessor`]) → a
//! [`LogExporter`] (console, in-memory, OTLP).

mod bridge_log;
#[cfg(feature = "tracing")]
mod bridge_tracing;
mod exporter;
mod limits;
mod logger;
pub(crate) mod otlp;
mod pool;
mod processor;
mod provider;
mod record;

pub use bridge_log::LogBridge;
#[cfg(feature = "tracing")]
pub use bridge_tracing::TracingLayer;
pub use exporter::{ConsoleLogExporter, InMemoryLogExporter, LogExporter};
pub use limits::LogLimits;
pub use logger::Logger;
pub use processor::{BatchLogProcessor, LogProcessor, SimpleLogProcessor};
pub use provider::{LoggerProvider, LoggerProviderBuilder};
pub use record::{AnyValue, LogData, LogRecord, SeverityNumber};
