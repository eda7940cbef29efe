//! Reliability under collector faults, through the public pipeline (TracerProvider +
//! BatchSpanProcessor + OtlpSpanExporter): a collector down at start, killed and restarted,
//! hung, throttling far into the future, answering partial successes or garbage. Every span
//! ended is accounted for exactly (delivered, failed or dropped), the application never
//! blocks, and secrets never leak into messages.
//!
//! Diagnostics are captured for the whole binary (the handler is process-global); each test
//! looks only at messages carrying its own marker.
#![cfg(all(feature = "grpc", feature = "http"))]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otlp_sdk::export::otlp::{
    OtlpLogExporter, OtlpMetricExporter, OtlpSpanExporter, Protocol, RetryPolicy, Signal,
};
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::proto::collector::trace::v1::ExportTraceServiceRequest;
use otlp_sdk::trace::{BatchSpanProcessor, SpanExporter, TracerProvider};
use otlp_sdk::SdkError;
use prost::Message;
use support::*;

const SECRET: &str = "secret-token-7f3a";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1000,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
    }
}

fn endpoint(protocol: Protocol, port: u16) -> String {
    match protocol {
        Protocol::Grpc => format!("http://127.0.0.1:{port}"),
        _ => format!("http://127.0.0.1:{port}/v1/traces"),
    }
}

fn exporter(url: &str, protocol: Protocol, timeout: Duration) -> OtlpSpanExporter {
    OtlpSpanExporter::builder()
        .with_endpoint(url)
        .with_protocol(protocol)
        .with_timeout(timeout)
        .with_retry(fast_retry())
        .build()
        .expect("exporter")
}

fn batch_provider(exporter: OtlpSpanExporter, batch: usize, delay: Duration) -> TracerProvider {
    TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::with_config(
            exporter,
            BatchConfig {
                max_queue_size: 2048,
                max_export_batch_size: batch,
                scheduled_delay: delay,
                export_timeout: Duration::from_secs(30),
            },
        ))
        .build()
}

fn count_diags(marker: &str) -> usize {
    diagnostics()
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(marker))
        .count()
}

fn decode_http(req: &HttpRequest) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(req.body.as_slice()).expect("protobuf body")
}

/// Names of the spans in requests.
fn names(reqs: &[ExportTraceServiceRequest]) -> Vec<String> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// A fake collector of either protocol, killable and restartable on the same port.
enum Fake {
    Grpc(FakeGrpcCollector),
    Http(FakeHttpCollector),
}

impl Fake {
    fn start_on(protocol: Protocol, port: u16) -> Fake {
        match protocol {
            Protocol::Grpc => Fake::Grpc(FakeGrpcCollector::start_on(port, vec![], None)),
            _ => Fake::Http(FakeHttpCollector::start_on(port, vec![])),
        }
    }
    fn port(&self) -> u16 {
        match self {
            Fake::Grpc(c) => c.port,
            Fake::Http(c) => c.port,
        }
    }
    fn kill(&mut self) {
        match self {
            Fake::Grpc(c) => c.kill(),
            Fake::Http(c) => c.kill(),
        }
    }
    fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        match self {
            Fake::Grpc(c) => c.requests(),
            Fake::Http(c) => c.received().iter().map(decode_http).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Collector down when the application starts, up 5 s later.

fn down_at_start_then_up(protocol: Protocol) {
    const N: u64 = 10_000;
    let port = free_port();
    let exp = exporter(&endpoint(protocol, port), protocol, Duration::from_secs(20));
    let es = exp.stats();
    let provider = batch_provider(exp, 512, Duration::from_millis(100));
    let tracer = provider.tracer("down.at.start");
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(5));
        Fake::start_on(protocol, port)
    });
    // All spans end while the collector is down: the queue fills, the rest is dropped.
    for i in 0..N {
        tracer.start(format!("s{i}")).end();
    }
    let collector = server.join().unwrap();
    provider.shutdown().expect("everything queued is delivered");
    let ps = provider.pipeline_stats();
    assert_eq!(ps.accepted + ps.dropped, N, "{ps:?}");
    assert_eq!((ps.exported, ps.failed), (ps.accepted, 0), "{ps:?}");
    // At most the queue plus the batch being retried can be held.
    assert!(ps.accepted <= 2048 + 512, "{ps:?}");
    assert!(ps.accepted >= 2048, "{ps:?}");
    assert_eq!((es.exported(), es.failed()), (ps.accepted, 0), "{es:?}");
    assert!(es.retries() >= 1, "{es:?}");
    let got = names(&collector.requests());
    assert_eq!(got.len() as u64, ps.accepted, "delivered exactly once");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
}

#[test]
fn collector_down_at_start_http_everything_queued_is_delivered() {
    down_at_start_then_up(Protocol::HttpProtobuf);
}

#[test]
fn collector_down_at_start_grpc_everything_queued_is_delivered() {
    down_at_start_then_up(Protocol::Grpc);
}

// ---------------------------------------------------------------------------------------
// 2. Collector killed mid-stream and restarted on the same port.

fn killed_and_restarted(protocol: Protocol) {
    let mut first = Fake::start_on(protocol, 0);
    let port = first.port();
    let exp = exporter(&endpoint(protocol, port), protocol, Duration::from_secs(1));
    let es = exp.stats();
    let provider = batch_provider(exp, 256, Duration::from_millis(50));
    let stop = AtomicBool::new(false);
    let ended = AtomicU64::new(0);
    let mut second = std::thread::scope(|s| {
        let producer = s.spawn(|| {
            let tracer = provider.tracer("killed");
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tracer.start(format!("k{i}")).end();
                i += 1;
                if i % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            ended.store(i, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_secs(1));
        first.kill();
        // Down for longer than the export timeout: batches fail meanwhile.
        std::thread::sleep(Duration::from_secs(2));
        wait_port_free(port);
        let second = Fake::start_on(protocol, port);
        std::thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::SeqCst);
        producer.join().unwrap();
        second
    });
    let _ = provider.shutdown();
    second.kill();
    let ended = ended.load(Ordering::SeqCst);
    let ps = provider.pipeline_stats();
    // Every span ended is delivered, failed or dropped, exactly; the user reads it all.
    assert_eq!(ps.accepted + ps.dropped, ended, "{ps:?}");
    assert_eq!(ps.exported + ps.failed, ps.accepted, "{ps:?}");
    assert_eq!(es.exported() + es.rejected(), ps.exported, "{es:?} {ps:?}");
    assert_eq!(es.failed(), ps.failed, "{es:?} {ps:?}");
    assert!(
        ps.failed > 0,
        "a 2 s outage with a 1 s timeout fails batches: {ps:?}"
    );
    // What reached the collectors: each delivered span at least once; a batch whose reply
    // was lost in the kill may have arrived although it counts as failed.
    let mut got: HashSet<String> = names(&first.requests()).into_iter().collect();
    let after = names(&second.requests());
    assert!(!after.is_empty(), "delivery resumed after the restart");
    got.extend(after);
    let got = got.len() as u64;
    assert!(got >= ps.exported, "{got} < {ps:?}");
    assert!(got <= ps.exported + ps.failed, "{got} > {ps:?}");
}

#[test]
fn collector_killed_and_restarted_grpc_every_span_is_accounted() {
    killed_and_restarted(Protocol::Grpc);
}

#[test]
fn collector_killed_and_restarted_http_every_span_is_accounted() {
    killed_and_restarted(Protocol::HttpProtobuf);
}

// ---------------------------------------------------------------------------------------
// 3. A collector that accepts connections and never answers.

fn never_answers(protocol: Protocol) {
    let silent = SilentServer::start();
    let timeout = Duration::from_millis(500);
    let exp = exporter(&endpoint(protocol, silent.port), protocol, timeout);
    let es = exp.stats();
    let config = BatchConfig {
        max_queue_size: 2048,
        max_export_batch_size: 512,
        scheduled_delay: Duration::from_millis(100),
        export_timeout: Duration::from_secs(2),
    };
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::with_config(exp, config.clone()))
        .build();
    let ended = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let tracer = provider.tracer("hung");
                for _ in 0..50_000 {
                    tracer.start("s").end();
                }
                ended.fetch_add(50_000, Ordering::SeqCst);
            });
        }
    });
    // A deadlock guard only: the producers never wait for the exporter.
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // Let at least one export reach the hung collector and time out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while es.failed() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let res = provider.shutdown();
    let took = t.elapsed();
    // Shutdown is bounded by the processor's export timeout plus its 5 s margin.
    assert!(
        took < config.export_timeout + Duration::from_secs(5) + Duration::from_secs(2),
        "{took:?}"
    );
    // It completed (no timeout of its own). Its result reports only its own final export
    // (here possibly nothing was left to export); the counts below tell the user what
    // failed before, as does force_flush, which reports failures since the previous flush.
    assert!(!matches!(res, Err(SdkError::Timeout(_))), "{res:?}");
    assert!(silent.connections.load(Ordering::SeqCst) >= 1);
    let ps = provider.pipeline_stats();
    let ended = ended.load(Ordering::SeqCst);
    assert_eq!(ended, 200_000);
    assert_eq!(ps.exported, 0, "{ps:?}");
    assert_eq!(ps.failed + ps.dropped, ended, "{ps:?}");
    assert_eq!(ps.accepted, ps.failed, "{ps:?}");
    assert_eq!((es.exported(), es.failed()), (0, ps.failed), "{es:?}");
}

#[test]
fn collector_that_never_answers_http_fails_by_timeout_and_never_blocks() {
    never_answers(Protocol::HttpProtobuf);
}

#[test]
fn collector_that_never_answers_grpc_fails_by_timeout_and_never_blocks() {
    never_answers(Protocol::Grpc);
}

// ---------------------------------------------------------------------------------------
// 4. Throttling with a delay far beyond the export timeout.

fn throttled_far_in_the_future(url: &str, protocol: Protocol) -> (TracerProvider, Instant) {
    let exp = exporter(url, protocol, Duration::from_secs(5));
    let provider = batch_provider(exp, 512, Duration::from_secs(3600));
    let tracer = provider.tracer("throttled");
    for i in 0..10 {
        tracer.start(format!("t{i}")).end();
    }
    (provider, Instant::now())
}

#[test]
fn http_503_retry_after_an_hour_fails_fast_and_is_counted() {
    let when = std::time::SystemTime::now() + Duration::from_secs(3600);
    let collector = FakeHttpCollector::start(vec![
        HttpReply::status(503).header("Retry-After", "3600"),
        HttpReply::status(429).header("Retry-After", &httpdate::fmt_http_date(when)),
    ]);
    let exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let es = exp.stats();
    let provider = batch_provider(exp, 512, Duration::from_secs(3600));
    let tracer = provider.tracer("throttled");
    for round in 0..2 {
        for i in 0..10 {
            tracer.start(format!("t{round}-{i}")).end();
        }
        let t = Instant::now();
        assert!(provider.force_flush().is_err());
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    assert_eq!((es.failed(), es.retries(), es.exported()), (20, 0, 0));
    assert_eq!(provider.pipeline_stats().failed, 20);
    // The exporter carries on once the collector accepts again.
    tracer.start("after").end();
    provider.force_flush().unwrap();
    assert_eq!(es.exported(), 1);
    assert_eq!(collector.received().len(), 3);
    provider.shutdown().unwrap();
}

#[test]
fn grpc_unavailable_with_retry_info_an_hour_fails_fast_and_is_counted() {
    let collector = FakeGrpcCollector::start(vec![GrpcReply::Status(
        tonic::Code::Unavailable,
        Some(Duration::from_secs(3600)),
    )]);
    let (provider, t) = throttled_far_in_the_future(&collector.url(), Protocol::Grpc);
    assert!(provider.force_flush().is_err());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let ps = provider.pipeline_stats();
    assert_eq!((ps.failed, ps.exported), (10, 0));
    assert_eq!(
        collector.requests().len(),
        1,
        "no retry scheduled past the timeout"
    );
    provider.tracer("x").start("after").end();
    provider.force_flush().unwrap();
    assert_eq!(provider.pipeline_stats().exported, 1);
    provider.shutdown().unwrap();
}

// ---------------------------------------------------------------------------------------
// 5. A stream of partial successes.

#[test]
fn a_stream_of_partial_successes_is_counted_and_reported_once() {
    let marker = "partial-stream-marker";
    diagnostics();
    let script = (0..20)
        .map(|_| GrpcReply::Ok(Some((3, marker.to_string()))))
        .collect();
    let collector = FakeGrpcCollector::start(script);
    let exp = exporter(&collector.url(), Protocol::Grpc, Duration::from_secs(5));
    let es = exp.stats();
    let provider = batch_provider(exp, 512, Duration::from_secs(3600));
    let tracer = provider.tracer("partial");
    for round in 0..20 {
        for i in 0..10 {
            tracer.start(format!("p{round}-{i}")).end();
        }
        provider.force_flush().unwrap();
    }
    provider.shutdown().unwrap();
    assert_eq!(collector.requests().len(), 20);
    assert_eq!(
        (es.exported(), es.rejected(), es.failed(), es.requests()),
        (140, 60, 0, 20)
    );
    let ps = provider.pipeline_stats();
    assert_eq!((ps.accepted, ps.exported, ps.failed), (200, 200, 0));
    assert_eq!(count_diags(marker), 1, "reported once, not per response");
}

// ---------------------------------------------------------------------------------------
// 8. Collectors answering garbage, a wrong content type or an oversized message.

#[test]
fn http_garbage_and_wrong_content_type_replies_are_reported_and_the_exporter_carries_on() {
    diagnostics();
    let collector = FakeHttpCollector::start(vec![
        // Success statuses with unreadable bodies: the data was accepted.
        HttpReply::status(200).body("application/x-protobuf", vec![0xff; 32]),
        HttpReply::status(200).body("text/html", b"<html>hello</html>".to_vec()),
        // A retryable status with garbage, then a 400 with garbage: failures.
        HttpReply::status(503).body("application/x-protobuf", vec![0xff; 64]),
        HttpReply::status(400).body("application/x-protobuf", vec![0xfe; 300]),
    ]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpProtobuf,
        Duration::from_secs(5),
    );
    let es = exp.stats();
    let before = count_diags("unreadable success response");
    exp.export(&make_spans(2)).expect("garbage 200 body");
    exp.export(&make_spans(3)).expect("html 200 body");
    // 503 is retried and the retry gets the 400.
    let err = exp.export(&make_spans(4)).unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    exp.export(&make_spans(5))
        .expect("a healthy reply afterwards");
    assert_eq!(
        (es.exported(), es.failed(), es.rejected(), es.retries()),
        (10, 4, 0, 1)
    );
    assert_eq!(collector.received().len(), 5);
    assert!(count_diags("unreadable success response") >= before + 2);
}

#[test]
fn http_json_garbage_reply_is_reported_and_the_exporter_carries_on() {
    diagnostics();
    let collector = FakeHttpCollector::start(vec![
        HttpReply::status(200).body("application/json", b"{not json at all".to_vec()),
        HttpReply::status(200).body("application/x-protobuf", vec![0x0a, 0x03]),
    ]);
    let mut exp = exporter(
        &collector.url("/v1/traces"),
        Protocol::HttpJson,
        Duration::from_secs(5),
    );
    let es = exp.stats();
    exp.export(&make_spans(2))
        .expect("accepted, reply unreadable");
    exp.export(&make_spans(2))
        .expect("accepted, reply of the wrong type");
    exp.export(&make_spans(2)).expect("healthy");
    assert_eq!((es.exported(), es.failed()), (6, 0));
}

#[test]
fn raw_garbage_instead_of_http_or_grpc_fails_cleanly_every_time() {
    let garbage = b"\x00\xff\x13NOT A PROTOCOL\r\n\r\n\x00\x00\x07garbage".to_vec();
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let server = RawReplyServer::start(garbage.clone());
        let mut exp = OtlpSpanExporter::builder()
            .with_endpoint(endpoint(protocol, server.port))
            .with_protocol(protocol)
            .with_timeout(Duration::from_secs(2))
            .with_retry(RetryPolicy {
                max_retries: 2,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
            })
            .build()
            .unwrap();
        let es = exp.stats();
        for _ in 0..2 {
            let t = Instant::now();
            assert!(exp.export(&make_spans(3)).is_err(), "{protocol:?}");
            assert!(t.elapsed() < Duration::from_secs(4), "{protocol:?}");
        }
        assert_eq!((es.exported(), es.failed()), (0, 6), "{protocol:?} {es:?}");
        assert!(server.connections.load(Ordering::SeqCst) >= 1);
    }
}

#[test]
fn grpc_oversized_reply_is_refused_and_the_exporter_carries_on() {
    // A 16 MiB partial-success message: beyond the client's decoding limit.
    let collector = FakeGrpcCollector::start(vec![GrpcReply::Ok(Some((0, "x".repeat(16 << 20))))]);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(collector.url())
        .with_protocol(Protocol::Grpc)
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let es = exp.stats();
    let err = exp.export(&make_spans(3)).unwrap_err();
    assert!(!err.to_string().contains("xxxxxxxx"), "short message");
    exp.export(&make_spans(2))
        .expect("healthy reply afterwards");
    assert_eq!((es.exported(), es.failed()), (2, 3));
    assert_eq!(collector.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------
// 9. Secrets.

#[test]
fn header_values_never_appear_in_debug_output_or_config_errors() {
    let bearer = format!("Bearer {SECRET}");
    let headers = [("authorization", bearer.as_str()), ("api-key", SECRET)];
    let builder = OtlpSpanExporter::builder()
        .with_endpoint("http://127.0.0.1:1/v1/traces")
        .with_headers(headers);
    assert!(!format!("{builder:?}").contains(SECRET));
    let config = builder.resolve(Signal::Traces).unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
    assert!(format!("{config:?}").contains("authorization"));
    let span_exp = builder.build().unwrap();
    assert!(!format!("{span_exp:?}").contains(SECRET));
    let metric_exp = OtlpMetricExporter::builder()
        .with_endpoint("http://127.0.0.1:1/v1/metrics")
        .with_headers(headers)
        .build()
        .unwrap();
    assert!(!format!("{metric_exp:?}").contains(SECRET));
    let log_exp = OtlpLogExporter::builder()
        .with_endpoint("127.0.0.1:1")
        .with_protocol(Protocol::Grpc)
        .with_insecure(true)
        .with_headers(headers)
        .build()
        .unwrap();
    assert!(!format!("{log_exp:?}").contains(SECRET));
    let provider = TracerProvider::builder()
        .with_batch_exporter(span_exp)
        .build();
    assert!(!format!("{provider:?}").contains(SECRET));
    let _ = provider.shutdown();

    // Malformed header settings: the error names the setting, never the value.
    let env_cases = [
        format!("authorization=Bearer%20{SECRET},broken"),
        format!("authorization=Bearer {SECRET}%zz"),
        format!("=={SECRET}"),
    ];
    let mut refused = 0;
    for raw in &env_cases {
        let resolved = OtlpSpanExporter::builder().resolve_with(Signal::Traces, |k| {
            (k == "OTEL_EXPORTER_OTLP_HEADERS").then(|| raw.clone())
        });
        match resolved {
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().contains(SECRET), "{e}");
                assert!(!format!("{e:?}").contains(SECRET), "{e:?}");
            }
            Ok(config) => assert!(!format!("{config:?}").contains(SECRET)),
        }
    }
    assert!(refused >= 2, "the malformed lists are refused");
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let err = OtlpSpanExporter::builder()
            .with_endpoint(endpoint(protocol, 1))
            .with_protocol(protocol)
            .with_headers([("authorization", format!("Bearer {SECRET}\r\n"))])
            .build()
            .expect_err("a header value with CR LF is refused");
        assert!(!err.to_string().contains(SECRET), "{err}");
        assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
    }
}

#[test]
fn header_values_never_appear_in_diagnostics_of_failed_exports() {
    diagnostics();
    let refused = free_port();
    let http401 = FakeHttpCollector::start(vec![HttpReply::status(401); 4]);
    let grpc_unauth =
        FakeGrpcCollector::start(vec![GrpcReply::Status(tonic::Code::Unauthenticated, None)]);
    let silent = SilentServer::start();
    let cases = [
        (
            endpoint(Protocol::HttpProtobuf, refused),
            Protocol::HttpProtobuf,
        ),
        (endpoint(Protocol::Grpc, refused), Protocol::Grpc),
        (http401.url("/v1/traces"), Protocol::HttpProtobuf),
        (http401.url("/v1/traces"), Protocol::HttpJson),
        (grpc_unauth.url(), Protocol::Grpc),
        (silent.url("/v1/traces"), Protocol::HttpProtobuf),
        (silent.url(""), Protocol::Grpc),
    ];
    let before = count_diags("export of");
    for (url, protocol) in &cases {
        let exp = OtlpSpanExporter::builder()
            .with_endpoint(url)
            .with_protocol(*protocol)
            .with_headers([
                ("authorization", format!("Bearer {SECRET}")),
                ("x-api-key", SECRET.to_string()),
            ])
            .with_timeout(Duration::from_millis(500))
            .with_retry(RetryPolicy::none())
            .build()
            .unwrap();
        let provider = batch_provider(exp, 512, Duration::from_secs(3600));
        provider.tracer("secret").start("s").end();
        assert!(provider.force_flush().is_err(), "{url} {protocol:?}");
        let _ = provider.shutdown();
    }
    // Logs and metrics, through their own exporters and pipelines.
    for (logs_url, metrics_url, protocol) in [
        (
            http401.url("/v1/logs"),
            http401.url("/v1/metrics"),
            Protocol::HttpProtobuf,
        ),
        (silent.url(""), silent.url(""), Protocol::Grpc),
    ] {
        let headers = [("authorization", format!("Bearer {SECRET}"))];
        let log_exp = OtlpLogExporter::builder()
            .with_endpoint(logs_url)
            .with_protocol(protocol)
            .with_headers(headers.clone())
            .with_timeout(Duration::from_millis(500))
            .with_retry(RetryPolicy::none())
            .build()
            .unwrap();
        let logs = otlp_sdk::logs::LoggerProvider::builder()
            .with_batch_exporter(log_exp)
            .build();
        logs.logger("secret")
            .emit(otlp_sdk::logs::LogRecord::new().with_body("b"));
        assert!(logs.force_flush().is_err(), "logs {protocol:?}");
        let _ = logs.shutdown();
        let metric_exp = OtlpMetricExporter::builder()
            .with_endpoint(metrics_url)
            .with_protocol(protocol)
            .with_headers(headers)
            .with_timeout(Duration::from_millis(500))
            .with_retry(RetryPolicy::none())
            .build()
            .unwrap();
        let meters = otlp_sdk::metrics::MeterProvider::builder()
            .with_reader(
                otlp_sdk::metrics::PeriodicExportingMetricReader::builder(metric_exp)
                    .with_interval(Duration::from_secs(3600))
                    .build(),
            )
            .build();
        meters.meter("secret").u64_counter("c").build().add(1, &[]);
        assert!(meters.force_flush().is_err(), "metrics {protocol:?}");
        let _ = meters.shutdown();
    }
    assert!(
        count_diags("export of") >= before + cases.len() + 2,
        "each failure was reported"
    );
    let leaked: Vec<String> = diagnostics()
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(SECRET))
        .cloned()
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

// ---------------------------------------------------------------------------------------
// 3 (logs and metrics). A hung collector never blocks the other signals either.

#[test]
fn logs_and_metrics_never_block_on_a_hung_collector_and_count_what_failed() {
    use otlp_sdk::logs::{BatchLogProcessor, LogRecord, LoggerProvider};
    use otlp_sdk::metrics::{MeterProvider, PeriodicExportingMetricReader};
    let silent = SilentServer::start();
    let timeout = Duration::from_millis(500);

    let log_exp = OtlpLogExporter::builder()
        .with_endpoint(silent.url("/v1/logs"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(timeout)
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let ls = log_exp.stats();
    let logs = LoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::with_config(
            log_exp,
            BatchConfig {
                max_queue_size: 2048,
                max_export_batch_size: 512,
                scheduled_delay: Duration::from_millis(100),
                export_timeout: Duration::from_secs(2),
            },
        ))
        .build();
    let logger = logs.logger("hung");
    let t = Instant::now();
    for _ in 0..100_000 {
        logger.emit(LogRecord::new().with_body("x"));
    }
    assert!(t.elapsed() < Duration::from_secs(60), "deadlock guard");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ls.failed() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let res = logs.shutdown();
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());
    assert!(!matches!(res, Err(SdkError::Timeout(_))), "{res:?}");
    let ps = logs.pipeline_stats();
    assert_eq!(ps.accepted + ps.dropped, 100_000, "{ps:?}");
    assert_eq!((ps.exported, ps.failed), (0, ps.accepted), "{ps:?}");
    assert!(ps.dropped > 0, "{ps:?}");
    assert_eq!((ls.exported(), ls.failed()), (0, ps.failed), "{ls:?}");

    let metric_exp = OtlpMetricExporter::builder()
        .with_endpoint(silent.url("/v1/metrics"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(timeout)
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let ms = metric_exp.stats();
    let meters = MeterProvider::builder()
        .with_reader(
            PeriodicExportingMetricReader::builder(metric_exp)
                .with_interval(Duration::from_millis(200))
                .with_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    let counter = meters.meter("hung").u64_counter("hung.counter").build();
    let t = Instant::now();
    for _ in 0..100_000 {
        counter.add(1, &[]);
    }
    assert!(t.elapsed() < Duration::from_secs(60), "deadlock guard");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ms.failed() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ms.failed() >= 1, "{ms:?}");
    let t = Instant::now();
    assert!(meters.shutdown().is_err(), "the final export failed");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(ms.exported(), 0);
    assert_eq!(
        ms.failed(),
        ms.failed_requests(),
        "one point per export: {ms:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 4 (hostile delays). A server-given delay that does not fit in a clock reading.

#[test]
fn absurd_retry_delays_from_the_collector_fail_cleanly() {
    let http = FakeHttpCollector::start(vec![
        HttpReply::status(503).header("Retry-After", "18446744073709551615"),
        HttpReply::status(429).header("Retry-After", "9223372036854775807"),
    ]);
    let grpc = FakeGrpcCollector::start(vec![GrpcReply::Status(
        tonic::Code::Unavailable,
        Some(Duration::from_secs(i64::MAX as u64)),
    )]);
    for (url, protocol, attempts) in [
        (http.url("/v1/traces"), Protocol::HttpProtobuf, 2),
        (grpc.url(), Protocol::Grpc, 1),
    ] {
        let mut exp = exporter(&url, protocol, Duration::from_secs(5));
        let es = exp.stats();
        for _ in 0..attempts {
            let t = Instant::now();
            let err = exp.export(&make_spans(2)).unwrap_err();
            assert!(t.elapsed() < Duration::from_secs(5), "{protocol:?}");
            assert!(
                err.to_string().contains("export timeout"),
                "{protocol:?}: given up because the delay passes the timeout: {err}"
            );
        }
        exp.export(&make_spans(1)).expect("carries on");
        assert_eq!(
            (es.exported(), es.failed(), es.retries()),
            (1, 2 * attempts, 0),
            "{protocol:?}"
        );
    }
}

#[test]
fn credentials_in_the_endpoint_never_appear_in_debug_output_errors_or_diagnostics() {
    let captured = diagnostics();
    let port = free_port(); // nothing listens: every export fails
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let url = format!("http://alice:s3cr3t-pw@127.0.0.1:{port}/v1/traces");
        let builder = OtlpSpanExporter::builder()
            .with_endpoint(url.clone())
            .with_protocol(protocol)
            .with_timeout(Duration::from_millis(300));
        assert!(!format!("{builder:?}").contains("s3cr3t-pw"));
        let mut exp = builder.build().unwrap();
        assert!(!format!("{exp:?}").contains("s3cr3t-pw"), "{exp:?}");
        let err = exp.export(&make_spans(1)).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
        let _ = exp.shutdown();
    }
    // A malformed endpoint with credentials: the error shows the value, redacted.
    let err = OtlpSpanExporter::builder()
        .with_endpoint("ftp://alice:s3cr3t-pw@example")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
    assert!(err.to_string().contains("***"), "{err}");
    for m in captured.lock().unwrap().iter() {
        assert!(!m.contains("s3cr3t-pw"), "{m}");
    }
}
