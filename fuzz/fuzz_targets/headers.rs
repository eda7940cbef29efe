//! Fuzzes the W3C header parsers (`traceparent`, `tracestate`, `baggage`): any bytes, split
//! into the three headers, must extract without panicking, and whatever was accepted must
//! re-inject and extract again to the same span context, and to baggage entries that are
//! exactly the extracted ones (injection applies the W3C size limits to the re-encoded
//! header, so a member whose encoding grew past them may be left out, never altered).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use otlp_sdk::context::Context;
use otlp_sdk::propagation::{TextMapCompositePropagator, TextMapPropagator};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Three headers separated by newlines: traceparent, tracestate, baggage.
    let mut parts = text.splitn(3, '\n');
    let mut carrier: HashMap<String, String> = HashMap::new();
    for name in ["traceparent", "tracestate", "baggage"] {
        if let Some(v) = parts.next() {
            carrier.insert(name.to_string(), v.to_string());
        }
    }
    let propagator = TextMapCompositePropagator::w3c();
    let cx = propagator.extract_with_context(&Context::new(), &carrier);
    let mut out: HashMap<String, String> = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    let again = propagator.extract_with_context(&Context::new(), &out);
    assert_eq!(again.span_context(), cx.span_context());
    for (name, value, metadata) in again.baggage().iter() {
        assert_eq!(
            cx.baggage().get_with_metadata(name),
            Some((value, metadata)),
            "{name}"
        );
    }
    // Percent-encoding at most triples a member: an input this short cannot reach the limits
    // again once re-encoded, so the round trip must keep every entry.
    let input_len = carrier.get("baggage").map_or(0, String::len);
    if input_len * 3 < 4096 {
        assert_eq!(again.baggage(), cx.baggage());
    }
});
