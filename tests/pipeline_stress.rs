//! The batch span and log pipelines under concurrent load and a slow or stuck exporter:
//! nothing is lost without being counted, and the application never waits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, SpanData, SpanExporter, TracerProvider};
use otlp_sdk::SdkResult;

/// An exporter that can be held shut (every export waits until released) and is slow.
#[derive(Debug, Clone, Default)]
struct Gate {
    exported: Arc<AtomicU64>,
    open: Arc<(Mutex<bool>, Condvar)>,
    entered: Arc<AtomicBool>,
}

impl Gate {
    fn release(&self) {
        let (m, c) = &*self.open;
        *m.lock().unwrap() = true;
        c.notify_all();
    }
}

impl SpanExporter for Gate {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.entered.store(true, Ordering::SeqCst);
        let (m, c) = &*self.open;
        let mut open = m.lock().unwrap();
        while !*open {
            open = c.wait(open).unwrap();
        }
        drop(open);
        std::thread::sleep(Duration::from_millis(1));
        self.exported
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

fn config(queue: usize, batch: usize) -> BatchConfig {
    BatchConfig {
        max_queue_size: queue,
        max_export_batch_size: batch,
        scheduled_delay: Duration::from_millis(50),
        export_timeout: Duration::from_secs(30),
    }
}

#[test]
fn a_stuck_exporter_never_blocks_producers_and_every_span_is_accounted_for() {
    let gate = Gate::default();
    let processor = BatchSpanProcessor::with_config(gate.clone(), config(256, 64));
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 20_000;
    // The exporter is stuck (every export waits for `release`): all producers must still
    // finish, which they could not if ending a span ever waited for the exporter.
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let tracer = provider.tracer("stress");
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let mut span = tracer.start("work");
                    span.set_attribute("t", t as i64);
                    span.set_attribute("i", i as i64);
                    span.end();
                }
            });
        }
    });
    gate.release();
    provider.shutdown().unwrap();
    let total = THREADS * PER_THREAD;
    // Exactly: every span ended was either exported or dropped (and counted).
    let exported = gate.exported.load(Ordering::SeqCst);
    let dropped = total - exported;
    assert!(
        dropped > 0,
        "a stuck exporter with a 256-span queue must drop"
    );
    assert!(exported >= 256, "what was queued is exported at shutdown");
    // The processor's own counters agree with the exporter.
    let stats = stats_of(&provider);
    assert_eq!(stats.dropped, dropped);
    assert_eq!(stats.accepted, exported);
    assert_eq!(stats.exported, exported);
}

#[test]
fn counters_match_the_exporter_exactly() {
    let gate = Gate::default();
    gate.release();
    let processor = BatchSpanProcessor::with_config(gate.clone(), config(512, 128));
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 10_000;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let tracer = provider.tracer("stress");
            s.spawn(move || {
                for _ in 0..PER_THREAD {
                    tracer.start("work").end();
                }
            });
        }
    });
    provider.shutdown().unwrap();
    let exported = gate.exported.load(Ordering::SeqCst);
    let stats = stats_of(&provider);
    assert_eq!(stats.accepted + stats.dropped, THREADS * PER_THREAD);
    assert_eq!(
        stats.exported, exported,
        "accepted spans are all exported at shutdown"
    );
    assert_eq!(stats.accepted, exported);
    assert_eq!(stats.failed, 0);
}

fn stats_of(provider: &TracerProvider) -> otlp_sdk::pipeline::PipelineStats {
    provider.pipeline_stats()
}

#[test]
fn force_flush_returns_after_everything_before_it_is_exported() {
    let gate = Gate::default();
    gate.release();
    let processor = BatchSpanProcessor::with_config(gate.clone(), config(10_000, 512));
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("flush");
    for _ in 0..3000 {
        tracer.start("s").end();
    }
    provider.force_flush().unwrap();
    assert_eq!(gate.exported.load(Ordering::SeqCst), 3000);
    provider.shutdown().unwrap();
}

#[test]
fn recycled_span_records_carry_nothing_from_earlier_spans() {
    let exporter = otlp_sdk::export::InMemorySpanExporter::default();
    let processor = BatchSpanProcessor::with_config(exporter.clone(), config(4096, 64));
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("recycle");
    for round in 0..5 {
        for i in 0..1000i64 {
            let mut span = tracer.start("s");
            if i % 2 == 0 {
                span.set_attribute("even", i);
                span.add_event("e", []);
                span.set_status(otlp_sdk::trace::Status::error("bad"));
            } else {
                span.set_attribute("odd", i);
            }
            span.end();
        }
        provider.force_flush().unwrap();
        let spans = exporter.finished_spans();
        assert_eq!(spans.len(), 1000 * (round + 1));
        for s in &spans[1000 * round..] {
            assert_eq!(s.attributes.len(), 1);
            let even = s.attributes[0].key.as_str() == "even";
            assert_eq!(s.events.len(), usize::from(even));
            assert_eq!(s.status.code(), if even { 2 } else { 0 });
            assert!(s.span_context.is_valid());
            assert_eq!(s.scope.name(), "recycle");
        }
    }
    provider.shutdown().unwrap();
}

/// Checks that every exported log record is the one its thread emitted: the boxes of
/// exported records are reused by whichever thread emits next, so any leftover from an
/// earlier record (attributes, body, scope) would show here.
#[derive(Debug, Clone, Default)]
struct CheckLogs {
    exported: Arc<AtomicU64>,
    bad: Arc<Mutex<Vec<String>>>,
}

impl otlp_sdk::logs::LogExporter for CheckLogs {
    fn export(&mut self, batch: &[Box<otlp_sdk::logs::LogData>]) -> SdkResult {
        use otlp_sdk::logs::AnyValue;
        for d in batch {
            let r = &d.record;
            let get = |k: &str| {
                r.attributes
                    .iter()
                    .find(|(key, _)| key.as_str() == k)
                    .map(|(_, v)| v.clone())
            };
            let (Some(AnyValue::Int(t)), Some(AnyValue::Int(i))) = (get("t"), get("i")) else {
                self.bad.lock().unwrap().push(format!("{r:?}"));
                continue;
            };
            let extra = i % 3 == 0;
            let ok = r.body == Some(AnyValue::from(format!("t{t} r{i}")))
                && r.attributes.len() == 2 + usize::from(extra)
                && (get("extra").is_some() == extra)
                && d.scope.name() == format!("logger{}", t % 2)
                && r.severity_number.map(|s| s.as_i32()) == Some(9 + (i % 4) as i32);
            if !ok {
                self.bad.lock().unwrap().push(format!("{d:?}"));
            }
        }
        self.exported
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn log_records_from_many_threads_are_exported_intact_and_counted_exactly() {
    use otlp_sdk::logs::{BatchLogProcessor, LogRecord, LoggerProvider, SeverityNumber};
    let exporter = CheckLogs::default();
    let processor = BatchLogProcessor::with_config(exporter.clone(), config(512, 64));
    let provider = LoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    const THREADS: i64 = 6;
    const PER_THREAD: i64 = 20_000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let logger = provider.logger(format!("logger{}", t % 2));
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let mut r = LogRecord::new()
                        .with_severity(SeverityNumber::from_i32(9 + (i % 4) as i32).unwrap())
                        .with_body(format!("t{t} r{i}"))
                        .with_attribute("t", t)
                        .with_attribute("i", i);
                    if i % 3 == 0 {
                        r = r.with_attribute("extra", "x".repeat((i % 50) as usize));
                    }
                    logger.emit(r);
                }
            });
        }
    });
    provider.shutdown().unwrap();
    let bad = exporter.bad.lock().unwrap();
    assert!(
        bad.is_empty(),
        "{} bad records, first: {}",
        bad.len(),
        bad[0]
    );
    let exported = exporter.exported.load(Ordering::SeqCst);
    let stats = provider.pipeline_stats();
    assert_eq!(
        stats.accepted + stats.dropped,
        (THREADS * PER_THREAD) as u64
    );
    assert_eq!(
        stats.accepted, exported,
        "accepted records are all exported"
    );
    assert_eq!(stats.exported, exported);
    assert!(exported > 0);
}
