//! The console exporter.

use std::fmt;
use std::io::Write;

use serde_json::{json, Map, Value as Json};

use crate::attributes::{ArraySlice, KeyValue, Value};
use crate::error::{SdkError, SdkResult};
use crate::resource::Resource;
use crate::time::from_unix_nanos;
use crate::trace::{SpanData, SpanExporter, SpanKind, Status};

/// Where console exporters write: stdout or any writer, one indented JSON block per item.
/// Shared by the span, metric and log console exporters.
pub(crate) struct ConsoleWriter(Box<dyn Write + Send>);

impl ConsoleWriter {
    pub(crate) fn new(w: impl Write + Send + 'static) -> Self {
        ConsoleWriter(Box::new(w))
    }

    /// Writes each value as an indented JSON block, then flushes.
    pub(crate) fn write_blocks(&mut self, values: impl IntoIterator<Item = Json>) -> SdkResult {
        let mut text = String::new();
        for v in values {
            text.push_str(
                &serde_json::to_string_pretty(&v)
                    .map_err(|e| SdkError::failed(format!("console encoding: {e}")))?,
            );
            text.push('\n');
        }
        self.0
            .write_all(text.as_bytes())
            .and_then(|_| self.0.flush())
            .map_err(|e| SdkError::failed(format!("console write: {e}")))
    }
}

/// Prints each span as an indented JSON block, in the layout of the Python SDK's
/// `ConsoleSpanExporter` (ids as `0x`-prefixed hex, ISO-8601 times, the resource).
pub struct ConsoleSpanExporter {
    out: ConsoleWriter,
    resource: Option<Resource>,
}

impl Default for ConsoleSpanExporter {
    /// Writes to stdout.
    fn default() -> Self {
        Self::with_writer(std::io::stdout())
    }
}

impl ConsoleSpanExporter {
    /// Writes to `w` instead of stdout.
    pub fn with_writer(w: impl Write + Send + 'static) -> Self {
        ConsoleSpanExporter {
            out: ConsoleWriter::new(w),
            resource: None,
        }
    }
}

impl fmt::Debug for ConsoleSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleSpanExporter")
    }
}

impl SpanExporter for ConsoleSpanExporter {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        let resource = self
            .resource
            .as_ref()
            .map(resource_json)
            .unwrap_or(Json::Null);
        self.out
            .write_blocks(batch.iter().map(|span| span_json(span, &resource)))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
    }
}

pub(crate) fn iso_time(nanos: u64) -> String {
    humantime::format_rfc3339_micros(from_unix_nanos(nanos)).to_string()
}

/// A float: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"` (which JSON numbers cannot
/// hold; Python's console prints them by those names).
pub(crate) fn float_json(f: f64) -> Json {
    if f.is_finite() {
        json!(f)
    } else if f.is_nan() {
        json!("NaN")
    } else if f > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}

pub(crate) fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) => float_json(*f),
        Value::String(s) => json!(s.as_str()),
        Value::Array(a) => match a.as_slice() {
            ArraySlice::Bool(a) => json!(a),
            ArraySlice::I64(a) => json!(a),
            ArraySlice::F64(a) => Json::Array(a.iter().copied().map(float_json).collect()),
            ArraySlice::String(a) => Json::Array(a.iter().map(|s| json!(s.as_str())).collect()),
        },
    }
}

pub(crate) fn attributes_json(attrs: &[KeyValue]) -> Json {
    let mut m = Map::new();
    for kv in attrs {
        m.insert(kv.key.to_string(), value_json(&kv.value));
    }
    Json::Object(m)
}

pub(crate) fn resource_json(r: &Resource) -> Json {
    json!({
        "attributes": attributes_json(r.attributes()),
        "schema_url": r.schema_url().unwrap_or(""),
    })
}

fn kind_name(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Internal => "SpanKind.INTERNAL",
        SpanKind::Server => "SpanKind.SERVER",
        SpanKind::Client => "SpanKind.CLIENT",
        SpanKind::Producer => "SpanKind.PRODUCER",
        SpanKind::Consumer => "SpanKind.CONSUMER",
    }
}

fn status_json(s: &Status) -> Json {
    match s {
        Status::Unset => json!({"status_code": "UNSET"}),
        Status::Ok => json!({"status_code": "OK"}),
        Status::Error { description } if description.is_empty() => {
            json!({"status_code": "ERROR"})
        }
        Status::Error { description } => {
            json!({"status_code": "ERROR", "description": description.as_ref()})
        }
    }
}

fn span_json(s: &SpanData, resource: &Json) -> Json {
    let cx = &s.span_context;
    let parent = if s.parent_span_id.is_valid() {
        json!(format!("0x{}", s.parent_span_id))
    } else {
        Json::Null
    };
    json!({
        "name": s.name.as_str(),
        "context": {
            "trace_id": format!("0x{}", cx.trace_id()),
            "span_id": format!("0x{}", cx.span_id()),
            "trace_state": format!("[{}]", cx.trace_state().header()),
        },
        "kind": kind_name(s.kind),
        "parent_id": parent,
        "start_time": iso_time(s.start_time_unix_nano),
        "end_time": iso_time(s.end_time_unix_nano),
        "status": status_json(&s.status),
        "attributes": attributes_json(&s.attributes),
        "events": s.events.iter().map(|e| json!({
            "name": e.name.as_str(),
            "timestamp": iso_time(e.timestamp_unix_nano),
            "attributes": attributes_json(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": s.links.iter().map(|l| json!({
            "context": {
                "trace_id": format!("0x{}", l.span_context.trace_id()),
                "span_id": format!("0x{}", l.span_context.span_id()),
                "trace_state": format!("[{}]", l.span_context.trace_state().header()),
            },
            "attributes": attributes_json(&l.attributes),
        })).collect::<Vec<_>>(),
        "resource": resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_json_cannot_hold_are_printed_by_name() {
        assert_eq!(value_json(&Value::F64(1.5)), json!(1.5));
        assert_eq!(value_json(&Value::F64(f64::NAN)), json!("NaN"));
        assert_eq!(value_json(&Value::F64(f64::INFINITY)), json!("Infinity"));
        assert_eq!(
            value_json(&Value::from(vec![f64::NEG_INFINITY, 1.0])),
            json!(["-Infinity", 1.0])
        );
    }
}
