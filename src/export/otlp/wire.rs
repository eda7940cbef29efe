//! OTLP protobuf encoding straight from the span model.
//!
//! Building the generated prost structs first would copy every name, attribute key and value
//! into fresh `String`s and `Vec`s, then serialize and free them. This encoder writes the
//! `ExportTraceServiceRequest` bytes directly from the [`SpanData`] records in two passes per
//! message (length, then bytes), as protobuf's length-delimited framing requires. Its output
//! decodes with the generated types to exactly what the prost path would build; the tests
//! below compare the two field by field.

use prost::encoding::encoded_len_varint;

/// Appends `v` as a protobuf varint. Most varints here (tags, small lengths, counts) take one
/// byte, so that case is a single push.
#[inline(always)]
fn encode_varint(mut v: u64, buf: &mut Vec<u8>) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    let mut tmp = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        tmp[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    tmp[n] = v as u8;
    buf.extend_from_slice(&tmp[..=n]);
}

use crate::attributes::{Array, KeyValue, Value};
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::{Event, Link, SpanContext, SpanData, Status};

// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`
const HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`
const IS_REMOTE: u32 = 0x200;

#[inline]
fn key_len(field: u32) -> usize {
    encoded_len_varint(u64::from(field << 3))
}

#[inline]
fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    encode_varint(u64::from((field << 3) | wire), buf);
}

#[inline]
fn len_delimited(field: u32, body: usize) -> usize {
    key_len(field) + encoded_len_varint(body as u64) + body
}

#[inline]
fn put_len(buf: &mut Vec<u8>, field: u32, body: usize) {
    put_key(buf, field, LEN);
    encode_varint(body as u64, buf);
}

#[inline]
fn str_len(field: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_delimited(field, s.len())
    }
}

#[inline]
fn put_str(buf: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        put_len(buf, field, s.len());
        buf.extend_from_slice(s.as_bytes());
    }
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_len(buf, field, b.len());
    buf.extend_from_slice(b);
}

#[inline]
fn uint_len(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + encoded_len_varint(v)
    }
}

#[inline]
fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, VARINT);
        encode_varint(v, buf);
    }
}

#[inline]
fn fixed64_len(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + 8
    }
}

#[inline]
fn put_fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn fixed32_len(field: u32, v: u32) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + 4
    }
}

#[inline]
fn put_fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        put_key(buf, field, FIXED32);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

// ------------------------------------------------------------------ AnyValue / KeyValue

/// Body length of an `AnyValue` holding `v` (a oneof: the field is always present).
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::String(s) => len_delimited(1, s.len()),
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::Array(a) => len_delimited(5, array_len(a)),
    }
}

fn array_len(a: &Array) -> usize {
    // ArrayValue { repeated AnyValue values = 1; } with each element a nested AnyValue.
    fn each<T>(v: &[T], f: impl Fn(&T) -> usize) -> usize {
        v.iter().map(|x| len_delimited(1, f(x))).sum()
    }
    match a {
        Array::Bool(v) => each(v, |_| key_len(2) + 1),
        Array::I64(v) => each(v, |i| key_len(3) + encoded_len_varint(*i as u64)),
        Array::F64(v) => each(v, |_| key_len(4) + 8),
        Array::String(v) => each(v, |s| len_delimited(1, s.len())),
    }
}

fn put_any_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) => put_bytes(buf, 1, s.as_bytes()),
        Value::Bool(b) => {
            put_key(buf, 2, VARINT);
            buf.push(u8::from(*b));
        }
        Value::I64(i) => {
            put_key(buf, 3, VARINT);
            encode_varint(*i as u64, buf);
        }
        Value::F64(f) => {
            put_key(buf, 4, FIXED64);
            buf.extend_from_slice(&f.to_le_bytes());
        }
        Value::Array(a) => {
            put_len(buf, 5, array_len(a));
            put_array(buf, a);
        }
    }
}

fn put_array(buf: &mut Vec<u8>, a: &Array) {
    match a {
        Array::Bool(v) => {
            for b in v {
                put_len(buf, 1, key_len(2) + 1);
                put_key(buf, 2, VARINT);
                buf.push(u8::from(*b));
            }
        }
        Array::I64(v) => {
            for i in v {
                put_len(buf, 1, key_len(3) + encoded_len_varint(*i as u64));
                put_key(buf, 3, VARINT);
                encode_varint(*i as u64, buf);
            }
        }
        Array::F64(v) => {
            for f in v {
                put_len(buf, 1, key_len(4) + 8);
                put_key(buf, 4, FIXED64);
                buf.extend_from_slice(&f.to_le_bytes());
            }
        }
        Array::String(v) => {
            for s in v {
                put_len(buf, 1, len_delimited(1, s.len()));
                put_bytes(buf, 1, s.as_bytes());
            }
        }
    }
}

fn key_value_len(kv: &KeyValue) -> usize {
    str_len(1, &kv.key) + len_delimited(2, any_value_len(&kv.value))
}

fn attributes_len(field: u32, attrs: &[KeyValue]) -> usize {
    attrs
        .iter()
        .map(|kv| len_delimited(field, key_value_len(kv)))
        .sum()
}

fn put_attributes(buf: &mut Vec<u8>, field: u32, attrs: &[KeyValue]) {
    for kv in attrs {
        put_len(buf, field, key_value_len(kv));
        put_str(buf, 1, &kv.key);
        put_len(buf, 2, any_value_len(&kv.value));
        put_any_value(buf, &kv.value);
    }
}

// ------------------------------------------------------------------ spans

fn trace_state_header(cx: &SpanContext) -> Option<String> {
    let ts = cx.trace_state();
    (!ts.is_empty()).then(|| ts.header())
}

fn event_len(e: &Event) -> usize {
    fixed64_len(1, e.timestamp_unix_nano)
        + str_len(2, &e.name)
        + attributes_len(3, &e.attributes)
        + uint_len(4, u64::from(e.dropped_attributes_count))
}

fn put_event(buf: &mut Vec<u8>, e: &Event) {
    put_fixed64(buf, 1, e.timestamp_unix_nano);
    put_str(buf, 2, &e.name);
    put_attributes(buf, 3, &e.attributes);
    put_uint(buf, 4, u64::from(e.dropped_attributes_count));
}

fn context_flags(cx: &SpanContext) -> u32 {
    u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | if cx.is_remote() { IS_REMOTE } else { 0 }
}

fn link_len(l: &Link, ts: Option<&str>) -> usize {
    len_delimited(1, 16)
        + len_delimited(2, 8)
        + ts.map_or(0, |t| str_len(3, t))
        + attributes_len(4, &l.attributes)
        + uint_len(5, u64::from(l.dropped_attributes_count))
        + fixed32_len(6, context_flags(&l.span_context))
}

fn put_link(buf: &mut Vec<u8>, l: &Link, ts: Option<&str>) {
    put_bytes(buf, 1, &l.span_context.trace_id().to_bytes());
    put_bytes(buf, 2, &l.span_context.span_id().to_bytes());
    if let Some(t) = ts {
        put_str(buf, 3, t);
    }
    put_attributes(buf, 4, &l.attributes);
    put_uint(buf, 5, u64::from(l.dropped_attributes_count));
    put_fixed32(buf, 6, context_flags(&l.span_context));
}

fn status_len(s: &Status) -> usize {
    str_len(2, s.description()) + uint_len(3, s.code() as u64)
}

/// The span's flags: W3C trace flags, and whether the parent is remote.
fn span_flags(s: &SpanData) -> u32 {
    let mut f = u32::from(s.span_context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if s.parent_is_remote {
        f |= IS_REMOTE;
    }
    f
}

fn span_len(s: &SpanData, ts: Option<&str>, link_states: &[Option<String>]) -> usize {
    let mut n = len_delimited(1, 16) + len_delimited(2, 8);
    n += ts.map_or(0, |t| str_len(3, t));
    if s.parent_span_id.is_valid() {
        n += len_delimited(4, 8);
    }
    n += fixed32_len(16, span_flags(s));
    n += str_len(5, &s.name);
    n += uint_len(6, s.kind.to_otlp() as u64);
    n += fixed64_len(7, s.start_time_unix_nano) + fixed64_len(8, s.end_time_unix_nano);
    n += attributes_len(9, &s.attributes);
    n += uint_len(10, u64::from(s.dropped_attributes_count));
    n += s
        .events
        .iter()
        .map(|e| len_delimited(11, event_len(e)))
        .sum::<usize>();
    n += uint_len(12, u64::from(s.dropped_events_count));
    n += s
        .links
        .iter()
        .zip(link_states)
        .map(|(l, t)| len_delimited(13, link_len(l, t.as_deref())))
        .sum::<usize>();
    n += uint_len(14, u64::from(s.dropped_links_count));
    let st = status_len(&s.status);
    if st > 0 {
        n += len_delimited(15, st);
    }
    n
}

fn put_span(buf: &mut Vec<u8>, s: &SpanData, ts: Option<&str>, link_states: &[Option<String>]) {
    put_bytes(buf, 1, &s.span_context.trace_id().to_bytes());
    put_bytes(buf, 2, &s.span_context.span_id().to_bytes());
    if let Some(t) = ts {
        put_str(buf, 3, t);
    }
    if s.parent_span_id.is_valid() {
        put_bytes(buf, 4, &s.parent_span_id.to_bytes());
    }
    put_str(buf, 5, &s.name);
    put_uint(buf, 6, s.kind.to_otlp() as u64);
    put_fixed64(buf, 7, s.start_time_unix_nano);
    put_fixed64(buf, 8, s.end_time_unix_nano);
    put_attributes(buf, 9, &s.attributes);
    put_uint(buf, 10, u64::from(s.dropped_attributes_count));
    for e in &s.events {
        put_len(buf, 11, event_len(e));
        put_event(buf, e);
    }
    put_uint(buf, 12, u64::from(s.dropped_events_count));
    for (l, t) in s.links.iter().zip(link_states) {
        put_len(buf, 13, link_len(l, t.as_deref()));
        put_link(buf, l, t.as_deref());
    }
    put_uint(buf, 14, u64::from(s.dropped_links_count));
    let st = status_len(&s.status);
    if st > 0 {
        put_len(buf, 15, st);
        put_str(buf, 2, s.status.description());
        put_uint(buf, 3, s.status.code() as u64);
    }
    put_fixed32(buf, 16, span_flags(s));
}

fn scope_len(scope: &InstrumentationScope) -> usize {
    str_len(1, scope.name())
        + str_len(2, scope.version().unwrap_or(""))
        + attributes_len(3, scope.attributes())
}

fn put_scope(buf: &mut Vec<u8>, scope: &InstrumentationScope) {
    put_str(buf, 1, scope.name());
    put_str(buf, 2, scope.version().unwrap_or(""));
    put_attributes(buf, 3, scope.attributes());
}

/// The spans of one instrumentation scope.
struct Group<'a> {
    scope: &'a InstrumentationScope,
    members: Vec<usize>,
    body_len: usize,
}

/// Appends the protobuf encoding of an `ExportTraceServiceRequest` holding `spans` under
/// `resource` to `buf`: one `ResourceSpans`, one `ScopeSpans` per instrumentation scope in
/// first-seen order (the same grouping as the prost path).
pub(crate) fn encode_trace_request(
    resource: &Resource,
    spans: &[Box<SpanData>],
    buf: &mut Vec<u8>,
) {
    if spans.is_empty() {
        return;
    }
    // Pass 1: lengths, in one walk over the records (a batch of records is larger than the
    // CPU's caches, so each extra walk would fetch them again). Trace states are rendered
    // once (rare; None for most spans).
    let n = spans.len();
    let mut states: Vec<Option<String>> = Vec::with_capacity(n);
    let mut link_states: Vec<Vec<Option<String>>> = Vec::with_capacity(n);
    let mut span_lens: Vec<usize> = Vec::with_capacity(n);
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut last = 0;
    for (i, s) in spans.iter().enumerate() {
        let state = trace_state_header(&s.span_context);
        let links: Vec<Option<String>> = s
            .links
            .iter()
            .map(|l| trace_state_header(&l.span_context))
            .collect();
        span_lens.push(span_len(s, state.as_deref(), &links));
        states.push(state);
        link_states.push(links);
        let idx = if groups.get(last).is_some_and(|g| *g.scope == s.scope) {
            last
        } else if let Some(j) = groups.iter().position(|g| *g.scope == s.scope) {
            j
        } else {
            groups.push(Group {
                scope: &s.scope,
                members: Vec::new(),
                body_len: 0,
            });
            groups.len() - 1
        };
        last = idx;
        groups[idx].members.push(i);
    }
    for g in &mut groups {
        let spans_body: usize = g
            .members
            .iter()
            .map(|&i| len_delimited(2, span_lens[i]))
            .sum();
        g.body_len = len_delimited(1, scope_len(g.scope))
            + spans_body
            + str_len(3, g.scope.schema_url().unwrap_or(""));
    }
    let resource_body = attributes_len(1, resource.attributes());
    let rs_body = len_delimited(1, resource_body)
        + groups
            .iter()
            .map(|g| len_delimited(2, g.body_len))
            .sum::<usize>()
        + str_len(3, resource.schema_url().unwrap_or(""));

    // Pass 2: bytes.
    buf.reserve(len_delimited(1, rs_body));
    put_len(buf, 1, rs_body);
    put_len(buf, 1, resource_body);
    put_attributes(buf, 1, resource.attributes());
    for g in &groups {
        put_len(buf, 2, g.body_len);
        put_len(buf, 1, scope_len(g.scope));
        put_scope(buf, g.scope);
        for &i in &g.members {
            put_len(buf, 2, span_lens[i]);
            put_span(buf, &spans[i], states[i].as_deref(), &link_states[i]);
        }
        put_str(buf, 3, g.scope.schema_url().unwrap_or(""));
    }
    put_str(buf, 3, resource.schema_url().unwrap_or(""));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemorySpanExporter;
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::any_value::Value as PV;
    use crate::trace::{SpanKind, TraceFlags, TraceId, TraceState, TracerProvider};
    use prost::Message;

    fn pv(v: &Value) -> PV {
        match v {
            Value::Bool(b) => PV::BoolValue(*b),
            Value::I64(i) => PV::IntValue(*i),
            Value::F64(f) => PV::DoubleValue(*f),
            Value::String(s) => PV::StringValue(s.to_string()),
            Value::Array(a) => {
                let vals: Vec<Value> = match a {
                    Array::Bool(v) => v.iter().map(|x| Value::Bool(*x)).collect(),
                    Array::I64(v) => v.iter().map(|x| Value::I64(*x)).collect(),
                    Array::F64(v) => v.iter().map(|x| Value::F64(*x)).collect(),
                    Array::String(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
                };
                PV::ArrayValue(crate::proto::common::v1::ArrayValue {
                    values: vals
                        .iter()
                        .map(|x| crate::proto::common::v1::AnyValue { value: Some(pv(x)) })
                        .collect(),
                })
            }
        }
    }

    fn check_attrs(got: &[crate::proto::common::v1::KeyValue], want: &[KeyValue]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.key, w.key.as_str());
            assert_eq!(
                g.value.as_ref().and_then(|v| v.value.clone()),
                Some(pv(&w.value))
            );
        }
    }

    #[test]
    fn decodes_to_the_same_spans_field_by_field() {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_resource(
                Resource::builder()
                    .with_schema_url("https://schema/r")
                    .build(),
            )
            .with_simple_exporter(exporter.clone())
            .build();
        let t1 = provider.tracer_with_scope(
            InstrumentationScope::builder("one")
                .with_version("1.0")
                .with_schema_url("https://schema/s")
                .with_attributes([KeyValue::new("scope.attr", true)])
                .build(),
        );
        let t2 = provider.tracer("two");
        let remote = SpanContext::new(
            TraceId::from_u128(0x1234),
            crate::trace::SpanId::from_u64(0x99),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_entries([("k", "v")]).unwrap(),
        );
        {
            let mut s = t1
                .span_builder("everything")
                .with_kind(SpanKind::Client)
                .with_parent(
                    crate::context::Context::new().with_remote_span_context(remote.clone()),
                )
                .start(&t1);
            s.set_attribute("b", false);
            s.set_attribute("i", -5);
            s.set_attribute("f", 0.25);
            s.set_attribute("s", "str");
            s.set_attribute("ab", vec![true, false]);
            s.set_attribute("ai", vec![0i64, 1, -1, i64::MAX]);
            s.set_attribute("af", vec![1.5f64]);
            s.set_attribute("as", vec!["x", ""]);
            s.add_event("ev", [KeyValue::new("e", 1)]);
            s.add_link(remote.clone(), [KeyValue::new("l", "x")]);
            s.set_status(Status::error("bad"));
        }
        t2.start("plain").end();
        t1.start("again").end();
        let spans: Vec<Box<SpanData>> = exporter
            .finished_spans()
            .into_iter()
            .map(Box::new)
            .collect();
        let mut buf = Vec::new();
        encode_trace_request(provider.resource(), &spans, &mut buf);
        let req = ExportTraceServiceRequest::decode(buf.as_slice()).unwrap();
        assert_eq!(req.resource_spans.len(), 1);
        let rs = &req.resource_spans[0];
        assert_eq!(rs.schema_url, "https://schema/r");
        check_attrs(
            &rs.resource.as_ref().unwrap().attributes,
            provider.resource().attributes(),
        );
        assert_eq!(
            rs.scope_spans.len(),
            2,
            "one ScopeSpans per scope: one, two"
        );
        let all: Vec<_> = rs
            .scope_spans
            .iter()
            .flat_map(|ss| ss.spans.iter().map(move |s| (ss, s)))
            .collect();
        assert_eq!(all.len(), spans.len());
        // Grouped by scope in first-seen order: spans 0 and 2 (scope one), then span 1.
        let expected_order = [&spans[0], &spans[2], &spans[1]];
        for ((ss, got), want) in all.iter().zip(expected_order) {
            let scope = ss.scope.as_ref().unwrap();
            assert_eq!(scope.name, want.scope.name());
            assert_eq!(scope.version, want.scope.version().unwrap_or(""));
            check_attrs(&scope.attributes, want.scope.attributes());
            assert_eq!(ss.schema_url, want.scope.schema_url().unwrap_or(""));
            assert_eq!(got.trace_id, want.span_context.trace_id().to_bytes());
            assert_eq!(got.span_id, want.span_context.span_id().to_bytes());
            assert_eq!(got.trace_state, want.span_context.trace_state().header());
            if want.parent_span_id.is_valid() {
                assert_eq!(got.parent_span_id, want.parent_span_id.to_bytes());
            } else {
                assert!(got.parent_span_id.is_empty());
            }
            assert_eq!(got.flags, span_flags(want));
            assert_eq!(got.name, want.name.as_str());
            assert_eq!(got.kind, want.kind.to_otlp());
            assert_eq!(got.start_time_unix_nano, want.start_time_unix_nano);
            assert_eq!(got.end_time_unix_nano, want.end_time_unix_nano);
            check_attrs(&got.attributes, &want.attributes);
            assert_eq!(got.dropped_attributes_count, want.dropped_attributes_count);
            assert_eq!(got.events.len(), want.events.len());
            for (ge, we) in got.events.iter().zip(&want.events) {
                assert_eq!(ge.name, we.name.as_str());
                assert_eq!(ge.time_unix_nano, we.timestamp_unix_nano);
                check_attrs(&ge.attributes, &we.attributes);
            }
            assert_eq!(got.links.len(), want.links.len());
            for (gl, wl) in got.links.iter().zip(&want.links) {
                assert_eq!(gl.trace_id, wl.span_context.trace_id().to_bytes());
                assert_eq!(gl.span_id, wl.span_context.span_id().to_bytes());
                assert_eq!(gl.trace_state, "k=v");
                assert_eq!(gl.flags, 0x301);
                check_attrs(&gl.attributes, &wl.attributes);
            }
            let st = got.status.clone().unwrap_or_default();
            assert_eq!(st.code, want.status.code());
            assert_eq!(st.message, want.status.description());
        }
        let first = &rs.scope_spans[0].spans[0];
        assert_eq!(first.flags, 0x301, "sampled, parent remote");
        assert_eq!(first.trace_state, "k=v");
    }

    #[test]
    fn matches_the_prost_path_byte_for_byte() {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let (a, b) = (provider.tracer("a"), provider.tracer("b"));
        for i in 0..10i64 {
            let mut s = if i % 3 == 0 {
                b.start("x")
            } else {
                a.start("y")
            };
            s.set_attribute("i", i);
            s.set_attribute("arr", vec![i, -i]);
            s.add_event("e", [KeyValue::new("k", "v")]);
            s.set_status(Status::error("d"));
        }
        let spans = exporter.finished_spans();
        let boxed: Vec<Box<SpanData>> = spans.iter().cloned().map(Box::new).collect();
        let mut buf = Vec::new();
        encode_trace_request(provider.resource(), &boxed, &mut buf);
        let via_prost = crate::export::otlp::encode_spans(provider.resource(), &spans);
        assert_eq!(buf, via_prost.encode_to_vec());
    }

    #[test]
    fn varints_match_prost() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            encode_varint(v, &mut ours);
            prost::encoding::encode_varint(v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
            assert_eq!(ours.len(), encoded_len_varint(v));
        }
    }

    #[test]
    fn an_empty_batch_encodes_nothing() {
        let mut buf = Vec::new();
        encode_trace_request(&Resource::empty(), &[], &mut buf);
        assert!(buf.is_empty());
    }
}
