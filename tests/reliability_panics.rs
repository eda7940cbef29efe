//! A panicking exporter never unwinds into the application or stops the pipeline: simple
//! processors (which export on the calling thread), batch processors and the periodic
//! metric reader catch the panic, count the export as failed, and keep exporting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::logs::{LogData, LogExporter, LogRecord, LoggerProvider};
use otlp_sdk::metrics::ResourceMetrics;
use otlp_sdk::metrics::{MeterProvider, MetricExporter, PeriodicExportingMetricReader};
use otlp_sdk::trace::{SpanData, SpanExporter, TracerProvider};
use otlp_sdk::SdkResult;

/// Panics on every other call; counts the items of the calls that return.
#[derive(Debug, Clone, Default)]
struct Flaky {
    calls: Arc<AtomicU64>,
    exported: Arc<AtomicU64>,
}

impl Flaky {
    fn call(&self, items: usize) -> SdkResult {
        if self.calls.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
            panic!("flaky exporter");
        }
        self.exported.fetch_add(items as u64, Ordering::SeqCst);
        Ok(())
    }
}

impl SpanExporter for Flaky {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.call(batch.len())
    }
}

impl LogExporter for Flaky {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        self.call(batch.len())
    }
}

impl MetricExporter for Flaky {
    fn export(&mut self, _metrics: &ResourceMetrics) -> SdkResult {
        self.call(1)
    }
}

#[test]
fn simple_span_processor_survives_a_panicking_exporter() {
    let exporter = Flaky::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("panics");
    for _ in 0..4 {
        tracer.start("s").end();
    }
    // Every call reached the exporter (its lock was not poisoned); half of them panicked.
    assert_eq!(exporter.calls.load(Ordering::SeqCst), 4);
    assert_eq!(exporter.exported.load(Ordering::SeqCst), 2);
    provider.shutdown().unwrap();
}

#[test]
fn simple_log_processor_survives_a_panicking_exporter() {
    let exporter = Flaky::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let logger = provider.logger("panics");
    for _ in 0..4 {
        logger.emit(LogRecord::new().with_body("x"));
    }
    assert_eq!(exporter.calls.load(Ordering::SeqCst), 4);
    assert_eq!(exporter.exported.load(Ordering::SeqCst), 2);
    provider.shutdown().unwrap();
}

#[test]
fn batch_span_processor_counts_a_panicked_export_as_failed_and_goes_on() {
    let exporter = Flaky::default();
    let provider = TracerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("panics");
    tracer.start("first").end();
    let err = provider.force_flush().expect_err("the export panicked");
    assert!(err.to_string().contains("panicked"), "{err}");
    tracer.start("second").end();
    provider.force_flush().expect("the next export succeeds");
    let stats = provider.pipeline_stats();
    assert_eq!((stats.failed, stats.exported), (1, 1));
    assert_eq!(exporter.exported.load(Ordering::SeqCst), 1);
    provider.shutdown().unwrap();
}

#[test]
fn batch_log_processor_counts_a_panicked_export_as_failed_and_goes_on() {
    let exporter = Flaky::default();
    let provider = LoggerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let logger = provider.logger("panics");
    logger.emit(LogRecord::new().with_body("first"));
    assert!(provider.force_flush().is_err(), "the export panicked");
    logger.emit(LogRecord::new().with_body("second"));
    provider.force_flush().expect("the next export succeeds");
    let stats = provider.pipeline_stats();
    assert_eq!((stats.failed, stats.exported), (1, 1));
    provider.shutdown().unwrap();
}

#[test]
fn periodic_reader_survives_a_panicking_exporter() {
    let exporter = Flaky::default();
    let reader = PeriodicExportingMetricReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = MeterProvider::builder().with_reader(reader).build();
    let counter = provider.meter("panics").u64_counter("c").build();
    counter.add(1, &[]);
    let err = provider.force_flush().expect_err("the export panicked");
    assert!(err.to_string().contains("panicked"), "{err}");
    counter.add(1, &[]);
    provider.force_flush().expect("the next export succeeds");
    assert_eq!(exporter.exported.load(Ordering::SeqCst), 1);
    let _ = provider.shutdown();
}

/// Exports fine, but its `force_flush` and `shutdown` panic every time.
#[derive(Debug, Clone, Default)]
struct BadHooks {
    exported: Arc<AtomicU64>,
}

impl BadHooks {
    fn count(&self, items: usize) -> SdkResult {
        self.exported.fetch_add(items as u64, Ordering::SeqCst);
        Ok(())
    }
}

/// The two hooks, for each exporter trait.
macro_rules! panicking_hooks {
    () => {
        fn force_flush(&mut self) -> SdkResult {
            panic!("force_flush hook")
        }
        fn shutdown(&mut self) -> SdkResult {
            panic!("shutdown hook")
        }
    };
}

impl SpanExporter for BadHooks {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.count(batch.len())
    }
    panicking_hooks!();
}

impl LogExporter for BadHooks {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        self.count(batch.len())
    }
    panicking_hooks!();
}

impl MetricExporter for BadHooks {
    fn export(&mut self, _metrics: &ResourceMetrics) -> SdkResult {
        self.count(1)
    }
    panicking_hooks!();
}

/// `force_flush` and `shutdown` of the provider fail, naming the panic, and telemetry keeps
/// flowing between them.
fn assert_panicked(r: SdkResult, hook: &str) {
    let err = r.expect_err("the hook panicked");
    assert!(
        err.to_string().contains(&format!("{hook} panicked")),
        "{err}"
    );
}

#[test]
fn span_processors_survive_panicking_flush_and_shutdown_hooks() {
    for batch in [false, true] {
        let exporter = BadHooks::default();
        let builder = TracerProvider::builder();
        let provider = if batch {
            builder.with_batch_exporter(exporter.clone())
        } else {
            builder.with_simple_exporter(exporter.clone())
        }
        .build();
        let tracer = provider.tracer("panics");
        tracer.start("first").end();
        assert_panicked(provider.force_flush(), "force_flush");
        // Still exporting: the panic neither killed the export thread nor poisoned the
        // simple processor's lock.
        tracer.start("second").end();
        assert_panicked(provider.force_flush(), "force_flush");
        assert_eq!(
            exporter.exported.load(Ordering::SeqCst),
            2,
            "batch: {batch}"
        );
        assert_panicked(provider.shutdown(), "shutdown");
    }
}

#[test]
fn log_processors_survive_panicking_flush_and_shutdown_hooks() {
    for batch in [false, true] {
        let exporter = BadHooks::default();
        let builder = LoggerProvider::builder();
        let provider = if batch {
            builder.with_batch_exporter(exporter.clone())
        } else {
            builder.with_simple_exporter(exporter.clone())
        }
        .build();
        let logger = provider.logger("panics");
        logger.emit(LogRecord::new().with_body("first"));
        assert_panicked(provider.force_flush(), "force_flush");
        logger.emit(LogRecord::new().with_body("second"));
        assert_panicked(provider.force_flush(), "force_flush");
        assert_eq!(
            exporter.exported.load(Ordering::SeqCst),
            2,
            "batch: {batch}"
        );
        assert_panicked(provider.shutdown(), "shutdown");
    }
}

#[test]
fn periodic_reader_survives_panicking_flush_and_shutdown_hooks() {
    let exporter = BadHooks::default();
    let reader = PeriodicExportingMetricReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = MeterProvider::builder().with_reader(reader).build();
    let counter = provider.meter("panics").u64_counter("c").build();
    counter.add(1, &[]);
    assert_panicked(provider.force_flush(), "force_flush");
    counter.add(1, &[]);
    assert_panicked(provider.force_flush(), "force_flush");
    assert_eq!(exporter.exported.load(Ordering::SeqCst), 2);
    assert_panicked(provider.shutdown(), "shutdown");
}

/// A processor whose every hook panics.
#[derive(Debug)]
struct PanickingProcessor;

impl otlp_sdk::trace::SpanProcessor for PanickingProcessor {
    fn on_start(&self, _span: &mut SpanData, _parent: &otlp_sdk::context::Context) {
        panic!("on_start")
    }
    fn on_end(&self, _span: Box<SpanData>) {
        panic!("on_end")
    }
    fn force_flush(&self) -> SdkResult {
        Ok(())
    }
    fn shutdown(&self) -> SdkResult {
        Ok(())
    }
}

impl otlp_sdk::logs::LogProcessor for PanickingProcessor {
    fn on_emit(&self, _data: &mut LogData, _cx: &otlp_sdk::context::Context) {
        panic!("on_emit")
    }
    fn force_flush(&self) -> SdkResult {
        Ok(())
    }
    fn shutdown(&self) -> SdkResult {
        Ok(())
    }
}

#[test]
fn a_panicking_processor_does_not_unwind_into_the_application() {
    // Before and after other processors: the others still get every item.
    for first in [true, false] {
        let exporter = BadHooks::default();
        let builder = TracerProvider::builder();
        let builder = if first {
            builder
                .with_span_processor(PanickingProcessor)
                .with_simple_exporter(exporter.clone())
        } else {
            builder
                .with_simple_exporter(exporter.clone())
                .with_span_processor(PanickingProcessor)
        };
        let provider = builder.build();
        provider.tracer("t").start("s").end();
        assert_eq!(exporter.exported.load(Ordering::SeqCst), 1);

        let exporter = BadHooks::default();
        let builder = LoggerProvider::builder();
        let builder = if first {
            builder
                .with_log_processor(PanickingProcessor)
                .with_simple_exporter(exporter.clone())
        } else {
            builder
                .with_simple_exporter(exporter.clone())
                .with_log_processor(PanickingProcessor)
        };
        let provider = builder.build();
        provider.logger("l").emit(LogRecord::new().with_body("x"));
        assert_eq!(exporter.exported.load(Ordering::SeqCst), 1);
    }
}
