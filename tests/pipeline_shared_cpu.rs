//! A producer that shares its CPU with the export thread: the scheduler does this at times on
//! its own (for tens of milliseconds, even with another CPU idle). Here both are pinned to
//! one CPU. Without the producer yielding, it runs whole time slices (milliseconds) while the
//! export thread waits, the 2048-span queue fills within microseconds, and nearly every span
//! is dropped (92-99 % in trials with the yields disabled). With them, the export thread
//! empties the queue whenever a batch is ready.

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, SpanData, SpanExporter, TracerProvider};
use otlp_sdk::SdkResult;

#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicU64>);

impl SpanExporter for Count {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Pins thread `tid` (0: the calling thread) to `cpu`.
fn pin(tid: libc::pid_t, cpu: usize) {
    // SAFETY: `set` is a plain bit set, zeroed then filled by the libc macros, and passed
    // by pointer with its size to `sched_setaffinity`, which only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let r = libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            r,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The thread id of this process's thread named `name`.
fn thread_named(name: &str) -> Option<libc::pid_t> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim_end() == name)
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
}

/// The CPU this thread may run on now (the first of its affinity mask).
fn a_cpu_of_ours() -> usize {
    // SAFETY: as in `pin`, `sched_getaffinity` only writes the zeroed set it is given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let r = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(r, 0);
        (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("a CPU")
    }
}

#[test]
fn a_producer_on_the_export_threads_cpu_lets_it_keep_up() {
    let exported = Count::default();
    // A queue that fills well within a time slice even in a debug build (~1 us a span);
    // a delay long enough that only full batches and the final flush export anything.
    let processor = BatchSpanProcessor::with_config(
        exported.clone(),
        BatchConfig {
            max_queue_size: 512,
            max_export_batch_size: 128,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        },
    );
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("shared-cpu");
    // The export thread starts with the processor; pin it and this thread to one CPU.
    let worker = (0..200)
        .find_map(|_| {
            thread_named("otlp-sdk-spans").or_else(|| {
                std::thread::sleep(Duration::from_millis(5));
                None
            })
        })
        .expect("the export thread is running");
    let cpu = a_cpu_of_ours();
    pin(worker, cpu);
    pin(0, cpu);
    let run = |n: u64| {
        for i in 0..n {
            let mut span = tracer.start("work");
            span.set_attribute("i", i as i64);
            span.end();
        }
        provider.force_flush().unwrap();
        provider.pipeline_stats()
    };
    // Until the export thread has run on the shared CPU, producers cannot know it is there.
    let before = run(1000);
    // Long enough for many time slices (each a few milliseconds).
    const SPANS: u64 = 400_000;
    let after = run(SPANS);
    provider.shutdown().unwrap();
    let dropped = after.dropped - before.dropped;
    assert_eq!(after.accepted + after.dropped, SPANS + 1000);
    assert_eq!(after.exported, exported.0.load(Ordering::Relaxed));
    assert_eq!(
        after.exported, after.accepted,
        "a flush exports what was accepted"
    );
    // A few percent at most; with the producer never yielding, nearly everything.
    assert!(
        dropped * 10 < SPANS,
        "{dropped} of {SPANS} spans dropped while sharing a CPU with the export thread"
    );
}
