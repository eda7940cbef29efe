//! An export thread stuck behind another busy thread on another CPU. A thread of another
//! process (the sandbox's services, `kdamond`) sometimes takes the export thread's CPU for
//! milliseconds while the producer keeps its own; the scheduler leaves the export thread
//! waiting there, and the queue overflows within microseconds. A producer that finds the
//! queue full moves the export thread to its own CPU and yields to it; the export thread
//! then gets back the CPUs it was allowed before. Here a spinning thread holds one CPU, the
//! producer runs on another, and the export thread is put on the spinning thread's CPU again
//! and again, as the scheduler might.

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Lets thread `tid` (0: the calling thread) run on `cpus` only.
fn pin_to(tid: libc::pid_t, cpus: &[usize]) {
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
fn pin(tid: libc::pid_t, cpu: usize) {
    pin_to(tid, &[cpu]);
}

/// The CPUs thread `tid` (0: the calling thread) may run on.
fn cpus_of(tid: libc::pid_t) -> Vec<usize> {
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

#[test]
fn a_producer_pulls_the_export_thread_away_from_a_busy_cpu() {
    let cpus = cpus_of(0);
    if cpus.len() < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs two CPUs; CI has them"
        );
        eprintln!("one CPU only: nothing to pull the export thread away from");
        return;
    }
    let (mine, theirs) = (cpus[0], cpus[1]);
    let exported = Count::default();
    // A queue that fills well within a time slice even in a debug build (~1 us a span).
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
    let tracer = provider.tracer("pull");
    let worker = (0..200)
        .find_map(|_| {
            thread_named("otlp-sdk-spans").or_else(|| {
                std::thread::sleep(Duration::from_millis(5));
                None
            })
        })
        .expect("the export thread is running");
    pin(0, mine);
    // Another thread that always wants the export thread's CPU.
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            pin(0, theirs);
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    let run = |n: u64, displace: bool| {
        for i in 0..n {
            if displace && i % 20_000 == 0 {
                // Where the scheduler sometimes leaves it: waiting behind the busy thread.
                // Its affinity is then as wide as before; only its place changed.
                pin(worker, theirs);
                pin_to(worker, &cpus);
            }
            let mut span = tracer.start("work");
            span.set_attribute("i", i as i64);
            span.end();
        }
        provider.force_flush().unwrap();
        provider.pipeline_stats()
    };
    let before = run(1000, true);
    // 20 times put behind the busy thread, each time for as long as the scheduler leaves it
    // there (milliseconds, against the queue's half millisecond).
    const SPANS: u64 = 400_000;
    let after = run(SPANS, true);
    let dropped = after.dropped - before.dropped;
    assert_eq!(after.accepted + after.dropped, SPANS + 1000);
    assert_eq!(after.exported, exported.0.load(Ordering::Relaxed));
    assert_eq!(after.exported, after.accepted);
    assert_eq!(
        cpus_of(worker),
        cpus,
        "the export thread got its CPUs back after being moved"
    );
    // Under 2 %: about 64 spans each time, as the first try at a full queue only yields (the
    // export thread last said it ran on this CPU) and the next one moves it (0.3 % in
    // trials). With the move disabled, 54-91 % were dropped.
    eprintln!("{dropped} of {SPANS} spans dropped");
    assert!(
        dropped * 50 < SPANS,
        "{dropped} of {SPANS} spans dropped while the export thread waited behind another thread"
    );

    // An export thread the application pinned to the busy CPU stays pinned there: a move
    // only lasts until it runs.
    pin(worker, theirs);
    let pinned = run(100_000, false);
    assert!(pinned.dropped > after.dropped, "the queue overflowed again");
    assert_eq!(
        cpus_of(worker),
        vec![theirs],
        "the application's choice is kept"
    );
    stop.store(true, Ordering::Relaxed);
    hog.join().unwrap();
    provider.shutdown().unwrap();
}
