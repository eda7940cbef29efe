//! Memory stays bounded under faults: a long collector outage at full span rate, and a
//! collector answering with a huge body. Resident memory (VmRSS) is sampled every
//! millisecond; the tests of this binary run one at a time so that they do not see each
//! other's memory.
#![cfg(all(feature = "grpc", feature = "http", target_os = "linux"))]

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use otlp_sdk::export::otlp::{OtlpSpanExporter, Protocol, RetryPolicy};
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, SpanExporter, TracerProvider};
use support::*;

const MIB: u64 = 1 << 20;

/// One test at a time: RSS is per process.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn long_outage_at_full_span_rate_keeps_memory_bounded_by_the_queue() {
    let _serial = serial();
    let outage = Duration::from_secs(12);
    let port = free_port(); // nothing listens: connection refused for the whole outage
    let exp = OtlpSpanExporter::builder()
        .with_endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy {
            max_retries: 1000,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        })
        .build()
        .unwrap();
    let es = exp.stats();
    // The default queue (2048) and batch size (512).
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::with_config(exp, BatchConfig::default()))
        .build();
    let tracer = provider.tracer("outage");
    let ended = AtomicU64::new(0);
    let end_spans = |n: u64| {
        for i in 0..n {
            let mut span = tracer.start("outage.span");
            span.set_attribute("i", i as i64);
            span.set_attribute("payload", "a value of a few dozen bytes, like a URL path");
            span.end();
        }
        ended.fetch_add(n, Ordering::SeqCst);
    };
    // Warm-up: queue full, record pool and allocator at their working size.
    end_spans(200_000);
    let baseline = rss_bytes();
    let dropped_before = provider.pipeline_stats().dropped;
    let sampler = RssSampler::start();
    let t = Instant::now();
    let mut during = 0u64;
    while t.elapsed() < outage {
        end_spans(10_000);
        during += 10_000;
    }
    let peak = sampler.peak();
    drop(sampler);
    let ps = provider.pipeline_stats();
    eprintln!(
        "outage: {during} spans in {:?}, RSS baseline {} MiB, peak {} MiB, {ps:?}",
        t.elapsed(),
        baseline / MIB,
        peak / MIB
    );
    assert!(
        peak.saturating_sub(baseline) < 64 * MIB,
        "RSS grew by {} MiB during the outage",
        (peak - baseline) / MIB
    );
    // The queue was full: nearly every span of the outage was dropped, and counted (at most
    // one batch per export timeout left the queue).
    let batches = 1 + outage.as_secs() / 2;
    assert!(
        ps.dropped - dropped_before >= during - batches * 512,
        "drops are counted: {ps:?}"
    );
    assert_eq!(ps.exported, 0);
    assert_eq!(ps.accepted + ps.dropped, ended.load(Ordering::SeqCst));

    // The collector comes back: what is queued is delivered, then new spans too.
    let collector = FakeHttpCollector::start_on(port, vec![]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = provider.pipeline_stats();
        if s.exported > 0 && s.exported + s.failed == s.accepted {
            break;
        }
        assert!(Instant::now() < deadline, "queue not drained: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let exported_before = provider.pipeline_stats().exported;
    end_spans(1000);
    provider.shutdown().unwrap();
    let ps = provider.pipeline_stats();
    assert_eq!(ps.exported, exported_before + 1000, "{ps:?}");
    assert_eq!(
        ps.exported + ps.failed + ps.dropped,
        ended.load(Ordering::SeqCst),
        "{ps:?}"
    );
    assert_eq!((es.exported(), es.failed()), (ps.exported, ps.failed));
    let delivered: usize = collector
        .received()
        .iter()
        .map(|r| {
            use prost::Message;
            let req = otlp_sdk::proto::collector::trace::v1::ExportTraceServiceRequest::decode(
                r.body.as_slice(),
            )
            .unwrap();
            span_count(&[req])
        })
        .sum();
    assert_eq!(delivered as u64, ps.exported);
}

#[test]
fn huge_http_response_body_is_not_buffered_and_the_exporter_carries_on() {
    let _serial = serial();
    let server = HugeBodyServer::start(200, "application/x-protobuf", 64 << 20);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(server.url("/v1/traces"))
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(Duration::from_secs(20))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let es = exp.stats();
    let spans = make_spans(3);
    let baseline = rss_bytes();
    let sampler = RssSampler::start();
    exp.export(&spans).expect("accepted; the reply is ignored");
    exp.export(&spans[..2]).expect("and again");
    let peak = sampler.peak();
    drop(sampler);
    eprintln!(
        "huge reply: RSS baseline {} MiB, peak {} MiB",
        baseline / MIB,
        peak / MIB
    );
    assert!(
        peak.saturating_sub(baseline) < 32 * MIB,
        "a 64 MiB reply grew RSS by {} MiB",
        (peak - baseline) / MIB
    );
    assert_eq!((es.exported(), es.failed()), (5, 0));
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);

    // An error status with a huge body: failed, described briefly, no buffering either.
    let server = HugeBodyServer::start(400, "text/plain", 64 << 20);
    let mut exp = OtlpSpanExporter::builder()
        .with_endpoint(server.url("/v1/traces"))
        .with_timeout(Duration::from_secs(20))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let es = exp.stats();
    let sampler = RssSampler::start();
    let err = exp.export(&spans).unwrap_err();
    let peak = sampler.peak();
    drop(sampler);
    assert!(err.to_string().len() < 1024, "{err}");
    assert!(peak.saturating_sub(baseline) < 32 * MIB);
    assert_eq!(es.failed(), 3);
}
