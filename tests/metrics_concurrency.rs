//! Recording from many threads loses nothing: N threads x M measurements == exact totals,
//! also while a delta reader collects (and reclaims series) concurrently. The benchmark
//! workloads' metric setup (same attribute sets) is checked to record exactly too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::metrics::{
    ExemplarFilter, InstrumentKind, ManualReader, MeterProvider, MetricData, MetricExporter,
    Number, PeriodicExportingMetricReader, ResourceMetrics, Temporality,
};
use otlp_sdk::{KeyValue, SdkResult};

const THREADS: usize = 4;
const PER_THREAD: usize = 20_000;

/// The attribute sets of the benchmark workloads (counter_add_3attrs,
/// histogram_record_3attrs), used by every test here.
fn sets() -> Vec<[KeyValue; 3]> {
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

fn totals(rm: &ResourceMetrics, into_sum: &mut [u64; 10], into_hist: &mut [u64; 10]) {
    let idx = |attrs: &[KeyValue]| -> usize {
        let three = attrs
            .iter()
            .find(|kv| kv.key.as_str() == "attr.three")
            .unwrap();
        match three.value {
            otlp_sdk::Value::I64(k) => k as usize,
            _ => unreachable!(),
        }
    };
    if let Some(m) = rm.metric("bench.counter") {
        let MetricData::Sum(s) = &m.data else {
            panic!()
        };
        for p in &s.data_points {
            into_sum[idx(&p.attributes)] += p.value.as_i64() as u64;
        }
    }
    if let Some(m) = rm.metric("bench.histogram") {
        let MetricData::Histogram(h) = &m.data else {
            panic!()
        };
        for p in &h.data_points {
            assert_eq!(p.count, p.bucket_counts.iter().sum::<u64>());
            into_hist[idx(&p.attributes)] += p.count;
        }
    }
}

fn run(delta: bool, collect_concurrently: bool) {
    let reader = ManualReader::builder()
        .with_temporality_selector(move |_| {
            if delta {
                Temporality::Delta
            } else {
                Temporality::Cumulative
            }
        })
        .build();
    let provider = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOff)
        .build();
    let meter = provider.meter("upstream-bench");
    let counter = meter.u64_counter("bench.counter").build();
    let hist = meter.f64_histogram("bench.histogram").build();
    let sets = Arc::new(sets());
    let done = Arc::new(AtomicBool::new(false));
    let mut sum = [0u64; 10];
    let mut count = [0u64; 10];

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (counter, hist, sets) = (counter.clone(), hist.clone(), sets.clone());
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let s = &sets[(i + 7 * t) % 10];
                    counter.add(1, s);
                    // also exercise the hash path: a fresh slice with the pairs reordered
                    let reordered = [s[2].clone(), s[0].clone(), s[1].clone()];
                    hist.record((i % 1000) as f64 * 1.7, &reordered);
                }
            })
        })
        .collect();
    let collector = collect_concurrently.then(|| {
        let (reader, done) = (reader.clone(), done.clone());
        std::thread::spawn(move || {
            let mut sum = [0u64; 10];
            let mut count = [0u64; 10];
            while !done.load(Ordering::SeqCst) {
                totals(&reader.collect().unwrap(), &mut sum, &mut count);
                std::thread::yield_now();
            }
            (sum, count)
        })
    });
    for h in handles {
        h.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    if let Some(c) = collector {
        let (s, n) = c.join().unwrap();
        for k in 0..10 {
            sum[k] += s[k];
            count[k] += n[k];
        }
    }
    let final_rm = reader.collect().unwrap();
    if delta || !collect_concurrently {
        totals(&final_rm, &mut sum, &mut count);
    } else {
        // cumulative: the last collection alone holds the totals
        sum = [0; 10];
        count = [0; 10];
        totals(&final_rm, &mut sum, &mut count);
    }
    let expected = (THREADS * PER_THREAD / 10) as u64;
    assert_eq!(sum, [expected; 10], "counter sums");
    assert_eq!(count, [expected; 10], "histogram counts");
    provider.shutdown().unwrap();
}

#[test]
fn n_threads_times_m_adds_is_exact_cumulative() {
    run(false, false);
}

#[test]
fn exact_with_a_concurrent_cumulative_collector() {
    run(false, true);
}

#[test]
fn exact_with_a_concurrent_delta_collector_reclaiming_series() {
    run(true, true);
}

#[test]
fn f64_sums_from_many_threads_are_exact() {
    let reader = ManualReader::new();
    let provider = MeterProvider::builder().with_reader(reader.clone()).build();
    let c = provider.meter("m").f64_counter("f").build();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    c.add(0.5, &[KeyValue::new("k", "v")]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rm = reader.collect().unwrap();
    let MetricData::Sum(s) = &rm.metric("f").unwrap().data else {
        panic!()
    };
    assert_eq!(
        s.data_points[0].value.as_f64(),
        (THREADS * PER_THREAD) as f64 * 0.5
    );
}

#[test]
fn exact_while_a_moving_working_set_is_reclaimed_under_delta() {
    let reader = ManualReader::builder()
        .with_temporality_selector(|_| Temporality::Delta)
        .build();
    let provider = MeterProvider::builder()
        .with_reader(reader.clone())
        .with_exemplar_filter(ExemplarFilter::AlwaysOff)
        .build();
    let counter = provider.meter("m").u64_counter("moving").build();
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (reader, done) = (reader.clone(), done.clone());
        std::thread::spawn(move || {
            let mut total = 0u64;
            let mut collections = 0u64;
            while !done.load(Ordering::SeqCst) {
                let rm = reader.collect().unwrap();
                collections += 1;
                if let Some(m) = rm.metric("moving") {
                    let MetricData::Sum(s) = &m.data else {
                        panic!()
                    };
                    total += s
                        .data_points
                        .iter()
                        .map(|p| p.value.as_i64() as u64)
                        .sum::<u64>();
                }
            }
            (total, collections)
        })
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let counter = counter.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // each thread walks through 40 series, 200 measurements at a time
                    let k = ((i / 200 + t * 10) % 40) as i64;
                    counter.add(1, &[KeyValue::new("k", k)]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let (mut total, collections) = collector.join().unwrap();
    if let Some(m) = reader.collect().unwrap().metric("moving") {
        let MetricData::Sum(s) = &m.data else {
            panic!()
        };
        total += s
            .data_points
            .iter()
            .map(|p| p.value.as_i64() as u64)
            .sum::<u64>();
    }
    assert!(collections > 1);
    assert_eq!(total, (THREADS * PER_THREAD) as u64);
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

#[test]
fn the_bench_setup_records_exactly() {
    let reader = PeriodicExportingMetricReader::builder(NoopExporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let check = ManualReader::new(); // test only: to read the totals
    let meter_provider = MeterProvider::builder()
        .with_reader(reader)
        .with_reader(check.clone())
        .build();
    let meter = meter_provider.meter("upstream-bench");
    let counter = meter.u64_counter("bench.counter").build();
    let histogram = meter.f64_histogram("bench.histogram").build();
    let sets = sets();
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
