//! End to end: a `log::info!` line written inside a span, through the `log` bridge and the
//! OTLP log exporter, reaches the real collector (rotel) carrying that span's trace and span
//! ids. One test per binary: the `log` crate's logger is process-wide.
#![cfg(all(feature = "grpc", feature = "http"))]

mod support;

use std::time::Duration;

use otlp_sdk::export::otlp::{OtlpLogExporter, Protocol};
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::logs::{LogBridge, LoggerProvider};
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::trace::TracerProvider;
use otlp_sdk::KeyValue;
use support::Rotel;

#[test]
fn log_lines_inside_a_span_reach_the_collector_with_its_ids() {
    let Some(rotel) = Rotel::start() else { return };
    let resource = Resource::new([KeyValue::new(SERVICE_NAME, "logs-e2e")]);
    let grpc = OtlpLogExporter::builder()
        .with_endpoint(rotel.grpc_endpoint())
        .with_protocol(Protocol::Grpc)
        .build()
        .unwrap();
    let http = OtlpLogExporter::builder()
        .with_endpoint(format!("{}/v1/logs", rotel.http_endpoint()))
        .with_protocol(Protocol::HttpProtobuf)
        .build()
        .unwrap();
    let (grpc_stats, http_stats) = (grpc.stats(), http.stats());
    let loggers = LoggerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(grpc)
        .with_batch_exporter(http)
        .build();
    LogBridge::new(&loggers)
        .install(log::LevelFilter::Info)
        .unwrap();
    let tracers = TracerProvider::builder()
        .with_resource(resource)
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let tracer = tracers.tracer("logs-e2e");
    let (trace_id, span_id) = {
        let span = tracer.start_as_current_span("my-operation");
        let cx = span.span_context().clone();
        log::info!("e2e-log-line inside my-operation");
        (cx.trace_id().to_string(), cx.span_id().to_string())
    };
    loggers.shutdown().unwrap();
    assert_eq!(grpc_stats.exported(), 1);
    assert_eq!(http_stats.exported(), 1);
    // Wait for both records and the lines rotel prints after each body (it writes a record
    // over several writes).
    let out = rotel.wait_for_settled(
        |o| o.matches("e2e-log-line inside my-operation").count() >= 2,
        Duration::from_secs(10),
    );
    if std::env::var("E2E_DEBUG").is_ok() {
        eprintln!("{out}");
    }
    // Each record's block carries the span's ids.
    for (at, _) in out.match_indices("e2e-log-line inside my-operation") {
        // rotel prints the record's body, attributes, then its ids.
        let block = &out[at..(at + 500).min(out.len())];
        assert!(
            block.contains(&format!("Trace ID       : {trace_id}")),
            "trace id {trace_id} missing after:\n{block}"
        );
        assert!(
            block.contains(&format!("Span ID        : {span_id}")),
            "span id {span_id} missing after:\n{block}"
        );
    }
}
