//! The batch pipeline shared by spans and log records.
//!
//! Ending a span (or emitting a log record) pushes the finished item into the calling thread's
//! own bounded lock-free ring for that processor (a single-producer single-consumer
//! [`rtrb`] ring): no mutex, no allocation, no compare-and-swap, and no syscall in the usual
//! case; the only line producing threads share is a counter each updates once per 32
//! pushes. When the queue is full the item is dropped and counted; the application thread
//! never waits. `max_queue_size` bounds all the rings of a processor together, with the
//! items its exporter still holds in requests not yet completed. One named background
//! thread per processor (already running when the processor is built: a new thread can
//! wait milliseconds for its first time slice, and a producer fills the queue in a tenth
//! of one) reads every thread's ring in bulk, forms batches by size or on a
//! timer, and hands each batch to the exporter. Between batches it polls the rings for a
//! while, sparing producers a wake-up per batch, but only while a CPU is left to it: when as
//! many threads as there are CPUs are pushing (and there is more than one CPU), it sleeps
//! until a producer wakes it: when its own ring, or all rings together by the shared count,
//! hold half the room the exporter's held items leave in the queue (at least a batch; a
//! batch again after items were dropped, and once the producers no longer occupy every
//! CPU), the other half being room for the wake-up's latency. Otherwise it is woken for
//! each batch. It waits by yielding twice and then parking, without spinning. A panic in
//! the exporter (in any of its calls) fails that call and leaves the thread running.
//!
//! The scheduler sometimes runs the background thread on the same CPU as a producing thread
//! (for tens of milliseconds, even with another CPU idle), where it would wait for the
//! producer's time slices to end while the queue overflows. On Linux a producer on the CPU
//! the background thread last ran on yields once a batch is ready (and every few dozen
//! refused items while the queue is full), a producer that woke the sleeping background
//! thread and sees another batch queued since yields (the kernel may have placed it on that
//! CPU), and the waiting background thread yields about every microsecond: each yield
//! returns at once when no other thread wants the CPU. When the queue is full and the
//! background thread is on another CPU (where a thread of another process may hold it for
//! milliseconds), or makes no progress, the producer moves it to its own CPU before
//! yielding; the background thread gets back the CPUs it was allowed as soon as it runs,
//! so the move lasts microseconds and an application's own pinning stays.
//!
//! [`BatchConfig`] holds the knobs (queue size, batch size, delay, export timeout), with the
//! specification's defaults and `OTEL_BSP_*` / `OTEL_BLRP_*` environment variables.

mod batch;
mod control;
mod cpu;
pub(crate) mod pool;
pub(crate) mod prefetch;
mod ring;
mod worker;

pub use batch::PipelineStats;
pub(crate) use batch::{BatchExport, BatchPipeline};
pub(crate) use ring::{pipeline_item, LocalRings, PipelineItem};

use std::time::Duration;

use crate::env::{millis_or_report, u64_or_report};

/// The largest queue a batch processor allocates (2^24 items); larger settings are clamped.
pub const MAX_QUEUE_SIZE: usize = 1 << 24;

/// The shortest schedule delay; shorter settings (0) are raised to it.
pub const MIN_DELAY: Duration = Duration::from_millis(1);

/// The longest schedule delay or export timeout (a year); longer settings are clamped.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Settings of a batch processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Maximum items waiting for export, counting those the exporter holds in requests not
    /// yet completed; more are dropped (default 2048). Producing threads
    /// have rings of their own and report to the shared count 32 pushes at a time, so the
    /// bound may be passed by up to 31 items per producing thread.
    pub max_queue_size: usize,
    /// Maximum items per export call (default 512).
    pub max_export_batch_size: usize,
    /// Longest time an item waits before a (partial) batch is exported (default 5 s for spans,
    /// 1 s for logs; at least [`MIN_DELAY`]).
    pub scheduled_delay: Duration,
    /// Time allowed for one export (default 30 s; from the environment, 0 means no limit).
    /// The processor cannot cancel an exporter's call: this bounds how long `force_flush`
    /// and `shutdown` wait for one, and the OTLP exporter cancels its own requests at its
    /// timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        }
    }
}

impl BatchConfig {
    /// The span defaults overridden by `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT`,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`. Bad values are reported
    /// through diagnostics and the defaults kept.
    pub fn spans_from_env() -> Self {
        Self::from_env_with(
            BatchConfig::default(),
            [
                "OTEL_BSP_SCHEDULE_DELAY",
                "OTEL_BSP_EXPORT_TIMEOUT",
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            ],
        )
    }

    /// The log defaults (1 s delay) overridden by the `OTEL_BLRP_*` variables.
    pub fn logs_from_env() -> Self {
        Self::from_env_with(
            BatchConfig {
                scheduled_delay: Duration::from_secs(1),
                ..BatchConfig::default()
            },
            [
                "OTEL_BLRP_SCHEDULE_DELAY",
                "OTEL_BLRP_EXPORT_TIMEOUT",
                "OTEL_BLRP_MAX_QUEUE_SIZE",
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            ],
        )
    }

    fn from_env_with(mut c: BatchConfig, vars: [&'static str; 4]) -> Self {
        if let Some(d) = millis_or_report(vars[0]) {
            c.scheduled_delay = d;
        }
        if let Some(d) = millis_or_report(vars[1]) {
            // The specification: a zero timeout means no limit.
            c.export_timeout = if d.is_zero() { MAX_DURATION } else { d };
        }
        // Sizes must be positive: 0 is reported and ignored, as a malformed value is.
        let size = |name: &'static str| match u64_or_report(name) {
            Some(0) => {
                crate::diagnostics::report(&format!(
                    "{name}=0: must be positive; using the default"
                ));
                None
            }
            n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        };
        if let Some(q) = size(vars[2]) {
            c.max_queue_size = q;
        }
        if let Some(b) = size(vars[3]) {
            c.max_export_batch_size = b;
        }
        c.normalized()
    }

    /// Enforces the specification's rule that the batch size is at most the queue size, and
    /// that neither is zero. Absurd values (a queue over [`MAX_QUEUE_SIZE`], durations over
    /// [`MAX_DURATION`]) are clamped and reported: the queue is allocated up front, and
    /// deadlines computed from the durations must not overflow.
    pub(crate) fn normalized(mut self) -> Self {
        if self.max_queue_size > MAX_QUEUE_SIZE {
            crate::diagnostics::report(&format!(
                "batch processor: max queue size {} is too large; using {MAX_QUEUE_SIZE}",
                self.max_queue_size
            ));
            self.max_queue_size = MAX_QUEUE_SIZE;
        }
        // At least a millisecond: a zero delay would have the idle export thread spin.
        self.scheduled_delay = self.scheduled_delay.clamp(MIN_DELAY, MAX_DURATION);
        self.export_timeout = self.export_timeout.min(MAX_DURATION);
        self.max_queue_size = self.max_queue_size.max(1);
        if self.max_export_batch_size > self.max_queue_size {
            crate::diagnostics::report(&format!(
                "batch processor: max export batch size {} is larger than the queue ({}); \
                 using {}",
                self.max_export_batch_size, self.max_queue_size, self.max_queue_size
            ));
        }
        self.max_export_batch_size = self.max_export_batch_size.clamp(1, self.max_queue_size);
        self
    }
}
