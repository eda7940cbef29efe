//! A sampled span allocates nothing in steady state (checked with a counting allocator): its
//! record and the record's vectors are recycled after export, static strings are borrowed,
//! and small arrays of numbers are stored inline.

#[path = "support/alloc.rs"]
mod alloc;

use std::time::Duration;

use alloc::allocs;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, Span, Status, Tracer, TracerProvider};

/// The anchors' span_attrs workload: three attributes (one an array), an event, a status.
fn span_attrs(tracer: &Tracer) -> Span {
    let mut span = tracer.start("span_attrs");
    span.set_attribute("operation.value", 1i64);
    span.set_attribute("operation.name", "Saying hello!");
    span.set_attribute("operation.other-stuff", [1i64, 2, 3]);
    span.add_event("Starting some work", []);
    span.set_status(Status::error(""));
    span
}

#[test]
fn a_span_with_attributes_an_event_and_a_status_does_not_allocate_in_steady_state() {
    let exported = InMemorySpanExporter::default();
    // A queue that holds every span of the test, so that none is refused.
    let processor = BatchSpanProcessor::with_config(
        exported.clone(),
        BatchConfig {
            max_queue_size: 8192,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        },
    );
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("alloc");
    // Warm up: 2048 records, their vectors and this thread's queue are allocated (all spans
    // live at once, so none reuses another's record), then exported and handed back for
    // reuse. That is more records than the spans below can need, however late the export
    // thread hands the next ones back.
    let live: Vec<Span> = (0..2048).map(|_| span_attrs(&tracer)).collect();
    for mut span in live {
        span.end();
    }
    provider.force_flush().unwrap();

    let before = allocs();
    for _ in 0..1000 {
        span_attrs(&tracer).end();
    }
    let spent = allocs() - before;

    provider.force_flush().unwrap();
    assert_eq!(exported.finished_spans().len(), 3048, "every span exported");
    assert_eq!(spent, 0, "allocations for 1000 spans in steady state");
    // The counting works: a longer array is stored in a vector.
    let b = allocs();
    tracer.start("long").set_attribute("a", [1i64, 2, 3, 4]);
    assert!(allocs() > b);
    provider.shutdown().unwrap();
}
