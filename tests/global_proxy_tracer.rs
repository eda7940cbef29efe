//! A tracer taken from the globals before a provider is set (the usual `static` in a
//! library) starts its spans through the provider set later, as Python's proxy tracer does.
//! One test, alone in its binary: the global provider is process-wide.

use std::sync::LazyLock;

use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::global;
use otlp_sdk::trace::{Tracer, TracerProvider};

static TRACER: LazyLock<Tracer> = LazyLock::new(|| global::tracer("my.library"));

#[test]
fn a_tracer_taken_early_follows_the_provider_set_later() {
    // No SDK yet: nothing is recorded.
    let span = TRACER.start("before");
    assert!(!span.is_recording());
    drop(span);

    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    global::set_tracer_provider(provider.clone());
    TRACER.in_span("after", |_| {
        let child = TRACER.start("child");
        assert!(child.is_recording());
    });
    let spans = exporter.finished_spans();
    let names: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["child", "after"]);
    assert!(spans.iter().all(|s| s.scope.name() == "my.library"));
    assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
    global::take_tracer_provider();
    provider.shutdown().unwrap();
}
