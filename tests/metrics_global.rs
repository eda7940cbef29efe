//! The global meter provider: a no-op until set, then the one set.

use otlp_sdk::metrics::{ManualReader, MeterProvider, MetricData, Number};
use otlp_sdk::{global, InstrumentationScope, KeyValue};

#[test]
fn global_meter_is_a_no_op_until_a_provider_is_set() {
    // before: instruments work and record nothing (no reader anywhere)
    let early = global::meter("my.meter.name").u64_counter("early").build();
    early.add(1, &[]);

    let reader = ManualReader::new();
    let provider = MeterProvider::builder().with_reader(reader.clone()).build();
    assert!(global::set_meter_provider(provider.clone()).is_none());
    let meter = global::meter("my.meter.name");
    meter
        .u64_counter("work.counter")
        .build()
        .add(2, &[KeyValue::new("work.type", "a")]);
    global::meter_with_scope(
        InstrumentationScope::builder("scoped")
            .with_version("1.0")
            .build(),
    )
    .u64_counter("other")
    .build()
    .add(1, &[]);
    early.add(1, &[]); // still the no-op one

    let rm = reader.collect().unwrap();
    assert!(rm.metric("early").is_none());
    let MetricData::Sum(s) = &rm.metric("work.counter").unwrap().data else {
        panic!()
    };
    assert_eq!(s.data_points[0].value, Number::U64(2));
    let scoped = rm
        .scope_metrics
        .iter()
        .find(|s| s.scope.name() == "scoped")
        .unwrap();
    assert_eq!(scoped.scope.version(), Some("1.0"));

    let taken = global::take_meter_provider().unwrap();
    taken.shutdown().unwrap();
}
