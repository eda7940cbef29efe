//! The `log` crate bridge: severity mapping, code attributes, scope, correlation.

use log::Log;
use otlp_sdk::logs::{AnyValue, InMemoryLogExporter, LogBridge, LoggerProvider, SeverityNumber};
use otlp_sdk::semconv;
use otlp_sdk::trace::TracerProvider;

fn setup() -> (LoggerProvider, InMemoryLogExporter, LogBridge) {
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let bridge = LogBridge::new(&provider);
    (provider, exporter, bridge)
}

fn log_at(bridge: &LogBridge, level: log::Level, msg: std::fmt::Arguments<'_>) {
    bridge.log(
        &log::Record::builder()
            .level(level)
            .target("my_app::db")
            .module_path_static(Some("my_app::db"))
            .file_static(Some("src/db.rs"))
            .line(Some(42))
            .args(msg)
            .build(),
    );
}

#[test]
fn severity_follows_the_specification() {
    let (_p, exporter, bridge) = setup();
    let expected = [
        (log::Level::Error, SeverityNumber::Error, 17, "ERROR"),
        (log::Level::Warn, SeverityNumber::Warn, 13, "WARN"),
        (log::Level::Info, SeverityNumber::Info, 9, "INFO"),
        (log::Level::Debug, SeverityNumber::Debug, 5, "DEBUG"),
        (log::Level::Trace, SeverityNumber::Trace, 1, "TRACE"),
    ];
    for (level, ..) in expected {
        log_at(&bridge, level, format_args!("m"));
    }
    let logs = exporter.emitted_logs();
    assert_eq!(logs.len(), 5);
    for (data, (_, sev, n, text)) in logs.iter().zip(expected) {
        assert_eq!(data.record.severity_number, Some(sev));
        assert_eq!(sev.as_i32(), n);
        assert_eq!(data.record.severity_text.as_deref(), Some(text));
    }
}

#[test]
fn message_code_attributes_and_scope() {
    let (_p, exporter, bridge) = setup();
    let user = "ann";
    log_at(&bridge, log::Level::Info, format_args!("hello {user}"));
    let data = &exporter.emitted_logs()[0];
    let r = &data.record;
    assert_eq!(r.body, Some(AnyValue::from("hello ann")));
    assert_eq!(data.scope.name(), "my_app::db", "the target is the scope");
    assert_eq!(
        r.attribute(semconv::legacy::CODE_NAMESPACE),
        Some(&AnyValue::from("my_app::db"))
    );
    assert_eq!(
        r.attribute(semconv::CODE_FILE_PATH),
        Some(&AnyValue::from("src/db.rs"))
    );
    assert_eq!(
        r.attribute(semconv::CODE_LINE_NUMBER),
        Some(&AnyValue::Int(42))
    );
    assert!(r.time_unix_nano > 0 && r.observed_time_unix_nano >= r.time_unix_nano);
}

#[test]
fn records_are_tied_to_the_current_span() {
    let (_p, exporter, bridge) = setup();
    let tracer = TracerProvider::default().tracer("t");
    let sc = {
        let span = tracer.start_as_current_span("my-operation");
        log_at(&bridge, log::Level::Info, format_args!("inside"));
        span.span_context().clone()
    };
    let r = &exporter.emitted_logs()[0].record;
    assert_eq!(r.trace_id, sc.trace_id());
    assert_eq!(r.span_id, sc.span_id());
}

#[test]
fn after_shutdown_the_bridge_is_disabled() {
    let (provider, exporter, bridge) = setup();
    provider.shutdown().unwrap();
    assert!(!bridge.enabled(&log::Metadata::builder().level(log::Level::Error).build()));
    log_at(&bridge, log::Level::Error, format_args!("late"));
    assert!(exporter.emitted_logs().is_empty());
}

#[test]
fn installed_bridge_receives_log_macros() {
    let (provider, exporter, bridge) = setup();
    bridge.install(log::LevelFilter::Info).unwrap();
    let tracer = TracerProvider::default().tracer("t");
    let sc = {
        let span = tracer.start_as_current_span("my-operation");
        log::info!("doing some work");
        log::debug!("filtered out by the max level");
        span.span_context().clone()
    };
    // A second install fails: the `log` crate has one logger per process.
    assert!(LogBridge::new(&provider)
        .install(log::LevelFilter::Info)
        .is_err());
    log::logger().flush();
    let logs = exporter.emitted_logs();
    let ours: Vec<_> = logs
        .iter()
        .filter(|d| d.scope.name() == module_path!())
        .collect();
    assert_eq!(ours.len(), 1);
    let r = &ours[0].record;
    assert_eq!(r.body, Some(AnyValue::from("doing some work")));
    assert_eq!(r.trace_id, sc.trace_id());
    assert_eq!(r.span_id, sc.span_id());
    assert_eq!(
        r.attribute(semconv::CODE_FILE_PATH),
        Some(&AnyValue::from(file!()))
    );
}
