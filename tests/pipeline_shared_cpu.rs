//! A producer that shares its CPU with the export thread: the scheduler does this at times on
//! its own (for tens of milliseconds, even with another CPU idle). Here both are pinned to
//! one CPU. Without the producer yielding, it runs whole time slices (milliseconds) while the
//! export thread waits, the 2048-span queue fills within microseconds, and nearly every span
//! is dropped (92-99 % in trials with the yields disabled). With them, the export thread
//! empties the queue whenever a batch is ready.

#![cfg(target_os = "linux")]

// Only this part of the test support: the rest needs the exporters' features.
#[path = "support/cpu.rs"]
mod cpu;

use cpu::{cpus_of, pin, small_queue_provider};

#[test]
fn a_producer_on_the_export_threads_cpu_lets_it_keep_up() {
    let (provider, exported, worker) = small_queue_provider();
    let tracer = provider.tracer("shared-cpu");
    // Pin the export thread and this thread to one CPU.
    let cpu = cpus_of(0)[0];
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
    assert_eq!(after.exported, exported.get());
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
