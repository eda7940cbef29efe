//! Bad input never panics: garbage in every SDK environment variable gives the documented
//! fallback with a diagnostic, and out-of-range measurements and oversized attributes on
//! metrics and logs are handled per the specification.
//!
//! Environment variables and the diagnostics handler are process-global: the tests of this
//! binary run one at a time, and the environment test sets and restores each variable in
//! turn.

#[path = "support/diagnostics.rs"]
mod diagnostics;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use diagnostics::diagnostics;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::logs::{
    AnyValue, InMemoryLogExporter, LogLimits, LogRecord, LoggerProvider, SeverityNumber,
};
use otlp_sdk::metrics::{
    ExemplarFilter, InMemoryMetricExporter, ManualReader, MeterProvider, MetricData,
    PeriodicExportingMetricReader, TemporalityPreference,
};
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::propagation::propagators_from_env;
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::trace::{Sampler, SpanLimits, TracerProvider};
use otlp_sdk::KeyValue;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with `vars` set, then restores them; returns the diagnostics reported meanwhile.
fn with_env(vars: &[(&str, &str)], f: impl FnOnce()) -> Vec<String> {
    let d = diagnostics();
    let saved: Vec<(String, Option<String>)> = vars
        .iter()
        .map(|(k, _)| (k.to_string(), std::env::var(k).ok()))
        .collect();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let before = d.lock().unwrap().len();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    let out = d.lock().unwrap()[before..].to_vec();
    out
}

fn assert_reported(diags: &[String], var: &str, value: &str) {
    assert!(
        diags.iter().any(|m| m.contains(var)),
        "{var}={value:?}: no diagnostic naming it in {diags:?}"
    );
}

const GARBAGE_NUMBERS: &[&str] = &[
    "abc", "-1", "1.5", "0x10", "1e3", "12ms", "\u{0969}", "1 000",
];
const HUGE_NUMBERS: &[&str] = &["18446744073709551615", "99999999999999"];

/// A provider with a batch processor from the environment: three spans end and are
/// exported by shutdown.
fn spans_flow() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("env");
    for _ in 0..3 {
        tracer.start("s").end();
    }
    provider.shutdown().unwrap();
    assert_eq!(exporter.finished_spans().len(), 3);
}

/// Same for log records.
fn logs_flow() {
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let logger = provider.logger("env");
    for _ in 0..3 {
        logger.emit(LogRecord::new().with_body("hello"));
    }
    provider.shutdown().unwrap();
    assert_eq!(exporter.emitted_logs().len(), 3);
}

/// A meter provider with a periodic reader from the environment: a counter's value is
/// exported by shutdown.
fn metrics_flow() {
    let exporter = InMemoryMetricExporter::default();
    let provider = MeterProvider::builder()
        .with_reader(PeriodicExportingMetricReader::builder(exporter.clone()).build())
        .build();
    provider.meter("env").u64_counter("c").build().add(5, &[]);
    provider.shutdown().unwrap();
    let exported = exporter.exported();
    let last = exported.last().expect("exported at shutdown");
    match &last.metric("c").expect("metric c").data {
        MetricData::Sum(s) => assert_eq!(s.data_points[0].value.as_i64(), 5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn garbage_in_every_sdk_env_var_falls_back_with_a_diagnostic_and_never_panics() {
    let _serial = serial();
    // Batch processors: every garbage value keeps the default; huge values work.
    for (vars, defaults, flow) in [
        (
            [
                "OTEL_BSP_SCHEDULE_DELAY",
                "OTEL_BSP_EXPORT_TIMEOUT",
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            ],
            BatchConfig::default(),
            spans_flow as fn(),
        ),
        (
            [
                "OTEL_BLRP_SCHEDULE_DELAY",
                "OTEL_BLRP_EXPORT_TIMEOUT",
                "OTEL_BLRP_MAX_QUEUE_SIZE",
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            ],
            BatchConfig {
                scheduled_delay: Duration::from_secs(1),
                ..BatchConfig::default()
            },
            logs_flow as fn(),
        ),
    ] {
        let from_env = if vars[0].starts_with("OTEL_BSP") {
            BatchConfig::spans_from_env
        } else {
            BatchConfig::logs_from_env
        };
        for var in vars {
            for value in GARBAGE_NUMBERS {
                let d = with_env(&[(var, value)], || {
                    assert_eq!(from_env(), defaults, "{var}={value:?}");
                    flow();
                });
                assert_reported(&d, var, value);
            }
            for value in HUGE_NUMBERS {
                with_env(&[(var, value)], flow);
            }
            // Zero: a delay of at least a millisecond, no export time limit, and sizes
            // (which must be positive) reported and ignored.
            let d = with_env(&[(var, "0")], || {
                let c = from_env();
                if var.ends_with("SCHEDULE_DELAY") {
                    assert_eq!(c.scheduled_delay, otlp_sdk::pipeline::MIN_DELAY);
                } else if var.ends_with("EXPORT_TIMEOUT") {
                    assert_eq!(c.export_timeout, otlp_sdk::pipeline::MAX_DURATION);
                } else {
                    assert_eq!(c, defaults, "{var}=0");
                }
                flow();
            });
            if var.ends_with("SIZE") {
                assert_reported(&d, var, "0");
            }
        }
    }

    // Sampler: the default (parentbased_always_on) is used, with a diagnostic.
    for (name, arg) in [
        ("bogus", None),
        ("traceidratio", Some("abc")),
        ("traceidratio", Some("-0.5")),
        ("traceidratio", Some("2")),
        ("traceidratio", Some("NaN")),
        ("parentbased_traceidratio", Some("inf")),
    ] {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
        if let Some(a) = arg {
            vars.push(("OTEL_TRACES_SAMPLER_ARG", a));
        }
        let d = with_env(&vars, || {
            assert!(Sampler::from_env().is_err(), "{name} {arg:?}");
            let exporter = InMemorySpanExporter::default();
            let provider = TracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let span = provider.tracer("sampler").start("root");
            assert!(span.is_recording(), "default sampler samples roots");
            drop(span);
            assert_eq!(exporter.finished_spans().len(), 1);
        });
        assert_reported(&d, "OTEL_TRACES_SAMPLER", name);
    }
    // Sampler names in any case.
    with_env(&[("OTEL_TRACES_SAMPLER", " ALWAYS_OFF ")], || {
        assert!(matches!(Sampler::from_env(), Ok(Some(Sampler::AlwaysOff))));
    });

    // Limits.
    for var in [
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_SPAN_LINK_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ] {
        for value in GARBAGE_NUMBERS {
            let d = with_env(&[(var, value)], || {
                assert_eq!(SpanLimits::from_env(), SpanLimits::default(), "{var}");
            });
            assert_reported(&d, var, value);
        }
        for value in HUGE_NUMBERS {
            with_env(&[(var, value)], spans_flow);
        }
    }
    for var in [
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ] {
        for value in GARBAGE_NUMBERS {
            let d = with_env(&[(var, value)], || {
                assert_eq!(LogLimits::from_env(), LogLimits::default(), "{var}");
            });
            assert_reported(&d, var, value);
        }
        for value in HUGE_NUMBERS {
            with_env(&[(var, value)], logs_flow);
        }
    }

    // Periodic metric reader.
    for var in ["OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT"] {
        // A zero interval is refused; a zero timeout means no limit (below).
        let zero: &[&str] = if var.ends_with("INTERVAL") {
            &["0"]
        } else {
            &[]
        };
        for value in GARBAGE_NUMBERS.iter().chain(zero) {
            let d = with_env(&[(var, value)], || {
                let r = PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default())
                    .build();
                assert_eq!(
                    (r.interval(), r.timeout()),
                    (Duration::from_secs(60), Duration::from_secs(30)),
                    "{var}={value:?}"
                );
                metrics_flow();
            });
            assert_reported(&d, var, value);
        }
        for value in HUGE_NUMBERS {
            with_env(&[(var, value)], metrics_flow);
        }
    }

    // Exemplar filter and temporality preference.
    for value in ["bogus", "on", "1", "always-on"] {
        let d = with_env(&[("OTEL_METRICS_EXEMPLAR_FILTER", value)], || {
            assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::TraceBased);
            metrics_flow();
        });
        assert_reported(&d, "OTEL_METRICS_EXEMPLAR_FILTER", value);
        let var = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
        let d = with_env(&[(var, value)], || {
            assert_eq!(
                TemporalityPreference::from_env(),
                TemporalityPreference::Cumulative
            );
        });
        assert_reported(&d, var, value);
    }

    // Propagators: a typed error (the global falls back to tracecontext,baggage).
    for value in ["bogus", "tracecontext,bogus", "b3", "xray,baggage", ",,;"] {
        with_env(&[("OTEL_PROPAGATORS", value)], || {
            let err = propagators_from_env()
                .err()
                .unwrap_or_else(|| panic!("OTEL_PROPAGATORS={value:?} accepted"));
            assert!(err.to_string().contains("OTEL_PROPAGATORS"), "{err}");
        });
    }

    // Resource attributes: a malformed list is discarded whole, with a diagnostic.
    for value in ["novalue", "a=1,novalue", "=x", "a=1,=x", "k=%ff%fe"] {
        let d = with_env(&[("OTEL_RESOURCE_ATTRIBUTES", value)], || {
            let r = Resource::default();
            assert!(
                r.get("a").is_none() && r.get("k").is_none(),
                "{value}: {r:?}"
            );
            let name = r
                .get(SERVICE_NAME)
                .and_then(|v| v.as_str().map(str::to_string));
            assert!(name.is_some_and(|n| n.starts_with("unknown_service")));
        });
        assert_reported(&d, "OTEL_RESOURCE_ATTRIBUTES", value);
    }
}

#[test]
fn non_finite_and_negative_measurements_are_dropped_and_reported_once() {
    let _serial = serial();
    let d = diagnostics();
    let reader = ManualReader::new();
    let provider = MeterProvider::builder().with_reader(reader.clone()).build();
    let meter = provider.meter("bad.values");
    let hist = meter.f64_histogram("bad.hist").build();
    let gauge = meter.f64_gauge("bad.gauge").build();
    let counter = meter.f64_counter("bad.counter").build();
    let before = d.lock().unwrap().len();
    hist.record(1.0, &[]);
    gauge.record(2.5, &[]);
    counter.add(1.5, &[]);
    for _ in 0..1000 {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            hist.record(v, &[]);
            gauge.record(v, &[]);
            counter.add(v, &[]);
        }
        counter.add(-1.0, &[]);
    }
    let rm = reader.collect().unwrap();
    match &rm.metric("bad.hist").unwrap().data {
        MetricData::Histogram(h) => {
            let p = &h.data_points[0];
            assert_eq!(
                (p.count, p.sum, p.min, p.max),
                (1, Some(1.0), Some(1.0), Some(1.0))
            );
        }
        other => panic!("{other:?}"),
    }
    match &rm.metric("bad.gauge").unwrap().data {
        MetricData::Gauge(g) => assert_eq!(g.data_points[0].value.as_f64(), 2.5),
        other => panic!("{other:?}"),
    }
    match &rm.metric("bad.counter").unwrap().data {
        MetricData::Sum(s) => assert_eq!(s.data_points[0].value.as_f64(), 1.5),
        other => panic!("{other:?}"),
    }
    let diags = d.lock().unwrap()[before..].to_vec();
    for name in ["bad.hist", "bad.gauge", "bad.counter"] {
        let n = diags.iter().filter(|m| m.contains(name)).count();
        assert_eq!(
            n, 1,
            "{name}: reported once, not per measurement: {diags:?}"
        );
    }
    // Invalid names give working no-op instruments.
    for name in ["", "1starts.with.digit", "has space", &"x".repeat(300)] {
        let c = meter.u64_counter(name.to_string()).build();
        c.add(1, &[]);
    }
    provider.shutdown().unwrap();
}

#[test]
fn thousands_of_keys_and_huge_arrays_on_metrics_and_logs_do_not_panic() {
    let _serial = serial();
    // Metrics: attributes are not limited by the specification; the point carries them all.
    let reader = ManualReader::new();
    let provider = MeterProvider::builder().with_reader(reader.clone()).build();
    let counter = provider.meter("big").u64_counter("big.counter").build();
    let mut attrs: Vec<KeyValue> = (0..5000)
        .map(|i| KeyValue::new(format!("k{i}"), i as i64))
        .collect();
    attrs.push(KeyValue::new("huge.array", vec![7i64; 1 << 20]));
    attrs.push(KeyValue::new("huge.string", "x".repeat(8 << 20)));
    counter.add(3, &attrs);
    counter.add(4, &attrs);
    let rm = reader.collect().unwrap();
    match &rm.metric("big.counter").unwrap().data {
        MetricData::Sum(s) => {
            assert_eq!(s.data_points.len(), 1);
            assert_eq!(s.data_points[0].value.as_i64(), 7);
            assert_eq!(s.data_points[0].attributes.len(), 5002);
        }
        other => panic!("{other:?}"),
    }
    provider.shutdown().unwrap();

    // Logs: the count and length limits apply, and what was dropped is counted.
    let exporter = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_log_limits(LogLimits {
            max_attributes_per_record: 128,
            max_attribute_value_length: Some(1024),
        })
        .build();
    let logger = provider.logger("big");
    let mut record = LogRecord::new()
        .with_severity(SeverityNumber::Error)
        .with_body(AnyValue::from("x".repeat(8 << 20)));
    for i in 0..5000 {
        record.add_attribute(format!("k{i}"), i as i64);
    }
    record.add_attribute("huge.string", "y".repeat(4 << 20));
    logger.emit(record);
    provider.shutdown().unwrap();
    let logs = exporter.emitted_logs();
    let r = &logs[0].record;
    assert_eq!(r.attributes.len(), 128);
    assert_eq!(r.dropped_attributes_count, 5001 - 128);
}

#[cfg(feature = "http")]
#[test]
fn absurd_exporter_timeouts_do_not_overflow_deadlines() {
    use otlp_sdk::export::otlp::{OtlpSpanExporter, RetryPolicy};
    use otlp_sdk::trace::SpanExporter;
    let _serial = serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let spans: Vec<Box<otlp_sdk::trace::SpanData>> = {
        let mem = InMemorySpanExporter::default();
        let p = TracerProvider::builder()
            .with_simple_exporter(mem.clone())
            .build();
        p.tracer("t").start("s").end();
        mem.finished_spans().into_iter().map(Box::new).collect()
    };
    let run = |builder: otlp_sdk::export::otlp::OtlpExporterBuilder<OtlpSpanExporter>| {
        let mut exp = builder
            .with_endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
            .with_retry(RetryPolicy::none())
            .build()
            .unwrap();
        // Nothing listens: the export fails at once (no retry), without overflow.
        assert!(exp.export(&spans).is_err());
        assert_eq!(exp.stats().failed(), 1);
    };
    run(OtlpSpanExporter::builder().with_timeout(Duration::MAX));
    with_env(
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "18446744073709551615")],
        || run(OtlpSpanExporter::builder()),
    );
}

#[test]
fn absurd_processor_and_reader_settings_in_code_do_not_panic() {
    let _serial = serial();
    use otlp_sdk::logs::BatchLogProcessor;
    use otlp_sdk::trace::BatchSpanProcessor;
    let absurd = BatchConfig {
        max_queue_size: usize::MAX,
        max_export_batch_size: usize::MAX,
        scheduled_delay: Duration::MAX,
        export_timeout: Duration::MAX,
    };
    let spans = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::with_config(
            spans.clone(),
            absurd.clone(),
        ))
        .build();
    provider.tracer("absurd").start("s").end();
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert_eq!(spans.finished_spans().len(), 1);

    let logs = InMemoryLogExporter::default();
    let provider = LoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::with_config(logs.clone(), absurd))
        .build();
    provider
        .logger("absurd")
        .emit(LogRecord::new().with_body("b"));
    provider.shutdown().unwrap();
    assert_eq!(logs.emitted_logs().len(), 1);

    let metrics = InMemoryMetricExporter::default();
    let provider = MeterProvider::builder()
        .with_reader(
            PeriodicExportingMetricReader::builder(metrics.clone())
                .with_interval(Duration::MAX)
                .with_timeout(Duration::MAX)
                .build(),
        )
        .build();
    provider
        .meter("absurd")
        .u64_counter("c")
        .build()
        .add(1, &[]);
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert!(!metrics.exported().is_empty());
}

/// The specification: an empty value is interpreted as if the variable were unset (the
/// default, and nothing to report).
#[test]
fn empty_env_values_mean_unset_without_a_diagnostic() {
    let _serial = serial();
    let vars = [
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BLRP_SCHEDULE_DELAY",
        "OTEL_BLRP_EXPORT_TIMEOUT",
        "OTEL_BLRP_MAX_QUEUE_SIZE",
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_SPAN_LINK_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_METRIC_EXPORT_TIMEOUT",
        "OTEL_METRICS_EXEMPLAR_FILTER",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "OTEL_PROPAGATORS",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SERVICE_NAME",
    ];
    for value in ["", "   "] {
        let set: Vec<(&str, &str)> = vars.iter().map(|v| (*v, value)).collect();
        let d = with_env(&set, || {
            assert_eq!(BatchConfig::spans_from_env(), BatchConfig::default());
            assert_eq!(
                BatchConfig::logs_from_env().max_queue_size,
                BatchConfig::default().max_queue_size
            );
            assert!(matches!(Sampler::from_env(), Ok(None)), "{value:?}");
            assert_eq!(SpanLimits::from_env(), SpanLimits::default());
            assert_eq!(LogLimits::from_env(), LogLimits::default());
            let r =
                PeriodicExportingMetricReader::builder(InMemoryMetricExporter::default()).build();
            assert_eq!(r.interval(), Duration::from_secs(60));
            assert_eq!(ExemplarFilter::from_env(), ExemplarFilter::TraceBased);
            assert_eq!(
                TemporalityPreference::from_env(),
                TemporalityPreference::Cumulative
            );
            assert!(propagators_from_env().is_ok());
            let resource = Resource::default();
            let name = resource
                .get(SERVICE_NAME)
                .and_then(|v| v.as_str().map(str::to_string));
            assert!(name.is_some_and(|n| n.starts_with("unknown_service")));
            spans_flow();
            logs_flow();
            metrics_flow();
        });
        assert!(d.is_empty(), "{value:?}: {d:?}");
    }
}
