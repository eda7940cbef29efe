//! Every instrument kind x aggregation x temporality, with exact expected points.

use otlp_sdk::metrics::{
    Aggregation, ExemplarFilter, GaugeData, HistogramData, HistogramDataPoint, InstrumentKind,
    ManualReader, Meter, MeterProvider, MetricData, Number, NumberDataPoint, ResourceMetrics,
    SumData, Temporality, TemporalityPreference, View,
};
use otlp_sdk::{KeyValue, SdkError};

fn setup_with(reader: ManualReader, views: Vec<View>) -> (MeterProvider, ManualReader, Meter) {
    let mut b = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOff);
    for v in views {
        b = b.with_view(v);
    }
    let provider = b.build();
    let meter = provider.meter("test.meter");
    (provider, reader, meter)
}

fn setup(pref: TemporalityPreference) -> (MeterProvider, ManualReader, Meter) {
    setup_with(
        ManualReader::builder().with_temporality(pref).build(),
        Vec::new(),
    )
}

fn all_delta() -> (MeterProvider, ManualReader, Meter) {
    setup_with(
        ManualReader::builder()
            .with_temporality_selector(|_| Temporality::Delta)
            .build(),
        Vec::new(),
    )
}

fn sum<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a SumData {
    match &rm.metric(name).unwrap_or_else(|| panic!("no {name}")).data {
        MetricData::Sum(s) => s,
        other => panic!("{name}: sum expected, got {other:?}"),
    }
}

fn gauge<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a GaugeData {
    match &rm.metric(name).unwrap_or_else(|| panic!("no {name}")).data {
        MetricData::Gauge(g) => g,
        other => panic!("{name}: gauge expected, got {other:?}"),
    }
}

fn hist<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a HistogramData {
    match &rm.metric(name).unwrap_or_else(|| panic!("no {name}")).data {
        MetricData::Histogram(h) => h,
        other => panic!("{name}: histogram expected, got {other:?}"),
    }
}

/// The point whose attributes are `attrs` (given sorted by key).
fn pt<'a>(points: &'a [NumberDataPoint], attrs: &[KeyValue]) -> &'a NumberDataPoint {
    points
        .iter()
        .find(|p| p.attributes == attrs)
        .unwrap_or_else(|| panic!("no point for {attrs:?} in {points:?}"))
}

fn kv(k: &'static str, v: impl Into<otlp_sdk::Value>) -> KeyValue {
    KeyValue::new(k, v)
}

#[test]
fn u64_counter_cumulative_points_are_exact_and_attribute_order_does_not_matter() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let counter = meter
        .u64_counter("work.counter")
        .with_unit("1")
        .with_description("Counts the amount of work done")
        .build();
    let a = [kv("work.type", "a"), kv("host", "h1")];
    let a_rev = [kv("host", "h1"), kv("work.type", "a")];
    counter.add(1, &a);
    counter.add(2, &a_rev);
    counter.add(3, &[kv("host", "h1"), kv("work.type", "a")]);
    counter.add(5, &[kv("work.type", "b")]);

    let rm1 = reader.collect().unwrap();
    let m = rm1.metric("work.counter").unwrap();
    assert_eq!(m.unit.as_str(), "1");
    assert_eq!(m.description.as_str(), "Counts the amount of work done");
    let s1 = sum(&rm1, "work.counter");
    assert!(s1.is_monotonic);
    assert_eq!(s1.temporality, Temporality::Cumulative);
    assert_eq!(s1.data_points.len(), 2);
    let sorted_a = [kv("host", "h1"), kv("work.type", "a")];
    let pa1 = pt(&s1.data_points, &sorted_a);
    assert_eq!(pa1.value, Number::U64(6));
    assert_eq!(
        pt(&s1.data_points, &[kv("work.type", "b")]).value,
        Number::U64(5)
    );
    assert!(pa1.start_time_unix_nano <= pa1.time_unix_nano);

    counter.add(1, &a);
    let rm2 = reader.collect().unwrap();
    let s2 = sum(&rm2, "work.counter");
    let pa2 = pt(&s2.data_points, &sorted_a);
    assert_eq!(pa2.value, Number::U64(7));
    // cumulative: untouched series keep being reported, same start time
    assert_eq!(
        pt(&s2.data_points, &[kv("work.type", "b")]).value,
        Number::U64(5)
    );
    assert_eq!(pa2.start_time_unix_nano, pa1.start_time_unix_nano);
    assert!(pa2.time_unix_nano >= pa1.time_unix_nano);
    assert_eq!(rm2.scope_metrics[0].scope.name(), "test.meter");
}

#[test]
fn u64_counter_delta_reports_only_the_interval_with_chained_start_times() {
    let (_p, reader, meter) = setup(TemporalityPreference::Delta);
    let counter = meter.u64_counter("c").build();
    counter.add(4, &[kv("k", "a")]);
    counter.add(5, &[kv("k", "b")]);
    let rm1 = reader.collect().unwrap();
    let s1 = sum(&rm1, "c");
    assert_eq!(s1.temporality, Temporality::Delta);
    assert_eq!(pt(&s1.data_points, &[kv("k", "a")]).value, Number::U64(4));
    let t1 = s1.data_points[0].time_unix_nano;

    counter.add(1, &[kv("k", "a")]);
    let rm2 = reader.collect().unwrap();
    let s2 = sum(&rm2, "c");
    assert_eq!(s2.data_points.len(), 1, "b had no measurement");
    assert_eq!(s2.data_points[0].value, Number::U64(1));
    assert_eq!(s2.data_points[0].start_time_unix_nano, t1);

    // nothing recorded: no metric at all
    let rm3 = reader.collect().unwrap();
    assert!(rm3.metric("c").is_none());
}

#[test]
fn f64_counter_and_invalid_increments() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let counter = meter.f64_counter("f").build();
    for _ in 0..4 {
        counter.add(0.5, &[]);
    }
    counter.add(-1.0, &[]); // dropped
    counter.add(f64::NAN, &[]); // dropped
    counter.add(f64::INFINITY, &[]); // dropped
    let rm = reader.collect().unwrap();
    assert_eq!(sum(&rm, "f").data_points[0].value, Number::F64(2.0));
}

#[test]
fn up_down_counters_cumulative_and_delta() {
    let (_p, reader, meter) = setup(TemporalityPreference::Delta);
    let udc = meter.i64_up_down_counter("queue.size").build();
    udc.add(5, &[kv("q", 1)]);
    udc.add(-7, &[kv("q", 1)]);
    let rm = reader.collect().unwrap();
    let s = sum(&rm, "queue.size");
    assert!(!s.is_monotonic);
    // the delta preference keeps up-down counters cumulative
    assert_eq!(s.temporality, Temporality::Cumulative);
    assert_eq!(s.data_points[0].value, Number::I64(-2));
    udc.add(1, &[kv("q", 1)]);
    let rm = reader.collect().unwrap();
    assert_eq!(sum(&rm, "queue.size").data_points[0].value, Number::I64(-1));

    let (_p2, reader2, meter2) = all_delta();
    let f = meter2.f64_up_down_counter("f.udc").build();
    f.add(2.5, &[]);
    f.add(-1.0, &[]);
    let rm = reader2.collect().unwrap();
    assert_eq!(sum(&rm, "f.udc").temporality, Temporality::Delta);
    assert_eq!(sum(&rm, "f.udc").data_points[0].value, Number::F64(1.5));
    f.add(-3.0, &[]);
    f.add(f64::NAN, &[]); // dropped
    let rm = reader2.collect().unwrap();
    assert_eq!(sum(&rm, "f.udc").data_points[0].value, Number::F64(-3.0));
}

fn bucket_counts(p: &HistogramDataPoint) -> Vec<u64> {
    p.bucket_counts.clone()
}

#[test]
fn f64_histogram_default_buckets_cumulative() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let h = meter
        .f64_histogram("http.server.duration")
        .with_unit("ms")
        .build();
    for v in [-1.0, 0.0, 5.0, 7.0, 50.0, 100.0, 10001.0] {
        h.record(v, &[kv("m", "GET")]);
    }
    h.record(f64::NAN, &[kv("m", "GET")]); // dropped
    let rm = reader.collect().unwrap();
    let hd = hist(&rm, "http.server.duration");
    assert_eq!(hd.temporality, Temporality::Cumulative);
    let p = &hd.data_points[0];
    assert_eq!(
        p.bounds,
        vec![
            0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
            7500.0, 10000.0
        ]
    );
    let mut expected = vec![0u64; 16];
    expected[0] = 1; // 0 (-1 was dropped: a histogram takes non-negative values)
    expected[1] = 1; // 5
    expected[2] = 1; // 7
    expected[4] = 1; // 50
    expected[6] = 1; // 100
    expected[15] = 1; // 10001
    assert_eq!(bucket_counts(p), expected);
    assert_eq!(p.count, 6);
    assert_eq!(p.sum, Some(10163.0));
    assert_eq!(p.min, Some(0.0));
    assert_eq!(p.max, Some(10001.0));

    h.record(3.0, &[kv("m", "GET")]);
    let rm = reader.collect().unwrap();
    let p2 = &hist(&rm, "http.server.duration").data_points[0];
    assert_eq!(p2.count, 7);
    assert_eq!(p2.start_time_unix_nano, p.start_time_unix_nano);
}

#[test]
fn histogram_delta_resets_counts_min_and_max() {
    let (_p, reader, meter) = setup(TemporalityPreference::Delta);
    let h = meter.f64_histogram("h").build();
    h.record(100.0, &[]);
    h.record(1.0, &[]);
    let rm = reader.collect().unwrap();
    let p1 = hist(&rm, "h").data_points[0].clone();
    assert_eq!(hist(&rm, "h").temporality, Temporality::Delta);
    assert_eq!((p1.count, p1.min, p1.max), (2, Some(1.0), Some(100.0)));
    h.record(3.0, &[]);
    let rm = reader.collect().unwrap();
    let p2 = &hist(&rm, "h").data_points[0];
    assert_eq!(
        (p2.count, p2.sum, p2.min, p2.max),
        (1, Some(3.0), Some(3.0), Some(3.0))
    );
    assert_eq!(p2.bucket_counts[1], 1);
    assert_eq!(p2.bucket_counts.iter().sum::<u64>(), 1);
    assert_eq!(p2.start_time_unix_nano, p1.time_unix_nano);
}

#[test]
fn u64_histogram_with_advisory_boundaries_and_invalid_advice_falls_back() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let h = meter
        .u64_histogram("sizes")
        .with_boundaries(vec![10.0, 20.0])
        .build();
    for v in [5u64, 15, 25, 20] {
        h.record(v, &[]);
    }
    let bad = meter
        .u64_histogram("bad")
        .with_boundaries(vec![5.0, 1.0])
        .build();
    bad.record(1, &[]);
    let rm = reader.collect().unwrap();
    let p = &hist(&rm, "sizes").data_points[0];
    assert_eq!(p.bounds, vec![10.0, 20.0]);
    assert_eq!(p.bucket_counts, vec![1, 2, 1]);
    assert_eq!(
        (p.count, p.sum, p.min, p.max),
        (4, Some(65.0), Some(5.0), Some(25.0))
    );
    assert_eq!(hist(&rm, "bad").data_points[0].bounds.len(), 15);
}

#[test]
fn gauges_keep_the_last_value_and_delta_reports_only_updated_series() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let g = meter.f64_gauge("temp").build();
    let gi = meter.i64_gauge("level").build();
    let gu = meter.u64_gauge("free").build();
    g.record(1.5, &[kv("room", "a")]);
    g.record(-2.5, &[kv("room", "a")]);
    g.record(f64::INFINITY, &[kv("room", "a")]); // dropped
    gi.record(-3, &[]);
    gu.record(9, &[]);
    let rm = reader.collect().unwrap();
    assert_eq!(gauge(&rm, "temp").data_points[0].value, Number::F64(-2.5));
    assert_eq!(gauge(&rm, "level").data_points[0].value, Number::I64(-3));
    assert_eq!(gauge(&rm, "free").data_points[0].value, Number::U64(9));
    let rm = reader.collect().unwrap();
    assert_eq!(gauge(&rm, "temp").data_points[0].value, Number::F64(-2.5));

    let (_p, reader, meter) = all_delta();
    let g = meter.i64_gauge("g").build();
    g.record(1, &[kv("s", 1)]);
    g.record(2, &[kv("s", 2)]);
    let rm = reader.collect().unwrap();
    assert_eq!(gauge(&rm, "g").data_points.len(), 2);
    g.record(7, &[kv("s", 2)]);
    let rm = reader.collect().unwrap();
    let pts = &gauge(&rm, "g").data_points;
    assert_eq!(pts.len(), 1);
    assert_eq!(pt(pts, &[kv("s", 2)]).value, Number::I64(7));
}

#[test]
fn exponential_histogram_scale_and_offsets() {
    let view = View::builder()
        .with_instrument_name("exp")
        .with_aggregation(Aggregation::Base2ExponentialHistogram {
            max_size: 4,
            max_scale: 20,
            record_min_max: true,
        })
        .build()
        .unwrap();
    let reader = ManualReader::builder()
        .with_temporality_selector(|_| Temporality::Delta)
        .build();
    let (_p, reader, meter) = setup_with(reader, vec![view]);
    // An up-down counter through the view: it may record negative values (a histogram
    // instrument drops them), which go to the negative buckets.
    let h = meter.f64_up_down_counter("exp").build();
    for v in [1.0, 2.0, 4.0] {
        h.add(v, &[]);
    }
    h.add(0.0, &[]);
    h.add(-1.0, &[]);
    let rm = reader.collect().unwrap();
    let MetricData::ExponentialHistogram(e) = &rm.metric("exp").unwrap().data else {
        panic!("exponential histogram expected")
    };
    assert_eq!(e.temporality, Temporality::Delta);
    let p = &e.data_points[0];
    assert_eq!(p.scale, 0);
    assert_eq!(p.positive.offset, -1);
    assert_eq!(p.positive.counts, vec![1, 1, 1]);
    assert_eq!(p.negative.offset, -1);
    assert_eq!(p.negative.counts, vec![1]);
    assert_eq!(p.zero_count, 1);
    assert_eq!(
        (p.count, p.sum, p.min, p.max),
        (5, None, Some(-1.0), Some(4.0)),
        "an up-down counter's histogram has no sum"
    );

    // delta: a fresh state, starting again at the max scale
    h.add(1.0, &[]);
    let rm = reader.collect().unwrap();
    let MetricData::ExponentialHistogram(e) = &rm.metric("exp").unwrap().data else {
        panic!()
    };
    let p = &e.data_points[0];
    assert_eq!((p.count, p.scale, p.positive.offset), (1, 20, -1));
    assert_eq!(p.positive.counts, vec![1]);
}

#[test]
fn exponential_histogram_default_size_rescales_to_fit_160_buckets() {
    let view = View::builder()
        .with_instrument_kind(InstrumentKind::Histogram)
        .with_aggregation(Aggregation::base2_exponential_histogram())
        .build()
        .unwrap();
    let (_p, reader, meter) = setup_with(ManualReader::new(), vec![view]);
    let h = meter.u64_histogram("exp2").build();
    for v in [1u64, 2, 4] {
        h.record(v, &[]);
    }
    let rm = reader.collect().unwrap();
    let MetricData::ExponentialHistogram(e) = &rm.metric("exp2").unwrap().data else {
        panic!()
    };
    let p = &e.data_points[0];
    assert_eq!(p.scale, 6);
    assert_eq!(p.positive.offset, -1);
    assert_eq!(p.positive.counts.len(), 129);
    assert_eq!(
        (
            p.positive.counts[0],
            p.positive.counts[64],
            p.positive.counts[128]
        ),
        (1, 1, 1)
    );
    assert_eq!(p.positive.counts.iter().sum::<u64>(), 3);
}

#[test]
fn observable_counter_reports_several_sets_cumulative_and_delta() {
    for pref in [
        TemporalityPreference::Cumulative,
        TemporalityPreference::Delta,
    ] {
        let (_p, reader, meter) = setup(pref);
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c2 = calls.clone();
        meter
            .u64_observable_counter("PF")
            .with_unit("1")
            .with_description("process page faults")
            .with_callback(move |o| {
                let n = c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                o.observe(8 + n * 10, &[kv("pid", 0), kv("bitness", 64)]);
                o.observe(37741921, &[kv("pid", 4), kv("bitness", 64)]);
                o.observe(10465, &[kv("pid", 880), kv("bitness", 32)]);
            })
            .build();
        let rm = reader.collect().unwrap();
        let s = sum(&rm, "PF");
        assert!(s.is_monotonic);
        assert_eq!(s.data_points.len(), 3);
        let a = [kv("bitness", 64), kv("pid", 0)];
        assert_eq!(pt(&s.data_points, &a).value, Number::U64(8));
        assert_eq!(
            pt(&s.data_points, &[kv("bitness", 32), kv("pid", 880)]).value,
            Number::U64(10465)
        );
        let t1 = s.data_points[0].time_unix_nano;
        let rm = reader.collect().unwrap();
        let s = sum(&rm, "PF");
        match pref {
            TemporalityPreference::Cumulative => {
                assert_eq!(s.temporality, Temporality::Cumulative);
                assert_eq!(pt(&s.data_points, &a).value, Number::U64(18));
            }
            _ => {
                assert_eq!(s.temporality, Temporality::Delta);
                assert_eq!(pt(&s.data_points, &a).value, Number::U64(10));
                assert_eq!(
                    pt(&s.data_points, &[kv("bitness", 64), kv("pid", 4)]).value,
                    Number::U64(0)
                );
                assert_eq!(s.data_points[0].start_time_unix_nano, t1);
            }
        }
    }
}

#[test]
fn observable_up_down_counter_and_gauges() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    meter
        .i64_observable_up_down_counter("conns")
        .with_callback(|o| o.observe(-4, &[kv("pool", "a")]))
        .build();
    meter
        .f64_observable_up_down_counter("fconns")
        .with_callback(|o| o.observe(1.25, &[]))
        .build();
    meter
        .f64_observable_gauge("cpu")
        .with_callback(|o| {
            o.observe(0.5, &[kv("core", 0)]);
            o.observe(0.75, &[kv("core", 1)]);
            o.observe(0.25, &[kv("core", 0)]); // same set again: last value wins
            o.observe(f64::NAN, &[kv("core", 2)]); // dropped
        })
        .build();
    meter
        .u64_observable_gauge("mem")
        .with_callback(|o| o.observe(1024, &[]))
        .build();
    meter
        .i64_observable_gauge("delta.t")
        .with_callback(|o| o.observe(-1, &[]))
        .build();
    meter
        .f64_observable_counter("fc")
        .with_callback(|o| o.observe(2.5, &[]))
        .build();
    let rm = reader.collect().unwrap();
    let s = sum(&rm, "conns");
    assert!(!s.is_monotonic);
    assert_eq!(s.data_points[0].value, Number::I64(-4));
    assert_eq!(sum(&rm, "fconns").data_points[0].value, Number::F64(1.25));
    let g = gauge(&rm, "cpu");
    assert_eq!(g.data_points.len(), 2);
    assert_eq!(
        pt(&g.data_points, &[kv("core", 0)]).value,
        Number::F64(0.25)
    );
    assert_eq!(gauge(&rm, "mem").data_points[0].value, Number::U64(1024));
    assert_eq!(gauge(&rm, "delta.t").data_points[0].value, Number::I64(-1));
    assert_eq!(sum(&rm, "fc").data_points[0].value, Number::F64(2.5));
}

#[test]
fn invalid_names_give_no_op_instruments_and_duplicates_follow_identity_rules() {
    let (_p, reader, meter) = setup(TemporalityPreference::Cumulative);
    let bad = meter.u64_counter("1-starts-with-digit").build();
    bad.add(1, &[]);
    let bad_unit = meter.u64_counter("ok.name").with_unit("é").build();
    bad_unit.add(1, &[]);

    // same identity (name differs only in case): one instrument, one stream
    let a = meter.u64_counter("requests").with_unit("1").build();
    let b = meter.u64_counter("Requests").with_unit("1").build();
    a.add(1, &[]);
    b.add(2, &[]);
    // same name, different kind: reported, still works as its own stream
    let c = meter.f64_histogram("requests").build();
    c.record(1.0, &[]);

    let rm = reader.collect().unwrap();
    let metrics = &rm.scope_metrics[0].metrics;
    assert!(metrics
        .iter()
        .all(|m| m.name.as_str() != "1-starts-with-digit" && m.name.as_str() != "ok.name"));
    let requests: Vec<_> = metrics
        .iter()
        .filter(|m| m.name.eq_ignore_ascii_case("requests"))
        .collect();
    assert_eq!(requests.len(), 2);
    let MetricData::Sum(s) = &requests[0].data else {
        panic!("sum first")
    };
    assert_eq!(s.data_points[0].value, Number::U64(3));
    assert_eq!(
        requests[0].name.as_str(),
        "requests",
        "first-seen name kept"
    );
    assert!(matches!(requests[1].data, MetricData::Histogram(_)));
}

#[test]
fn same_scope_gives_the_same_meter() {
    let (provider, reader, _meter) = setup(TemporalityPreference::Cumulative);
    provider.meter("m").u64_counter("x").build().add(1, &[]);
    provider.meter("m").u64_counter("x").build().add(1, &[]);
    let rm = reader.collect().unwrap();
    let scopes: Vec<_> = rm.scope_metrics.iter().map(|s| s.scope.name()).collect();
    assert_eq!(scopes, vec!["m"]);
    assert_eq!(sum(&rm, "x").data_points[0].value, Number::U64(2));
}

#[test]
fn bound_instruments_share_the_unbound_series() {
    let (_p, reader, meter) = setup(TemporalityPreference::Delta);
    let c = meter.u64_counter("bound").build();
    let h = meter.f64_histogram("bound.h").build();
    let attrs = [kv("a", 1), kv("b", 2)];
    let bc = c.bind(&attrs);
    let bh = h.bind(&attrs);
    bc.add(2);
    bc.add(3);
    c.add(1, &[kv("b", 2), kv("a", 1)]);
    bh.record(4.0);
    let rm = reader.collect().unwrap();
    let s = sum(&rm, "bound");
    assert_eq!(s.data_points.len(), 1);
    assert_eq!(s.data_points[0].value, Number::U64(6));
    assert_eq!(hist(&rm, "bound.h").data_points[0].count, 1);
    // two idle intervals reclaim the series; the bound handle still records correctly
    assert!(reader.collect().unwrap().metric("bound").is_none());
    assert!(reader.collect().unwrap().metric("bound").is_none());
    bc.add(7);
    let rm = reader.collect().unwrap();
    assert_eq!(sum(&rm, "bound").data_points[0].value, Number::U64(7));
}

#[test]
fn cardinality_limit_adds_the_overflow_series() {
    let reader = ManualReader::new();
    let provider = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_cardinality_limit(3)
        .build();
    let c = provider.meter("m").u64_counter("c").build();
    for i in 0..5i64 {
        c.add(1, &[kv("i", i)]);
    }
    let rm = reader.collect().unwrap();
    let s = sum(&rm, "c");
    assert_eq!(s.data_points.len(), 3);
    let overflow = pt(&s.data_points, &[kv("otel.metric.overflow", true)]);
    assert_eq!(overflow.value, Number::U64(3));
    let total: i64 = s.data_points.iter().map(|p| p.value.as_i64()).sum();
    assert_eq!(total, 5);
}

#[test]
fn shutdown_is_idempotent_and_stops_collection() {
    let (provider, reader, meter) = setup(TemporalityPreference::Cumulative);
    meter.u64_counter("c").build().add(1, &[]);
    assert_eq!(provider.shutdown(), Ok(()));
    assert_eq!(provider.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(provider.force_flush(), Err(SdkError::AlreadyShutdown));
    assert_eq!(reader.collect().unwrap_err(), SdkError::AlreadyShutdown);
}

#[test]
fn is_enabled_tells_whether_measurements_go_anywhere() {
    let drop_view = View::builder()
        .with_instrument_name("dropped")
        .with_aggregation(Aggregation::Drop)
        .build()
        .unwrap();
    let (provider, _reader, meter) = setup_with(ManualReader::new(), vec![drop_view]);
    assert!(meter.u64_counter("kept").build().is_enabled());
    assert!(!meter.f64_histogram("dropped").build().is_enabled());
    assert!(!meter.i64_gauge("bad name").build().is_enabled());
    let no_reader = MeterProvider::default();
    assert!(!no_reader
        .meter("m")
        .i64_up_down_counter("x")
        .build()
        .is_enabled());
    provider.shutdown().unwrap();
    assert!(!meter.u64_counter("after.shutdown").build().is_enabled());
}
