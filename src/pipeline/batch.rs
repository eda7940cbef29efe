//! The generic batch pipeline: per-thread lock-free rings + one export thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use crossbeam_utils::CachePadded;
use rtrb::Producer;

use super::control::{self, Control, ControlTx, WakeThreshold};
use super::cpu;
use super::ring::{new_ring, Budget, PipelineItem, Pushed, RingMeta, RingReader};
use super::worker::Worker;
use crate::diagnostics;
use crate::error::{SdkError, SdkResult};
use crate::pipeline::pool::Part;
use crate::pipeline::BatchConfig;
use crate::resource::Resource;

/// What a batch pipeline exports to: implemented by the span and log adapters around their
/// exporters.
pub(crate) trait BatchExport<T>: Send + 'static {
    fn export(&mut self, batch: &[T]) -> SdkResult;
    /// Items of earlier `export` calls the exporter still holds (encoded, waiting to be sent
    /// or in flight); the pipeline counts them against its queue size.
    fn held(&mut self) -> usize {
        0
    }
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Takes the exported items back (for reuse); the default drops them. `parts` says which
    /// thread pushed which items (see [`Part`]), in order.
    fn recycle(&mut self, batch: &mut Vec<T>, _parts: &[Part]) {
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

/// The longest [`BatchPipeline::new`] waits for its export thread to start running.
const STARTUP_WAIT: Duration = Duration::from_secs(1);

/// A producer moved the export thread to its CPU (see [`BatchPipeline::pull_worker`]).
pub(super) struct Pull {
    /// The export thread's kernel thread id while it runs; `0` before it starts and once it
    /// is about to exit (a thread id is reused after its thread exits, so it must never be
    /// moved after that).
    pub(super) tid: i32,
    /// The CPUs the export thread could run on before it was moved, restored when it
    /// runs; `Some` while a move is in force.
    pub(super) from: Option<cpu::Affinity>,
    /// The export thread's exported and failed count when it was moved.
    mark: u64,
    /// The CPU it was moved to.
    cpu: i32,
}

/// What producers and the export thread share.
pub(super) struct Shared<T> {
    /// Identifies the pipeline in the threads' ring lists.
    id: u64,
    pub(super) budget: Arc<Budget>,
    pub(super) batch_size: usize,
    /// How many queued items wake the sleeping export thread.
    pub(super) wake_at: WakeThreshold,
    pub(super) wake_pending: CachePadded<AtomicBool>,
    /// The CPU the export thread last ran on (`-1` before it runs, or where unknown).
    pub(super) worker_cpu: CachePadded<AtomicI32>,
    /// Set while a producer's move of the export thread is in force (`Pull::from` is
    /// `Some`): the export thread reads this without the lock, and restores its CPUs.
    pub(super) pulled: AtomicBool,
    /// The move in force, if any. Producers only try the lock (a move is never worth a
    /// wait); the export thread restores its CPUs under it, so a producer never saves the
    /// CPUs of a thread that is still pinned.
    pub(super) pull: Mutex<Pull>,
    /// Set when a ring was registered and the worker has not taken it over yet.
    pub(super) has_new: AtomicBool,
    registry: Mutex<Registry<T>>,
    pub(super) dropped: CachePadded<AtomicU64>,
    pub(super) exported: AtomicU64,
    pub(super) failed: AtomicU64,
    shut_down: AtomicBool,
}

/// The rings, for the worker (new ones) and for `stats` (their counts).
pub(super) struct Registry<T> {
    /// Rings registered since the worker last looked.
    pub(super) incoming: Vec<RingReader<T>>,
    /// The push counter of every ring still alive.
    pub(super) metas: Vec<Arc<RingMeta>>,
    /// Pushes of the rings retired after their thread exited.
    pub(super) retired_pushed: u64,
    /// The rings the worker held when it exited.
    pub(super) orphans: Vec<RingReader<T>>,
    /// The worker exited: whatever is still in a ring will never be exported.
    pub(super) worker_done: bool,
}

impl<T> Shared<T> {
    pub(super) fn registry(&self) -> MutexGuard<'_, Registry<T>> {
        // Nothing panics while holding the lock; a poisoned lock still holds valid data.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The producer side of a batch pipeline; owns the worker thread.
pub(crate) struct BatchPipeline<T: PipelineItem> {
    shared: Arc<Shared<T>>,
    control: ControlTx,
    worker: Mutex<Option<JoinHandle<()>>>,
    config: BatchConfig,
    name: &'static str,
}

impl<T: PipelineItem> BatchPipeline<T> {
    /// Starts the export thread `thread_name`. If the thread cannot be spawned, the pipeline
    /// still exists but drops (and counts) everything, and the failure is reported.
    pub(crate) fn new<E: BatchExport<T>>(
        exporter: E,
        config: BatchConfig,
        thread_name: &'static str,
    ) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let config = config.normalized();
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            budget: Arc::new(Budget::new(config.max_queue_size)),
            batch_size: config.max_export_batch_size,
            wake_at: WakeThreshold::new(&config),
            wake_pending: CachePadded::new(AtomicBool::new(false)),
            worker_cpu: CachePadded::new(AtomicI32::new(-1)),
            pulled: AtomicBool::new(false),
            pull: Mutex::new(Pull {
                tid: 0,
                from: None,
                mark: 0,
                cpu: -1,
            }),
            has_new: AtomicBool::new(false),
            registry: Mutex::new(Registry {
                incoming: Vec::new(),
                metas: Vec::new(),
                retired_pushed: 0,
                orphans: Vec::new(),
                worker_done: false,
            }),
            dropped: CachePadded::new(AtomicU64::new(0)),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            shut_down: AtomicBool::new(false),
        });
        let (tx, rx) = control::channel();
        let worker_shared = Arc::clone(&shared);
        let delay = config.scheduled_delay;
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || Worker::new(worker_shared, rx, exporter, delay).run(ready_tx));
        let worker = match spawned {
            Ok(h) => {
                // Returns once the export thread runs (at most a second). A new thread may
                // otherwise wait for this thread's time slice to end, milliseconds during
                // which a busy producer fills the queue; and until it runs, producers can
                // neither see nor move it.
                let _ = ready_rx.recv_timeout(STARTUP_WAIT);
                Some(h)
            }
            Err(e) => {
                diagnostics::report(&format!(
                    "{thread_name}: cannot start the export thread ({e}); telemetry will be dropped"
                ));
                shared.shut_down.store(true, Ordering::Release);
                shared.registry().worker_done = true;
                None
            }
        };
        let worker_thread = worker.as_ref().map(|h| h.thread().clone());
        BatchPipeline {
            shared,
            control: ControlTx::new(tx, worker_thread),
            worker: Mutex::new(worker),
            config,
            name: thread_name,
        }
    }

    /// Hands one item to the export thread through this thread's ring. Never blocks: a full
    /// queue (or a shut-down pipeline) drops the item and counts it. A thread that shares its
    /// CPU with the export thread yields to it when a batch is ready (see
    /// [`BatchPipeline::shares_cpu_with_worker`]); while the queue is full, it lets the
    /// export thread make room every few dozen refused items ([`BatchPipeline::relieve`]).
    /// It never waits.
    #[inline]
    pub(crate) fn push(&self, item: T) {
        let s = &*self.shared;
        if s.shut_down.load(Ordering::Relaxed) {
            s.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let pushed = T::with_rings(|rings| {
            rings.push(
                s.id,
                &s.budget,
                item,
                |capacity| self.register(capacity),
                || self.relieve(),
            )
        });
        match pushed {
            Some(Pushed::Queued { used: None }) => {}
            Some(Pushed::Queued { used: Some(used) }) => {
                // This thread's ring, or the other threads' rings together (they may hold a
                // batch between them, none a whole one: more threads than the queue has
                // batches would otherwise fill it first). Not counting this thread's own
                // items with theirs when the threshold is a batch: with two producers, each
                // would otherwise wake the export thread as soon as the two rings together
                // held a batch, twice as often as their own full rings do (~8 % of
                // span_attrs_2threads in the VM's slow phases). At half the queue, all rings
                // count: that threshold is about the room left.
                let at = s.wake_at.get();
                let others = s.budget.in_rings().saturating_sub(used);
                let ready = if s.wake_at.is_calm(at) {
                    used + others
                } else {
                    used.max(others)
                };
                if ready >= at {
                    let woke = self.wake_if_asleep();
                    if !self.yield_for_batch()
                        && !woke
                        && s.wake_at.is_calm(at)
                        && ready >= at + s.batch_size
                    {
                        // Producers on every CPU, the export thread woken earlier, and a
                        // batch more queued since: the kernel may have put it on this CPU,
                        // where it waits for this thread's time slice to end. Yielding right
                        // after each wake-up instead cost a system call per round for
                        // nothing (the woken thread is usually queued on the other CPU):
                        // ~2.5 % slower in the VM's fast phases, though ~6 % faster in its
                        // slow ones, and it dropped spans where this drops none
                        // (span_attrs_2threads; benches/PERFORMANCE.md).
                        std::thread::yield_now();
                    }
                }
            }
            Some(Pushed::Full(item)) => {
                self.on_full();
                item.discard();
            }
            // The thread's rings are unavailable (it is exiting): the item was dropped.
            None => self.on_full(),
        }
    }

    /// A ring of `capacity` items for the calling thread; the worker takes its reading end
    /// over.
    #[cold]
    fn register(&self, capacity: usize) -> (Producer<T>, Arc<RingMeta>) {
        let (producer, meta, reader) = new_ring(capacity, super::pool::thread_tag());
        {
            let mut reg = self.shared.registry();
            reg.metas.push(Arc::clone(&meta));
            reg.incoming.push(reader);
        }
        self.shared.has_new.store(true, Ordering::Release);
        (producer, meta)
    }

    /// Whether the export thread last ran on the CPU this thread runs on. The scheduler puts
    /// the two on one CPU at times (when the export thread is woken, or to balance load), and
    /// may leave them there for tens of milliseconds even with another CPU idle. There, a
    /// producer runs whole time slices (milliseconds) while the export thread waits for the
    /// CPU and the queue fills in microseconds, so nearly everything is dropped until they
    /// part. A producer in that position yields (see [`BatchPipeline::push`] and
    /// [`BatchPipeline::relieve`]): yielding returns at once when no other thread waits for
    /// the CPU, and otherwise lets the export thread empty the queue.
    #[inline]
    fn shares_cpu_with_worker(&self) -> bool {
        let worker = self.shared.worker_cpu.load(Ordering::Relaxed);
        worker >= 0 && cpu::current() == worker
    }

    /// A batch is ready: if the export thread shares this CPU, lets it take the batch now
    /// rather than when the queue is full. Only if it has exported something since this
    /// thread last yielded to it: an export thread held up in a slow export gets one yield
    /// from each producer, not one every few dozen items.
    #[cold]
    fn yield_for_batch(&self) -> bool {
        thread_local! {
            /// The pipeline this thread last yielded to, and its export count then.
            static LAST: Cell<(u64, u64)> = const { Cell::new((0, u64::MAX)) };
        }
        if !self.shares_cpu_with_worker() {
            return false;
        }
        let moved_on = self.progressed_since(&LAST, self.export_count());
        if moved_on {
            std::thread::yield_now();
        }
        moved_on
    }

    /// Items the export thread has exported or failed to export: it made progress when this
    /// changes.
    fn export_count(&self) -> u64 {
        let s = &*self.shared;
        s.exported.load(Ordering::Relaxed) + s.failed.load(Ordering::Relaxed)
    }

    /// Whether `count` (an [`BatchPipeline::export_count`]) differs from the one this thread
    /// recorded in `last` for this pipeline, which it now records.
    fn progressed_since(&self, last: &'static LocalKey<Cell<(u64, u64)>>, count: u64) -> bool {
        let mark = (self.shared.id, count);
        last.try_with(|l| l.replace(mark) != mark).unwrap_or(false)
    }

    /// The queue is full: lets the export thread make room, if this thread can, and returns
    /// `true` if it tried (the push is then tried once more). If the export thread shares
    /// this CPU, wakes it and yields to it, every time: until this thread yields, it runs
    /// only when this thread's time slice ends, milliseconds later. If it is elsewhere, or
    /// has exported nothing since this thread's last try (it may have been moved without
    /// being able to say so), moves it here first.
    #[cold]
    fn relieve(&self) -> bool {
        thread_local! {
            /// The pipeline this thread last tried to relieve, and its export count then.
            static LAST: Cell<(u64, u64)> = const { Cell::new((0, u64::MAX)) };
        }
        // The queue is full of items the exporter holds: the export thread cannot help.
        if self.shared.budget.in_rings() < self.shared.batch_size {
            return false;
        }
        let progress = self.export_count();
        let stalled = !self.progressed_since(&LAST, progress);
        let shares = self.shares_cpu_with_worker();
        // Sharing this CPU and stalled, it may still be moved here (it may have left without
        // saying so); a move it has not yet undone (`pull_worker` then declines) is no
        // reason to keep the CPU from it.
        let moved = (stalled || !shares) && self.pull_worker(progress);
        if !(shares || moved) {
            return false;
        }
        self.wake();
        std::thread::yield_now();
        true
    }

    /// The export thread is on another CPU, or has made no progress: it may be waiting for
    /// a thread of another process to give its CPU up. Moves it to this CPU, so that this
    /// thread's yields hand it the CPU; it gets its CPUs back as soon as it runs
    /// (`Worker::note_cpu`). Returns whether the export thread is now waiting on this CPU.
    #[cold]
    fn pull_worker(&self, progress: u64) -> bool {
        let s = &*self.shared;
        let here = cpu::current();
        if here < 0 {
            return false;
        }
        let Ok(mut pull) = s.pull.try_lock() else {
            return false;
        };
        let tid = pull.tid;
        if tid == 0 {
            return false;
        }
        let fresh = pull.from.is_none();
        if fresh {
            pull.from = cpu::affinity_of(tid);
            if pull.from.is_none() {
                return false;
            }
        } else if pull.mark != progress {
            // Moved before, and it ran since: it is getting its CPUs back.
            return false;
        } else if pull.cpu == here {
            // Moved before, and still waiting for this CPU.
            return true;
        }
        // Otherwise moved to a CPU this thread has left since: moved again, here.
        if !cpu::move_to(tid, here) {
            if fresh {
                // Nothing was moved: nothing to restore.
                pull.from = None;
            }
            return false;
        }
        pull.mark = progress;
        pull.cpu = here;
        s.worker_cpu.store(here, Ordering::Relaxed);
        s.pulled.store(true, Ordering::Release);
        true
    }

    /// A batch is ready: wakes the export thread if it sleeps. Returns whether this call
    /// sent the wake-up.
    ///
    /// No fence orders this thread's pushes before its read of `wake_pending`: one costs a
    /// drain of the store buffer, measured at ~3 % of span_attrs_2threads. So the export
    /// thread, going to sleep just as the last pushes of a batch sit in this thread's store
    /// buffer, may miss them while this thread still reads it awake; it looks once more a
    /// moment later (`Worker::recheck`), and this thread's next check would catch it too.
    #[inline]
    fn wake_if_asleep(&self) -> bool {
        !self.shared.wake_pending.load(Ordering::Relaxed) && self.wake()
    }

    /// Wakes the export thread unless it is awake or already being woken. Returns whether
    /// this call sent the wake-up.
    #[cold]
    fn wake(&self) -> bool {
        if self.shared.wake_pending.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.control.try_send(Control::Wake);
        true
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
        // Only when the rings hold a batch: a queue filled by items the exporter holds (its
        // collector down, say) is emptied by the exporter, not by waking the export thread,
        // which would otherwise poll on every refused item.
        if self.shared.budget.in_rings() >= self.shared.batch_size {
            self.wake();
        }
    }

    /// Passes the provider's resource to the exporter (before any export of items pushed
    /// after this call).
    pub(crate) fn set_resource(&self, resource: &Resource) {
        self.control.send(Control::Resource(resource.clone()));
    }

    /// The counters. Items still in a ring after the export thread exited (pushed by a
    /// thread that raced with `shutdown`) count as dropped, not accepted.
    pub(crate) fn stats(&self) -> PipelineStats {
        let s = &*self.shared;
        let exported = s.exported.load(Ordering::Acquire);
        let failed = s.failed.load(Ordering::Acquire);
        let reg = s.registry();
        // Leftovers first: each was counted in its ring's pushes before it became visible,
        // so the pushes read next include every one of them.
        let leftover: u64 = if reg.worker_done {
            reg.orphans
                .iter()
                .chain(&reg.incoming)
                .map(|r| r.consumer.slots() as u64)
                .sum()
        } else {
            0
        };
        let pushed: u64 = reg.retired_pushed
            + reg
                .metas
                .iter()
                .map(|m| m.pushed.load(Ordering::Acquire))
                .sum::<u64>();
        PipelineStats {
            accepted: pushed.saturating_sub(leftover),
            dropped: s.dropped.load(Ordering::Relaxed) + leftover,
            exported,
            failed,
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

impl<T: PipelineItem> Drop for BatchPipeline<T> {
    /// A processor dropped without `shutdown` still flushes what it accepted.
    fn drop(&mut self) {
        if !self.shared.shut_down.load(Ordering::Acquire) {
            let _ = self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::pipeline_item;

    pipeline_item!(u32);
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

    /// Polls `cond` every 2 ms until it holds, for at most 5 s.
    fn wait_until(mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// `threads` threads push `each` items at once (thread `t`'s item `i` is
    /// `t * 100_000 + i`), pausing `pause` after each push; returns once all are done.
    fn push_from_threads(p: &BatchPipeline<u32>, threads: u32, each: u32, pause: Duration) {
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    for i in 0..each {
                        p.push(t * 100_000 + i);
                        if !pause.is_zero() {
                            std::thread::sleep(pause);
                        }
                    }
                });
            }
        });
    }

    /// One thread per CPU (at least two) pushes an item every 100 us until `done` (or
    /// `wait_until`'s limit): as many producers as CPUs, so the export thread sleeps
    /// between batches.
    fn push_on_every_cpu_until(p: &BatchPipeline<u32>, done: impl FnMut() -> bool) {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..threads as u32 {
                let stop = &stop;
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        p.push(t);
                        std::thread::sleep(Duration::from_micros(100));
                    }
                });
            }
            wait_until(done);
            stop.store(true, Ordering::Relaxed);
        });
    }

    fn cfg(q: usize, b: usize) -> BatchConfig {
        BatchConfig {
            max_queue_size: q,
            max_export_batch_size: b,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(5),
        }
    }

    /// Keeps the calling thread on the CPU it runs on, and returns that CPU.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn pin_here() -> i32 {
        let cpu = cpu::current();
        // SAFETY: `set` is a plain bit set, zeroed then filled by the libc macro, and passed
        // by pointer with its size to `sched_setaffinity`, which only reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut set);
            assert_eq!(
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
                0
            );
        }
        cpu
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_producer_yields_for_a_batch_only_after_the_export_thread_made_progress() {
        let p = BatchPipeline::new(Count::default(), cfg(100, 10), "test-bsp");
        // This thread stays on its CPU, and the export thread (asleep: nothing was pushed)
        // is said to have last run there.
        let cpu = pin_here();
        p.shared.worker_cpu.store(cpu, Ordering::Relaxed);
        assert!(p.shares_cpu_with_worker());
        assert!(p.yield_for_batch());
        assert!(
            !p.yield_for_batch(),
            "nothing exported since the last yield"
        );
        p.shared.exported.fetch_add(10, Ordering::Relaxed);
        assert!(p.yield_for_batch());
        p.shared.failed.fetch_add(10, Ordering::Relaxed);
        assert!(p.yield_for_batch(), "a failed export is progress too");
        // On another CPU, never.
        p.shared.worker_cpu.store(cpu + 1, Ordering::Relaxed);
        p.shared.exported.fetch_add(10, Ordering::Relaxed);
        assert!(!p.shares_cpu_with_worker() && !p.yield_for_batch());
        p.shared.worker_cpu.store(-1, Ordering::Relaxed);
        assert!(!p.yield_for_batch());
        p.shutdown().unwrap();
    }

    /// Blocks in every export until `.0` is set, so that the queue fills behind it.
    #[derive(Clone, Default)]
    struct Gate(Arc<AtomicBool>);

    impl BatchExport<u32> for Gate {
        fn export(&mut self, _: &[u32]) -> SdkResult {
            while !self.0.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        }
    }

    /// Seen in a trace of span_basic (2026-11-27): the producer had moved the export thread
    /// to its CPU, the export thread had exported since without yet getting its CPUs back,
    /// and then waited for that CPU. The producer's next tries found it stalled, a move
    /// already in force (`pull_worker` declines), and did not yield: it kept the CPU for
    /// its whole time slice (2.3 ms) and dropped ~46 000 spans.
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_producer_sharing_its_cpu_yields_to_a_stalled_export_thread_even_after_a_move() {
        let gate = Gate::default();
        let p = BatchPipeline::new(gate.clone(), cfg(100, 10), "test-bsp");
        let cpu = pin_here();
        // The export thread takes a batch and blocks in its export; the rest fills the queue.
        for i in 0..200 {
            p.push(i);
        }
        wait_until(|| p.shared.budget.in_rings() >= 64);
        assert!(p.shared.budget.in_rings() >= p.shared.batch_size);
        p.shared.worker_cpu.store(cpu, Ordering::Relaxed);
        let progress = p.export_count();
        {
            let mut pull = p.shared.pull.lock().unwrap();
            pull.from = cpu::affinity_of(pull.tid);
            assert!(pull.from.is_some());
            pull.mark = progress.wrapping_add(1);
            pull.cpu = cpu;
        }
        assert!(p.relieve(), "the first try yields");
        assert!(!p.pull_worker(progress), "a move in force, not undone");
        assert!(
            p.relieve(),
            "stalled, with a move in force, and on this CPU: it still yields"
        );
        // Elsewhere, with the move in force, nothing to do.
        p.shared.worker_cpu.store(cpu + 1, Ordering::Relaxed);
        assert!(!p.relieve());
        p.shared.pull.lock().unwrap().from = None;
        gate.0.store(true, Ordering::SeqCst);
        p.shutdown().unwrap();
    }

    /// Counts what it exports, taking its time (`.1`) over each batch.
    #[derive(Clone)]
    struct Slow(Arc<AtomicUsize>, Duration);

    impl BatchExport<u32> for Slow {
        fn export(&mut self, batch: &[u32]) -> SdkResult {
            std::thread::sleep(self.1);
            self.0.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_flush_is_answered_while_another_thread_keeps_the_queue_full() {
        // The exporter is slower than the producer, so the queue is never short of a full
        // batch, and what a flush finds queued is refilled while it exports: the export
        // thread must read the request between batches, the flush must stop at what was
        // accepted before it, and exports must go on after it.
        let e = Slow(Arc::default(), Duration::from_millis(1));
        let p = BatchPipeline::new(e.clone(), cfg(256, 16), "test-bsp");
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    p.push(1);
                }
            });
            wait_until(|| e.0.load(Ordering::SeqCst) > 1_000);
            let accepted = p.stats().accepted;
            let flushed = p.force_flush();
            let exported = p.stats().exported;
            // Then it goes on exporting full batches.
            let after = e.0.load(Ordering::SeqCst);
            wait_until(|| e.0.load(Ordering::SeqCst) > after + 1_000);
            let later = e.0.load(Ordering::SeqCst);
            // And shutdown does not wait for the producer either.
            let closed = p.shutdown();
            stop.store(true, Ordering::Relaxed);
            assert_eq!(flushed, Ok(()));
            assert!(
                exported >= accepted,
                "{exported} exported, {accepted} accepted"
            );
            assert!(
                later > after + 1_000,
                "{} exported after the flush",
                later - after
            );
            assert_eq!(closed, Ok(()));
            assert!(p.stats().dropped > 0, "the queue was full");
        });
        let st = p.stats();
        assert_eq!(st.accepted, st.exported, "{st:?}");
    }

    #[test]
    fn one_wake_up_is_sent_until_the_export_thread_sleeps_again() {
        let p = BatchPipeline::new(Count::default(), cfg(100, 10), "test-bsp");
        // Asleep, nothing queued: the first call wakes it, the next ones see it pending.
        wait_until(|| !p.shared.wake_pending.load(Ordering::SeqCst));
        assert!(p.wake(), "the first wake-up is sent");
        assert!(!p.wake() && !p.wake(), "then it is pending");
        // It wakes, finds nothing to export and goes back to sleep, ready for the next.
        wait_until(|| !p.shared.wake_pending.load(Ordering::SeqCst));
        assert!(p.wake());
        p.shutdown().unwrap();
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn the_export_thread_can_be_moved_only_while_it_runs() {
        let p = BatchPipeline::new(Count::default(), cfg(100, 10), "test-bsp");
        let tid = || p.shared.pull.lock().unwrap().tid;
        // `new` returned once the export thread ran: producers can see it from the first
        // push, and move it if it is stuck behind them.
        assert_ne!(tid(), 0, "the export thread has run");
        assert!(p.shared.worker_cpu.load(Ordering::Relaxed) >= 0);
        assert_ne!(tid(), cpu::thread_id(), "the export thread's id, not ours");
        p.shutdown().unwrap();
        // Its id may be given to another thread once it exits.
        assert_eq!(tid(), 0);
        assert!(!p.pull_worker(0));
    }

    /// A batch handed back: its items, and which thread pushed which.
    type Returned = (Vec<u32>, Vec<Part>);

    /// Records, for each batch it is handed back, which thread pushed which of its items.
    #[derive(Clone, Default)]
    struct FilledBy(Arc<Mutex<Vec<Returned>>>);

    impl BatchExport<u32> for FilledBy {
        fn export(&mut self, _: &[u32]) -> SdkResult {
            Ok(())
        }
        fn recycle(&mut self, batch: &mut Vec<u32>, parts: &[Part]) {
            self.0.lock().unwrap().push((batch.clone(), parts.to_vec()));
            batch.clear();
        }
    }

    #[test]
    fn a_batch_goes_back_with_the_part_each_thread_pushed() {
        let seen = FilledBy::default();
        let p = BatchPipeline::new(seen.clone(), cfg(100, 10), "test-bsp");
        let push = |n: u32| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..n {
                        p.push(i);
                    }
                    crate::pipeline::pool::thread_tag()
                })
                .join()
                .unwrap()
            })
        };
        // Two threads, one after the other: 7 items from `a` (0..7), then 3 from `b` (0..3).
        let a = push(7);
        let b = push(3);
        assert_ne!(a, b, "threads have distinct tags");
        assert_ne!(a, 0);
        p.force_flush().unwrap();
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 1, "one batch");
        let (items, parts) = &seen[0];
        // The rings are read in turn, from either one first.
        let (first, second) = if parts[0].thread == a {
            ((a, 7), (b, 3))
        } else {
            ((b, 3), (a, 7))
        };
        assert_eq!(
            parts,
            &[
                Part {
                    thread: first.0,
                    end: first.1
                },
                Part {
                    thread: second.0,
                    end: 10
                }
            ]
        );
        // Each thread pushed 0, 1, 2, ...
        let pushed = |n: usize| (0..n as u32).collect::<Vec<_>>();
        assert_eq!(items[..first.1], pushed(first.1));
        assert_eq!(items[first.1..], pushed(second.1));
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
        let n = Arc::new(AtomicUsize::new(0));
        let p = BatchPipeline::new(
            Slow(n.clone(), Duration::from_millis(50)),
            cfg(8, 4),
            "test-bsp",
        );
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
        wait_until(|| c.0.load(Ordering::SeqCst) != 0);
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
        wait_until(|| p.stats().failed != 0);
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

    #[test]
    fn short_lived_threads_are_flushed_and_their_rings_retired() {
        let c = Count::default();
        let mut conf = cfg(1 << 12, 64);
        conf.scheduled_delay = Duration::from_millis(10);
        let p = BatchPipeline::new(c.clone(), conf, "test-bsp");
        push_from_threads(&p, 40, 100, Duration::ZERO);
        p.force_flush().unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 4000);
        // The timer's drain retires the rings of the exited threads, keeping their counts.
        wait_until(|| p.shared.registry().metas.is_empty());
        let reg = p.shared.registry();
        assert!(reg.metas.is_empty(), "{} rings left", reg.metas.len());
        assert_eq!(reg.retired_pushed, 4000);
        drop(reg);
        let st = p.stats();
        assert_eq!((st.accepted, st.dropped, st.exported), (4000, 0, 4000));
    }

    #[test]
    fn the_queue_size_bounds_all_threads_together() {
        // A stuck exporter: nothing leaves the rings, so what is accepted is what the shared
        // budget lets in (plus at most 31 unreported pushes per thread).
        let release = Arc::new(AtomicBool::new(false));
        let p = BatchPipeline::new(Gate(release.clone()), cfg(256, 64), "test-bsp");
        push_from_threads(&p, 4, 10_000, Duration::ZERO);
        let st = p.stats();
        assert_eq!(st.accepted + st.dropped, 40_000);
        // 256 queued, one batch of 64 possibly taken by the (stuck) worker, slack 4 x 31.
        assert!(st.accepted <= 256 + 64 + 4 * 31, "{st:?}");
        release.store(true, Ordering::SeqCst);
        p.shutdown().unwrap();
        let st = p.stats();
        assert_eq!(st.exported, st.accepted, "{st:?}");
    }

    /// An exporter that returns at once but keeps what it was given until told to let go,
    /// like the OTLP exporter with requests in flight. It counts the items it got and how
    /// often the worker asked what it holds.
    #[derive(Clone, Default)]
    struct Holding {
        held: Arc<AtomicUsize>,
        got: Arc<AtomicUsize>,
        looks: Arc<AtomicUsize>,
    }

    impl BatchExport<u32> for Holding {
        fn export(&mut self, batch: &[u32]) -> SdkResult {
            self.held.fetch_add(batch.len(), Ordering::SeqCst);
            self.got.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
        fn held(&mut self) -> usize {
            self.looks.fetch_add(1, Ordering::SeqCst);
            self.held.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn items_the_exporter_still_holds_count_against_the_queue() {
        let h = Holding::default();
        let mut conf = cfg(8, 4);
        conf.scheduled_delay = Duration::from_millis(5);
        let p = BatchPipeline::new(h.clone(), conf, "test-bsp");
        for i in 0..100 {
            p.push(i);
            std::thread::sleep(Duration::from_millis(1));
        }
        let st = p.stats();
        assert_eq!(st.accepted + st.dropped, 100);
        // 8, plus at most one batch taken in the moment before it is counted as held.
        assert!((8..=12).contains(&st.accepted), "{st:?}");
        assert_eq!(h.got.load(Ordering::SeqCst) as u64, st.accepted);
        // The exporter lets go: the sleeping worker notices and the queue has room again.
        h.held.store(0, Ordering::SeqCst);
        wait_until(|| {
            p.push(1000);
            p.stats().accepted > st.accepted
        });
        assert!(p.stats().accepted > st.accepted, "{:?}", p.stats());
        p.shutdown().unwrap();
        let end = p.stats();
        assert_eq!(h.got.load(Ordering::SeqCst) as u64, end.accepted);
    }

    #[test]
    fn a_worker_waiting_on_held_items_backs_off() {
        // An exporter that never lets go, as while a collector is down and requests retry:
        // the sleeping worker keeps looking, but less and less often (up to every 64 ms).
        let e = Holding::default();
        let p = BatchPipeline::new(e.clone(), cfg(64, 4), "test-bsp");
        for i in 0..32 {
            p.push(i); // the 32nd push wakes the worker, which exports everything
        }
        wait_until(|| e.held.load(Ordering::SeqCst) >= 32);
        assert_eq!(e.held.load(Ordering::SeqCst), 32);
        std::thread::sleep(Duration::from_millis(200));
        let before = e.looks.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(500));
        let looks = e.looks.load(Ordering::SeqCst) - before;
        // Every 64 ms by now: about 8 looks in 500 ms (every 1 ms would be about 500).
        assert!((1..=40).contains(&looks), "{looks} looks in 500 ms");
        e.held.store(0, Ordering::SeqCst);
        p.shutdown().unwrap();
    }

    #[test]
    fn items_pushed_after_the_worker_exited_count_as_dropped() {
        let c = Count::default();
        let p = BatchPipeline::new(c.clone(), cfg(100, 10), "test-bsp");
        p.push(1);
        // The worker's last drain happens, then a producer that passed the shut-down check
        // just before still lands an item in its ring: simulate by stopping the worker first.
        let (tx, rx) = crossbeam_channel::bounded(1);
        assert!(p.control.try_send(Control::Shutdown(tx)));
        rx.recv().unwrap().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| p.push(2)); // a new thread: its ring arrives after the worker left
        });
        p.push(3); // this thread's ring was handed back by the exiting worker
        let st = p.stats();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert_eq!((st.accepted, st.dropped, st.exported), (1, 2, 1), "{st:?}");
        assert!(p.shutdown().is_err(), "the worker is gone");
    }

    #[test]
    fn threads_that_each_hold_less_than_a_batch_still_get_it_exported() {
        // Eight threads trickle items in: no thread's ring ever holds a batch, but together
        // they hold several. The export thread (asleep on a machine with fewer CPUs than
        // producers) must be woken for them, not left for the timer or a full queue.
        let c = Count::default();
        let p = BatchPipeline::new(c.clone(), cfg(2048, 512), "test-bsp");
        push_from_threads(&p, 8, 300, Duration::from_millis(1));
        // 2400 items. Fewer than half the queue (the most that producers let wait) plus 8 x
        // 31 not yet reported to the shared count may still wait: at least 1129 are due.
        wait_until(|| c.0.load(Ordering::SeqCst) >= 1024);
        let st = p.stats();
        assert!(
            st.exported >= 1024,
            "{st:?}, batches {:?}",
            c.1.lock().unwrap()
        );
        assert_eq!(st.dropped, 0, "{st:?}");
        p.shutdown().unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 2400);
    }

    #[test]
    fn threads_that_exit_do_not_loosen_the_queue_bound() {
        // Each short-lived thread leaves its last pushes (fewer than 32) unreported to the
        // shared count, which the export thread still counts off when it takes them: unless
        // they are reported when the thread exits, the count drifts lower with each thread,
        // and the queue is bounded no more.
        let release = Arc::new(AtomicBool::new(true));
        #[derive(Clone)]
        struct Gate(Arc<AtomicBool>, Arc<AtomicUsize>);
        impl BatchExport<u32> for Gate {
            fn export(&mut self, batch: &[u32]) -> SdkResult {
                while !self.0.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                self.1.fetch_add(batch.len(), Ordering::SeqCst);
                Ok(())
            }
        }
        let e = Gate(release.clone(), Arc::default());
        let p = BatchPipeline::new(e.clone(), cfg(256, 64), "test-bsp");
        for t in 0..500 {
            std::thread::scope(|s| {
                s.spawn(|| p.push(t));
            });
        }
        p.force_flush().unwrap();
        assert_eq!(e.1.load(Ordering::SeqCst), 500);
        assert_eq!(p.shared.budget.queued(), 0, "nothing is queued");
        // Now the exporter is stuck: the bound holds as for threads that never exited.
        release.store(false, Ordering::SeqCst);
        let before = p.stats().accepted;
        push_from_threads(&p, 4, 10_000, Duration::ZERO);
        let accepted = p.stats().accepted - before;
        // 256 queued, one batch of 64 possibly taken by the (stuck) worker, slack 4 x 31.
        assert!(accepted <= 256 + 64 + 4 * 31, "{accepted} accepted");
        release.store(true, Ordering::SeqCst);
        p.shutdown().unwrap();
    }

    #[test]
    fn rings_of_exited_threads_are_let_go_while_the_queue_stays_busy() {
        // Two threads keep a full batch always queued, so the export thread never sleeps
        // and its timer never fires, while short-lived threads come and go.
        let e = Slow(Arc::default(), Duration::from_micros(200));
        let p = BatchPipeline::new(e.clone(), cfg(2048, 64), "test-bsp");
        let stop = AtomicBool::new(false);
        let left = std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        p.push(1);
                        std::hint::spin_loop();
                    }
                });
            }
            for _ in 0..300 {
                std::thread::scope(|s2| {
                    s2.spawn(|| (0..10).for_each(|i| p.push(i)));
                });
            }
            // Each exited thread's ring goes once the worker has emptied it.
            wait_until(|| p.shared.registry().metas.len() <= 10);
            let left = p.shared.registry().metas.len();
            stop.store(true, Ordering::Relaxed);
            left
        });
        assert!(left <= 10, "{left} rings still registered");
        p.shutdown().unwrap();
    }

    #[test]
    fn a_panicking_exporter_hook_fails_the_call_and_keeps_the_counts() {
        struct Panicky;
        impl BatchExport<u32> for Panicky {
            fn export(&mut self, _b: &[u32]) -> SdkResult {
                Ok(())
            }
            fn held(&mut self) -> usize {
                panic!("held")
            }
            fn set_resource(&mut self, _r: &Resource) {
                panic!("set_resource")
            }
            fn force_flush(&mut self) -> SdkResult {
                panic!("force_flush")
            }
            fn shutdown(&mut self) -> SdkResult {
                panic!("shutdown")
            }
        }
        let p = BatchPipeline::new(Panicky, cfg(100, 10), "test-bsp");
        p.set_resource(&Resource::empty());
        (0..5).for_each(|i| p.push(i));
        let flushed = p.force_flush();
        assert!(
            matches!(&flushed, Err(SdkError::Failed(m)) if m.contains("force_flush panicked")),
            "{flushed:?}"
        );
        // The export thread lives on.
        (0..5).for_each(|i| p.push(i));
        assert!(p.force_flush().is_err());
        let st = p.stats();
        assert_eq!((st.accepted, st.exported), (10, 10), "{st:?}");
        let closed = p.shutdown();
        assert!(
            matches!(&closed, Err(SdkError::Failed(m)) if m.contains("shutdown panicked")),
            "{closed:?}"
        );
        let st = p.stats();
        assert_eq!(st.accepted, st.exported + st.failed + st.dropped, "{st:?}");
        assert_eq!(
            p.shared.pull.lock().unwrap().tid,
            0,
            "the exited thread's id is cleared"
        );
        assert!(p.shared.registry().worker_done);
    }

    #[test]
    fn threads_that_push_a_few_items_each_and_exit_still_fill_batches() {
        // A thread per request, each pushing fewer items than a producer reports at once:
        // their items reach the shared count only when they exit, and the next thread's
        // first push must see the batch they left.
        let c = Count::default();
        let p = BatchPipeline::new(c.clone(), cfg(2048, 512), "test-bsp");
        for t in 0..120u32 {
            std::thread::scope(|s| {
                s.spawn(|| (0..20).for_each(|i| p.push(t * 100 + i)));
            });
        }
        // 2400 items: fewer than half the queue may still wait, so at least 1377 are due.
        wait_until(|| c.0.load(Ordering::SeqCst) >= 1024);
        let st = p.stats();
        assert!(st.exported >= 1024, "{st:?}");
        assert_eq!(st.dropped, 0);
        p.shutdown().unwrap();
    }

    /// Keeps the last `keep` batches it was given, like an exporter with requests in flight,
    /// and lets go of older ones.
    #[derive(Clone)]
    struct InFlight {
        keep: usize,
        batches: Arc<Mutex<std::collections::VecDeque<usize>>>,
        got: Arc<AtomicUsize>,
    }

    impl BatchExport<u32> for InFlight {
        fn export(&mut self, batch: &[u32]) -> SdkResult {
            let mut b = self.batches.lock().unwrap();
            b.push_back(batch.len());
            while b.len() > self.keep {
                b.pop_front();
            }
            self.got.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        }
        fn held(&mut self) -> usize {
            self.batches.lock().unwrap().iter().sum()
        }
    }

    #[test]
    fn producers_on_every_cpu_wake_the_export_thread_before_the_room_held_items_leave_fills() {
        // A producer per CPU (as far as the export thread can tell: each pushed lately), so
        // the export thread sleeps between batches and producers wake it. The exporter keeps
        // five batches in flight, more than half the queue: the rings have 768 items of room.
        // Woken at half the queue (1024), it would be woken only by a refused item.
        let e = InFlight {
            keep: 5,
            batches: Arc::default(),
            got: Arc::default(),
        };
        let p = BatchPipeline::new(e.clone(), cfg(2048, 256), "test-bsp");
        push_on_every_cpu_until(&p, || e.got.load(Ordering::SeqCst) >= 40 * 256);
        let st = p.stats();
        assert!(e.got.load(Ordering::SeqCst) >= 40 * 256, "{st:?}");
        assert_eq!(st.dropped, 0, "{st:?}");
        p.shutdown().unwrap();
    }

    #[test]
    fn once_producers_leave_the_cpus_a_batch_wakes_the_export_thread_again() {
        // A producer per CPU (as far as the export thread can tell): it sleeps between
        // batches, woken at half the queue. Then they stop, and one thread pushes more than a
        // batch but less than half the queue: a batch of it is due at once, as when
        // producers never held every CPU, not at the timer (an hour here).
        let c = Count::default();
        let p = BatchPipeline::new(c.clone(), cfg(2048, 256), "test-bsp");
        push_on_every_cpu_until(&p, || c.0.load(Ordering::SeqCst) >= 8 * 256);
        p.force_flush().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let before = c.0.load(Ordering::SeqCst);
        (0..600).for_each(|i| p.push(i));
        // 600 items, up to 31 not yet reported to the shared count: two batches are due.
        wait_until(|| c.0.load(Ordering::SeqCst) >= before + 512);
        let st = p.stats();
        assert!(c.0.load(Ordering::SeqCst) >= before + 512, "{st:?}");
        assert_eq!(st.dropped, 0, "{st:?}");
        p.shutdown().unwrap();
    }

    #[test]
    fn a_full_queue_of_held_items_does_not_keep_the_export_thread_busy() {
        // The collector is down: the exporter holds everything it was given, the queue is
        // full of it, and the application keeps producing. Waking the export thread for
        // each refused item cannot make room; it used to poll all the time (~130 000 looks
        // at the exporter in half a second).
        let h = Holding::default();
        let p = BatchPipeline::new(h.clone(), cfg(256, 64), "test-bsp");
        (0..256).for_each(|i| p.push(i));
        wait_until(|| h.held.load(Ordering::SeqCst) == 256);
        let before = h.looks.load(Ordering::SeqCst);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(500) {
            p.push(1);
            std::thread::sleep(Duration::from_micros(200));
        }
        let looks = h.looks.load(Ordering::SeqCst) - before;
        assert!(p.stats().dropped > 100);
        // The sleeping worker looks at the exporter every 1 to 64 ms (backing off).
        assert!(looks < 1000, "{looks} looks at the exporter in 500 ms");
        h.held.store(0, Ordering::SeqCst);
        p.shutdown().unwrap();
    }

    #[test]
    fn an_exporter_whose_held_panics_is_asked_once() {
        #[derive(Clone, Default)]
        struct PanicHeld(Arc<AtomicUsize>, Arc<AtomicUsize>);
        impl BatchExport<u32> for PanicHeld {
            fn export(&mut self, batch: &[u32]) -> SdkResult {
                self.1.fetch_add(batch.len(), Ordering::SeqCst);
                Ok(())
            }
            fn held(&mut self) -> usize {
                self.0.fetch_add(1, Ordering::SeqCst);
                panic!("held")
            }
        }
        let e = PanicHeld::default();
        let p = BatchPipeline::new(e.clone(), cfg(256, 64), "test-bsp");
        for round in 0..5 {
            (0..64).for_each(|i| p.push(round * 64 + i));
            wait_until(|| e.1.load(Ordering::SeqCst) >= 64 * (round as usize + 1));
        }
        assert_eq!(e.1.load(Ordering::SeqCst), 320, "exports go on");
        assert_eq!(e.0.load(Ordering::SeqCst), 1, "held is not asked again");
        p.shutdown().unwrap();
    }
}
