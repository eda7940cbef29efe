//! Shutdown, drop and runtime edge cases of the trace pipeline: nothing panics, nothing
//! deadlocks, nothing accepted is lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, SpanData, SpanExporter, TracerProvider};
use otlp_sdk::{KeyValue, SdkError, SdkResult};

#[derive(Debug, Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl SpanExporter for Counting {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

fn batch_provider(exporter: impl SpanExporter) -> TracerProvider {
    TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::with_config(
            exporter,
            BatchConfig {
                max_queue_size: 1 << 16,
                max_export_batch_size: 256,
                scheduled_delay: Duration::from_millis(100),
                export_timeout: Duration::from_secs(5),
            },
        ))
        .build()
}

#[test]
fn shutdown_while_four_threads_end_spans_accounts_for_every_span() {
    let exported = Counting::default();
    let provider = batch_provider(exported.clone());
    let ended = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let tracer = provider.tracer("racing");
            let ended = &ended;
            s.spawn(move || {
                for _ in 0..50_000 {
                    let mut span = tracer.start("s");
                    if span.is_recording() {
                        ended.fetch_add(1, Ordering::Relaxed);
                    }
                    span.end();
                }
            });
        }
        std::thread::sleep(Duration::from_millis(5));
        provider.shutdown().unwrap();
    });
    let stats = provider.pipeline_stats();
    let total = ended.load(Ordering::SeqCst);
    // Every recorded span that ended is exported, dropped by the pipeline (queue full, or
    // shut down), or dropped by the provider after its shutdown: exactly.
    assert_eq!(stats.exported, exported.0.load(Ordering::SeqCst));
    assert_eq!(
        stats.accepted, stats.exported,
        "what was accepted was flushed"
    );
    assert_eq!(
        stats.exported + stats.dropped + provider.dropped_after_shutdown(),
        total
    );
}

#[test]
fn shutdown_twice_and_from_two_threads() {
    let provider = batch_provider(Counting::default());
    let results: Vec<SdkResult> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| provider.shutdown())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results.contains(&Err(SdkError::AlreadyShutdown)));
    assert_eq!(provider.shutdown(), Err(SdkError::AlreadyShutdown));
}

#[test]
fn spans_used_after_shutdown_do_nothing_and_never_panic() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("late");
    let mut live = tracer.start("live");
    let guard = tracer.start_as_current_span("guard");
    provider.shutdown().unwrap();
    live.set_attribute("k", 1);
    live.add_event("e", [KeyValue::new("a", 1)]);
    live.end();
    guard.set_attribute("k", 2);
    drop(guard);
    let mut after = tracer.start("after");
    after.set_attribute("x", 1);
    after.end();
    assert!(exporter.finished_spans().is_empty());
    assert_eq!(provider.dropped_after_shutdown(), 2);
}

#[test]
fn dropping_the_provider_without_shutdown_flushes() {
    let exported = Counting::default();
    {
        let provider = batch_provider(exported.clone());
        let tracer = provider.tracer("dropped");
        for _ in 0..1000 {
            tracer.start("s").end();
        }
        drop(tracer);
    }
    assert_eq!(exported.0.load(Ordering::SeqCst), 1000);
}

#[test]
fn shutdown_inside_tokio_runtimes_does_not_deadlock() {
    for multi in [false, true] {
        let exported = Counting::default();
        let provider = batch_provider(exported.clone());
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .unwrap();
        let p = provider.clone();
        rt.block_on(async move {
            let tracer = p.tracer("in-tokio");
            for _ in 0..100 {
                let _g = tracer.start_as_current_span("s");
                tokio::task::yield_now().await;
            }
            p.force_flush().unwrap();
            p.shutdown().unwrap();
        });
        assert_eq!(exported.0.load(Ordering::SeqCst), 100);
    }
}

#[test]
fn oversized_attributes_are_limited_not_fatal() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_span_limits(otlp_sdk::trace::SpanLimits {
            max_attribute_value_length: Some(1024),
            ..Default::default()
        })
        .build();
    let tracer = provider.tracer("big");
    let mut span = tracer.start("big");
    span.set_attribute("huge", "x".repeat(10 << 20));
    span.set_attribute("huge.array", vec![1i64; 1 << 20]);
    for i in 0..5000 {
        span.set_attribute(format!("k{i}"), i as i64);
    }
    span.set_attribute("", "an empty key is dropped");
    span.end();
    let d = &exporter.finished_spans()[0];
    assert_eq!(d.attributes.len(), 128);
    assert_eq!(d.dropped_attributes_count as usize, 2 + 5000 + 1 - 128);
    assert_eq!(d.attributes[0].value.as_str().unwrap().len(), 1024);
}
