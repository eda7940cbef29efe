//! OTLP protobuf encoding straight from the span model.
//!
//! Building the generated prost structs first would copy every name, attribute key and value
//! into fresh `String`s and `Vec`s, then serialize and free them. This encoder writes the
//! `ExportTraceServiceRequest` bytes directly from the [`SpanData`] records, in one pass: a
//! nested message's length is filled in once its body is written (see [`open`]). Its output
//! is byte for byte what the prost path encodes; the tests below compare the two, and decode
//! it field by field.

use prost::encoding::encoded_len_varint;

use crate::attributes::{Array, ArraySlice, KeyValue, Value};
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::{Event, Link, SpanContext, SpanData};

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
fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    encode_varint(u64::from((field << 3) | wire), buf);
}

#[inline]
fn put_len(buf: &mut Vec<u8>, field: u32, body: usize) {
    put_key(buf, field, LEN);
    encode_varint(body as u64, buf);
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
fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, VARINT);
        encode_varint(v, buf);
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
fn put_fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        put_key(buf, field, FIXED32);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

// ------------------------------------------------------------------ nested messages

/// Opens a length-delimited field whose body is written next: writes the field's key and
/// `width` placeholder bytes for the body's length, and returns where the body starts. The
/// width is the varint size the body's length usually takes, so that [`close`] rarely moves
/// the body.
#[inline(always)]
fn open(buf: &mut Vec<u8>, field: u32, width: usize) -> usize {
    put_key(buf, field, LEN);
    buf.extend_from_slice(&[0u8; 3][..width]);
    buf.len()
}

/// Closes the field [`open`] started at `start` with `width` placeholder bytes: writes the
/// body's length there, as the minimal varint protobuf encoders write.
#[inline(always)]
fn close(buf: &mut Vec<u8>, start: usize, width: usize) {
    let len = buf.len() - start;
    if width == 1 && len < 0x80 {
        buf[start - 1] = len as u8;
    } else if width == 2 && (0x80..0x4000).contains(&len) {
        buf[start - 2] = (len as u8) | 0x80;
        buf[start - 1] = (len >> 7) as u8;
    } else {
        close_resized(buf, start, width, len);
    }
}

/// [`close`] when the length's varint is not `width` bytes long: the body moves by the
/// difference first.
#[cold]
fn close_resized(buf: &mut Vec<u8>, start: usize, width: usize, len: usize) {
    let need = encoded_len_varint(len as u64);
    let end = buf.len();
    if need > width {
        buf.resize(end + need - width, 0);
        buf.copy_within(start..end, start + need - width);
    } else if need < width {
        buf.copy_within(start..end, start - (width - need));
        buf.truncate(end - (width - need));
    }
    let at = start - width;
    prost::encoding::encode_varint(len as u64, &mut &mut buf[at..at + need]);
}

// ------------------------------------------------------------------ AnyValue / KeyValue

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
            let start = open(buf, 5, 1);
            put_array(buf, a);
            close(buf, start, 1);
        }
    }
}

/// The elements of an `ArrayValue { repeated AnyValue values = 1; }`, each a nested
/// `AnyValue` whose length is known up front.
fn put_array(buf: &mut Vec<u8>, a: &Array) {
    match a.as_slice() {
        ArraySlice::Bool(v) => {
            for b in v {
                put_len(buf, 1, 2);
                put_key(buf, 2, VARINT);
                buf.push(u8::from(*b));
            }
        }
        ArraySlice::I64(v) => {
            for i in v {
                put_len(buf, 1, 1 + encoded_len_varint(*i as u64));
                put_key(buf, 3, VARINT);
                encode_varint(*i as u64, buf);
            }
        }
        ArraySlice::F64(v) => {
            for f in v {
                put_len(buf, 1, 9);
                put_key(buf, 4, FIXED64);
                buf.extend_from_slice(&f.to_le_bytes());
            }
        }
        ArraySlice::String(v) => {
            for s in v {
                put_len(buf, 1, 1 + encoded_len_varint(s.len() as u64) + s.len());
                put_bytes(buf, 1, s.as_bytes());
            }
        }
    }
}

fn put_attributes(buf: &mut Vec<u8>, field: u32, attrs: &[KeyValue]) {
    for kv in attrs {
        let start = open(buf, field, 1);
        put_str(buf, 1, &kv.key);
        let value = open(buf, 2, 1);
        put_any_value(buf, &kv.value);
        close(buf, value, 1);
        close(buf, start, 1);
    }
}

// ------------------------------------------------------------------ spans

fn put_trace_state(buf: &mut Vec<u8>, field: u32, cx: &SpanContext) {
    let ts = cx.trace_state();
    if !ts.is_empty() {
        put_str(buf, field, &ts.header());
    }
}

fn put_event(buf: &mut Vec<u8>, e: &Event) {
    let start = open(buf, 11, 1);
    put_fixed64(buf, 1, e.timestamp_unix_nano);
    put_str(buf, 2, &e.name);
    put_attributes(buf, 3, &e.attributes);
    put_uint(buf, 4, u64::from(e.dropped_attributes_count));
    close(buf, start, 1);
}

fn context_flags(cx: &SpanContext) -> u32 {
    u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | if cx.is_remote() { IS_REMOTE } else { 0 }
}

fn put_link(buf: &mut Vec<u8>, l: &Link) {
    let start = open(buf, 13, 1);
    put_bytes(buf, 1, &l.span_context.trace_id().to_bytes());
    put_bytes(buf, 2, &l.span_context.span_id().to_bytes());
    put_trace_state(buf, 3, &l.span_context);
    put_attributes(buf, 4, &l.attributes);
    put_uint(buf, 5, u64::from(l.dropped_attributes_count));
    put_fixed32(buf, 6, context_flags(&l.span_context));
    close(buf, start, 1);
}

/// The span's flags: W3C trace flags, and whether the parent is remote.
fn span_flags(s: &SpanData) -> u32 {
    let mut f = u32::from(s.span_context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if s.parent_is_remote {
        f |= IS_REMOTE;
    }
    f
}

/// One `Span` message as field 2 of a `ScopeSpans`. Most spans take 128 to 16 383 bytes, so
/// their length is reserved two bytes.
fn put_span(buf: &mut Vec<u8>, s: &SpanData) {
    let start = open(buf, 2, 2);
    put_bytes(buf, 1, &s.span_context.trace_id().to_bytes());
    put_bytes(buf, 2, &s.span_context.span_id().to_bytes());
    put_trace_state(buf, 3, &s.span_context);
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
        put_event(buf, e);
    }
    put_uint(buf, 12, u64::from(s.dropped_events_count));
    for l in &s.links {
        put_link(buf, l);
    }
    put_uint(buf, 14, u64::from(s.dropped_links_count));
    let (description, code) = (s.status.description(), s.status.code());
    if !description.is_empty() || code != 0 {
        let status = open(buf, 15, 1);
        put_str(buf, 2, description);
        put_uint(buf, 3, code as u64);
        close(buf, status, 1);
    }
    put_fixed32(buf, 16, span_flags(s));
    close(buf, start, 2);
}

fn put_scope(buf: &mut Vec<u8>, scope: &InstrumentationScope) {
    let start = open(buf, 1, 1);
    put_str(buf, 1, scope.name());
    put_str(buf, 2, scope.version().unwrap_or(""));
    put_attributes(buf, 3, scope.attributes());
    close(buf, start, 1);
}

/// The most [`put_scope_spans`] reserves ahead; beyond it the buffer grows as it fills.
const MAX_RESERVE: usize = 4 << 20;

/// One `ScopeSpans` message as field 2 of the `ResourceSpans`.
fn put_scope_spans<'a>(
    buf: &mut Vec<u8>,
    scope: &InstrumentationScope,
    mut members: impl Iterator<Item = &'a SpanData>,
) {
    let start = open(buf, 2, 3);
    put_scope(buf, scope);
    if let Some(s) = members.next() {
        // Room for the whole group, estimated from its first span (up to `MAX_RESERVE`: an
        // unusually large first span must not reserve that much for every other one).
        let before = buf.len();
        put_span(buf, s);
        let estimate = (buf.len() - before).saturating_mul(members.size_hint().0);
        buf.reserve(estimate.min(MAX_RESERVE));
    }
    for s in members {
        put_span(buf, s);
    }
    put_str(buf, 3, scope.schema_url().unwrap_or(""));
    close(buf, start, 3);
}

/// Appends the protobuf encoding of an `ExportTraceServiceRequest` holding `spans` under
/// `resource` to `buf`: one `ResourceSpans`, one `ScopeSpans` per instrumentation scope in
/// first-seen order (the same grouping as the prost path).
///
/// One pass over the records: each nested message's length is written once its body is,
/// into room reserved before it (see [`open`]). Computing lengths first would walk every
/// record once more, and visit a nested message's parts again at each level above it.
pub(crate) fn encode_trace_request(
    resource: &Resource,
    spans: &[Box<SpanData>],
    buf: &mut Vec<u8>,
) {
    let Some(first) = spans.first() else {
        return;
    };
    // Spans by scope, in first-seen order; a batch usually holds a single scope.
    let mut others: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    let single = spans.iter().all(|s| s.scope == first.scope);
    if !single {
        for s in spans {
            match others.iter_mut().find(|(scope, _)| **scope == s.scope) {
                Some((_, members)) => members.push(s),
                None => others.push((&s.scope, vec![&**s])),
            }
        }
    }
    // Three bytes of length cover bodies up to 2 MiB, which batches of thousands of spans
    // reach; larger ones move once.
    let resource_spans = open(buf, 1, 3);
    let r = open(buf, 1, 2);
    put_attributes(buf, 1, resource.attributes());
    close(buf, r, 2);
    if single {
        put_scope_spans(buf, &first.scope, spans.iter().map(|s| &**s));
    } else {
        for (scope, members) in &others {
            put_scope_spans(buf, scope, members.iter().copied());
        }
    }
    put_str(buf, 3, resource.schema_url().unwrap_or(""));
    close(buf, resource_spans, 3);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemorySpanExporter;
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::any_value::Value as PV;
    use crate::trace::{SpanKind, Status, TraceFlags, TraceId, TraceState, TracerProvider};
    use prost::Message;

    /// `spans` under `resource`, encoded by this module, appended to `buf`.
    fn wire_into(resource: &Resource, spans: &[SpanData], buf: &mut Vec<u8>) {
        let boxed: Vec<Box<SpanData>> = spans.iter().cloned().map(Box::new).collect();
        encode_trace_request(resource, &boxed, buf);
    }

    fn wire(resource: &Resource, spans: &[SpanData]) -> Vec<u8> {
        let mut buf = Vec::new();
        wire_into(resource, spans, &mut buf);
        buf
    }

    /// The bytes prost encodes for the same request (none for no spans, as `wire`).
    fn via_prost(resource: &Resource, spans: &[SpanData]) -> Vec<u8> {
        if spans.is_empty() {
            return Vec::new();
        }
        crate::export::otlp::encode_spans(resource, spans).encode_to_vec()
    }

    fn pv(v: &Value) -> PV {
        match v {
            Value::Bool(b) => PV::BoolValue(*b),
            Value::I64(i) => PV::IntValue(*i),
            Value::F64(f) => PV::DoubleValue(*f),
            Value::String(s) => PV::StringValue(s.to_string()),
            Value::Array(a) => {
                let vals: Vec<Value> = match a.as_slice() {
                    ArraySlice::Bool(v) => v.iter().map(|x| Value::Bool(*x)).collect(),
                    ArraySlice::I64(v) => v.iter().map(|x| Value::I64(*x)).collect(),
                    ArraySlice::F64(v) => v.iter().map(|x| Value::F64(*x)).collect(),
                    ArraySlice::String(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
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
            // Stored inline (small arrays built from Rust arrays).
            s.set_attribute("ab3", [true, false, true]);
            s.set_attribute("ai3", [i64::MIN, 0, 7]);
            s.set_attribute("af2", [-0.5f64, 1e300]);
            s.set_attribute("ai0", [0i64; 0]);
            s.add_event("ev", [KeyValue::new("e", 1)]);
            s.add_link(remote.clone(), [KeyValue::new("l", "x")]);
            s.set_status(Status::error("bad"));
        }
        t2.start("plain").end();
        t1.start("again").end();
        let spans = exporter.finished_spans();
        let buf = wire(provider.resource(), &spans);
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
        // Inline arrays carry exactly their elements (the checks above compare with the
        // records, read through the same accessor).
        let ints = |key: &str| -> Vec<i64> {
            let kv = first.attributes.iter().find(|kv| kv.key == key).unwrap();
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(PV::ArrayValue(a)) => a
                    .values
                    .iter()
                    .map(|v| match v.value {
                        Some(PV::IntValue(i)) => i,
                        ref other => panic!("{other:?}"),
                    })
                    .collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(ints("ai3"), [i64::MIN, 0, 7]);
        assert_eq!(ints("ai0"), Vec::<i64>::new());
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
        let r = provider.resource();
        assert_eq!(wire(r, &spans), via_prost(r, &spans));
    }

    /// Every nested length whose varint is not the width reserved for it: spans under 128
    /// bytes and over 16 KiB, attributes, values, events, links, a scope and a resource over
    /// 127 bytes, and a group over 2 MiB. Each moves its body, and must still encode exactly
    /// as prost does.
    #[test]
    fn lengths_of_every_size_match_the_prost_path() {
        let big = |n: usize| "x".repeat(n);
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_resource(
                Resource::builder()
                    .with_attribute(KeyValue::new("r", big(20_000)))
                    .build(),
            )
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("s")
                .with_attributes([KeyValue::new(big(200), "v")])
                .build(),
        );
        tracer.start("").end();
        let mut s = tracer.start("medium");
        s.set_attribute("k", big(300));
        s.set_attribute("a", vec![big(100), big(100)]);
        s.add_event(big(150), [KeyValue::new("e", big(130))]);
        s.add_link(
            SpanContext::new(
                TraceId::from_u128(1),
                crate::trace::SpanId::from_u64(2),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            [KeyValue::new("l", big(140))],
        );
        s.set_status(Status::error(big(200)));
        s.end();
        for _ in 0..120 {
            let mut s = tracer.start("huge");
            s.set_attribute("k", big(20_000));
            s.end();
        }
        let spans = exporter.finished_spans();
        let r = provider.resource();
        let buf = wire(r, &spans);
        assert!(buf.len() > 2 << 20);
        assert!(buf == via_prost(r, &spans));
        // The same, appended after other bytes (a reused buffer holds none, but the encoder
        // must not assume it starts at zero).
        let mut buf = vec![7u8; 3];
        wire_into(r, &spans[..2], &mut buf);
        assert!(buf[..3] == [7, 7, 7] && buf[3..] == via_prost(r, &spans[..2])[..]);
    }

    mod arbitrary_spans {
        use super::*;
        use crate::trace::SpanId;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![".{0,4}", "[a-z]{100,300}"]
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::I64),
                any::<f64>().prop_map(Value::F64),
                text().prop_map(Value::from),
                proptest::collection::vec(any::<bool>(), 0..3).prop_map(Value::from),
                proptest::collection::vec(any::<i64>(), 0..40).prop_map(Value::from),
                proptest::collection::vec(any::<f64>(), 0..3).prop_map(Value::from),
                proptest::collection::vec(text(), 0..3).prop_map(Value::from),
            ]
        }

        fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
            proptest::collection::vec((text(), value()), 0..4)
                .prop_map(|kvs| kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
        }

        fn context() -> impl Strategy<Value = SpanContext> {
            (any::<u128>(), any::<u64>(), any::<bool>(), any::<bool>()).prop_map(
                |(t, s, sampled, remote)| {
                    let state = if sampled {
                        TraceState::from_entries([("k", "v")]).unwrap()
                    } else {
                        TraceState::default()
                    };
                    SpanContext::new(
                        TraceId::from_u128(t | 1),
                        SpanId::from_u64(s | 1),
                        TraceFlags::new(u8::from(sampled)),
                        remote,
                        state,
                    )
                },
            )
        }

        fn span(scopes: Vec<InstrumentationScope>) -> impl Strategy<Value = SpanData> {
            let event = (text(), any::<u64>(), attributes(), 0u32..3).prop_map(
                |(name, ts, attributes, dropped)| Event {
                    name: name.into(),
                    timestamp_unix_nano: ts,
                    attributes,
                    dropped_attributes_count: dropped,
                },
            );
            let link = (context(), attributes(), 0u32..3).prop_map(|(cx, attrs, dropped)| {
                let mut l = Link::new(cx, attrs);
                l.dropped_attributes_count = dropped;
                l
            });
            let status = prop_oneof![
                Just(Status::Unset),
                Just(Status::Ok),
                text().prop_map(Status::error),
            ];
            (
                (context(), any::<u64>(), any::<bool>(), 0..5u8, text()),
                (any::<u64>(), any::<u64>(), attributes(), 0u32..300),
                (
                    proptest::collection::vec(event, 0..3),
                    proptest::collection::vec(link, 0..2),
                    (0u32..3, 0u32..3),
                    status,
                    0..scopes.len(),
                ),
            )
                .prop_map(move |(a, b, c)| {
                    let (span_context, parent, parent_is_remote, kind, name) = a;
                    let (start, end, attributes, dropped_attributes_count) = b;
                    let (events, links, (dropped_events_count, dropped_links_count), status, i) = c;
                    SpanData {
                        span_context,
                        parent_span_id: SpanId::from_u64(parent),
                        parent_is_remote,
                        kind: [
                            SpanKind::Internal,
                            SpanKind::Server,
                            SpanKind::Client,
                            SpanKind::Producer,
                            SpanKind::Consumer,
                        ][usize::from(kind)],
                        name: name.into(),
                        start_time_unix_nano: start,
                        end_time_unix_nano: end,
                        attributes,
                        dropped_attributes_count,
                        events,
                        dropped_events_count,
                        links,
                        dropped_links_count,
                        status,
                        scope: scopes[i].clone(),
                        owner: Default::default(),
                        reuse: Default::default(),
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Arbitrary records (with sizes on both sides of each length's reserved
            /// width) encode exactly as the prost path does.
            #[test]
            fn arbitrary_batches_match_the_prost_path(
                spans in proptest::collection::vec(
                    span(vec![
                        InstrumentationScope::builder("a").build(),
                        InstrumentationScope::builder("b")
                            .with_version("1")
                            .with_schema_url("u")
                            .with_attributes([KeyValue::new("x".repeat(130), 1)])
                            .build(),
                    ]),
                    0..12,
                ),
                resource in attributes(),
            ) {
                let resource = Resource::builder().with_attributes(resource).build();
                prop_assert!(wire(&resource, &spans) == via_prost(&resource, &spans));
            }
        }
    }

    #[test]
    fn a_large_first_span_does_not_reserve_its_size_for_every_span() {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("t");
        let mut first = tracer.start("big");
        first.set_attribute("k", "x".repeat(1 << 20));
        first.end();
        for _ in 0..511 {
            tracer.start("small").end();
        }
        let buf = wire(provider.resource(), &exporter.finished_spans());
        // 511 x 1 MiB would be reserved from the first span alone.
        assert!(buf.len() < 2 << 20);
        assert!(
            buf.capacity() <= buf.len() + MAX_RESERVE,
            "{}",
            buf.capacity()
        );
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
