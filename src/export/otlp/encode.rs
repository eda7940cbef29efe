//! The SDK's data model turned into the generated OTLP protobuf types. The common parts
//! (attributes, values, resource, scope) are shared with the metrics and logs encoders.

use crate::attributes::{ArraySlice, KeyValue, Value};
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1 as pc;
use crate::proto::resource::v1 as pr;
use crate::proto::trace::v1 as pt;
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::{SpanContext, SpanData};

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
pub(crate) const HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
pub(crate) const IS_REMOTE: u32 = 0x200;

/// One attribute value.
pub(crate) fn any_value(v: &Value) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let value = match v {
        Value::Bool(b) => V::BoolValue(*b),
        Value::I64(i) => V::IntValue(*i),
        Value::F64(f) => V::DoubleValue(*f),
        Value::String(s) => V::StringValue(s.as_str().to_owned()),
        Value::Array(a) => V::ArrayValue(pc::ArrayValue {
            values: match a.as_slice() {
                ArraySlice::Bool(x) => x.iter().map(|b| wrap(V::BoolValue(*b))).collect(),
                ArraySlice::I64(x) => x.iter().map(|i| wrap(V::IntValue(*i))).collect(),
                ArraySlice::F64(x) => x.iter().map(|f| wrap(V::DoubleValue(*f))).collect(),
                ArraySlice::String(x) => x
                    .iter()
                    .map(|s| wrap(V::StringValue(s.as_str().to_owned())))
                    .collect(),
            },
        }),
    };
    wrap(value)
}

fn wrap(v: pc::any_value::Value) -> pc::AnyValue {
    pc::AnyValue { value: Some(v) }
}

/// An attribute list.
pub(crate) fn key_values(attrs: &[KeyValue]) -> Vec<pc::KeyValue> {
    attrs
        .iter()
        .map(|kv| pc::KeyValue {
            key: kv.key.as_str().to_owned(),
            value: Some(any_value(&kv.value)),
            key_strindex: 0,
        })
        .collect()
}

/// A resource (its schema URL goes on the `Resource*` message, see [`resource_schema_url`]).
pub(crate) fn resource(r: &Resource) -> pr::Resource {
    pr::Resource {
        attributes: key_values(r.attributes()),
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// The resource's schema URL, or "".
pub(crate) fn resource_schema_url(r: &Resource) -> String {
    r.schema_url().unwrap_or_default().to_owned()
}

/// An instrumentation scope.
pub(crate) fn scope(s: &InstrumentationScope) -> pc::InstrumentationScope {
    pc::InstrumentationScope {
        name: s.name().to_owned(),
        version: s.version().unwrap_or_default().to_owned(),
        attributes: key_values(s.attributes()),
        dropped_attributes_count: 0,
    }
}

/// The OTLP `flags` of a span or link: the W3C trace flags in the low byte, and whether the
/// parent (or linked) context is remote.
pub(crate) fn span_flags(cx: &SpanContext, remote: bool) -> u32 {
    u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

/// Groups `items` by instrumentation scope, keeping first-seen order: returns, per scope,
/// the index of its first item and the mapped items. The logs encoder uses it too.
pub(crate) fn group_by_scope<T, P>(
    items: &[T],
    scope_of: impl Fn(&T) -> &InstrumentationScope,
    mut map: impl FnMut(&T) -> P,
) -> Vec<(usize, Vec<P>)> {
    let mut groups: Vec<(usize, Vec<P>)> = Vec::new();
    let mut last = 0usize;
    for (i, item) in items.iter().enumerate() {
        let s = scope_of(item);
        let same = |g: &(usize, Vec<P>)| same_scope(scope_of(&items[g.0]), s);
        let idx = if groups.get(last).is_some_and(same) {
            last
        } else if let Some(j) = groups.iter().position(same) {
            j
        } else {
            groups.push((i, Vec::new()));
            groups.len() - 1
        };
        last = idx;
        groups[idx].1.push(map(item));
    }
    groups
}

fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.ptr_eq(b) || a == b
}

/// One span.
pub(crate) fn span(s: &SpanData) -> pt::Span {
    let cx = &s.span_context;
    pt::Span {
        trace_id: cx.trace_id().to_bytes().to_vec(),
        span_id: cx.span_id().to_bytes().to_vec(),
        trace_state: if cx.trace_state().is_empty() {
            String::new()
        } else {
            cx.trace_state().header()
        },
        parent_span_id: if s.parent_span_id.is_valid() {
            s.parent_span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: span_flags(cx, s.parent_is_remote),
        name: s.name.as_str().to_owned(),
        kind: s.kind.to_otlp(),
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: key_values(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| pt::span::Event {
                time_unix_nano: e.timestamp_unix_nano,
                name: e.name.as_str().to_owned(),
                attributes: key_values(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| {
                let lc = &l.span_context;
                pt::span::Link {
                    trace_id: lc.trace_id().to_bytes().to_vec(),
                    span_id: lc.span_id().to_bytes().to_vec(),
                    trace_state: if lc.trace_state().is_empty() {
                        String::new()
                    } else {
                        lc.trace_state().header()
                    },
                    attributes: key_values(&l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: span_flags(lc, lc.is_remote()),
                }
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        status: match s.status.code() {
            0 => None,
            code => Some(pt::Status {
                message: s.status.description().to_owned(),
                code,
            }),
        },
    }
}

/// A batch of spans as one request: one `ResourceSpans` for `resource`, one `ScopeSpans` per
/// instrumentation scope (in first-seen order).
pub(crate) fn traces_request<S: std::borrow::Borrow<SpanData>>(
    resource: &pr::Resource,
    resource_schema_url: &str,
    spans: &[S],
) -> ExportTraceServiceRequest {
    let groups = group_by_scope(spans, |s| &s.borrow().scope, |s| span(s.borrow()));
    let scope_spans = groups
        .into_iter()
        .map(|(first, spans_out)| {
            let sc = &spans[first].borrow().scope;
            pt::ScopeSpans {
                scope: Some(scope(sc)),
                spans: spans_out,
                schema_url: sc.schema_url().unwrap_or_default().to_owned(),
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![pt::ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans,
            schema_url: resource_schema_url.to_owned(),
        }],
    }
}
