//! The guide's metrics section (the code proposed for `examples/guide.rs`) and the
//! benchmark setup, checked end to end with an extra in-memory reader.

use std::time::Duration;

use otlp_sdk::metrics::{
    ConsoleMetricExporter, Counter, InMemoryMetricExporter, InstrumentKind, MeterProvider,
    MetricData, MetricExporter, Number, Observer, PeriodicExportingMetricReader, ResourceMetrics,
    Temporality,
};
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::{global, KeyValue, SdkResult};

// ---- begin: code for examples/guide.rs ------------------------------------------------

/// Guide, Metrics "Initialization": a meter provider with a periodic exporting reader
/// (console), set as the global provider.
fn init_metrics(resource: &Resource) -> MeterProvider {
    let reader = PeriodicExportingMetricReader::builder(ConsoleMetricExporter::default()).build();
    let provider = MeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(reader)
        .build();
    global::set_meter_provider(provider.clone());
    provider
}

/// Guide, "Creating a Synchronous Counter".
fn do_counted_work(work_counter: &Counter<u64>, work_type: &'static str) {
    work_counter.add(1, &[KeyValue::new("work.type", work_type)]);
    println!("doing some work...");
}

/// Guide, "Creating Asynchronous Counter": the callback reports three observations.
fn pf_callback(observer: &Observer<'_, u64>) {
    observer.observe(8, &[KeyValue::new("pid", 0), KeyValue::new("bitness", 64)]);
    observer.observe(
        37741921,
        &[KeyValue::new("pid", 4), KeyValue::new("bitness", 64)],
    );
    observer.observe(
        10465,
        &[KeyValue::new("pid", 880), KeyValue::new("bitness", 32)],
    );
}

/// Guide, "Counter", "Creating Asynchronous Counter" and "Histogram".
fn record_metrics() {
    // Creates a meter from the global meter provider
    let meter = global::meter("my.meter.name");

    let work_counter = meter
        .u64_counter("work.counter")
        .with_unit("1")
        .with_description("Counts the amount of work done")
        .build();
    for _ in 0..3 {
        do_counted_work(&work_counter, "a");
    }

    meter
        .u64_observable_counter("PF")
        .with_unit("1")
        .with_description("process page faults")
        .with_callback(pf_callback)
        .build();

    let http_server_duration = meter
        .f64_histogram("http.server.duration")
        .with_unit("ms")
        .with_description("measures the duration of the inbound HTTP request")
        .build();
    http_server_duration.record(
        50.0,
        &[
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.scheme", "https"),
        ],
    );
    http_server_duration.record(
        100.0,
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
        ],
    );
}

// ---- end: code for examples/guide.rs ----------------------------------------------------

#[test]
fn the_guide_metrics_are_exported_at_shutdown() {
    let resource = Resource::new([KeyValue::new(SERVICE_NAME, "my.service.name")]);
    // The guide's provider (console) ...
    let console_provider = init_metrics(&resource);
    // ... replaced, for checking, by one that also keeps what it exports.
    let memory = InMemoryMetricExporter::default();
    let provider = MeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(PeriodicExportingMetricReader::builder(memory.clone()).build())
        .with_reader(
            PeriodicExportingMetricReader::builder(ConsoleMetricExporter::default()).build(),
        )
        .build();
    global::set_meter_provider(provider.clone());

    record_metrics();

    if let Err(e) = provider.shutdown() {
        panic!("meter provider shutdown: {e}");
    }
    console_provider.shutdown().unwrap();

    let exported = memory.exported();
    assert_eq!(exported.len(), 1, "one final collection");
    let rm = &exported[0];
    assert_eq!(rm.scope_metrics.len(), 1);
    assert_eq!(rm.scope_metrics[0].scope.name(), "my.meter.name");
    assert_eq!(rm.scope_metrics[0].scope.version(), None);

    let MetricData::Sum(work) = &rm.metric("work.counter").unwrap().data else {
        panic!()
    };
    assert_eq!(work.temporality, Temporality::Cumulative);
    assert_eq!(
        work.data_points[0].attributes,
        vec![KeyValue::new("work.type", "a")]
    );
    assert_eq!(work.data_points[0].value, Number::U64(3));

    let pf = rm.metric("PF").unwrap();
    assert_eq!(pf.description.as_str(), "process page faults");
    let MetricData::Sum(pf) = &pf.data else {
        panic!()
    };
    let mut pf_points: Vec<(Vec<KeyValue>, Number)> = pf
        .data_points
        .iter()
        .map(|p| (p.attributes.clone(), p.value))
        .collect();
    pf_points.sort_by_key(|(_, v)| v.as_i64());
    assert_eq!(
        pf_points,
        vec![
            (
                vec![KeyValue::new("bitness", 64), KeyValue::new("pid", 0)],
                Number::U64(8)
            ),
            (
                vec![KeyValue::new("bitness", 32), KeyValue::new("pid", 880)],
                Number::U64(10465)
            ),
            (
                vec![KeyValue::new("bitness", 64), KeyValue::new("pid", 4)],
                Number::U64(37741921)
            ),
        ]
    );

    let dur = rm.metric("http.server.duration").unwrap();
    assert_eq!(dur.unit.as_str(), "ms");
    let MetricData::Histogram(h) = &dur.data else {
        panic!()
    };
    assert_eq!(h.data_points.len(), 2);
    for p in &h.data_points {
        assert_eq!(p.count, 1);
        assert_eq!(p.bounds.len(), 15);
        assert_eq!(p.min, p.max);
    }
    global::take_meter_provider();
}

// ---- the benchmark workloads' setup (counter_add_3attrs, histogram_record_3attrs) ------

/// The benches' no-op push exporter, cumulative for every kind.
struct NoopExporter;

impl MetricExporter for NoopExporter {
    fn export(&mut self, _metrics: &ResourceMetrics) -> SdkResult {
        Ok(())
    }
    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Cumulative
    }
}

fn bench_sets() -> Vec<[KeyValue; 3]> {
    (0..10i64)
        .map(|k| {
            [
                KeyValue::new("attr.one", format!("value{}", k + 1)),
                KeyValue::new("attr.two", "constant"),
                KeyValue::new("attr.three", k),
            ]
        })
        .collect()
}

#[test]
fn the_bench_setup_records_exactly() {
    let reader = PeriodicExportingMetricReader::builder(NoopExporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let check = otlp_sdk::metrics::ManualReader::new(); // test only: to read the totals
    let meter_provider = MeterProvider::builder()
        .with_reader(reader)
        .with_reader(check.clone())
        .build();
    let meter = meter_provider.meter("upstream-bench");
    let counter = meter.u64_counter("bench.counter").build();
    let histogram = meter.f64_histogram("bench.histogram").build();
    let sets = bench_sets();
    let op_counter = |i: usize| counter.add(1, &sets[i % 10]);
    let op_histogram = |i: usize| histogram.record((i % 1000) as f64 * 1.7, &sets[i % 10]);
    for i in 0..10_000 {
        op_counter(i);
        op_histogram(i);
    }
    let rm = check.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("bench.counter").unwrap().data else {
        panic!()
    };
    assert_eq!(s.data_points.len(), 10);
    assert!(s.data_points.iter().all(|p| p.value == Number::U64(1000)));
    let MetricData::Histogram(h) = &rm.metric("bench.histogram").unwrap().data else {
        panic!()
    };
    assert!(h.data_points.iter().all(|p| p.count == 1000));
    assert_eq!(h.data_points[0].max, Some(990.0 * 1.7)); // set 0 sees i % 1000 = 0, 10, .., 990
    meter_provider.shutdown().unwrap();
}
