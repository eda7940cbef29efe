//! The generic batch processor: bounded lock-free queue + one export thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

use crate::diagnostics;
use crate::error::{SdkError, SdkResult};
use crate::pipeline::BatchConfig;
use crate::resource::Resource;

/// What a batch pipeline exports to: implemented by the span and log adapters around their
/// exporters.
pub(crate) trait BatchExport<T>: Send + 'static {
    fn export(&mut self, batch: &[T]) -> SdkResult;
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Takes the exported items back (for reuse); the default drops them.
    fn recycle(&mut self, batch: &mut Vec<T>) {
        batch.clear();
    }
    fn force_flush(&mut self) -> SdkResult {
        Ok(())
    }
    fn shutdown(&mut self) -> SdkResult {
        Ok(())
    }
}

/// Counters of one batch processor, readable at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Items accepted into the queue.
    pub accepted: u64,
    /// Items refused because the queue was full or the processor was shut down.
    pub dropped: u64,
    /// Items in export calls that succeeded.
    pub exported: u64,
    /// Items in export calls that failed.
    pub failed: u64,
}

/// How long the worker polls for the next full batch before going to sleep: a few batch
/// times at full rate (512 spans at ~100 ns), so a steady producer never has to wake it.
const BUSY_POLL: Duration = Duration::from_micros(500);

/// Pauses between two polls of the queue's length while the worker waits for a batch.
const SPINS_PER_POLL: u32 = 64;

/// Producers check whether a batch is ready every this many pushes (per thread).
const WAKE_CHECK: u32 = 32;

thread_local! {
    static PUSHES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[inline]
fn tick_due() -> bool {
    PUSHES
        .try_with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n % WAKE_CHECK == 0
        })
        .unwrap_or(true)
}

enum Control {
    /// The resource of the provider, for the exporter.
    Resource(Resource),
    /// The queue holds at least one full batch.
    Wake,
    /// Export everything queued, then acknowledge.
    Flush(Sender<SdkResult>),
    /// Export everything queued, shut the exporter down, acknowledge and exit.
    Shutdown(Sender<SdkResult>),
}

struct Shared<T> {
    queue: ArrayQueue<T>,
    batch_size: usize,
    wake_pending: CachePadded<AtomicBool>,
    /// Items taken off the queue by the worker (written by the worker only). Items accepted
    /// = popped + still queued, so producers keep no counter of their own.
    popped: CachePadded<AtomicU64>,
    dropped: CachePadded<AtomicU64>,
    exported: AtomicU64,
    failed: AtomicU64,
    shut_down: AtomicBool,
}

/// The producer side of a batch pipeline; owns the worker thread.
pub(crate) struct BatchPipeline<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    control: Sender<Control>,
    worker: Mutex<Option<JoinHandle<()>>>,
    config: BatchConfig,
    name: &'static str,
}

impl<T: Send + 'static> BatchPipeline<T> {
    /// Starts the export thread `thread_name`. If the thread cannot be spawned, the pipeline
    /// still exists but drops (and counts) everything, and the failure is reported.
    pub(crate) fn new<E: BatchExport<T>>(
        exporter: E,
        config: BatchConfig,
        thread_name: &'static str,
    ) -> Self {
        let config = config.normalized();
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(config.max_queue_size),
            batch_size: config.max_export_batch_size,
            wake_pending: CachePadded::new(AtomicBool::new(false)),
            popped: CachePadded::new(AtomicU64::new(0)),
            dropped: CachePadded::new(AtomicU64::new(0)),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            shut_down: AtomicBool::new(false),
        });
        let (tx, rx) = crossbeam_channel::bounded(64);
        let worker_shared = Arc::clone(&shared);
        let delay = config.scheduled_delay;
        let spawned = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || Worker::new(worker_shared, rx, exporter, delay).run());
        let worker = match spawned {
            Ok(h) => Some(h),
            Err(e) => {
                diagnostics::report(&format!(
                    "{thread_name}: cannot start the export thread ({e}); telemetry will be dropped"
                ));
                shared.shut_down.store(true, Ordering::Release);
                None
            }
        };
        BatchPipeline {
            shared,
            control: tx,
            worker: Mutex::new(worker),
            config,
            name: thread_name,
        }
    }

    /// Hands one item to the export thread. Never blocks: a full queue (or a shut-down
    /// pipeline) drops the item and counts it.
    #[inline]
    pub(crate) fn push(&self, item: T) {
        let s = &*self.shared;
        if s.shut_down.load(Ordering::Relaxed) {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match s.queue.push(item) {
            Ok(()) => {
                // Checking the queue length reads both ends of the queue (cache misses), so
                // each thread checks only every WAKE_CHECK pushes.
                // A shutdown that raced with this push may have finished its final drain
                // before the item landed: take back whatever is left and count it.
                if s.shut_down.load(Ordering::SeqCst) {
                    self.drop_leftovers();
                    return;
                }
                if tick_due()
                    && s.queue.len() >= s.batch_size
                    && !s.wake_pending.load(Ordering::Relaxed)
                    && !s.wake_pending.swap(true, Ordering::AcqRel)
                {
                    let _ = self.control.try_send(Control::Wake);
                }
            }
            Err(_item) => self.on_full(),
        }
    }

    /// Counts as dropped every item still queued after the worker's final drain.
    #[cold]
    fn drop_leftovers(&self) {
        while self.shared.queue.pop().is_some() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[cold]
    fn on_full(&self) {
        let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            diagnostics::report(&format!(
                "{}: queue full ({} items), dropping; see PipelineStats::dropped",
                self.name, self.config.max_queue_size
            ));
        }
        if !self.shared.wake_pending.swap(true, Ordering::AcqRel) {
            let _ = self.control.try_send(Control::Wake);
        }
    }

    /// Passes the provider's resource to the exporter (before any export of items pushed
    /// after this call).
    pub(crate) fn set_resource(&self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
    }

    /// The counters.
    pub(crate) fn stats(&self) -> PipelineStats {
        let s = &*self.shared;
        PipelineStats {
            accepted: s.popped.load(Ordering::Acquire) + s.queue.len() as u64,
            dropped: s.dropped.load(Ordering::Relaxed),
            exported: s.exported.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
        }
    }

    /// Exports everything accepted before this call; waits at most the export timeout plus
    /// the time to drain a full queue.
    pub(crate) fn force_flush(&self) -> SdkResult {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(SdkError::AlreadyShutdown);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.request(Control::Flush(tx), rx)
    }

    /// Flushes, shuts the exporter down and joins the thread. Idempotent: later calls return
    /// [`SdkError::AlreadyShutdown`].
    pub(crate) fn shutdown(&self) -> SdkResult {
        if self.shared.shut_down.swap(true, Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let res = self.request(Control::Shutdown(tx), rx);
        let handle = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            if res.is_ok() {
                let _ = h.join();
                // Items pushed by producers that passed the shutdown check just before it
                // was set, after the worker's final drain.
                self.drop_leftovers();
            }
            // On timeout the thread is left to finish on its own rather than blocking here.
        }
        res
    }

    fn request(&self, msg: Control, rx: Receiver<SdkResult>) -> SdkResult {
        let wait = self.flush_budget();
        let deadline = Instant::now() + wait;
        if self.control.send_deadline(msg, deadline).is_err() {
            return Err(SdkError::failed(format!(
                "{}: export thread is gone",
                self.name
            )));
        }
        match rx.recv_deadline(deadline) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(SdkError::Timeout(wait)),
            Err(RecvTimeoutError::Disconnected) => Err(SdkError::failed(format!(
                "{}: export thread is gone",
                self.name
            ))),
        }
    }

    /// A flush may need one export per batch in the queue, each bounded by the export timeout;
    /// in practice exports are much faster, so allow the export timeout plus a margin.
    fn flush_budget(&self) -> Duration {
        self.config.export_timeout + Duration::from_secs(5)
    }
}

impl<T: Send + 'static> Drop for BatchPipeline<T> {
    /// A processor dropped without `shutdown` still flushes what it accepted.
    fn drop(&mut self) {
        if !self.shared.shut_down.load(Ordering::Acquire) {
            let _ = self.shutdown();
        }
    }
}

struct Worker<T, E> {
    shared: Arc<Shared<T>>,
    control: Receiver<Control>,
    exporter: E,
    delay: Duration,
    batch: Vec<T>,
    /// The first export failure since the last flush: reported by the next flush, so that a
    /// flush fails when what it waited for did (even if a busy worker had already exported
    /// those items before reading the flush request).
    failure_since_flush: Option<SdkError>,
}

impl<T: Send + 'static, E: BatchExport<T>> Worker<T, E> {
    fn new(
        shared: Arc<Shared<T>>,
        control: Receiver<Control>,
        exporter: E,
        delay: Duration,
    ) -> Self {
        let cap = shared.batch_size;
        Worker {
            shared,
            control,
            exporter,
            delay,
            batch: Vec::with_capacity(cap),
            failure_since_flush: None,
        }
    }

    fn run(mut self) {
        let mut next_timer = Instant::now() + self.delay;
        loop {
            match self.control.recv_deadline(next_timer) {
                Ok(Control::Wake) => self.run_busy(),
                Ok(Control::Resource(r)) => self.exporter.set_resource(&r),
                Ok(Control::Flush(ack)) => {
                    let _ = self.drain_all();
                    let flushed = self.exporter.force_flush();
                    let res = match self.failure_since_flush.take() {
                        Some(e) => Err(e),
                        None => flushed,
                    };
                    let _ = ack.send(res);
                }
                Ok(Control::Shutdown(ack)) => {
                    // Shutdown reports how its own final export went; older failures were
                    // counted and reported when they happened.
                    self.failure_since_flush = None;
                    let _ = self.drain_all();
                    let closed = self.exporter.shutdown();
                    let res = match self.failure_since_flush.take() {
                        Some(e) => Err(e),
                        None => closed,
                    };
                    let _ = ack.send(res);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.drain_all();
                    next_timer = Instant::now() + self.delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.drain_all();
                    let _ = self.exporter.shutdown();
                    return;
                }
            }
        }
    }

    /// Exports full batches for as long as producers keep filling them. Between batches the
    /// worker spins for up to `BUSY_POLL` instead of sleeping: waking a
    /// sleeping thread costs the producer a syscall and, in a VM, an inter-processor
    /// interrupt, which would otherwise be paid once per batch. While the worker is awake,
    /// `wake_pending` stays set, so producers send nothing.
    fn run_busy(&mut self) {
        let s = Arc::clone(&self.shared);
        loop {
            self.export_full_batches();
            let idle_since = Instant::now();
            while s.queue.len() < s.batch_size {
                // Reading the queue's length reads the line producers write on every push;
                // poll it only every `SPINS_PER_POLL` pauses (about a microsecond) so the
                // waiting worker does not slow the producers down.
                for _ in 0..SPINS_PER_POLL {
                    std::hint::spin_loop();
                }
                if idle_since.elapsed() >= BUSY_POLL {
                    // About to block: let producers wake us again, then re-check so that a
                    // batch completed in between is not left waiting for the timer.
                    s.wake_pending.store(false, Ordering::SeqCst);
                    if s.queue.len() >= s.batch_size && !s.wake_pending.swap(true, Ordering::SeqCst)
                    {
                        break;
                    }
                    return;
                }
            }
        }
    }

    /// Exports while at least one full batch is queued.
    fn export_full_batches(&mut self) {
        while self.shared.queue.len() >= self.shared.batch_size {
            if self.fill_and_export().is_err() {
                // Keep going: a failed batch is counted; the next one may succeed.
            }
        }
    }

    /// Exports everything currently queued, in batches.
    fn drain_all(&mut self) -> SdkResult {
        let mut res = Ok(());
        while !self.shared.queue.is_empty() {
            if let Err(e) = self.fill_and_export() {
                res = Err(e);
            }
        }
        res
    }

    fn fill_and_export(&mut self) -> SdkResult {
        while self.batch.len() < self.shared.batch_size {
            match self.shared.queue.pop() {
                Some(item) => {
                    self.batch.push(item);
                    self.shared.popped.fetch_add(1, Ordering::Release);
                }
                None => break,
            }
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self.batch.len() as u64;
        let exporter = &mut self.exporter;
        let batch = &self.batch;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exporter.export(batch)))
            .unwrap_or_else(|_| Err(SdkError::failed("exporter panicked")));
        match &res {
            Ok(()) => {
                self.shared.exported.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.shared.failed.fetch_add(n, Ordering::Relaxed);
                diagnostics::report(&format!("export of {n} items failed: {e}"));
                if self.failure_since_flush.is_none() {
                    // Not the exporter's `Timeout`: that would read as the flush timing out.
                    self.failure_since_flush = Some(SdkError::failed(format!(
                        "an export of {n} items failed: {e}"
                    )));
                }
            }
        }
        self.exporter.recycle(&mut self.batch);
        self.batch.clear();
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Clone, Default)]
    struct Count(Arc<AtomicUsize>, Arc<Mutex<Vec<usize>>>);

    impl BatchExport<u32> for Count {
        fn export(&mut self, batch: &[u32]) -> SdkResult {
            self.0.fetch_add(batch.len(), Ordering::SeqCst);
            self.1.lock().unwrap().push(batch.len());
            Ok(())
        }
    }

    fn cfg(q: usize, b: usize) -> BatchConfig {
        BatchConfig {
            max_queue_size: q,
            max_export_batch_size: b,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn flush_exports_everything_in_batches() {
        let c = Count::default();
        let p = BatchPipeline::new(c.clone(), cfg(100, 10), "test-bsp");
        for i in 0..95 {
            p.push(i);
        }
        p.force_flush().unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 95);
        assert!(c.1.lock().unwrap().iter().all(|&n| n <= 10));
        let s = p.stats();
        assert_eq!(
            (s.accepted, s.dropped, s.exported, s.failed),
            (95, 0, 95, 0)
        );
        p.shutdown().unwrap();
        assert_eq!(p.shutdown(), Err(SdkError::AlreadyShutdown));
        p.push(1);
        assert_eq!(p.stats().dropped, 1);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        struct Slow(Arc<AtomicUsize>);
        impl BatchExport<u32> for Slow {
            fn export(&mut self, batch: &[u32]) -> SdkResult {
                std::thread::sleep(Duration::from_millis(50));
                self.0.fetch_add(batch.len(), Ordering::SeqCst);
                Ok(())
            }
        }
        let n = Arc::new(AtomicUsize::new(0));
        let p = BatchPipeline::new(Slow(n.clone()), cfg(8, 4), "test-bsp");
        for i in 0..1000 {
            p.push(i);
        }
        p.shutdown().unwrap();
        let s = p.stats();
        assert_eq!(s.accepted + s.dropped, 1000);
        assert!(s.dropped > 0);
        assert_eq!(s.exported, s.accepted);
        assert_eq!(n.load(Ordering::SeqCst) as u64, s.accepted);
    }

    #[test]
    fn timer_exports_partial_batches() {
        let c = Count::default();
        let mut conf = cfg(100, 50);
        conf.scheduled_delay = Duration::from_millis(20);
        let p = BatchPipeline::new(c.clone(), conf, "test-bsp");
        p.push(1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.0.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn flush_reports_a_failure_the_worker_met_before_the_flush() {
        struct Failing;
        impl BatchExport<u32> for Failing {
            fn export(&mut self, _batch: &[u32]) -> SdkResult {
                Err(SdkError::failed("collector down"))
            }
        }
        let mut conf = cfg(100, 10);
        conf.scheduled_delay = Duration::from_millis(10);
        let p = BatchPipeline::new(Failing, conf, "test-bsp");
        p.push(1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.stats().failed == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            p.stats().failed,
            1,
            "the timer exported (and failed) before the flush"
        );
        assert!(matches!(p.force_flush(), Err(SdkError::Failed(_))));
        assert_eq!(p.force_flush(), Ok(()), "reported once");
        p.push(2);
        assert!(matches!(p.shutdown(), Err(SdkError::Failed(_))));
    }

    #[test]
    fn drop_without_shutdown_flushes() {
        let c = Count::default();
        {
            let p = BatchPipeline::new(c.clone(), cfg(100, 50), "test-bsp");
            p.push(1);
            p.push(2);
        }
        assert_eq!(c.0.load(Ordering::SeqCst), 2);
    }
}
