//! Between batches the export thread polls the queue for a while instead of sleeping, which
//! spares producers a wake-up per batch, but only while some CPU is left to it: when as many
//! threads as there are CPUs feed the queue, each poll takes CPU time from a producer, so the
//! export thread sleeps between batches and is woken for the next one.
//!
//! Seen here in the export thread's CPU time, with producers that each push a part of a batch
//! and then pause: one producer (with a CPU to spare) keeps the export thread polling after
//! each batch, and one producer per CPU does not.

#![cfg(target_os = "linux")]

// Only this part of the test support: the rest needs the exporters' features.
#[path = "support/cpu.rs"]
mod cpu;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpu::{span_export_thread, Count};
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{BatchSpanProcessor, Tracer, TracerProvider};

/// Rounds of pushing then pausing, per phase.
const ROUNDS: u64 = 300;
const BATCH: usize = 512;

/// CPU time of thread `tid` so far, in clock ticks (user and system).
fn cpu_ticks(tid: libc::pid_t) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// `threads` producers, each pushing `per_round` spans and then pausing 2 ms, `ROUNDS`
/// times. Returns the export thread's CPU time meanwhile, in ticks.
fn worker_ticks_while(
    tracer: &Tracer,
    worker: libc::pid_t,
    threads: usize,
    per_round: usize,
) -> u64 {
    let before = cpu_ticks(worker);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    for _ in 0..per_round {
                        tracer.start("work").end();
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
    });
    cpu_ticks(worker) - before
}

#[test]
fn the_export_thread_polls_only_while_a_cpu_is_left_to_it() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let exported = Count(Arc::new(AtomicU64::new(0)));
    let processor = BatchSpanProcessor::with_config(
        exported.clone(),
        BatchConfig {
            max_queue_size: 4 * BATCH * cpus,
            max_export_batch_size: BATCH,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(30),
        },
    );
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("busy-cpus");
    let worker = span_export_thread();

    // One producer per CPU: the export thread sleeps between batches.
    let per_thread = BATCH / cpus + 16;
    let all_busy = worker_ticks_while(&tracer, worker, cpus, per_thread);
    provider.force_flush().unwrap();
    let stats = provider.pipeline_stats();
    assert_eq!(stats.dropped, 0, "the queue has room for every round");
    assert_eq!(stats.exported, exported.0.load(Ordering::Relaxed));
    assert_eq!(stats.exported, ROUNDS * (per_thread * cpus) as u64);

    // Polling for 0.5 ms after each of the ~300 batches would take 150 ms (15 ticks of 10
    // ms; 10-12 were measured with polling). Exporting the batches takes 0-3.
    assert!(
        all_busy <= 5,
        "the export thread used {all_busy} ticks of CPU time polling for {cpus} producers \
         on {cpus} CPUs"
    );

    if cpus >= 2 {
        // One producer, a CPU to spare: the export thread polls after each batch (the
        // contrast that shows the measure above can see polling).
        let one = worker_ticks_while(&tracer, worker, 1, BATCH + 16);
        assert!(
            one >= 6,
            "the export thread used only {one} ticks for one producer with CPUs to spare"
        );
    }
    provider.shutdown().unwrap();
}
