//! The benchmark workloads' metric setup, checked to record exactly. (The guide's metrics
//! section is checked on the real example's output, in tests/guide_example.rs.)

use std::time::Duration;

use otlp_sdk::metrics::{
    InstrumentKind, MeterProvider, MetricData, MetricExporter, Number,
    PeriodicExportingMetricReader, ResourceMetrics, Temporality,
};
use otlp_sdk::{KeyValue, SdkResult};

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
