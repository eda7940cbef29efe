//! The log exporter interface and the console and in-memory exporters.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value as Json};

use crate::error::SdkResult;
use crate::export::console::ConsoleWriter;
use crate::logs::record::{AnyValue, LogData};
use crate::resource::Resource;
use crate::time::from_unix_nanos;

/// Receives batches of emitted log records and sends them somewhere (console, memory,
/// OTLP...). Same shape as [`SpanExporter`](crate::trace::SpanExporter).
///
/// Export calls are made one at a time from a processor's thread; an exporter needs no
/// locking of its own.
pub trait LogExporter: Send + fmt::Debug + 'static {
    /// Exports a batch. Records come boxed, as spans do: the pipeline moves pointers, and
    /// the boxes are reused for later records once exported.
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult;
    /// Called once, before the first export, with the provider's resource.
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Flushes anything the exporter buffers.
    fn force_flush(&mut self) -> SdkResult {
        Ok(())
    }
    /// Releases the exporter's resources; later exports should fail.
    fn shutdown(&mut self) -> SdkResult {
        Ok(())
    }
}

/// Keeps exported records in memory. Clones share the same storage, so a test keeps one
/// clone and gives the other to the provider.
#[derive(Clone, Debug, Default)]
pub struct InMemoryLogExporter {
    logs: Arc<Mutex<Vec<LogData>>>,
    resource: Arc<Mutex<Option<Resource>>>,
}

impl InMemoryLogExporter {
    /// A copy of every record exported so far, in export order.
    pub fn emitted_logs(&self) -> Vec<LogData> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the records exported so far.
    pub fn reset(&self) {
        if let Ok(mut l) = self.logs.lock() {
            l.clear();
        }
    }

    /// The resource the provider passed to the exporter.
    pub fn resource(&self) -> Option<Resource> {
        self.resource.lock().ok().and_then(|r| r.clone())
    }
}

impl LogExporter for InMemoryLogExporter {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        if let Ok(mut l) = self.logs.lock() {
            l.extend(batch.iter().map(|d| LogData::clone(d)));
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(mut r) = self.resource.lock() {
            *r = Some(resource.clone());
        }
    }
}

/// Prints each record as an indented JSON block, in the layout of the Python SDK's
/// `ConsoleLogExporter` (ids as `0x`-prefixed hex, ISO-8601 times, the resource).
pub struct ConsoleLogExporter {
    out: ConsoleWriter,
    resource: Json,
}

impl Default for ConsoleLogExporter {
    /// Writes to stdout.
    fn default() -> Self {
        Self::with_writer(std::io::stdout())
    }
}

impl ConsoleLogExporter {
    /// Writes to `w` instead of stdout.
    pub fn with_writer(w: impl Write + Send + 'static) -> Self {
        ConsoleLogExporter {
            out: ConsoleWriter::new(w),
            resource: Json::Null,
        }
    }
}

impl fmt::Debug for ConsoleLogExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleLogExporter")
    }
}

impl LogExporter for ConsoleLogExporter {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        let resource = &self.resource;
        self.out
            .write_blocks(batch.iter().map(|data| record_json(data, resource)))
    }

    fn set_resource(&mut self, resource: &Resource) {
        let attrs = resource
            .attributes()
            .iter()
            .map(|kv| (kv.key.to_string(), any_json(&kv.value.clone().into())))
            .collect::<Map<_, _>>();
        self.resource = json!({
            "attributes": attrs,
            "schema_url": resource.schema_url().unwrap_or(""),
        });
    }
}

fn iso_time(nanos: u64) -> Json {
    if nanos == 0 {
        return Json::Null;
    }
    json!(humantime::format_rfc3339_micros(from_unix_nanos(nanos)).to_string())
}

fn any_json(v: &AnyValue) -> Json {
    match v {
        AnyValue::String(s) => json!(s.as_str()),
        AnyValue::Int(i) => json!(i),
        AnyValue::Double(d) => crate::export::console::float_json(*d),
        AnyValue::Bool(b) => json!(b),
        AnyValue::Bytes(_) => json!(v.to_string()),
        AnyValue::Array(a) => Json::Array(a.iter().map(any_json).collect()),
        AnyValue::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), any_json(v)))
                .collect(),
        ),
    }
}

fn record_json(data: &LogData, resource: &Json) -> Json {
    let r = &data.record;
    let attrs = r
        .attributes
        .iter()
        .map(|(k, v)| (k.to_string(), any_json(v)))
        .collect::<Map<_, _>>();
    let (trace_id, span_id) = if r.trace_id.is_valid() {
        (
            json!(format!("0x{}", r.trace_id)),
            json!(format!("0x{}", r.span_id)),
        )
    } else {
        (json!("0x0"), json!("0x0"))
    };
    json!({
        "body": r.body.as_ref().map_or(Json::Null, any_json),
        "severity_number": r.severity_number.map_or(0, |s| s.as_i32()),
        "severity_text": r.severity_text.as_deref(),
        "attributes": attrs,
        "dropped_attributes": r.dropped_attributes_count,
        "timestamp": iso_time(r.time_unix_nano),
        "observed_timestamp": iso_time(r.observed_time_unix_nano),
        "trace_id": trace_id,
        "span_id": span_id,
        "trace_flags": r.trace_flags.to_u8(),
        "event_name": r.event_name.as_deref(),
        "scope": data.scope.name(),
        "resource": resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::{LogRecord, SeverityNumber};
    use crate::scope::InstrumentationScope;
    use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn console_prints_json_blocks() {
        let buf = Buf::default();
        let mut e = ConsoleLogExporter::with_writer(buf.clone());
        e.set_resource(&Resource::empty());
        let sc = SpanContext::new(
            TraceId::from_u128(0xabc),
            SpanId::from_u64(0xdef),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let record = LogRecord::new()
            .with_body("hello")
            .with_severity(SeverityNumber::Info)
            .with_severity_text("INFO")
            .with_attribute("n", 1)
            .with_span_context(&sc);
        e.export(&[Box::new(LogData {
            record,
            scope: InstrumentationScope::new("s"),
        })])
        .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(v["body"], "hello");
        assert_eq!(v["severity_number"], 9);
        assert_eq!(v["severity_text"], "INFO");
        assert_eq!(v["attributes"]["n"], 1);
        assert_eq!(v["trace_id"], format!("0x{:032x}", 0xabc));
        assert_eq!(v["span_id"], format!("0x{:016x}", 0xdef));
        assert_eq!(v["trace_flags"], 1);
        assert_eq!(v["scope"], "s");
    }
}
