//! Exporters: where finished telemetry goes.
//!
//! - [`ConsoleSpanExporter`]: human-readable JSON on stdout, one block per span (like the
//!   Python guide's `ConsoleSpanExporter`).
//! - [`InMemorySpanExporter`]: keeps spans in memory, for tests.
//! - [`otlp`]: OTLP over gRPC and HTTP (cargo features `grpc` and `http`).

pub(crate) mod console;
mod memory;
pub(crate) mod reentry;

pub use console::ConsoleSpanExporter;
pub use memory::InMemorySpanExporter;
pub mod otlp;
