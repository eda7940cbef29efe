//! `OTEL_PROPAGATORS`. One test, because it changes the process environment.

use std::collections::HashMap;

use otlp_sdk::baggage::Baggage;
use otlp_sdk::context::Context;
use otlp_sdk::propagation::{propagators_from_env, TextMapPropagator};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use otlp_sdk::{global, ConfigErrorKind};

#[test]
fn otel_propagators_selects_the_propagators() {
    let sc = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(2),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let cx = Context::new()
        .with_remote_span_context(sc)
        .with_baggage([("k", "v")].into_iter().collect::<Baggage>());
    let injected = |p: &dyn TextMapPropagator| {
        let mut h: HashMap<String, String> = HashMap::new();
        p.inject_context(&cx, &mut h);
        let mut keys: Vec<String> = h.into_keys().collect();
        keys.sort();
        keys
    };

    std::env::remove_var("OTEL_PROPAGATORS");
    assert_eq!(
        injected(&propagators_from_env().unwrap()),
        ["baggage", "traceparent"]
    );

    std::env::set_var("OTEL_PROPAGATORS", "tracecontext");
    assert_eq!(injected(&propagators_from_env().unwrap()), ["traceparent"]);

    std::env::set_var("OTEL_PROPAGATORS", " Baggage , none ");
    assert_eq!(injected(&propagators_from_env().unwrap()), ["baggage"]);

    std::env::set_var("OTEL_PROPAGATORS", "none");
    assert!(injected(&propagators_from_env().unwrap()).is_empty());

    std::env::set_var("OTEL_PROPAGATORS", "tracecontext,b3");
    let err = propagators_from_env().unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Unsupported);
    assert_eq!(err.setting(), "OTEL_PROPAGATORS");

    std::env::set_var("OTEL_PROPAGATORS", "nonsense");
    assert_eq!(
        propagators_from_env().unwrap_err().kind(),
        ConfigErrorKind::Invalid
    );

    // The global propagator reads the variable once, falling back to W3C on an error.
    std::env::set_var("OTEL_PROPAGATORS", "baggage");
    assert_eq!(injected(&*global::get_text_map_propagator()), ["baggage"]);
}
