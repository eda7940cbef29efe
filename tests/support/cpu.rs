//! For the pipeline's scheduling tests (Linux): a batch span processor with a small queue and
//! an exporter that counts, the export thread's id, and placing threads on CPUs. Included by
//! path (`#[path = "support/cpu.rs"] mod cpu;`), apart from the rest of `support`, which
//! needs the exporters' features.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, SpanData, SpanExporter, TracerProvider};
use otlp_sdk::SdkResult;

/// An exporter that counts the spans it is given.
#[derive(Debug, Clone, Default)]
pub struct Count(pub Arc<AtomicU64>);

impl Count {
    /// Spans exported so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl SpanExporter for Count {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// A provider whose batch processor has a queue that fills well within a time slice even in
/// a debug build (512 spans at ~1 us each), and a delay long enough that only full batches
/// and flushes export anything. Returns it with its exporter's count and the kernel id of
/// its export thread.
pub fn small_queue_provider() -> (TracerProvider, Count, libc::pid_t) {
    let exported = Count::default();
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
    (provider, exported, span_export_thread())
}

/// The kernel id of the span export thread (of the only batch span processor alive), waiting
/// up to a second for it to start (it starts with the processor).
pub fn span_export_thread() -> libc::pid_t {
    (0..200)
        .find_map(|_| {
            thread_named("otlp-sdk-spans").or_else(|| {
                std::thread::sleep(Duration::from_millis(5));
                None
            })
        })
        .expect("the export thread is running")
}

/// The thread id of this process's thread named `name`.
pub fn thread_named(name: &str) -> Option<libc::pid_t> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim_end() == name)
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
}

/// Lets thread `tid` (0: the calling thread) run on `cpus` only.
pub fn pin_to(tid: libc::pid_t, cpus: &[usize]) {
    // SAFETY: `set` is a plain bit set, zeroed then filled by the libc macros, and passed
    // by pointer with its size to `sched_setaffinity`, which only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        let r = libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            r,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Lets thread `tid` (0: the calling thread) run on `cpu` only.
pub fn pin(tid: libc::pid_t, cpu: usize) {
    pin_to(tid, &[cpu]);
}

/// The CPUs thread `tid` (0: the calling thread) may run on, in increasing order.
pub fn cpus_of(tid: libc::pid_t) -> Vec<usize> {
    // SAFETY: `sched_getaffinity` only writes the zeroed set it is given, of the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let r = libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(r, 0);
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}
