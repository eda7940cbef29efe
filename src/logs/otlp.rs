//! Log records to OTLP protobuf (`ExportLogsServiceRequest`), grouped by instrumentation
//! scope under the provider's resource.
//!
//! The OTLP log exporter (`export::otlp::OtlpLogExporter`) calls [`to_proto`].
#![cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]

use crate::export::otlp::encode::{self, group_by_scope, resource_schema_url, scope};
use crate::logs::record::{AnyValue, LogData, LogRecord};
use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::common::v1 as pc;
use crate::proto::logs::v1 as pl;
use crate::resource::Resource;

/// The OTLP request for one batch of records: one `ResourceLogs`, one `ScopeLogs` per scope
/// (in order of first appearance), records in batch order.
pub(crate) fn to_proto(resource: &Resource, batch: &[Box<LogData>]) -> ExportLogsServiceRequest {
    if batch.is_empty() {
        return ExportLogsServiceRequest::default();
    }
    let groups = group_by_scope(batch, |d| &d.scope, |d| record(&d.record));
    let scope_logs = groups
        .into_iter()
        .map(|(first, log_records)| {
            let sc = &batch[first].scope;
            pl::ScopeLogs {
                scope: Some(scope(sc)),
                log_records,
                schema_url: sc.schema_url().unwrap_or_default().to_owned(),
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![pl::ResourceLogs {
            resource: Some(encode::resource(resource)),
            scope_logs,
            schema_url: resource_schema_url(resource),
        }],
    }
}

fn record(r: &LogRecord) -> pl::LogRecord {
    let has_span = r.trace_id.is_valid() && r.span_id.is_valid();
    pl::LogRecord {
        time_unix_nano: r.time_unix_nano,
        observed_time_unix_nano: r.observed_time_unix_nano,
        severity_number: r.severity_number.map_or(0, |s| s.as_i32()),
        severity_text: r.severity_text.as_deref().unwrap_or_default().to_string(),
        body: r.body.as_ref().map(any_value),
        attributes: r.attributes.iter().map(|(k, v)| named(k, v)).collect(),
        dropped_attributes_count: r.dropped_attributes_count,
        // The low byte of `flags` carries the W3C trace flags.
        flags: if has_span {
            u32::from(r.trace_flags.to_u8())
        } else {
            0
        },
        trace_id: if has_span {
            r.trace_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        span_id: if has_span {
            r.span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        event_name: r.event_name.as_deref().unwrap_or_default().to_string(),
    }
}

/// A log attribute or map entry.
fn named(key: &str, v: &AnyValue) -> pc::KeyValue {
    pc::KeyValue {
        key: key.to_owned(),
        value: Some(any_value(v)),
        key_strindex: 0,
    }
}

fn any_value(v: &AnyValue) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let value = match v {
        AnyValue::String(s) => V::StringValue(s.to_string()),
        AnyValue::Int(i) => V::IntValue(*i),
        AnyValue::Double(d) => V::DoubleValue(*d),
        AnyValue::Bool(b) => V::BoolValue(*b),
        AnyValue::Bytes(b) => V::BytesValue(b.clone()),
        AnyValue::Array(a) => V::ArrayValue(pc::ArrayValue {
            values: a.iter().map(any_value).collect(),
        }),
        AnyValue::Map(m) => V::KvlistValue(pc::KeyValueList {
            values: m.iter().map(|(k, v)| named(k, v)).collect(),
        }),
    };
    pc::AnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::KeyValue;
    use crate::logs::record::SeverityNumber;
    use crate::scope::InstrumentationScope;
    use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use prost::Message;

    #[test]
    fn encodes_and_decodes_back() {
        let resource = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", "svc")])
            .build();
        let a = InstrumentationScope::builder("a")
            .with_version("1.0")
            .build();
        let b = InstrumentationScope::new("b");
        let sc = SpanContext::new(
            TraceId::from_u128(0x0102030405060708090a0b0c0d0e0f10),
            SpanId::from_u64(0x1112131415161718),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let rec = LogRecord {
            time_unix_nano: 5,
            observed_time_unix_nano: 6,
            ..LogRecord::new()
                .with_severity(SeverityNumber::Warn)
                .with_severity_text("WARN")
                .with_body(AnyValue::map([
                    ("msg", AnyValue::from("hi")),
                    ("raw", vec![1u8, 2].into()),
                    (
                        "list",
                        AnyValue::Array(vec![1.into(), true.into(), 2.5.into()]),
                    ),
                ]))
                .with_attribute("k", "v")
                .with_event_name("my.event")
                .with_span_context(&sc)
        };
        let batch = vec![
            Box::new(LogData {
                record: rec.clone(),
                scope: a.clone(),
            }),
            Box::new(LogData {
                record: LogRecord::new().with_body("no span"),
                scope: b.clone(),
            }),
            Box::new(LogData {
                record: rec,
                scope: a.clone(),
            }),
        ];
        let bytes = to_proto(&resource, &batch).encode_to_vec();
        let req = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(req.resource_logs.len(), 1);
        let rl = &req.resource_logs[0];
        let res = rl.resource.as_ref().unwrap();
        assert_eq!(res.attributes[0].key, "service.name");
        assert_eq!(rl.scope_logs.len(), 2);
        let sa = &rl.scope_logs[0];
        assert_eq!(sa.scope.as_ref().unwrap().name, "a");
        assert_eq!(sa.scope.as_ref().unwrap().version, "1.0");
        assert_eq!(sa.log_records.len(), 2);
        let r = &sa.log_records[0];
        assert_eq!((r.time_unix_nano, r.observed_time_unix_nano), (5, 6));
        assert_eq!(r.severity_number, 13);
        assert_eq!(r.severity_text, "WARN");
        assert_eq!(r.event_name, "my.event");
        assert_eq!(r.flags, 1);
        assert_eq!(r.trace_id, sc.trace_id().to_bytes().to_vec());
        assert_eq!(r.span_id, sc.span_id().to_bytes().to_vec());
        assert_eq!(r.attributes[0].key, "k");
        use pc::any_value::Value as V;
        let Some(V::KvlistValue(body)) = r.body.as_ref().and_then(|b| b.value.clone()) else {
            panic!("body is not a map: {:?}", r.body);
        };
        assert_eq!(body.values[0].key, "msg");
        assert_eq!(
            body.values[1].value.as_ref().unwrap().value,
            Some(V::BytesValue(vec![1, 2]))
        );
        let Some(V::ArrayValue(list)) = body.values[2].value.as_ref().unwrap().value.clone() else {
            panic!("not an array");
        };
        assert_eq!(list.values[2].value, Some(V::DoubleValue(2.5)));
        let sb = &rl.scope_logs[1];
        assert_eq!(sb.scope.as_ref().unwrap().name, "b");
        assert!(sb.log_records[0].trace_id.is_empty());
        assert_eq!(sb.log_records[0].flags, 0);
        assert_eq!(sb.log_records[0].severity_number, 0);
        assert!(to_proto(&resource, &[]).resource_logs.is_empty());
    }
}
