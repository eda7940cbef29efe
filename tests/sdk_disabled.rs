//! OTEL_SDK_DISABLED=true turns every provider built afterwards into a no-op: spans pass
//! their parent's context on unrecorded, instruments and loggers record nothing, and no
//! exporter sees anything. Alone in its binary: it sets the process environment.

use otlp_sdk::context::Context;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::logs::{InMemoryLogExporter, LogRecord, LoggerProvider};
use otlp_sdk::metrics::{ManualReader, MeterProvider};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TracerProvider};

fn providers() -> (
    TracerProvider,
    InMemorySpanExporter,
    MeterProvider,
    ManualReader,
    LoggerProvider,
    InMemoryLogExporter,
) {
    let spans = InMemorySpanExporter::default();
    let logs = InMemoryLogExporter::default();
    let reader = ManualReader::new();
    (
        TracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build(),
        spans,
        MeterProvider::builder().with_reader(reader.clone()).build(),
        reader,
        LoggerProvider::builder()
            .with_simple_exporter(logs.clone())
            .build(),
        logs,
    )
}

/// Makes one of each kind of telemetry; returns what got recorded.
fn emit_all() -> (usize, bool, usize) {
    let (tp, spans, mp, reader, lp, logs) = providers();
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    ));
    let span = tp.tracer("t").start_with_context("s", &parent);
    if !span.is_recording() {
        assert_eq!(
            span.span_context(),
            parent.span_context(),
            "the parent passes on"
        );
    }
    drop(span);
    mp.meter("m").u64_counter("c").build().add(1, &[]);
    let metrics = reader
        .collect()
        .map(|rm| rm.metric("c").is_some())
        .unwrap_or(false);
    lp.logger("l").emit(LogRecord::new().with_body("x"));
    (
        spans.finished_spans().len(),
        metrics,
        logs.emitted_logs().len(),
    )
}

#[test]
fn only_true_disables_the_sdk() {
    assert_eq!(emit_all(), (1, true, 1), "enabled by default");
    for value in ["true", "TRUE", " True "] {
        std::env::set_var("OTEL_SDK_DISABLED", value);
        assert_eq!(emit_all(), (0, false, 0), "{value:?}");
    }
    // A disabled provider set as the global one: its tracers are no-ops, not proxies to the
    // global provider (itself), which recursed without end.
    let disabled = TracerProvider::builder().build();
    otlp_sdk::global::set_tracer_provider(disabled);
    let span = otlp_sdk::global::tracer("t").start("s");
    assert!(!span.is_recording());
    drop(span);
    otlp_sdk::global::take_tracer_provider();
    for value in ["false", "1", "yes"] {
        std::env::set_var("OTEL_SDK_DISABLED", value);
        assert_eq!(emit_all(), (1, true, 1), "{value:?}");
    }
    std::env::remove_var("OTEL_SDK_DISABLED");
}
