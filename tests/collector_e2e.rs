//! End to end against the real collector rotel (`ROTEL_AGENT=/path/to/rotel-agent`): spans
//! exported over gRPC, HTTP/protobuf and HTTP/JSON, with gzip on and off and custom headers,
//! arrive with their names, ids and attributes intact (read back from rotel's debug output).
//!
//! Without `ROTEL_AGENT` the tests print a note and pass, except with `CI=true`, where they
//! fail.
#![cfg(all(feature = "grpc", feature = "http"))]

mod support;

use std::time::Duration;

use otlp_sdk::export::otlp::{Compression, OtlpSpanExporter, Protocol};
use otlp_sdk::resource::Resource;
use otlp_sdk::trace::{SpanData, SpanExporter, SpanKind, Status, TracerProvider};
use otlp_sdk::KeyValue;
use support::Rotel;

/// Spans with every attribute type, named `<tag>-<i>`, with an event and a child.
fn spans(tag: &str) -> Vec<Box<SpanData>> {
    let mem = otlp_sdk::export::InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(mem.clone())
        .build();
    let tracer = provider.tracer("e2e.scope");
    {
        let mut parent = tracer
            .span_builder(format!("{tag}-parent"))
            .with_kind(SpanKind::Server)
            .start(&tracer);
        parent.set_attribute("int.attr", 5);
        parent.set_attribute("str.attr", "hello");
        parent.set_attribute("double.attr", 1.5);
        parent.set_attribute("bool.attr", true);
        parent.set_attribute("array.attr", vec![1i64, 2, 3]);
        parent.add_event("my-event", [KeyValue::new("ev.attr", "v")]);
        parent.set_status(Status::error("it broke"));
        parent.end();
    }
    provider.shutdown().unwrap();
    mem.finished_spans().into_iter().map(Box::new).collect()
}

fn check_delivery(rotel: &Rotel, mut exporter: OtlpSpanExporter, tag: &str) {
    exporter.set_resource(&Resource::from_attributes([KeyValue::new(
        "service.name",
        format!("svc-{tag}"),
    )]));
    let spans = spans(tag);
    let trace_id = spans[0].span_context.trace_id().to_string();
    let span_id = spans[0].span_context.span_id().to_string();
    exporter
        .export(&spans)
        .unwrap_or_else(|e| panic!("{tag}: export failed: {e}"));
    let name = format!("{tag}-parent");
    let name_line = format!("Name           : {name}");
    // The block of our span: from its `Span #` header to 2000 characters past its name.
    let block_of = |out: &str| -> Option<String> {
        let start = out.find(&name_line)?;
        let block_start = out[..start].rfind("Span #").unwrap_or(0);
        Some(out[block_start..(start + 2000).min(out.len())].to_string())
    };
    // rotel prints a span over several writes: wait for the whole block (and the resource
    // and scope lines), not just the span's name, before checking it field by field.
    let expected = [
        format!("Trace ID       : {trace_id}"),
        format!("ID             : {span_id}"),
        "SPAN_KIND_SERVER".to_string(),
        "-> int.attr: Int(5)".to_string(),
        "-> str.attr: Str(hello)".to_string(),
        "-> double.attr: Double(1.5)".to_string(),
        "-> bool.attr: Bool(true)".to_string(),
        "array.attr".to_string(),
        "my-event".to_string(),
        "it broke".to_string(),
    ];
    let resource = format!("-> service.name: Str(svc-{tag})");
    let out = rotel.wait_for(
        |o| {
            block_of(o).is_some_and(|b| expected.iter().all(|e| b.contains(e.as_str())))
                && o.contains(&resource)
                && o.contains("e2e.scope")
        },
        Duration::from_secs(10),
    );
    let block = block_of(&out).expect("span block");
    for e in &expected {
        assert!(block.contains(e.as_str()), "{tag}: {e} in {block}");
    }
    assert!(out.contains(&resource), "{tag}: resource");
    assert!(out.contains("e2e.scope"), "{tag}: scope");
    exporter.shutdown().unwrap();
}

fn unique(tag: &str) -> String {
    format!("{tag}-{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() as u32
}

fn exporter(endpoint: String, protocol: Protocol, gzip: bool) -> OtlpSpanExporter {
    OtlpSpanExporter::builder()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_compression(if gzip {
            Compression::Gzip
        } else {
            Compression::None
        })
        .with_headers([("x-api-key", "e2e-secret"), ("x-tenant", "otlp-sdk")])
        .with_timeout(Duration::from_secs(10))
        .build()
        .expect("exporter")
}

#[test]
fn traces_over_grpc_with_and_without_gzip() {
    let Some(rotel) = Rotel::start() else { return };
    for gzip in [false, true] {
        let tag = unique(if gzip { "grpc-gzip" } else { "grpc" });
        check_delivery(
            &rotel,
            exporter(rotel.grpc_endpoint(), Protocol::Grpc, gzip),
            &tag,
        );
    }
}

#[test]
fn traces_over_http_protobuf_with_and_without_gzip() {
    let Some(rotel) = Rotel::start() else { return };
    for gzip in [false, true] {
        let tag = unique(if gzip { "httppb-gzip" } else { "httppb" });
        let url = format!("{}/v1/traces", rotel.http_endpoint());
        check_delivery(&rotel, exporter(url, Protocol::HttpProtobuf, gzip), &tag);
    }
}

#[test]
fn traces_over_http_json_with_and_without_gzip() {
    let Some(rotel) = Rotel::start() else { return };
    for gzip in [false, true] {
        let tag = unique(if gzip { "httpjson-gzip" } else { "httpjson" });
        let url = format!("{}/v1/traces", rotel.http_endpoint());
        check_delivery(&rotel, exporter(url, Protocol::HttpJson, gzip), &tag);
    }
}

#[test]
fn batch_pipeline_delivers_to_rotel() {
    let Some(rotel) = Rotel::start() else { return };
    let tag = unique("batch");
    let exp = exporter(rotel.grpc_endpoint(), Protocol::Grpc, true);
    let stats = exp.stats();
    let provider = TracerProvider::builder()
        .with_resource(Resource::from_attributes([KeyValue::new(
            "service.name",
            "batch-svc",
        )]))
        .with_batch_exporter(exp)
        .build();
    let tracer = provider.tracer("batch.scope");
    for i in 0..100 {
        let mut s = tracer.start_span(format!("{tag}-{i}"));
        s.set_attribute("i", i);
        s.end();
    }
    provider.shutdown().unwrap();
    assert_eq!((stats.exported(), stats.failed()), (100, 0));
    rotel.wait_for(
        |o| (0..100).all(|i| o.contains(&format!("Name           : {tag}-{i}\n"))),
        Duration::from_secs(10),
    );
}

/// The shared client carries metrics and logs requests too (what the metric and log
/// exporters build on): rotel receives them over every protocol.
#[test]
fn generic_client_delivers_metrics_and_logs_requests() {
    use otlp_sdk::export::otlp::{OtlpExporterBuilder, Signal};
    use otlp_sdk::proto::collector::logs::v1::ExportLogsServiceRequest;
    use otlp_sdk::proto::collector::metrics::v1::ExportMetricsServiceRequest;
    use otlp_sdk::proto::common::v1::{any_value::Value as V, AnyValue};
    use otlp_sdk::proto::logs::v1 as pl;
    use otlp_sdk::proto::metrics::v1 as pm;

    let Some(rotel) = Rotel::start() else { return };
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
        let tag = unique(&protocol.as_str().replace('/', "-"));
        let base = |path: &str| match protocol {
            Protocol::Grpc => rotel.grpc_endpoint(),
            _ => format!("{}{path}", rotel.http_endpoint()),
        };
        let metric = ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                scope_metrics: vec![pm::ScopeMetrics {
                    metrics: vec![pm::Metric {
                        name: format!("{tag}-gauge"),
                        data: Some(pm::metric::Data::Gauge(pm::Gauge {
                            data_points: vec![pm::NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(pm::number_data_point::Value::AsDouble(42.5)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let client = OtlpExporterBuilder::<()>::default()
            .with_endpoint(base("/v1/metrics"))
            .with_protocol(protocol)
            .build_client(Signal::Metrics)
            .unwrap();
        client
            .export(&metric, 1)
            .unwrap_or_else(|e| panic!("{tag} metrics: {e}"));
        let log = ExportLogsServiceRequest {
            resource_logs: vec![pl::ResourceLogs {
                scope_logs: vec![pl::ScopeLogs {
                    log_records: vec![pl::LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(V::StringValue(format!("{tag}-log"))),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let client = OtlpExporterBuilder::<()>::default()
            .with_endpoint(base("/v1/logs"))
            .with_protocol(protocol)
            .build_client(Signal::Logs)
            .unwrap();
        client
            .export(&log, 1)
            .unwrap_or_else(|e| panic!("{tag} logs: {e}"));
        assert_eq!(client.stats().exported(), 1);
        rotel.wait_for(
            |o| o.contains(&format!("{tag}-gauge")) && o.contains(&format!("{tag}-log")),
            Duration::from_secs(10),
        );
    }
}
