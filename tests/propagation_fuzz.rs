//! Fuzzing the header parsers: arbitrary and mutated headers never panic, and valid headers
//! round-trip.

use std::collections::HashMap;

use otlp_sdk::baggage::Baggage;
use otlp_sdk::context::Context;
use otlp_sdk::propagation::{TextMapCompositePropagator, TextMapPropagator};
use proptest::prelude::*;

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn extract(m: &HashMap<String, String>) -> Context {
    TextMapCompositePropagator::w3c().extract_with_context(&Context::new(), m)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_headers_never_panic(tp in ".{0,80}", ts in ".{0,200}", bg in ".{0,300}") {
        let m = carrier(&[("traceparent", &tp), ("tracestate", &ts), ("baggage", &bg)]);
        let cx = extract(&m);
        // Whatever was accepted re-injects without panicking.
        let mut out: HashMap<String, String> = HashMap::new();
        TextMapCompositePropagator::w3c().inject_context(&cx, &mut out);
    }

    #[test]
    fn header_like_input_never_panics(
        tp in "[0-9a-fA-F-]{50,60}",
        ts in "([a-z0-9@_*/ =,-]{0,20}){0,40}",
        bg in "([a-zA-Z0-9%;=, \t]{0,30}){0,20}",
    ) {
        let m = carrier(&[("traceparent", &tp), ("tracestate", &ts), ("baggage", &bg)]);
        let _ = extract(&m);
    }

    #[test]
    fn valid_traceparent_round_trips_and_mutations_never_panic(
        trace in 1u128..,
        span in 1u64..,
        flags in any::<u8>(),
        pos in 0usize..55,
        ch in any::<char>(),
    ) {
        let header = format!("00-{trace:032x}-{span:016x}-{flags:02x}");
        let cx = extract(&carrier(&[("traceparent", &header)]));
        let sc = cx.span_context();
        prop_assert!(sc.is_valid());
        prop_assert_eq!(sc.trace_id().to_u128(), trace);
        prop_assert_eq!(sc.span_id().to_u64(), span);
        prop_assert_eq!(sc.trace_flags().to_u8(), flags & 0x03);

        let mut mutated: Vec<char> = header.chars().collect();
        mutated[pos] = ch;
        let mutated: String = mutated.into_iter().collect();
        let _ = extract(&carrier(&[("traceparent", &mutated)]));
    }

    #[test]
    fn baggage_round_trips(
        entries in proptest::collection::vec(("[a-zA-Z0-9._~-]{1,12}", ".{0,40}"), 0..10)
    ) {
        let b: Baggage = entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let cx = Context::new().with_baggage(b.clone());
        let mut h: HashMap<String, String> = HashMap::new();
        TextMapCompositePropagator::w3c().inject_context(&cx, &mut h);
        let back = extract(&h);
        prop_assert_eq!(back.baggage(), &b);
    }
}
