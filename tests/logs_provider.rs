//! The logs SDK: emitting, correlation with the current span, limits, processors, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use otlp_sdk::context::Context;
use otlp_sdk::logs::{
    AnyValue, BatchLogProcessor, InMemoryLogExporter, LogData, LogExporter, LogLimits,
    LogProcessor, LogRecord, LoggerProvider, SeverityNumber,
};
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider};
use otlp_sdk::{InstrumentationScope, KeyValue, SdkError, SdkResult};

fn simple() -> (LoggerProvider, InMemoryLogExporter) {
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_resource(Resource::new([KeyValue::new(SERVICE_NAME, "svc")]))
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

#[test]
fn emitted_record_reaches_the_exporter_with_scope_and_resource() {
    let (provider, exporter) = simple();
    let scope = InstrumentationScope::builder("my.logger")
        .with_version("1.2")
        .build();
    let logger = provider.logger_with_scope(scope);
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    logger.emit(
        LogRecord::new()
            .with_timestamp(t)
            .with_severity(SeverityNumber::Error)
            .with_severity_text("ERROR")
            .with_body(AnyValue::map([("msg", "boom")]))
            .with_event_name("app.failure")
            .with_attribute("bytes", vec![1u8, 2]),
    );
    let logs = exporter.emitted_logs();
    assert_eq!(logs.len(), 1);
    let LogData { record, scope } = &logs[0];
    assert_eq!(scope.name(), "my.logger");
    assert_eq!(scope.version(), Some("1.2"));
    assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_000);
    assert!(record.observed_time_unix_nano > record.time_unix_nano);
    assert_eq!(record.severity_number, Some(SeverityNumber::Error));
    assert_eq!(record.severity_text.as_deref(), Some("ERROR"));
    assert_eq!(record.event_name.as_deref(), Some("app.failure"));
    assert_eq!(record.body, Some(AnyValue::map([("msg", "boom")])));
    assert_eq!(
        record.attribute("bytes"),
        Some(&AnyValue::Bytes(vec![1, 2]))
    );
    assert!(!record.trace_id.is_valid(), "no span was current");
    let resource = exporter.resource().unwrap();
    assert_eq!(resource.get(SERVICE_NAME).unwrap().as_str(), Some("svc"));
}

#[test]
fn observed_timestamp_is_kept_when_given() {
    let (provider, exporter) = simple();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
    provider
        .logger("l")
        .emit(LogRecord::new().with_observed_timestamp(t));
    let r = &exporter.emitted_logs()[0].record;
    assert_eq!(r.observed_time_unix_nano, 5_000_000_000);
    assert_eq!(r.time_unix_nano, 0, "the event time stays unknown");
}

#[test]
fn records_carry_the_current_span() {
    let (provider, exporter) = simple();
    let tracer = TracerProvider::default().tracer("t");
    let logger = provider.logger("l");
    let sc = {
        let span = tracer.start_as_current_span("op");
        logger.emit(LogRecord::new().with_body("inside"));
        span.span_context().clone()
    };
    logger.emit(LogRecord::new().with_body("outside"));
    let logs = exporter.emitted_logs();
    assert_eq!(logs[0].record.trace_id, sc.trace_id());
    assert_eq!(logs[0].record.span_id, sc.span_id());
    assert_eq!(logs[0].record.trace_flags, TraceFlags::SAMPLED);
    assert!(!logs[1].record.trace_id.is_valid());
    assert!(!logs[1].record.span_id.is_valid());
}

#[test]
fn explicit_span_context_and_explicit_context_win() {
    let (provider, exporter) = simple();
    let tracer = TracerProvider::default().tracer("t");
    let logger = provider.logger("l");
    let other = SpanContext::new(
        TraceId::from_u128(7),
        SpanId::from_u64(8),
        TraceFlags::NOT_SAMPLED,
        true,
        TraceState::NONE,
    );
    let _span = tracer.start_as_current_span("op");
    logger.emit(LogRecord::new().with_span_context(&other));
    logger.emit_with_context(
        LogRecord::new(),
        &Context::new().with_remote_span_context(other.clone()),
    );
    for data in exporter.emitted_logs() {
        assert_eq!(data.record.trace_id, TraceId::from_u128(7));
        assert_eq!(data.record.span_id, SpanId::from_u64(8));
        assert_eq!(data.record.trace_flags, TraceFlags::NOT_SAMPLED);
    }
}

#[test]
fn attribute_limits_apply() {
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_log_limits(LogLimits {
            max_attributes_per_record: 2,
            max_attribute_value_length: Some(3),
        })
        .build();
    provider.logger("l").emit(
        LogRecord::new()
            .with_body("the body is not an attribute: not truncated")
            .with_attribute("a", "abcdef")
            .with_attribute("b", AnyValue::Array(vec!["xyzw".into(), 12345.into()]))
            .with_attribute("c", 1)
            .with_attribute("a", "replaced"),
    );
    let r = &exporter.emitted_logs()[0].record;
    assert_eq!(
        r.attributes,
        vec![
            ("a".into(), "rep".into()),
            (
                "b".into(),
                AnyValue::Array(vec!["xyz".into(), 12345.into()])
            )
        ]
    );
    assert_eq!(r.dropped_attributes_count, 1);
    assert_eq!(
        r.body.as_ref().unwrap().as_str(),
        Some("the body is not an attribute: not truncated")
    );
}

#[test]
fn shutdown_is_idempotent_and_later_records_are_counted() {
    let (provider, exporter) = simple();
    let logger = provider.logger("l");
    assert!(logger.enabled());
    logger.emit(LogRecord::new().with_body("before"));
    provider.shutdown().unwrap();
    assert_eq!(provider.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(provider.force_flush(), Err(SdkError::AlreadyShutdown));
    assert!(!logger.enabled());
    logger.emit(LogRecord::new().with_body("after"));
    logger.emit(LogRecord::new().with_body("after"));
    assert_eq!(provider.dropped_after_shutdown(), 2);
    assert_eq!(exporter.emitted_logs().len(), 1);
}

#[test]
fn provider_without_processor_does_nothing() {
    let provider = LoggerProvider::builder()
        .with_resource(Resource::empty())
        .build();
    let logger = provider.logger("l");
    assert!(!logger.enabled());
    logger.emit(LogRecord::new().with_body("nowhere"));
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

#[test]
fn batch_processor_exports_on_flush_and_counts() {
    let exporter = InMemoryLogExporter::default();
    let processor = BatchLogProcessor::with_config(
        exporter.clone(),
        BatchConfig {
            max_queue_size: 100,
            max_export_batch_size: 10,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(5),
        },
    );
    let provider = LoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let logger = provider.logger("l");
    for i in 0..25 {
        logger.emit(LogRecord::new().with_body(i));
    }
    provider.force_flush().unwrap();
    let logs = exporter.emitted_logs();
    assert_eq!(logs.len(), 25);
    let bodies: Vec<_> = logs
        .iter()
        .map(|d| d.record.body.clone().unwrap())
        .collect();
    assert_eq!(bodies, (0..25).map(AnyValue::from).collect::<Vec<_>>());
    provider.shutdown().unwrap();
}

#[test]
fn batch_processor_drops_and_counts_when_full() {
    #[derive(Debug)]
    struct Slow(Arc<AtomicUsize>);
    impl LogExporter for Slow {
        fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
            std::thread::sleep(Duration::from_millis(20));
            self.0.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
    }
    let exported = Arc::new(AtomicUsize::new(0));
    let processor = BatchLogProcessor::with_config(
        Slow(exported.clone()),
        BatchConfig {
            max_queue_size: 4,
            max_export_batch_size: 2,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(5),
        },
    );
    let logger_processor = Arc::new(processor);
    // Keep a handle on the counters: the provider takes a wrapper that forwards.
    #[derive(Debug)]
    struct Shared(Arc<BatchLogProcessor>);
    impl LogProcessor for Shared {
        fn on_emit(&self, data: &mut LogData, cx: &Context) {
            self.0.on_emit(data, cx)
        }
        fn on_emit_owned(&self, data: Box<LogData>, cx: &Context) {
            self.0.on_emit_owned(data, cx)
        }
        fn force_flush(&self) -> SdkResult {
            self.0.force_flush()
        }
        fn shutdown(&self) -> SdkResult {
            self.0.shutdown()
        }
    }
    let provider = LoggerProvider::builder()
        .with_log_processor(Shared(logger_processor.clone()))
        .build();
    let logger = provider.logger("l");
    for _ in 0..200 {
        logger.emit(LogRecord::new().with_body("x"));
    }
    provider.shutdown().unwrap();
    let stats = logger_processor.stats();
    assert_eq!(stats.accepted + stats.dropped, 200);
    assert!(stats.dropped > 0);
    assert_eq!(stats.exported, stats.accepted);
    assert_eq!(exported.load(Ordering::SeqCst) as u64, stats.accepted);
}

#[test]
fn processors_run_in_order_and_see_earlier_changes() {
    #[derive(Debug)]
    struct Enrich;
    impl LogProcessor for Enrich {
        fn on_emit(&self, data: &mut LogData, _cx: &Context) {
            data.record.add_attribute("enriched", true);
        }
        fn force_flush(&self) -> SdkResult {
            Ok(())
        }
        fn shutdown(&self) -> SdkResult {
            Ok(())
        }
    }
    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<bool>>);
    #[derive(Debug)]
    struct Check(Arc<Seen>);
    impl LogProcessor for Check {
        fn on_emit(&self, data: &mut LogData, _cx: &Context) {
            let has = data.record.attribute("enriched").is_some();
            self.0 .0.lock().unwrap().push(has);
        }
        fn force_flush(&self) -> SdkResult {
            Ok(())
        }
        fn shutdown(&self) -> SdkResult {
            Ok(())
        }
    }
    let seen = Arc::new(Seen::default());
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_log_processor(Enrich)
        .with_log_processor(Check(seen.clone()))
        .with_simple_exporter(exporter.clone())
        .build();
    provider.logger("l").emit(LogRecord::new());
    assert_eq!(*seen.0.lock().unwrap(), vec![true]);
    assert_eq!(
        exporter.emitted_logs()[0].record.attribute("enriched"),
        Some(&AnyValue::Bool(true))
    );
}

#[test]
fn global_logger_provider() {
    let logger = otlp_sdk::global::logger("before");
    assert!(
        !logger.enabled(),
        "the default global provider records nothing"
    );
    let (provider, exporter) = simple();
    otlp_sdk::global::set_logger_provider(provider);
    otlp_sdk::global::logger("after").emit(LogRecord::new().with_body("hi"));
    assert_eq!(exporter.emitted_logs()[0].scope.name(), "after");
    let p = otlp_sdk::global::take_logger_provider().unwrap();
    p.shutdown().unwrap();
    assert!(!otlp_sdk::global::logger_provider().logger("x").enabled());
}

#[test]
fn records_emitted_on_sdk_threads_are_dropped() {
    // A library logging while the SDK exports (on the SDK's `otlp-sdk-*` threads) must not
    // feed the pipeline that exports it.
    let (provider, exporter) = simple();
    let logger = provider.logger("l");
    let l2 = logger.clone();
    std::thread::Builder::new()
        .name("otlp-sdk-logs".into())
        .spawn(move || l2.emit(LogRecord::new().with_body("from the export thread")))
        .unwrap()
        .join()
        .unwrap();
    std::thread::Builder::new()
        .name("app-worker".into())
        .spawn(move || logger.emit(LogRecord::new().with_body("from the app")))
        .unwrap()
        .join()
        .unwrap();
    let logs = exporter.emitted_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].record.body, Some(AnyValue::from("from the app")));
}

#[test]
fn a_record_emitted_during_export_is_dropped_not_deadlocked() {
    // An exporter that logs (as an HTTP client might) while the simple processor exports.
    #[derive(Debug)]
    struct Chatty(
        Arc<Mutex<Option<otlp_sdk::logs::Logger>>>,
        InMemoryLogExporter,
    );
    impl LogExporter for Chatty {
        fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
            if let Some(l) = self.0.lock().unwrap().as_ref() {
                l.emit(LogRecord::new().with_body("nested"));
            }
            self.1.export(batch)
        }
    }
    let slot = Arc::new(Mutex::new(None));
    let inner = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(Chatty(slot.clone(), inner.clone()))
        .build();
    *slot.lock().unwrap() = Some(provider.logger("nested"));
    provider
        .logger("l")
        .emit(LogRecord::new().with_body("outer"));
    let logs = inner.emitted_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].record.body, Some(AnyValue::from("outer")));
}
