//! Recording on existing series allocates nothing (checked with a counting allocator).

#[path = "support/alloc.rs"]
mod alloc;

use alloc::allocs;
use otlp_sdk::metrics::{ManualReader, MeterProvider, Temporality};
use otlp_sdk::KeyValue;

#[test]
fn recording_on_known_series_does_not_allocate() {
    for delta in [false, true] {
        let reader = ManualReader::builder()
            .with_temporality_selector(move |_| {
                if delta {
                    Temporality::Delta
                } else {
                    Temporality::Cumulative
                }
            })
            .build();
        // default exemplar filter (trace-based): the check itself must not allocate either
        let provider = MeterProvider::builder().with_reader(reader.clone()).build();
        let meter = provider.meter("m");
        let counter = meter.u64_counter("c").build();
        let histogram = meter.f64_histogram("h").build();
        let gauge = meter.i64_gauge("g").build();
        let sets: Vec<Vec<KeyValue>> = (0..10i64)
            .map(|k| {
                vec![
                    KeyValue::new("attr.one", format!("value{}", k + 1)),
                    KeyValue::new("attr.two", "constant"),
                    KeyValue::new("attr.three", k),
                ]
            })
            .collect();
        let bound = counter.bind(&sets[3]);
        for i in 0..100 {
            counter.add(1, &sets[i % 10]);
            histogram.record(i as f64, &sets[i % 10]);
            gauge.record(i as i64, &sets[i % 10]);
        }
        let before = allocs();
        for i in 0..10_000 {
            counter.add(1, &sets[i % 10]);
            histogram.record((i % 1000) as f64 * 1.7, &sets[i % 10]);
            gauge.record(i as i64, &sets[i % 10]);
            bound.add(1);
            // the same pairs in another order (hash path)
            let s = &sets[i % 10];
            let reordered = [s[1].clone(), s[2].clone(), s[0].clone()];
            let cloned = allocs();
            counter.add(1, &reordered);
            assert_eq!(allocs(), cloned, "hash path allocated");
        }
        // cloning `reordered` allocates nothing either (shared strings), so this is exact:
        assert_eq!(allocs() - before, 0, "delta={delta}");
        // the counting works: a new series does allocate
        let b = allocs();
        counter.add(1, &[KeyValue::new("new", 1)]);
        assert!(allocs() > b);
        assert!(reader.collect().is_ok());
        provider.shutdown().unwrap();
    }
}
