//! OTLP/JSON: the exact mapping the OTLP specification requires, and lossless round trips
//! of the three export requests (every field and value type set) and their responses.

use otlp_sdk::export::otlp::encode_spans;
use otlp_sdk::export::otlp::json::OtlpJson;
use otlp_sdk::proto::collector::logs::v1 as cl;
use otlp_sdk::proto::collector::metrics::v1 as cm;
use otlp_sdk::proto::collector::trace::v1 as ct;
use otlp_sdk::proto::common::v1::{self as pc, any_value::Value as V};
use otlp_sdk::proto::logs::v1 as pl;
use otlp_sdk::proto::metrics::v1 as pm;
use otlp_sdk::proto::resource::v1 as pr;
use otlp_sdk::proto::trace::v1 as pt;
use proptest::prelude::*;
use serde_json::{json, Value as Json};

fn av(v: V) -> pc::AnyValue {
    pc::AnyValue { value: Some(v) }
}

fn kv(k: &str, v: V) -> pc::KeyValue {
    pc::KeyValue {
        key: k.into(),
        value: Some(av(v)),
        key_strindex: 0,
    }
}

/// One attribute of every value type, nested arrays and maps included.
fn every_value() -> Vec<pc::KeyValue> {
    vec![
        kv(
            "str",
            V::StringValue("héllo \"quoted\" \\ \n\t\u{1}".into()),
        ),
        kv("bool", V::BoolValue(true)),
        kv("int", V::IntValue(i64::MIN)),
        kv("int.max", V::IntValue(i64::MAX)),
        kv("double", V::DoubleValue(-1.25e-300)),
        kv("inf", V::DoubleValue(f64::INFINITY)),
        kv("bytes", V::BytesValue(vec![0, 1, 2, 250, 255])),
        kv(
            "array",
            V::ArrayValue(pc::ArrayValue {
                values: vec![
                    av(V::IntValue(1)),
                    av(V::StringValue("two".into())),
                    av(V::ArrayValue(pc::ArrayValue {
                        values: vec![av(V::BoolValue(false))],
                    })),
                    pc::AnyValue { value: None },
                ],
            }),
        ),
        kv(
            "map",
            V::KvlistValue(pc::KeyValueList {
                values: vec![
                    kv("inner", V::DoubleValue(0.5)),
                    kv("empty", V::StringValue(String::new())),
                ],
            }),
        ),
        kv("strindex", V::StringValueStrindex(7)),
        pc::KeyValue {
            key: String::new(),
            value: None,
            key_strindex: 3,
        },
    ]
}

fn resource() -> pr::Resource {
    pr::Resource {
        attributes: every_value(),
        dropped_attributes_count: 2,
        entity_refs: vec![pc::EntityRef {
            schema_url: "https://schema".into(),
            r#type: "service".into(),
            id_keys: vec!["service.name".into()],
            description_keys: vec!["a".into(), "b".into()],
        }],
    }
}

fn scope() -> pc::InstrumentationScope {
    pc::InstrumentationScope {
        name: "my.scope".into(),
        version: "1.2.3".into(),
        attributes: vec![kv("scope.attr", V::IntValue(1))],
        dropped_attributes_count: 1,
    }
}

const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

fn traces() -> ct::ExportTraceServiceRequest {
    ct::ExportTraceServiceRequest {
        resource_spans: vec![pt::ResourceSpans {
            resource: Some(resource()),
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            scope_spans: vec![pt::ScopeSpans {
                scope: Some(scope()),
                schema_url: "s".into(),
                spans: vec![pt::Span {
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    trace_state: "a=b,c=d".into(),
                    parent_span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                    flags: 0x301,
                    name: "span.name".into(),
                    kind: 3,
                    start_time_unix_nano: 1_544_712_660_000_000_000,
                    end_time_unix_nano: u64::MAX,
                    attributes: every_value(),
                    dropped_attributes_count: 4,
                    events: vec![pt::span::Event {
                        time_unix_nano: 1,
                        name: "ev".into(),
                        attributes: vec![kv("e", V::BoolValue(true))],
                        dropped_attributes_count: 5,
                    }],
                    dropped_events_count: 6,
                    links: vec![pt::span::Link {
                        trace_id: TRACE_ID.to_vec(),
                        span_id: vec![9; 8],
                        trace_state: "x=y".into(),
                        attributes: vec![kv("l", V::IntValue(-1))],
                        dropped_attributes_count: 7,
                        flags: 0x101,
                    }],
                    dropped_links_count: 8,
                    status: Some(pt::Status {
                        message: "boom".into(),
                        code: 2,
                    }),
                }],
            }],
        }],
    }
}

fn exemplar() -> pm::Exemplar {
    pm::Exemplar {
        filtered_attributes: vec![kv("f", V::StringValue("x".into()))],
        time_unix_nano: 99,
        span_id: SPAN_ID.to_vec(),
        trace_id: TRACE_ID.to_vec(),
        value: Some(pm::exemplar::Value::AsInt(-3)),
    }
}

fn metrics() -> cm::ExportMetricsServiceRequest {
    use pm::metric::Data;
    let number = |v| pm::NumberDataPoint {
        attributes: vec![kv("k", V::StringValue("v".into()))],
        start_time_unix_nano: 10,
        time_unix_nano: 20,
        exemplars: vec![exemplar()],
        flags: 1,
        value: Some(v),
    };
    let metric = |name: &str, data| pm::Metric {
        name: name.into(),
        description: "d".into(),
        unit: "ms".into(),
        metadata: vec![kv("m", V::BoolValue(true))],
        data: Some(data),
    };
    cm::ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(resource()),
            schema_url: "rs".into(),
            scope_metrics: vec![pm::ScopeMetrics {
                scope: Some(scope()),
                schema_url: "ss".into(),
                metrics: vec![
                    metric(
                        "gauge",
                        Data::Gauge(pm::Gauge {
                            data_points: vec![number(pm::number_data_point::Value::AsDouble(2.5))],
                        }),
                    ),
                    metric(
                        "sum",
                        Data::Sum(pm::Sum {
                            data_points: vec![number(pm::number_data_point::Value::AsInt(
                                i64::MAX,
                            ))],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "hist",
                        Data::Histogram(pm::Histogram {
                            data_points: vec![pm::HistogramDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: u64::MAX,
                                sum: Some(0.0),
                                bucket_counts: vec![1, 0, u64::MAX],
                                explicit_bounds: vec![-1.5, 0.0, 1e10],
                                exemplars: vec![],
                                flags: 0,
                                min: Some(-0.0),
                                max: None,
                            }],
                            aggregation_temporality: 1,
                        }),
                    ),
                    metric(
                        "exp",
                        Data::ExponentialHistogram(pm::ExponentialHistogram {
                            data_points: vec![pm::ExponentialHistogramDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 3,
                                sum: Some(4.5),
                                scale: -3,
                                zero_count: 1,
                                positive: Some(pm::exponential_histogram_data_point::Buckets {
                                    offset: -2,
                                    bucket_counts: vec![1, 2],
                                }),
                                negative: Some(Default::default()),
                                flags: 0,
                                exemplars: vec![pm::Exemplar {
                                    value: Some(pm::exemplar::Value::AsDouble(f64::NEG_INFINITY)),
                                    ..exemplar()
                                }],
                                min: Some(f64::MIN_POSITIVE),
                                max: Some(f64::MAX),
                                zero_threshold: 1e-9,
                            }],
                            aggregation_temporality: 2,
                        }),
                    ),
                    metric(
                        "summary",
                        Data::Summary(pm::Summary {
                            data_points: vec![pm::SummaryDataPoint {
                                attributes: vec![],
                                start_time_unix_nano: 1,
                                time_unix_nano: 2,
                                count: 10,
                                sum: 55.5,
                                quantile_values: vec![
                                    pm::summary_data_point::ValueAtQuantile {
                                        quantile: 0.0,
                                        value: 1.0,
                                    },
                                    pm::summary_data_point::ValueAtQuantile {
                                        quantile: 0.99,
                                        value: 9.9,
                                    },
                                ],
                                flags: 1,
                            }],
                        }),
                    ),
                ],
            }],
        }],
    }
}

fn logs() -> cl::ExportLogsServiceRequest {
    cl::ExportLogsServiceRequest {
        resource_logs: vec![pl::ResourceLogs {
            resource: Some(resource()),
            schema_url: "rs".into(),
            scope_logs: vec![pl::ScopeLogs {
                scope: Some(scope()),
                schema_url: "ss".into(),
                log_records: vec![pl::LogRecord {
                    time_unix_nano: 1,
                    observed_time_unix_nano: 2,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(av(V::KvlistValue(pc::KeyValueList {
                        values: every_value(),
                    }))),
                    attributes: every_value(),
                    dropped_attributes_count: 3,
                    flags: 1,
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    event_name: "my.event".into(),
                }],
            }],
        }],
    }
}

fn round_trip<T: OtlpJson + PartialEq + std::fmt::Debug>(v: &T) -> Json {
    let text = v.to_otlp_json();
    let back = T::from_otlp_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&back, v, "{text}");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn trace_request_round_trips_losslessly() {
    round_trip(&traces());
}

#[test]
fn metrics_request_round_trips_losslessly() {
    let j = round_trip(&metrics());
    // -0.0 keeps its sign through the text.
    let text = j.to_string();
    assert!(text.contains("\"min\":-0.0"), "{text}");
}

#[test]
fn logs_request_round_trips_losslessly() {
    round_trip(&logs());
}

#[test]
fn responses_round_trip_and_decode_collector_forms() {
    let r = ct::ExportTraceServiceResponse {
        partial_success: Some(ct::ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "m".into(),
        }),
    };
    assert_eq!(
        round_trip(&r),
        json!({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "m"}})
    );
    round_trip(&cm::ExportMetricsServiceResponse {
        partial_success: Some(cm::ExportMetricsPartialSuccess {
            rejected_data_points: 1,
            error_message: String::new(),
        }),
    });
    round_trip(&cl::ExportLogsServiceResponse {
        partial_success: Some(cl::ExportLogsPartialSuccess {
            rejected_log_records: 2,
            error_message: "x".into(),
        }),
    });
    // What collectors send: null, numbers for int64, nothing at all.
    let r = ct::ExportTraceServiceResponse::from_otlp_json(r#"{"partialSuccess":null}"#).unwrap();
    assert_eq!(r.partial_success, None);
    let r = cl::ExportLogsServiceResponse::from_otlp_json(
        r#"{"partialSuccess":{"rejectedLogRecords":5}}"#,
    )
    .unwrap();
    assert_eq!(r.partial_success.unwrap().rejected_log_records, 5);
}

#[test]
fn the_mapping_follows_the_otlp_rules() {
    let j = round_trip(&traces());
    let span = &j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    // Ids in hex, not base64.
    assert_eq!(span["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(span["spanId"], "eee19b7ec3c1b174");
    assert_eq!(span["parentSpanId"], "0102030405060708");
    // Enums as integers.
    assert_eq!(span["kind"], 3);
    assert_eq!(span["status"]["code"], 2);
    // 64-bit integers as decimal strings; 32-bit as numbers.
    assert_eq!(span["startTimeUnixNano"], "1544712660000000000");
    assert_eq!(span["endTimeUnixNano"], "18446744073709551615");
    assert_eq!(span["droppedAttributesCount"], 4);
    assert_eq!(span["flags"], 0x301);
    // lowerCamelCase names.
    assert!(j["resourceSpans"][0].get("scopeSpans").is_some());
    assert!(j["resourceSpans"][0].get("scope_spans").is_none());
    // Values.
    let attr = |k: &str| {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(attr("int"), json!({"intValue": "-9223372036854775808"}));
    assert_eq!(attr("bool"), json!({"boolValue": true}));
    assert_eq!(attr("double"), json!({"doubleValue": -1.25e-300}));
    assert_eq!(attr("inf"), json!({"doubleValue": "Infinity"}));
    // Other bytes stay base64.
    assert_eq!(attr("bytes"), json!({"bytesValue": "AAEC+v8="}));
    // Default values are omitted.
    let mut empty = traces();
    empty.resource_spans[0].scope_spans[0].spans[0] = pt::Span::default();
    let j = round_trip(&empty);
    assert_eq!(
        j["resourceSpans"][0]["scopeSpans"][0]["spans"][0],
        json!({})
    );
    // Exemplars and log records use hex ids too.
    let m = round_trip(&metrics());
    let ex = &m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0]
        ["exemplars"][0];
    assert_eq!(ex["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(ex["asInt"], "-3");
    let l = round_trip(&logs());
    assert_eq!(
        l["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["spanId"],
        "eee19b7ec3c1b174"
    );
    assert_eq!(
        l["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["severityNumber"],
        17
    );
}

#[test]
fn decoding_is_lenient_where_the_spec_allows() {
    // snake_case names, numbers for 64-bit integers, unknown fields, upper-case hex.
    let text = r#"{"resource_spans":[{"scope_spans":[{"spans":[{
        "trace_id":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
        "start_time_unix_nano":1544712660000000000,"name":"n","unknownField":{"x":[1]},
        "attributes":[{"key":"i","value":{"int_value":5}}]}]}]}]}"#;
    let r = ct::ExportTraceServiceRequest::from_otlp_json(text).unwrap();
    let s = &r.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(s.trace_id, TRACE_ID.to_vec());
    assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(
        s.attributes[0].value.as_ref().unwrap().value,
        Some(V::IntValue(5))
    );
}

#[test]
fn malformed_json_is_an_error_with_a_path() {
    for (text, needle) in [
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#,
            "traceId",
        ),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}"#,
            "kind",
        ),
        (r#"{"resourceSpans":{}}"#, "resourceSpans"),
        (r#"[1]"#, "object"),
        (r#"{"#, "OTLP/JSON"),
    ] {
        let e = ct::ExportTraceServiceRequest::from_otlp_json(text).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn sdk_spans_encode_and_round_trip() {
    use otlp_sdk::export::InMemorySpanExporter;
    use otlp_sdk::resource::Resource;
    use otlp_sdk::trace::TracerProvider;
    use otlp_sdk::KeyValue;
    let mem = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(mem.clone())
        .build();
    let tracer = provider.tracer("a");
    {
        let mut s = tracer.start_span("one");
        s.set_attribute("arr", vec![1i64, 2]);
        s.set_attribute("f", 0.1);
        s.set_attribute("strs", vec!["x", "y"]);
        s.set_attribute("bools", vec![true]);
        s.set_attribute("floats", vec![1.5f64]);
        s.add_event("ev", [KeyValue::new("k", "v")]);
        s.end();
    }
    provider.tracer("b").start_span("two").end();
    provider.shutdown().unwrap();
    let spans = mem.finished_spans();
    let req = encode_spans(
        &Resource::from_attributes([KeyValue::new("service.name", "svc")]),
        &spans,
    );
    // One resource, one scope per tracer.
    assert_eq!(req.resource_spans.len(), 1);
    assert_eq!(req.resource_spans[0].scope_spans.len(), 2);
    let j = round_trip(&req);
    let s = &j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(s["traceId"], spans[0].span_context.trace_id().to_string());
    assert_eq!(s["kind"], 1);
    // Local root span: HAS_IS_REMOTE set, IS_REMOTE clear, sampled.
    assert_eq!(s["flags"], 0x101);
}

fn arb_any() -> impl Strategy<Value = pc::AnyValue> {
    let leaf = prop_oneof![
        proptest::arbitrary::any::<String>().prop_map(V::StringValue),
        proptest::arbitrary::any::<bool>().prop_map(V::BoolValue),
        proptest::arbitrary::any::<i64>().prop_map(V::IntValue),
        proptest::arbitrary::any::<f64>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(V::DoubleValue),
        proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..20).prop_map(V::BytesValue),
    ]
    .prop_map(av);
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|values| av(V::ArrayValue(pc::ArrayValue { values }))),
            proptest::collection::vec((proptest::arbitrary::any::<String>(), inner), 0..4)
                .prop_map(|kvs| {
                    av(V::KvlistValue(pc::KeyValueList {
                        values: kvs
                            .into_iter()
                            .map(|(key, v)| pc::KeyValue {
                                key,
                                value: Some(v),
                                key_strindex: 0,
                            })
                            .collect(),
                    }))
                }),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_round_trips(v in arb_any(), time in proptest::arbitrary::any::<u64>()) {
        let req = cl::ExportLogsServiceRequest {
            resource_logs: vec![pl::ResourceLogs {
                scope_logs: vec![pl::ScopeLogs {
                    log_records: vec![pl::LogRecord { body: Some(v), time_unix_nano: time, ..Default::default() }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let text = req.to_otlp_json();
        prop_assert_eq!(cl::ExportLogsServiceRequest::from_otlp_json(&text).unwrap(), req);
    }
}
