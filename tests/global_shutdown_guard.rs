//! The global shutdown guard flushes every global provider when dropped (one test per binary:
//! the providers are process-wide).

use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::logs::{InMemoryLogExporter, LogRecord, LoggerProvider};
use otlp_sdk::metrics::{InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader};
use otlp_sdk::trace::TracerProvider;
use otlp_sdk::{diagnostics, global, SdkError};
use std::sync::{Arc, Mutex};

#[test]
fn dropping_the_guard_flushes_and_shuts_down_all_global_providers() {
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let logs = InMemoryLogExporter::default();
    let tracer_provider = TracerProvider::builder()
        .with_batch_exporter(spans.clone())
        .build();
    let meter_provider = MeterProvider::builder()
        .with_reader(PeriodicExportingMetricReader::builder(metrics.clone()).build())
        .build();
    let logger_provider = LoggerProvider::builder()
        .with_batch_exporter(logs.clone())
        .build();
    global::set_tracer_provider(tracer_provider.clone());
    global::set_meter_provider(meter_provider.clone());
    global::set_logger_provider(logger_provider.clone());
    {
        let _guard = global::shutdown_guard();
        global::tracer("t").start("queued").end();
        global::meter("m").u64_counter("c").build().add(1, &[]);
        global::logger("l").emit(LogRecord::new().with_body("bye"));
        // Nothing exported yet: the batch processors and the reader are waiting.
        assert!(spans.finished_spans().is_empty());
    }
    assert_eq!(spans.finished_spans().len(), 1);
    assert!(!metrics.exported().is_empty());
    assert_eq!(logs.emitted_logs().len(), 1);
    assert_eq!(tracer_provider.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(meter_provider.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(logger_provider.shutdown(), Err(SdkError::AlreadyShutdown));

    // As the guide does: shut down in `main`, with the guard still held. The guard then
    // finds the providers shut down, which is not worth a diagnostic.
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let reported = Arc::clone(&reported);
        diagnostics::set_error_handler(move |m| reported.lock().unwrap().push(m.to_string()));
    }
    let provider = TracerProvider::builder().build();
    global::set_tracer_provider(provider.clone());
    {
        let _guard = global::shutdown_guard();
        provider.shutdown().unwrap();
    }
    diagnostics::reset_error_handler();
    assert!(
        reported.lock().unwrap().is_empty(),
        "{:?}",
        reported.lock().unwrap()
    );
}
