//! Delivery under faults, against fake collectors on 127.0.0.1: what is delivered, retried
//! and dropped for each failure the OTLP specification names.
#![cfg(all(feature = "grpc", feature = "http"))]

mod support;

use std::time::{Duration, Instant};

use otlp_sdk::export::otlp::json::OtlpJson;
use otlp_sdk::export::otlp::{Compression, OtlpSpanExporter, Protocol, RetryPolicy};
use otlp_sdk::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otlp_sdk::trace::{SpanExporter, TracerProvider};
use otlp_sdk::SdkError;
use prost::Message;
use support::*;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 20,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    }
}

fn exporter(endpoint: &str, protocol: Protocol, timeout: Duration) -> OtlpSpanExporter {
    OtlpSpanExporter::builder()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_timeout(timeout)
        .with_retry(fast_retry())
        .build()
        .expect("exporter")
}

fn decode_http(req: &HttpRequest) -> ExportTraceServiceRequest {
    if req.header("content-type") == Some("application/json") {
        ExportTraceServiceRequest::from_otlp_json_slice(&req.body).expect("OTLP/JSON body")
    } else {
        ExportTraceServiceRequest::decode(req.body.as_slice()).expect("protobuf body")
    }
}

#[test]
fn http_connection_refused_then_up_is_retried_and_delivered() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/v1/traces");
    let mut exp = exporter(&url, Protocol::HttpProtobuf, Duration::from_secs(10));
    let stats = exp.stats();
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        FakeHttpCollector::start_on(port, vec![])
    });
    exp.export(&make_spans(3))
        .expect("delivered once the collector is up");
    let collector = server.join().unwrap();
    let got = collector.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/v1/traces");
    assert_eq!(span_count(&[decode_http(&got[0])]), 3);
    assert!(stats.retries() >= 1, "{stats:?}");
    assert_eq!((stats.exported(), stats.failed()), (3, 0));
}

#[test]
fn http_503_with_retry_after_seconds_waits_as_told() {
    let collector =
        FakeHttpCollector::start(vec![HttpReply::status(503).header("Retry-After", "1")]);
    // Backoff alone would wait at least 4 s: a shorter wait proves Retry-After was used.
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.url("/v1/traces"))
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_secs(8),
            max_backoff: Duration::from_secs(8),
        })
        .build()
        .unwrap();
    let stats = exp.stats();
    let t = Instant::now();
    exp.export(&make_spans(2)).expect("delivered on retry");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!(collector.received().len(), 2);
    assert_eq!(
        (stats.retries(), stats.exported(), stats.failed()),
        (1, 2, 0)
    );
}

#[test]
fn http_429_with_retry_after_date_is_retried() {
    let when = std::time::SystemTime::now() + Duration::from_secs(2);
    let collector = FakeHttpCollector::start(vec![
        HttpReply::status(429).header("Retry-After", &httpdate::fmt_http_date(when))
    ]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(10),
    );
    let stats = exp.stats();
    let t = Instant::now();
    exp.export(&make_spans(1)).expect("delivered on retry");
    // The date has 1 s resolution: the wait is between 1 and 2 s, far above the 200 ms
    // backoff cap.
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(collector.received().len(), 2);
    assert_eq!((stats.retries(), stats.exported()), (1, 1));
}

#[test]
fn http_retry_after_beyond_the_timeout_gives_up_at_once() {
    let collector =
        FakeHttpCollector::start(vec![HttpReply::status(503).header("Retry-After", "30")]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(2),
    );
    let stats = exp.stats();
    let t = Instant::now();
    assert!(exp.export(&make_spans(4)).is_err());
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(collector.received().len(), 1);
    assert_eq!(
        (stats.retries(), stats.exported(), stats.failed()),
        (0, 0, 4)
    );
}

#[test]
fn http_400_is_not_retried() {
    let collector = FakeHttpCollector::start(vec![HttpReply::status(400)]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let stats = exp.stats();
    let err = exp.export(&make_spans(5)).unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!(collector.received().len(), 1);
    assert_eq!(
        (stats.retries(), stats.exported(), stats.failed()),
        (0, 0, 5)
    );
    assert_eq!(stats.failed_requests(), 1);
    // The exporter keeps working afterwards.
    exp.export(&make_spans(1)).unwrap();
    assert_eq!(stats.exported(), 1);
}

#[test]
fn http_502_504_are_retried_until_success() {
    let collector = FakeHttpCollector::start(vec![HttpReply::status(502), HttpReply::status(504)]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let stats = exp.stats();
    exp.export(&make_spans(2)).unwrap();
    assert_eq!(collector.received().len(), 3);
    assert_eq!(
        (stats.retries(), stats.exported(), stats.failed()),
        (2, 2, 0)
    );
}

#[test]
fn http_reply_slower_than_the_timeout_fails_at_the_timeout() {
    let collector =
        FakeHttpCollector::start(vec![HttpReply::status(200).delay(Duration::from_secs(5))]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_millis(500),
    );
    let stats = exp.stats();
    let t = Instant::now();
    let err = exp.export(&make_spans(3)).unwrap_err();
    assert!(matches!(err, SdkError::Timeout(_)), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!((stats.exported(), stats.failed()), (0, 3));
}

#[test]
fn http_partial_success_is_counted_and_reported_once() {
    let diags = diagnostics();
    let body = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: "http-proto-partial".into(),
        }),
    }
    .encode_to_vec();
    let reply = HttpReply::status(200).body("application/x-protobuf", body);
    let collector = FakeHttpCollector::start(vec![reply.clone(), reply]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let stats = exp.stats();
    exp.export(&make_spans(5)).unwrap();
    exp.export(&make_spans(5)).unwrap();
    assert_eq!(
        (stats.exported(), stats.rejected(), stats.failed()),
        (6, 4, 0)
    );
    let reports = diags
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("http-proto-partial"))
        .count();
    assert_eq!(reports, 1, "reported once, not per batch");
}

#[test]
fn http_json_sends_otlp_json_and_reads_a_json_partial_success() {
    let collector = FakeHttpCollector::start(vec![HttpReply::status(200).body(
        "application/json",
        br#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"json-partial"}}"#.to_vec(),
    )]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpJson,
        Duration::from_secs(5),
    );
    let stats = exp.stats();
    let spans = make_spans(2);
    exp.export(&spans).unwrap();
    assert_eq!((stats.exported(), stats.rejected()), (1, 1));
    let got = collector.received();
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    let text = String::from_utf8(got[0].body.clone()).unwrap();
    let trace_id = spans[0].span_context.trace_id().to_string();
    assert!(
        text.contains(&format!("\"traceId\":\"{trace_id}\"")),
        "{text}"
    );
    assert_eq!(span_count(&[decode_http(&got[0])]), 2);
}

#[test]
fn http_gzip_and_custom_headers_reach_the_collector() {
    let collector = FakeHttpCollector::start(vec![]);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.url("/custom/path"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_compression(Compression::Gzip)
        .with_headers([("api-key", "s3cret"), ("x-tenant", "t1")])
        .build()
        .unwrap();
    exp.export(&make_spans(4)).unwrap();
    let got = collector.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/custom/path");
    assert!(got[0].gzipped);
    assert_eq!(got[0].header("api-key"), Some("s3cret"));
    assert_eq!(got[0].header("x-tenant"), Some("t1"));
    assert_eq!(
        got[0].header("content-type"),
        Some("application/x-protobuf")
    );
    // The exporter, its language and its version (the OTLP exporter specification).
    let ua = got[0].header("user-agent").unwrap_or_default();
    assert!(
        ua.starts_with("OTel-OTLP-Exporter-Rust-otlp-sdk/0."),
        "{ua}"
    );
    assert_eq!(span_count(&[decode_http(&got[0])]), 4);
    // Secrets never show in Debug output.
    assert!(!format!("{exp:?}").contains("s3cret"));
}

#[test]
fn grpc_connection_refused_then_up_is_retried_and_delivered() {
    let port = free_port();
    let mut exp = exporter(
        &format!("http://127.0.0.1:{port}"),
        Protocol::Grpc,
        Duration::from_secs(10),
    );
    let stats = exp.stats();
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        FakeGrpcCollector::start_on(port, vec![], None)
    });
    exp.export(&make_spans(3))
        .expect("delivered once the collector is up");
    let collector = server.join().unwrap();
    assert_eq!(span_count(&collector.requests()), 3);
    assert!(stats.retries() >= 1, "{stats:?}");
    assert_eq!((stats.exported(), stats.failed()), (3, 0));
}

#[test]
fn grpc_unavailable_then_ok_is_retried() {
    let collector = FakeGrpcCollector::start(vec![
        GrpcReply::Status(tonic::Code::Unavailable, None),
        GrpcReply::Status(tonic::Code::Unavailable, None),
    ]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let stats = exp.stats();
    exp.export(&make_spans(3)).unwrap();
    assert_eq!(collector.requests().len(), 3);
    assert_eq!(
        (stats.retries(), stats.exported(), stats.failed()),
        (2, 3, 0)
    );
}

#[test]
fn grpc_resource_exhausted_is_retried_only_with_retry_info() {
    let collector = FakeGrpcCollector::start(vec![
        GrpcReply::Status(tonic::Code::ResourceExhausted, None),
        GrpcReply::Status(
            tonic::Code::ResourceExhausted,
            Some(Duration::from_millis(300)),
        ),
    ]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let stats = exp.stats();
    assert!(
        exp.export(&make_spans(1)).is_err(),
        "no RetryInfo: fail fast"
    );
    assert_eq!((collector.requests().len(), stats.retries()), (1, 0));
    let t = Instant::now();
    exp.export(&make_spans(1)).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "RetryInfo delay honoured"
    );
    assert_eq!((collector.requests().len(), stats.retries()), (3, 1));
    assert_eq!((stats.exported(), stats.failed()), (1, 1));
}

#[test]
fn grpc_invalid_argument_is_not_retried() {
    let collector =
        FakeGrpcCollector::start(vec![GrpcReply::Status(tonic::Code::InvalidArgument, None)]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let stats = exp.stats();
    assert!(exp.export(&make_spans(2)).is_err());
    assert_eq!(collector.requests().len(), 1);
    assert_eq!((stats.retries(), stats.failed()), (0, 2));
}

#[test]
fn grpc_reply_slower_than_the_timeout_fails() {
    let collector = FakeGrpcCollector::start(vec![GrpcReply::Slow(Duration::from_secs(5))]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_millis(500));
    let stats = exp.stats();
    let t = Instant::now();
    assert!(exp.export(&make_spans(2)).is_err());
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!((stats.exported(), stats.failed()), (0, 2));
}

#[test]
fn grpc_partial_success_is_counted_and_reported_once() {
    let diags = diagnostics();
    let partial = GrpcReply::Ok(Some((1, "grpc-partial".into())));
    let collector = FakeGrpcCollector::start(vec![partial.clone(), partial]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let stats = exp.stats();
    exp.export(&make_spans(3)).unwrap();
    exp.export(&make_spans(3)).unwrap();
    assert_eq!((stats.exported(), stats.rejected()), (4, 2));
    let n = diags
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("grpc-partial"))
        .count();
    assert_eq!(n, 1);
}

#[test]
fn grpc_gzip_and_metadata_reach_the_collector() {
    let collector = FakeGrpcCollector::start(vec![]);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.url())
        .with_protocol(Protocol::Grpc)
        .with_compression(Compression::Gzip)
        .with_headers([("Api-Key", "s3cret")])
        .build()
        .unwrap();
    let spans = make_spans(3);
    exp.export(&spans).unwrap();
    let reqs = collector.requests();
    assert_eq!(span_count(&reqs), 3);
    let md = &collector.metadata()[0];
    assert_eq!(
        md.get("api-key").and_then(|v| v.to_str().ok()),
        Some("s3cret")
    );
    assert_eq!(
        md.get("grpc-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    // The exporter, its language and its version (tonic appends its own).
    let ua = md.get("user-agent").and_then(|v| v.to_str().ok());
    assert!(
        ua.unwrap_or_default()
            .starts_with("OTel-OTLP-Exporter-Rust-otlp-sdk/0."),
        "{ua:?}"
    );
    let span = &reqs[0].resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, spans[0].span_context.trace_id().to_bytes());
}

#[test]
fn shutdown_stops_exports() {
    let collector = FakeGrpcCollector::start(vec![]);
    let mut exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    exp.shutdown().unwrap();
    assert_eq!(exp.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(exp.export(&make_spans(1)), Err(SdkError::AlreadyShutdown));
    assert!(collector.requests().is_empty());
}

/// A simple processor exports on the thread that ends the span: inside a tokio runtime of
/// either flavour, the export must complete (no deadlock) and so must shutdown.
fn export_from_inside_tokio(protocol: Protocol) {
    let http = FakeHttpCollector::start(vec![]);
    let grpc = FakeGrpcCollector::start(vec![]);
    let url = match protocol {
        Protocol::Grpc => grpc.url(),
        _ => http.url("/v1/traces"),
    };
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter(&url, protocol, Duration::from_secs(5)))
        .build();
    let tracer = provider.tracer("in.tokio");
    for i in 0..3 {
        let mut span = tracer.start_span(format!("s{i}"));
        span.end();
    }
    provider.shutdown().unwrap();
    let n = match protocol {
        Protocol::Grpc => span_count(&grpc.requests()),
        _ => http
            .received()
            .iter()
            .map(|r| span_count(&[decode_http(r)]))
            .sum(),
    };
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime() {
    export_from_inside_tokio(Protocol::Grpc);
    export_from_inside_tokio(Protocol::HttpProtobuf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_runtime() {
    export_from_inside_tokio(Protocol::Grpc);
    export_from_inside_tokio(Protocol::HttpJson);
}

#[test]
fn batch_processor_delivers_through_the_exporter() {
    let collector =
        FakeGrpcCollector::start(vec![GrpcReply::Status(tonic::Code::Unavailable, None)]);
    let exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let stats = exp.stats();
    let provider = TracerProvider::builder().with_batch_exporter(exp).build();
    let tracer = provider.tracer("batch");
    for i in 0..50 {
        let mut s = tracer.start_span(format!("b{i}"));
        s.end();
    }
    provider.shutdown().unwrap();
    assert_eq!(
        span_count(&collector.requests()),
        50 + span_count(&collector.requests()[..1])
    );
    assert_eq!(
        (stats.exported(), stats.failed(), stats.retries()),
        (50, 0, 1)
    );
}

/// Waits (up to 5 s) until `cond` holds.
fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn requests_beyond_max_in_flight_wait_their_turn_while_export_returns() {
    let collector = FakeHttpCollector::start(vec![]);
    collector.pause();
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(10),
    )
    .with_max_in_flight(2);
    let stats = exp.stats();
    // Six batches handed over while the collector answers nothing: no call waits for it.
    let batches: Vec<_> = (0..6).map(|_| make_spans(10)).collect();
    for b in &batches {
        exp.export(b).expect("handed over");
    }
    assert_eq!(
        exp.held(),
        60,
        "spans are held until their request completes"
    );
    assert_eq!(stats.exported(), 0);
    // Two requests are on the wire; the other four wait for a free slot.
    wait_until(|| collector.received().len() >= 2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(collector.received().len(), 2);
    collector.resume();
    exp.force_flush().expect("everything delivered");
    assert_eq!(exp.held(), 0);
    assert_eq!((stats.exported(), stats.failed()), (60, 0));
    assert_eq!(collector.max_concurrent(), 2);
    // Each batch once; the first two on the wire were the first two exported (two requests
    // in flight at once may arrive in either order).
    let which: Vec<usize> = collector
        .received()
        .iter()
        .map(|req| {
            let first = &decode_http(req).resource_spans[0].scope_spans[0].spans[0];
            batches
                .iter()
                .position(|b| first.span_id == b[0].span_context.span_id().to_bytes())
                .expect("a batch that was exported")
        })
        .collect();
    let mut sorted = which.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
    assert!(
        which[..2].contains(&0) && which[..2].contains(&1),
        "{which:?}"
    );
}

#[test]
fn grpc_requests_in_flight_at_once_go_out_on_separate_connections() {
    use std::collections::HashSet;
    let collector = FakeGrpcCollector::start(vec![GrpcReply::Slow(Duration::from_millis(300)); 4]);
    let mut exp =
        exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(10)).with_max_in_flight(4);
    // Four requests on the wire at once (the collector holds each for 300 ms): one
    // connection each.
    let batches: Vec<_> = (0..4).map(|_| make_spans(5)).collect();
    for b in &batches {
        exp.export(b).expect("handed over");
    }
    wait_until(|| collector.requests().len() >= 4);
    let concurrent: HashSet<_> = collector.peers().into_iter().collect();
    assert_eq!(concurrent.len(), 4, "{concurrent:?}");
    exp.force_flush().expect("delivered");
    // One request at a time: always the first connection, no new one.
    for _ in 0..3 {
        exp.export(&make_spans(5)).expect("handed over");
        exp.force_flush().expect("delivered");
    }
    let peers = collector.peers();
    assert_eq!(peers.len(), 7);
    assert!(peers[4..].iter().all(|p| *p == peers[4]), "{peers:?}");
    assert!(concurrent.contains(&peers[4]), "{peers:?}");
    assert_eq!(span_count(&collector.requests()), 35);
}

#[test]
fn spans_held_in_requests_count_against_the_batch_queue() {
    use otlp_sdk::pipeline::BatchConfig;
    use otlp_sdk::trace::BatchSpanProcessor;
    let collector = FakeHttpCollector::start(vec![]);
    collector.pause();
    let exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(10),
    )
    .with_max_in_flight(2);
    let stats = exp.stats();
    let processor = BatchSpanProcessor::with_config(
        exp,
        BatchConfig {
            max_queue_size: 32,
            max_export_batch_size: 8,
            scheduled_delay: Duration::from_millis(5),
            export_timeout: Duration::from_secs(10),
        },
    );
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("held");
    // The exporter takes batches without waiting, but the collector answers none: once it
    // holds 32 spans the queue is full, though the processor's rings are empty.
    for i in 0..200 {
        tracer.start_span(format!("h{i}")).end();
        std::thread::sleep(Duration::from_millis(1));
    }
    let st = provider.pipeline_stats();
    assert_eq!(st.accepted + st.dropped, 200);
    // 32, plus at most one batch taken in the moment before its spans are counted as held.
    assert!((32..=40).contains(&st.accepted), "{st:?}");
    collector.resume();
    provider.shutdown().unwrap();
    assert_eq!(stats.exported(), st.accepted);
    let delivered: usize = collector
        .received()
        .iter()
        .map(|r| span_count(&[decode_http(r)]))
        .sum();
    assert_eq!(delivered as u64, st.accepted);
}

#[test]
fn grpc_over_tls_with_a_custom_ca() {
    let collector = FakeGrpcCollector::start_with(vec![], Some(server_tls(false)));
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url())
        .with_protocol(Protocol::Grpc)
        .with_tls_ca_file(cert_path("ca.pem"))
        .build()
        .unwrap();
    exp.export(&make_spans(2)).expect("TLS export");
    assert_eq!(span_count(&collector.requests()), 2);
}

#[test]
fn grpc_mutual_tls_with_a_client_certificate() {
    let collector = FakeGrpcCollector::start_with(vec![], Some(server_tls(true)));
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url())
        .with_protocol(Protocol::Grpc)
        .with_tls_ca_file(cert_path("ca.pem"))
        .with_tls_client_cert(cert_path("client.pem"), cert_path("client.key"))
        .build()
        .unwrap();
    exp.export(&make_spans(3)).expect("mTLS export");
    assert_eq!(span_count(&collector.requests()), 3);
    // Without the client certificate the server refuses the connection.
    let mut anonymous = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url())
        .with_protocol(Protocol::Grpc)
        .with_tls_ca_file(cert_path("ca.pem"))
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    assert!(anonymous.export(&make_spans(1)).is_err());
    assert_eq!(span_count(&collector.requests()), 3);
}

#[test]
fn tls_verification_is_always_on() {
    // The server's certificate is signed by a CA the exporter was not told about.
    let collector = FakeGrpcCollector::start_with(vec![], Some(server_tls(false)));
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url())
        .with_protocol(Protocol::Grpc)
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let stats = exp.stats();
    assert!(exp.export(&make_spans(1)).is_err());
    assert!(collector.requests().is_empty());
    assert_eq!(stats.failed(), 1);
}

#[test]
fn https_with_a_custom_ca_and_client_certificate() {
    let collector = FakeHttpCollector::start_tls(vec![], true);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url("/v1/traces"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_tls_ca_file(cert_path("ca.pem"))
        .with_tls_client_cert(cert_path("client.pem"), cert_path("client.key"))
        .build()
        .unwrap();
    exp.export(&make_spans(2)).expect("mTLS export over HTTPS");
    assert_eq!(collector.received().len(), 1);
    // An unknown server CA is refused: verification cannot be turned off.
    let mut unverified = OtlpSpanExporter::builder()
        .with_endpoint(collector.tls_url("/v1/traces"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_tls_client_cert(cert_path("client.pem"), cert_path("client.key"))
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    assert!(unverified.export(&make_spans(1)).is_err());
    assert_eq!(collector.received().len(), 1);
}

/// A client of its own (shared between threads) for `collector`, over HTTP.
fn shared_client(
    url: &str,
    timeout: Duration,
) -> std::sync::Arc<otlp_sdk::export::otlp::OtlpClient> {
    let config = OtlpSpanExporter::builder()
        .with_endpoint(url)
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(timeout)
        .with_retry(fast_retry())
        .resolve_with(otlp_sdk::export::otlp::Signal::Traces, |_| None)
        .expect("config");
    std::sync::Arc::new(otlp_sdk::export::otlp::OtlpClient::new(config).expect("client"))
}

#[test]
fn shutdown_lets_an_export_on_the_wire_finish() {
    let collector = FakeHttpCollector::start(vec![
        HttpReply::status(200).delay(Duration::from_millis(600))
    ]);
    let client = shared_client(&collector.url("/v1/traces"), Duration::from_secs(5));
    let exporting = {
        let client = std::sync::Arc::clone(&client);
        std::thread::spawn(move || client.export(&ExportTraceServiceRequest::default(), 1))
    };
    // Shut down while the request is on the wire.
    std::thread::sleep(Duration::from_millis(200));
    client.shutdown().unwrap();
    assert_eq!(exporting.join().unwrap(), Ok(()), "the collector took it");
    assert_eq!((client.stats().exported(), client.stats().failed()), (1, 0));
    assert_eq!(collector.received().len(), 1);
}

#[test]
fn a_request_queued_behind_others_gets_its_whole_timeout() {
    // One request of a client is on the wire at a time; each takes most of the timeout. The
    // third waits for two before it is sent, longer than its own timeout, and must not be
    // timed out for that.
    let slow = HttpReply::status(200).delay(Duration::from_millis(1200));
    let collector = FakeHttpCollector::start(vec![slow.clone(), slow.clone(), slow]);
    let client = shared_client(&collector.url("/v1/traces"), Duration::from_millis(1500));
    let results: Vec<_> = (0..3)
        .map(|_| {
            let client = std::sync::Arc::clone(&client);
            std::thread::spawn(move || client.export(&ExportTraceServiceRequest::default(), 1))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(results, vec![Ok(()), Ok(()), Ok(())]);
    assert_eq!((client.stats().exported(), client.stats().failed()), (3, 0));
    client.shutdown().unwrap();
}

#[test]
fn http_success_whose_reply_is_cut_short_is_not_sent_again() {
    // The collector accepted the spans; only its reply broke off. A retry would deliver
    // them twice.
    let collector = FakeHttpCollector::start(vec![HttpReply::status(200)
        .body("application/x-protobuf", vec![0; 10])
        .cut_short()]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    assert_eq!(exp.export(&make_spans(2)), Ok(()));
    assert_eq!(collector.received().len(), 1, "sent once");
    assert_eq!(exp.stats().exported(), 2);
}

#[test]
fn http_redirects_are_not_followed() {
    // Followed, a 301 would turn the POST into a GET (and carry the headers elsewhere).
    let collector =
        FakeHttpCollector::start(vec![HttpReply::status(301).header("location", "/elsewhere")]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let err = exp.export(&make_spans(1)).unwrap_err();
    assert!(err.to_string().contains("301"), "{err}");
    let got = collector.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/v1/traces");
}
