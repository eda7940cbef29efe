//! Views: selection (name wildcards, kind, unit, meter) and stream changes (rename,
//! description, attribute keys, aggregation, drop, cardinality limit).

use otlp_sdk::metrics::{
    Aggregation, ExemplarFilter, InstrumentKind, ManualReader, MeterProvider, MetricData, Number,
    ResourceMetrics, View,
};
use otlp_sdk::{InstrumentationScope, KeyValue};

fn provider(views: Vec<View>) -> (MeterProvider, ManualReader) {
    let reader = ManualReader::new();
    let mut b = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOff);
    for v in views {
        b = b.with_view(v);
    }
    (b.build(), reader)
}

fn names(rm: &ResourceMetrics) -> Vec<String> {
    let mut n: Vec<String> = rm
        .scope_metrics
        .iter()
        .flat_map(|s| s.metrics.iter().map(|m| m.name.to_string()))
        .collect();
    n.sort();
    n
}

fn sum_values(rm: &ResourceMetrics, name: &str) -> Vec<(Vec<KeyValue>, Number)> {
    match &rm.metric(name).unwrap().data {
        MetricData::Sum(s) => s
            .data_points
            .iter()
            .map(|p| (p.attributes.clone(), p.value))
            .collect(),
        other => panic!("sum expected: {other:?}"),
    }
}

#[test]
fn rename_and_description() {
    let view = View::builder()
        .with_instrument_name("work.counter")
        .with_name("work.total")
        .with_description("renamed")
        .build()
        .unwrap();
    let (p, reader) = provider(vec![view]);
    p.meter("m").u64_counter("work.counter").build().add(1, &[]);
    let rm = reader.collect().unwrap();
    assert_eq!(names(&rm), vec!["work.total"]);
    assert_eq!(
        rm.metric("work.total").unwrap().description.as_str(),
        "renamed"
    );
}

#[test]
fn wildcard_kind_unit_and_meter_selection() {
    let to_gauge = |b: otlp_sdk::metrics::ViewBuilder| {
        b.with_aggregation(Aggregation::LastValue).build().unwrap()
    };
    let views = vec![
        to_gauge(View::builder().with_instrument_name("http.*.dur?tion")),
        to_gauge(
            View::builder()
                .with_instrument_kind(InstrumentKind::UpDownCounter)
                .with_instrument_unit("By"),
        ),
        to_gauge(View::builder().with_meter_name("special")),
    ];
    let (p, reader) = provider(views);
    let m = p.meter("m");
    m.u64_counter("http.server.duration").build().add(3, &[]);
    m.u64_counter("http.server.size").build().add(3, &[]);
    m.i64_up_down_counter("mem")
        .with_unit("By")
        .build()
        .add(5, &[]);
    m.i64_up_down_counter("items")
        .with_unit("1")
        .build()
        .add(5, &[]);
    p.meter_with_scope(
        InstrumentationScope::builder("special")
            .with_version("1")
            .build(),
    )
    .u64_counter("s")
    .build()
    .add(2, &[]);
    let rm = reader.collect().unwrap();
    let kind = |n: &str| match &rm.metric(n).unwrap().data {
        MetricData::Gauge(_) => "gauge",
        MetricData::Sum(_) => "sum",
        _ => "other",
    };
    assert_eq!(kind("http.server.duration"), "gauge");
    assert_eq!(kind("http.server.size"), "sum");
    assert_eq!(kind("mem"), "gauge");
    assert_eq!(kind("items"), "sum");
    assert_eq!(kind("s"), "gauge");
}

#[test]
fn allowed_and_excluded_attribute_keys_merge_series() {
    let views = vec![
        View::builder()
            .with_instrument_name("allowed")
            .with_allowed_attribute_keys(["method"])
            .build()
            .unwrap(),
        View::builder()
            .with_instrument_name("excluded")
            .with_excluded_attribute_keys(["user.id"])
            .build()
            .unwrap(),
    ];
    let (p, reader) = provider(views);
    let m = p.meter("m");
    let a = m.u64_counter("allowed").build();
    let e = m.u64_counter("excluded").build();
    for user in 0..5i64 {
        let attrs = [
            KeyValue::new("method", "GET"),
            KeyValue::new("user.id", user),
            KeyValue::new("route", "/x"),
        ];
        a.add(1, &attrs);
        e.add(1, &attrs);
    }
    let rm = reader.collect().unwrap();
    assert_eq!(
        sum_values(&rm, "allowed"),
        vec![(vec![KeyValue::new("method", "GET")], Number::U64(5))]
    );
    assert_eq!(
        sum_values(&rm, "excluded"),
        vec![(
            vec![KeyValue::new("method", "GET"), KeyValue::new("route", "/x")],
            Number::U64(5)
        )]
    );
}

#[test]
fn attribute_filters_apply_to_observable_instruments() {
    let view = View::builder()
        .with_instrument_name("obs")
        .with_allowed_attribute_keys(["cpu"])
        .build()
        .unwrap();
    let (p, reader) = provider(vec![view]);
    p.meter("m")
        .u64_observable_counter("obs")
        .with_callback(|o| {
            o.observe(
                3,
                &[KeyValue::new("cpu", 0), KeyValue::new("state", "user")],
            );
            o.observe(
                4,
                &[KeyValue::new("cpu", 0), KeyValue::new("state", "system")],
            );
        })
        .build();
    let rm = reader.collect().unwrap();
    assert_eq!(
        sum_values(&rm, "obs"),
        vec![(vec![KeyValue::new("cpu", 0)], Number::U64(7))]
    );
}

#[test]
fn drop_aggregation_removes_the_instrument() {
    let view = View::builder()
        .with_instrument_name("noisy.*")
        .with_aggregation(Aggregation::Drop)
        .build()
        .unwrap();
    let (p, reader) = provider(vec![view]);
    let m = p.meter("m");
    m.u64_counter("noisy.one").build().add(1, &[]);
    m.f64_histogram("noisy.two").build().record(1.0, &[]);
    m.u64_observable_gauge("noisy.three")
        .with_callback(|o| o.observe(1, &[]))
        .build();
    m.u64_counter("kept").build().add(1, &[]);
    assert_eq!(names(&reader.collect().unwrap()), vec!["kept"]);
}

#[test]
fn aggregation_change_to_custom_buckets_and_sum() {
    let views = vec![
        View::builder()
            .with_instrument_name("lat")
            .with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0, 2.0],
                record_min_max: false,
            })
            .build()
            .unwrap(),
        View::builder()
            .with_instrument_name("hsum")
            .with_aggregation(Aggregation::Sum)
            .build()
            .unwrap(),
    ];
    let (p, reader) = provider(views);
    let m = p.meter("m");
    let lat = m.f64_histogram("lat").with_boundaries(vec![100.0]).build();
    for v in [0.5, 1.5, 2.5, 3.5] {
        lat.record(v, &[]);
    }
    let hs = m.u64_histogram("hsum").build();
    hs.record(4, &[]);
    hs.record(6, &[]);
    let rm = reader.collect().unwrap();
    let MetricData::Histogram(h) = &rm.metric("lat").unwrap().data else {
        panic!()
    };
    let pt = &h.data_points[0];
    assert_eq!(pt.bounds, vec![1.0, 2.0], "the view wins over the advice");
    assert_eq!(pt.bucket_counts, vec![1, 1, 2]);
    assert_eq!((pt.min, pt.max), (None, None));
    let MetricData::Sum(s) = &rm.metric("hsum").unwrap().data else {
        panic!()
    };
    assert!(s.is_monotonic);
    assert_eq!(s.data_points[0].value, Number::U64(10));
}

#[test]
fn two_matching_views_make_two_streams() {
    let views = vec![
        View::builder()
            .with_instrument_name("c")
            .with_name("c.by_method")
            .with_allowed_attribute_keys(["method"])
            .build()
            .unwrap(),
        View::builder()
            .with_instrument_name("c")
            .with_name("c.total")
            .with_allowed_attribute_keys(Vec::<&'static str>::new())
            .build()
            .unwrap(),
    ];
    let (p, reader) = provider(views);
    let c = p.meter("m").u64_counter("c").build();
    c.add(1, &[KeyValue::new("method", "GET")]);
    c.add(2, &[KeyValue::new("method", "POST")]);
    let rm = reader.collect().unwrap();
    assert_eq!(names(&rm), vec!["c.by_method", "c.total"]);
    assert_eq!(sum_values(&rm, "c.total"), vec![(vec![], Number::U64(3))]);
    assert_eq!(sum_values(&rm, "c.by_method").len(), 2);
}

#[test]
fn view_cardinality_limit() {
    let view = View::builder()
        .with_instrument_name("limited")
        .with_cardinality_limit(2)
        .build()
        .unwrap();
    let (p, reader) = provider(vec![view]);
    let c = p.meter("m").u64_counter("limited").build();
    for i in 0..4i64 {
        c.add(10, &[KeyValue::new("i", i)]);
    }
    let rm = reader.collect().unwrap();
    let vals = sum_values(&rm, "limited");
    assert_eq!(
        vals,
        vec![
            (vec![KeyValue::new("i", 0)], Number::U64(10)),
            (
                vec![KeyValue::new("otel.metric.overflow", true)],
                Number::U64(30)
            ),
        ]
    );
}

#[test]
fn conflicting_stream_names_from_views_are_reported_and_all_exported() {
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let m2 = messages.clone();
    otlp_sdk::diagnostics::set_error_handler(move |msg| m2.lock().unwrap().push(msg.into()));
    let view = View::builder()
        .with_instrument_name("a")
        .with_name("b")
        .build()
        .unwrap();
    let (p, reader) = provider(vec![view]);
    let m = p.meter("m");
    m.u64_counter("b").build().add(1, &[]);
    m.u64_counter("a").build().add(2, &[]);
    let rm = reader.collect().unwrap();
    assert_eq!(names(&rm), vec!["b", "b"]);
    assert!(messages
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains("conflicting metric streams")));

    // Two views on one instrument that keep its name (in the same test: the error handler
    // is process-wide).
    let views = vec![
        View::builder()
            .with_instrument_name("c")
            .with_aggregation(Aggregation::Sum)
            .build()
            .unwrap(),
        View::builder()
            .with_instrument_name("c")
            .with_aggregation(Aggregation::LastValue)
            .build()
            .unwrap(),
    ];
    let (p, reader) = provider(views);
    p.meter("m2").u64_counter("c").build().add(3, &[]);
    assert_eq!(names(&reader.collect().unwrap()), vec!["c", "c"]);
    assert!(
        messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("2 views give instrument c (meter m2)")),
        "{:?}",
        messages.lock().unwrap()
    );
}

#[test]
fn histogram_views_have_no_sum_for_instruments_that_can_record_negative_values() {
    // The specification: a histogram's sum should not be collected for up-down counters
    // and gauges. Counters and histograms keep it.
    let views = vec![
        View::builder()
            .with_instrument_name("explicit.*")
            .with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![0.0, 10.0],
                record_min_max: true,
            })
            .build()
            .unwrap(),
        View::builder()
            .with_instrument_name("expo.*")
            .with_aggregation(Aggregation::base2_exponential_histogram())
            .build()
            .unwrap(),
    ];
    let (p, reader) = provider(views);
    let m = p.meter("m");
    let udc = m.i64_up_down_counter("explicit.udc").build();
    for v in [-5, 3, 20] {
        udc.add(v, &[]);
    }
    let gauge = m.f64_gauge("explicit.gauge").build();
    gauge.record(-2.5, &[]);
    gauge.record(7.0, &[]);
    let hist = m.f64_histogram("explicit.hist").build();
    let counter = m.u64_counter("explicit.counter").build();
    for v in [4, 12] {
        hist.record(v as f64, &[]);
        counter.add(v, &[]);
    }
    let expo_udc = m.f64_up_down_counter("expo.udc").build();
    for v in [-1.0, 2.0, 4.0] {
        expo_udc.add(v, &[]);
    }
    let expo_gauge = m.i64_gauge("expo.gauge").build();
    expo_gauge.record(-3, &[]);
    expo_gauge.record(3, &[]);
    m.u64_histogram("expo.hist").build().record(2, &[]);
    m.f64_counter("expo.counter").build().add(1.5, &[]);

    let rm = reader.collect().unwrap();
    let explicit = |name: &str| match &rm.metric(name).unwrap().data {
        MetricData::Histogram(h) => {
            let p = &h.data_points[0];
            (p.count, p.sum, p.min, p.max, p.bucket_counts.clone())
        }
        other => panic!("{name}: histogram expected: {other:?}"),
    };
    assert_eq!(
        explicit("explicit.udc"),
        (3, None, Some(-5.0), Some(20.0), vec![1, 1, 1])
    );
    assert_eq!(
        explicit("explicit.gauge"),
        (2, None, Some(-2.5), Some(7.0), vec![1, 1, 0])
    );
    assert_eq!(
        explicit("explicit.hist"),
        (2, Some(16.0), Some(4.0), Some(12.0), vec![0, 1, 1])
    );
    assert_eq!(
        explicit("explicit.counter"),
        (2, Some(16.0), Some(4.0), Some(12.0), vec![0, 1, 1])
    );

    let expo = |name: &str| match &rm.metric(name).unwrap().data {
        MetricData::ExponentialHistogram(h) => {
            let p = &h.data_points[0];
            let negative = p.negative.counts.iter().sum::<u64>();
            let positive = p.positive.counts.iter().sum::<u64>();
            (p.count, p.sum, p.min, p.max, negative, positive)
        }
        other => panic!("{name}: exponential histogram expected: {other:?}"),
    };
    assert_eq!(expo("expo.udc"), (3, None, Some(-1.0), Some(4.0), 1, 2));
    assert_eq!(expo("expo.gauge"), (2, None, Some(-3.0), Some(3.0), 1, 1));
    assert_eq!(
        expo("expo.hist"),
        (1, Some(2.0), Some(2.0), Some(2.0), 0, 1)
    );
    assert_eq!(
        expo("expo.counter"),
        (1, Some(1.5), Some(1.5), Some(1.5), 0, 1)
    );

    // Still none at the next collection (cumulative: the state is read again, not reset).
    udc.add(1, &[]);
    let rm = reader.collect().unwrap();
    let MetricData::Histogram(h) = &rm.metric("explicit.udc").unwrap().data else {
        panic!("histogram expected")
    };
    assert_eq!((h.data_points[0].count, h.data_points[0].sum), (4, None));
}
