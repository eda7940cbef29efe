//! Readers and exporters (periodic, manual, in-memory, console), callbacks (including
//! panicking ones), exemplars and environment settings.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otlp_sdk::context::Context;
use otlp_sdk::metrics::{
    Aggregation, ConsoleMetricExporter, ExemplarFilter, InMemoryMetricExporter, ManualReader,
    MeterProvider, MetricData, MetricExporter, Number, PeriodicExportingMetricReader,
    ResourceMetrics, Temporality, TemporalityPreference, View,
};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use otlp_sdk::{KeyValue, SdkError, SdkResult};

fn counter_value(rm: &ResourceMetrics, name: &str) -> Number {
    match &rm.metric(name).unwrap().data {
        MetricData::Sum(s) => s.data_points[0].value,
        other => panic!("{other:?}"),
    }
}

#[test]
fn shutdown_before_the_first_interval_still_exports_everything() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicExportingMetricReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    assert_eq!(reader.interval(), Duration::from_secs(3600));
    let provider = MeterProvider::builder().with_reader(reader).build();
    let c = provider.meter("m").u64_counter("c").build();
    c.add(3, &[]);
    assert!(exporter.exported().is_empty());
    provider.shutdown().unwrap();
    let exported = exporter.exported();
    assert_eq!(exported.len(), 1);
    assert_eq!(counter_value(&exported[0], "c"), Number::U64(3));
    assert_eq!(provider.shutdown(), Err(SdkError::AlreadyShutdown));
}

#[test]
fn force_flush_exports_now_and_drop_shuts_down() {
    let exporter = InMemoryMetricExporter::with_temporality(TemporalityPreference::Delta);
    let reader = PeriodicExportingMetricReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .with_timeout(Duration::from_secs(5))
        .build();
    let provider = MeterProvider::builder().with_reader(reader).build();
    let c = provider.meter("m").u64_counter("c").build();
    c.add(1, &[]);
    provider.force_flush().unwrap();
    c.add(2, &[]);
    drop(provider); // last handle: final collection
    let exported = exporter.exported();
    assert_eq!(exported.len(), 2);
    assert_eq!(counter_value(&exported[0], "c"), Number::U64(1));
    assert_eq!(counter_value(&exported[1], "c"), Number::U64(2), "delta");
    let MetricData::Sum(s) = &exported[1].metric("c").unwrap().data else {
        panic!()
    };
    assert_eq!(s.temporality, Temporality::Delta);
}

#[test]
fn the_periodic_reader_exports_on_its_interval() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicExportingMetricReader::builder(exporter.clone())
        .with_interval(Duration::from_millis(20))
        .build();
    let provider = MeterProvider::builder().with_reader(reader).build();
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while exporter.exported().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        exporter.exported().len() >= 2,
        "two periodic exports happened"
    );
    provider.shutdown().unwrap();
}

struct FailingExporter {
    calls: Arc<Mutex<u32>>,
}

impl MetricExporter for FailingExporter {
    fn export(&mut self, _metrics: &ResourceMetrics) -> SdkResult {
        *self.calls.lock().unwrap() += 1;
        Err(SdkError::failed("collector down"))
    }
}

#[test]
fn export_errors_are_returned_by_flush_and_shutdown() {
    let calls = Arc::new(Mutex::new(0));
    let reader = PeriodicExportingMetricReader::builder(FailingExporter {
        calls: calls.clone(),
    })
    .with_interval(Duration::from_secs(3600))
    .build();
    let provider = MeterProvider::builder().with_reader(reader).build();
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    assert!(matches!(provider.force_flush(), Err(SdkError::Failed(_))));
    assert!(matches!(provider.shutdown(), Err(SdkError::Failed(_))));
    assert_eq!(*calls.lock().unwrap(), 2);
}

#[test]
fn a_panicking_callback_is_reported_and_the_reader_continues() {
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let m2 = messages.clone();
    otlp_sdk::diagnostics::set_error_handler(move |msg| m2.lock().unwrap().push(msg.into()));
    let reader = ManualReader::new();
    let provider = MeterProvider::builder().with_reader(reader.clone()).build();
    let meter = provider.meter("m");
    meter
        .u64_observable_gauge("boom")
        .with_callback(|o| {
            o.observe(1, &[KeyValue::new("before", true)]);
            panic!("callback failure");
        })
        .build();
    meter
        .u64_observable_gauge("fine")
        .with_callback(|o| o.observe(42, &[]))
        .build();
    for _ in 0..2 {
        let rm = reader.collect().unwrap();
        let MetricData::Gauge(g) = &rm.metric("fine").unwrap().data else {
            panic!()
        };
        assert_eq!(g.data_points[0].value, Number::U64(42));
    }
    assert!(messages
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains("boom") && m.contains("panicked")));
    otlp_sdk::diagnostics::reset_error_handler();
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_console_exporter_prints_readable_json() {
    let buf = Buf::default();
    let reader =
        PeriodicExportingMetricReader::builder(ConsoleMetricExporter::with_writer(buf.clone()))
            .build();
    let provider = MeterProvider::builder()
        .with_reader(reader)
        .with_view(
            View::builder()
                .with_instrument_name("queue.size")
                .with_aggregation(Aggregation::ExplicitBucketHistogram {
                    boundaries: vec![0.0],
                    record_min_max: true,
                })
                .build()
                .unwrap(),
        )
        .build();
    let meter = provider.meter("my.meter.name");
    meter
        .u64_counter("work.counter")
        .with_unit("1")
        .build()
        .add(1, &[KeyValue::new("work.type", "a")]);
    meter
        .f64_histogram("h")
        .build()
        .record(50.0, &[KeyValue::new("m", "POST")]);
    meter.i64_up_down_counter("queue.size").build().add(-1, &[]);
    provider.shutdown().unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sm = &json["resource_metrics"][0]["scope_metrics"][0];
    assert_eq!(sm["scope"]["name"], "my.meter.name");
    assert_eq!(sm["metrics"][0]["name"], "work.counter");
    assert_eq!(sm["metrics"][0]["data"]["data_points"][0]["value"], 1);
    assert_eq!(
        sm["metrics"][0]["data"]["data_points"][0]["attributes"]["work.type"],
        "a"
    );
    assert_eq!(sm["metrics"][1]["data"]["data_points"][0]["count"], 1);
    assert_eq!(sm["metrics"][1]["data"]["data_points"][0]["sum"], 50.0);
    // An up-down counter's histogram has no sum: null, as an unrecorded min or max.
    let udc = &sm["metrics"][2]["data"]["data_points"][0];
    assert_eq!(udc["count"], 1);
    assert_eq!(udc["min"], -1.0);
    assert_eq!(udc.get("sum"), Some(&serde_json::Value::Null), "{udc}");
}

fn sampled_context(sampled: bool) -> Context {
    let sc = SpanContext::new(
        TraceId::from_u128(0x1234),
        SpanId::from_u64(0x99),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::NOT_SAMPLED
        },
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(sc)
}

#[test]
fn trace_based_exemplars_carry_the_current_span() {
    let view = View::builder()
        .with_instrument_name("ex")
        .with_allowed_attribute_keys(["kept"])
        .build()
        .unwrap();
    let reader = ManualReader::new();
    let provider = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_view(view)
        .with_exemplar_filter(ExemplarFilter::TraceBased)
        .build();
    let meter = provider.meter("m");
    let c = meter.u64_counter("ex").build();
    let h = meter.f64_histogram("exh").build();
    c.add(1, &[KeyValue::new("kept", 1)]); // no span: no exemplar
    {
        let _g = sampled_context(false).attach();
        c.add(1, &[KeyValue::new("kept", 1)]); // unsampled span: no exemplar
    }
    {
        let _g = sampled_context(true).attach();
        c.add(
            5,
            &[KeyValue::new("kept", 1), KeyValue::new("dropped", "x")],
        );
        h.record(7.0, &[]);
        h.record(70.0, &[]);
    }
    let rm = reader.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("ex").unwrap().data else {
        panic!()
    };
    let ex = &s.data_points[0].exemplars;
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].value, Number::U64(5));
    assert_eq!(ex[0].trace_id, Some(TraceId::from_u128(0x1234)));
    assert_eq!(ex[0].span_id, Some(SpanId::from_u64(0x99)));
    assert_eq!(
        ex[0].filtered_attributes,
        vec![KeyValue::new("dropped", "x")]
    );
    let MetricData::Histogram(hd) = &rm.metric("exh").unwrap().data else {
        panic!()
    };
    // aligned reservoir: one exemplar per bucket that got a sampled measurement
    let mut vals: Vec<f64> = hd.data_points[0]
        .exemplars
        .iter()
        .map(|e| e.value.as_f64())
        .collect();
    vals.sort_by(f64::total_cmp);
    assert_eq!(vals, vec![7.0, 70.0]);
    // reservoirs are emptied by each collection
    let rm = reader.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("ex").unwrap().data else {
        panic!()
    };
    assert!(s.data_points[0].exemplars.is_empty());
}

#[test]
fn always_on_and_always_off_filters() {
    for (filter, expected) in [
        (ExemplarFilter::AlwaysOn, 1),
        (ExemplarFilter::AlwaysOff, 0),
    ] {
        let reader = ManualReader::new();
        let provider = MeterProvider::builder()
            .with_reader(reader.clone())
            .with_exemplar_filter(filter)
            .build();
        let c = provider.meter("m").u64_counter("c").build();
        c.add(1, &[]);
        let rm = reader.collect().unwrap();
        let MetricData::Sum(s) = &rm.metric("c").unwrap().data else {
            panic!()
        };
        assert_eq!(s.data_points[0].exemplars.len(), expected, "{filter:?}");
        if expected == 1 {
            assert_eq!(s.data_points[0].exemplars[0].trace_id, None);
        }
    }
}

#[test]
fn a_manual_reader_without_provider_reports_an_error() {
    let reader = ManualReader::new();
    assert!(matches!(reader.collect(), Err(SdkError::Failed(_))));
}

#[test]
fn the_resource_is_exported() {
    use otlp_sdk::resource::{Resource, SERVICE_NAME};
    let reader = ManualReader::new();
    let provider = MeterProvider::builder()
        .with_resource(Resource::new([KeyValue::new(
            SERVICE_NAME,
            "my.service.name",
        )]))
        .with_reader(reader.clone())
        .build();
    provider.meter("m").u64_counter("c").build().add(1, &[]);
    let rm = reader.collect().unwrap();
    assert_eq!(
        rm.resource.get(SERVICE_NAME).unwrap().as_str(),
        Some("my.service.name")
    );
}
