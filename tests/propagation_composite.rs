//! The composite propagator, the global propagator, and the no-op propagator.

use std::collections::HashMap;

use otlp_sdk::baggage::Baggage;
use otlp_sdk::context::Context;
use otlp_sdk::global;
use otlp_sdk::propagation::{
    BaggagePropagator, NoopPropagator, TextMapCompositePropagator, TextMapPropagator,
    TraceContextPropagator,
};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

fn sample_context() -> Context {
    let sc = SpanContext::new(
        TraceId::from_u128(0x1234),
        SpanId::from_u64(0x5678),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    Context::new()
        .with_remote_span_context(sc)
        .with_baggage([("user.id", "42")].into_iter().collect::<Baggage>())
}

#[test]
fn composite_injects_and_extracts_everything() {
    let p = TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]);
    assert_eq!(p.fields(), ["traceparent", "tracestate", "baggage"]);
    let mut h: HashMap<String, String> = HashMap::new();
    p.inject_context(&sample_context(), &mut h);
    assert_eq!(
        h["traceparent"],
        "00-00000000000000000000000000001234-0000000000005678-01"
    );
    assert_eq!(h["baggage"], "user.id=42");

    let cx = p.extract_with_context(&Context::new(), &h);
    assert_eq!(cx.span_context().trace_id(), TraceId::from_u128(0x1234));
    assert!(cx.span_context().is_remote());
    assert_eq!(cx.baggage().get("user.id"), Some("42"));
}

#[test]
fn noop_and_empty_composite_do_nothing() {
    for p in [
        Box::new(NoopPropagator::new()) as Box<dyn TextMapPropagator>,
        Box::new(TextMapCompositePropagator::new(Vec::new())),
    ] {
        let mut h: HashMap<String, String> = HashMap::new();
        p.inject_context(&sample_context(), &mut h);
        assert!(h.is_empty());
        h.insert(
            "traceparent".into(),
            "00-00000000000000000000000000001234-0000000000005678-01".into(),
        );
        assert!(!p.extract(&h).has_active_span());
        assert!(p.fields().is_empty());
    }
}

#[test]
fn global_propagator_defaults_to_w3c_and_can_be_replaced() {
    // Default (OTEL_PROPAGATORS unset in this test binary): trace context and baggage.
    let mut h: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator().inject_context(&sample_context(), &mut h);
    assert!(h.contains_key("traceparent"));
    assert!(h.contains_key("baggage"));

    global::set_text_map_propagator(BaggagePropagator::new());
    let mut h: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator().inject_context(&sample_context(), &mut h);
    assert!(!h.contains_key("traceparent"));
    assert_eq!(h["baggage"], "user.id=42");
}
