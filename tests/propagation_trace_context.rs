//! W3C Trace Context: the extraction rules as a table of header inputs and expected results,
//! injection, and a remote parent becoming the parent of the next span.

use std::collections::HashMap;

use otlp_sdk::context::Context;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::propagation::{Extractor, TextMapPropagator, TraceContextPropagator};
use otlp_sdk::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider};

const TID: &str = "0af7651916cd43dd8448eb211c80319c";
const SID: &str = "b7ad6b7169203331";

fn extract(headers: &[(&str, &str)]) -> SpanContext {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    TraceContextPropagator::new()
        .extract_with_context(&Context::new(), &map)
        .span_context()
        .clone()
}

fn tp(version: &str, trace: &str, span: &str, flags: &str) -> String {
    format!("{version}-{trace}-{span}-{flags}")
}

#[test]
fn traceparent_rules() {
    let upper_tid = TID.to_uppercase();
    let cases: Vec<(&str, String, Option<u8>)> = vec![
        ("valid, sampled", tp("00", TID, SID, "01"), Some(0x01)),
        ("valid, not sampled", tp("00", TID, SID, "00"), Some(0x00)),
        (
            "unknown flags are zeroed",
            tp("00", TID, SID, "09"),
            Some(0x01),
        ),
        ("random flag kept", tp("00", TID, SID, "03"), Some(0x03)),
        ("all flags", tp("00", TID, SID, "ff"), Some(0x03)),
        ("version ff is invalid", tp("ff", TID, SID, "01"), None),
        ("non-hex version", tp("0g", TID, SID, "01"), None),
        ("uppercase version", tp("0A", TID, SID, "01"), None),
        ("uppercase trace id", tp("00", &upper_tid, SID, "01"), None),
        (
            "uppercase span id",
            tp("00", TID, "B7AD6B7169203331", "01"),
            None,
        ),
        ("uppercase flags", tp("00", TID, SID, "0A"), None),
        ("non-hex flags", tp("00", TID, SID, "0x"), None),
        (
            "all-zero trace id",
            tp("00", &"0".repeat(32), SID, "01"),
            None,
        ),
        (
            "all-zero span id",
            tp("00", TID, &"0".repeat(16), "01"),
            None,
        ),
        ("short trace id", tp("00", &TID[1..], SID, "01"), None),
        (
            "long trace id",
            tp("00", &format!("{TID}0"), SID, "01"),
            None,
        ),
        ("short span id", tp("00", TID, &SID[1..], "01"), None),
        (
            "non-hex span id",
            tp("00", TID, "b7ad6b716920333z", "01"),
            None,
        ),
        ("short flags", format!("00-{TID}-{SID}-1"), None),
        (
            "version 00 with more fields",
            format!("{}-extra", tp("00", TID, SID, "01")),
            None,
        ),
        (
            "version 00 with trailing dash",
            format!("{}-", tp("00", TID, SID, "01")),
            None,
        ),
        ("future version", tp("cc", TID, SID, "01"), Some(0x01)),
        (
            "future version with more fields",
            format!("{}-what-the-future-will-be-like", tp("cc", TID, SID, "01")),
            Some(0x01),
        ),
        (
            "future version, bad separator",
            format!("{}.what", tp("cc", TID, SID, "01")),
            None,
        ),
        ("future version, too short", format!("cc-{TID}-{SID}"), None),
        ("wrong separator", format!("00_{TID}-{SID}-01"), None),
        ("wrong separator 2", format!("00-{TID}_{SID}-01"), None),
        (
            "leading and trailing spaces",
            format!("  {}\t", tp("00", TID, SID, "01")),
            Some(0x01),
        ),
        ("empty", String::new(), None),
        ("garbage", "hello".to_string(), None),
        ("non-ascii", format!("00-{}é-{SID}-01", &TID[..30]), None),
    ];
    for (name, header, expected) in cases {
        let sc = extract(&[("traceparent", &header)]);
        match expected {
            Some(flags) => {
                assert!(sc.is_valid(), "{name}: {header:?} should be accepted");
                assert_eq!(sc.trace_id().to_string(), TID, "{name}");
                assert_eq!(sc.span_id().to_string(), SID, "{name}");
                assert_eq!(sc.trace_flags().to_u8(), flags, "{name}");
                assert!(sc.is_remote(), "{name}: extracted contexts are remote");
            }
            None => assert!(!sc.is_valid(), "{name}: {header:?} should be rejected"),
        }
    }
}

#[test]
fn tracestate_rules() {
    let parent = tp("00", TID, SID, "01");
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (m32, m33) = (members(32), members(33));
    let long_key = format!("{}=v", "k".repeat(257));
    let max_key = format!("{}=v", "k".repeat(256));
    let long_value = format!("k={}", "v".repeat(257));
    let cases: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        ("simple", vec!["a=1,b=2"], Some("a=1,b=2")),
        (
            "spaces and empty members",
            vec![" a=1 ,, \tb=2 "],
            Some("a=1,b=2"),
        ),
        (
            "multi-tenant key",
            vec!["tenant@vendor=x"],
            Some("tenant@vendor=x"),
        ),
        (
            "tenant may start with a digit",
            vec!["1tenant@vendor=x"],
            Some("1tenant@vendor=x"),
        ),
        ("key must start with a letter", vec!["1a=x"], None),
        ("uppercase key", vec!["A=1"], None),
        ("missing value", vec!["a=,b=1"], None),
        ("no equals sign", vec!["a"], None),
        ("equals in value", vec!["a=b=c"], None),
        ("comma-free value with spaces", vec!["a=b c"], Some("a=b c")),
        ("duplicate key", vec!["a=1,a=2"], None),
        ("32 members", vec![&m32], Some(&m32)),
        ("33 members", vec![&m33], None),
        ("key of 256 chars", vec![&max_key], Some(&max_key)),
        ("key of 257 chars", vec![&long_key], None),
        ("value of 257 chars", vec![&long_value], None),
        (
            "headers are joined in order",
            vec!["a=1", "b=2"],
            Some("a=1,b=2"),
        ),
        ("duplicate across headers", vec!["a=1", "a=2"], None),
    ];
    for (name, states, expected) in cases {
        let mut headers = vec![("traceparent", parent.as_str())];
        headers.extend(states.iter().map(|s| ("tracestate", *s)));
        let sc = extract(&headers);
        assert!(
            sc.is_valid(),
            "{name}: the span context is extracted anyway"
        );
        assert_eq!(
            sc.trace_state().header(),
            expected.unwrap_or(""),
            "{name}: {states:?}"
        );
    }
}

#[test]
fn non_ascii_values_are_rejected() {
    // HeaderMap refuses such values; a plain map carries them to the parser.
    for (tp_value, ts_value) in [
        (format!("00-{TID}-{SID}-0\u{e9}"), "a=1"),
        (tp("00", TID, SID, "01"), "a=\u{7f}"),
        (tp("00", TID, SID, "01"), "a=\u{e9}t\u{e9}"),
    ] {
        let mut m = HashMap::new();
        m.insert("traceparent".to_string(), tp_value.clone());
        m.insert("tracestate".to_string(), ts_value.to_string());
        let sc = TraceContextPropagator::new()
            .extract(&m)
            .span_context()
            .clone();
        assert!(sc.trace_state().is_empty(), "{tp_value:?} {ts_value:?}");
        assert_eq!(sc.is_valid(), tp_value.is_ascii(), "{tp_value:?}");
    }
}

#[test]
fn invalid_or_repeated_traceparent_extracts_nothing() {
    let good = tp("00", TID, SID, "01");
    assert!(!extract(&[("tracestate", "a=1")]).is_valid());
    assert!(!extract(&[("traceparent", "00-xyz"), ("tracestate", "a=1")]).is_valid());
    assert!(!extract(&[("traceparent", &good), ("traceparent", &good)]).is_valid());
    // The context passed in comes back unchanged.
    let base = Context::new().with_value(7u8);
    let out = TraceContextPropagator::new().extract_with_context(&base, &HashMap::new());
    assert_eq!(out.get::<u8>(), Some(&7));
    assert!(!out.has_active_span());
}

#[test]
fn header_names_are_case_insensitive() {
    let mut m = HashMap::new();
    m.insert("TraceParent".to_string(), tp("00", TID, SID, "01"));
    m.insert("TRACESTATE".to_string(), "a=1".to_string());
    let sc = TraceContextPropagator::new()
        .extract(&m)
        .span_context()
        .clone();
    assert_eq!(sc.trace_id().to_string(), TID);
    assert_eq!(sc.trace_state().header(), "a=1");
}

#[test]
fn inject_writes_both_headers() {
    let p = TraceContextPropagator::new();
    let mut empty: HashMap<String, String> = HashMap::new();
    p.inject_context(&Context::new(), &mut empty);
    assert!(empty.is_empty(), "no span, no header");

    let sc = SpanContext::new(
        TraceId::from_hex(TID).unwrap(),
        SpanId::from_hex(SID).unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::from_entries([("a", "1"), ("b@c", "2")]).unwrap(),
    );
    let cx = Context::new().with_remote_span_context(sc.clone());
    let mut h = http::HeaderMap::new();
    p.inject_context(&cx, &mut h);
    assert_eq!(
        Extractor::get(&h, "traceparent"),
        Some(format!("00-{TID}-{SID}-01").as_str())
    );
    assert_eq!(Extractor::get(&h, "tracestate"), Some("a=1,b@c=2"));

    let back = p.extract_with_context(&Context::new(), &h);
    let back = back.span_context();
    assert_eq!(back.trace_id(), sc.trace_id());
    assert_eq!(back.span_id(), sc.span_id());
    assert_eq!(back.trace_flags(), sc.trace_flags());
    assert_eq!(back.trace_state(), sc.trace_state());
    assert!(back.is_remote());

    let unsampled = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        TraceFlags::NOT_SAMPLED,
        false,
        TraceState::NONE,
    );
    let mut m: HashMap<String, String> = HashMap::new();
    p.inject_context(&Context::new().with_remote_span_context(unsampled), &mut m);
    assert_eq!(m["traceparent"], format!("00-{TID}-{SID}-00"));
    assert!(!m.contains_key("tracestate"));

    // Unknown flags are never propagated.
    let odd = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        TraceFlags::new(0xfd),
        false,
        TraceState::NONE,
    );
    p.inject_context(&Context::new().with_remote_span_context(odd), &mut m);
    assert_eq!(m["traceparent"], format!("00-{TID}-{SID}-01"));
    assert_eq!(p.fields(), ["traceparent", "tracestate"]);
}

#[test]
fn remote_parent_becomes_parent_of_next_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let p = TraceContextPropagator::new();

    // Client side: inject the current span.
    let mut headers = http::HeaderMap::new();
    let client_sc = {
        let client = tracer.start_as_current_span("client");
        p.inject(&mut headers);
        client.span_context().clone()
    };

    // Server side: extract and start spans in the extracted context.
    let remote = p.extract(&headers);
    {
        let _cx = remote.attach();
        let _server = tracer.start_as_current_span("server");
        let _inner = tracer.start_as_current_span("inner");
    }
    provider.shutdown().unwrap();

    let spans = exporter.finished_spans();
    let find = |n: &str| spans.iter().find(|s| s.name.as_str() == n).unwrap();
    let (server, inner) = (find("server"), find("inner"));
    assert_eq!(server.span_context.trace_id(), client_sc.trace_id());
    assert_eq!(server.parent_span_id, client_sc.span_id());
    assert!(server.parent_is_remote);
    assert!(server.span_context.is_sampled());
    assert!(!server.span_context.is_remote());
    assert_eq!(inner.parent_span_id, server.span_context.span_id());
    assert!(!inner.parent_is_remote);
}

#[test]
fn unsampled_remote_parent_is_respected() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let mut h = HashMap::new();
    h.insert("traceparent".to_string(), tp("00", TID, SID, "00"));
    let cx = TraceContextPropagator::new().extract(&h);
    let span = provider.tracer("t").start_with_context("server", &cx);
    assert_eq!(span.span_context().trace_id().to_string(), TID);
    assert!(!span.span_context().is_sampled());
    drop(span);
    provider.shutdown().unwrap();
    assert!(exporter.finished_spans().is_empty());
}
