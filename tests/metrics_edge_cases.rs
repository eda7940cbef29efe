//! Edge cases of the metrics SDK: counter resets seen by observable counters, extreme values
//! in exponential histograms, very busy delta series, exemplars on the overflow series, and
//! a reader given to two providers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use otlp_sdk::metrics::{
    Aggregation, ExemplarFilter, InstrumentKind, ManualReader, MeterProvider, MetricData, Number,
    ResourceMetrics, Temporality, View,
};
use otlp_sdk::KeyValue;

fn delta_provider(views: Vec<View>) -> (MeterProvider, ManualReader) {
    let reader = ManualReader::builder()
        .with_temporality_selector(|_| Temporality::Delta)
        .build();
    let mut b = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOff);
    for v in views {
        b = b.with_view(v);
    }
    (b.build(), reader)
}

/// The sum of the points of metric `name` (0 when it has none).
fn total(rm: &ResourceMetrics, name: &str) -> u64 {
    rm.metric(name).map_or(0, |m| match &m.data {
        MetricData::Sum(s) => s.data_points.iter().map(|p| p.value.as_f64() as u64).sum(),
        _ => panic!("not a sum"),
    })
}

#[test]
fn an_observable_counter_that_resets_reports_what_it_counted_since() {
    let (p, reader) = delta_provider(vec![]);
    let v = Arc::new(AtomicU64::new(10));
    let v2 = Arc::clone(&v);
    p.meter("m")
        .u64_observable_counter("oc")
        .with_callback(move |o| o.observe(v2.load(Ordering::Relaxed), &[]))
        .build();
    assert_eq!(total(&reader.collect().unwrap(), "oc"), 10);
    v.store(14, Ordering::Relaxed);
    assert_eq!(total(&reader.collect().unwrap(), "oc"), 4);
    // The observed process restarted: its count starts again from zero.
    v.store(3, Ordering::Relaxed);
    let rm = reader.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("oc").unwrap().data else {
        panic!("not a sum")
    };
    assert_eq!(
        s.data_points[0].value,
        Number::U64(3),
        "not a wrapped difference"
    );
    assert!(s.is_monotonic);
}

#[test]
fn an_exponential_histogram_takes_a_subnormal_and_a_huge_value() {
    let view = View::builder()
        .with_instrument_kind(InstrumentKind::Histogram)
        .with_aggregation(Aggregation::base2_exponential_histogram())
        .build()
        .unwrap();
    let (p, reader) = delta_provider(vec![view]);
    let h = p.meter("m").f64_histogram("h").build();
    // At the largest scale their bucket indexes are more than i32::MAX apart.
    h.record(5e-324, &[]);
    h.record(1e308, &[]);
    let rm = reader.collect().unwrap();
    let MetricData::ExponentialHistogram(e) = &rm.metric("h").unwrap().data else {
        panic!("not an exponential histogram")
    };
    let point = &e.data_points[0];
    assert_eq!(point.count, 2);
    let buckets: u64 = point.positive.counts.iter().sum();
    assert_eq!(buckets + point.zero_count, 2);
}

#[test]
fn a_delta_series_with_2_pow_24_updates_in_one_interval_is_reported() {
    // The update count the collector compares was 24 bits wide: this many updates looked
    // like none, and the series was dropped as idle, with its data.
    let (p, reader) = delta_provider(vec![]);
    let c = p.meter("m").u64_counter("c").build();
    let bound = c.bind(&[]);
    for _ in 0..(1u64 << 24) {
        bound.add(1);
    }
    assert_eq!(total(&reader.collect().unwrap(), "c"), 1 << 24);
    bound.add(1);
    assert_eq!(total(&reader.collect().unwrap(), "c"), 1);
}

#[test]
fn the_overflow_points_exemplars_keep_the_measurements_attributes() {
    let reader = ManualReader::new();
    let p = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOn)
        .with_cardinality_limit(2)
        .build();
    let c = p.meter("m").u64_counter("c").build();
    c.add(1, &[KeyValue::new("k", "a")]);
    c.add(1, &[KeyValue::new("k", "b")]); // past the limit: the overflow series
    let rm = reader.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("c").unwrap().data else {
        panic!("not a sum")
    };
    let overflow = s
        .data_points
        .iter()
        .find(|p| p.attributes[0].key.as_str() == "otel.metric.overflow")
        .expect("an overflow point");
    assert_eq!(
        overflow.exemplars[0].filtered_attributes,
        vec![KeyValue::new("k", "b")],
        "with the point's attributes, the exemplar's give back the measurement's"
    );
    // A point within the limit shows its attributes itself.
    let kept = s
        .data_points
        .iter()
        .find(|p| p.attributes[0].key.as_str() == "k")
        .unwrap();
    assert!(kept.exemplars[0].filtered_attributes.is_empty());
}

#[test]
fn a_manual_reader_given_to_a_second_provider_stays_with_the_first() {
    let reader = ManualReader::new();
    let p1 = MeterProvider::builder().with_reader(reader.clone()).build();
    p1.meter("m").u64_counter("c").build().add(1, &[]);
    // Built without the reader (reported), so dropping it does not shut the reader down.
    drop(MeterProvider::builder().with_reader(reader.clone()).build());
    assert_eq!(total(&reader.collect().unwrap(), "c"), 1);
    p1.shutdown().unwrap();
    assert!(reader.collect().is_err(), "shut down with its provider");
}

#[test]
fn negative_histogram_values_are_dropped_so_sums_stay_monotonic() {
    // As Python's SDK: a histogram takes non-negative values, so that its sum (exported as
    // a monotonic count, or as a Sum stream through a view) never goes down.
    let view = View::builder()
        .with_instrument_name("as_sum")
        .with_aggregation(Aggregation::Sum)
        .build()
        .unwrap();
    let (p, reader) = delta_provider(vec![view]);
    let m = p.meter("m");
    let h = m.f64_histogram("h").build();
    let as_sum = m.f64_histogram("as_sum").build();
    for v in [5.0, -10.0] {
        h.record(v, &[]);
        as_sum.record(v, &[]);
        as_sum.bind(&[]).record(v);
    }
    let rm = reader.collect().unwrap();
    let MetricData::Histogram(hist) = &rm.metric("h").unwrap().data else {
        panic!("not a histogram")
    };
    assert_eq!(
        (hist.data_points[0].count, hist.data_points[0].sum),
        (1, Some(5.0))
    );
    let MetricData::Sum(s) = &rm.metric("as_sum").unwrap().data else {
        panic!("not a sum")
    };
    assert!(s.is_monotonic);
    assert_eq!(s.data_points[0].value, Number::F64(10.0));
}
