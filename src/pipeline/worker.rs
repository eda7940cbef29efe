//! The export thread of a batch pipeline: reads every producing thread's ring, forms
//! batches and exports them.

use std::sync::atomic::{fence, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::batch::{BatchExport, Shared};
use super::control::{Control, ControlRx, WakePolicy};
use super::pool::Part;
use super::ring::RingReader;
use crate::diagnostics;
use crate::error::{catch_panic, SdkError, SdkResult};
use std::panic::AssertUnwindSafe;

/// How long the worker polls for the next full batch before going to sleep: a few batch
/// times at full rate (512 spans at ~100 ns), so a steady producer never has to wake it.
const BUSY_POLL: Duration = Duration::from_micros(500);

/// Pauses between two polls of the rings while the worker waits for a batch (about a
/// microsecond). Before each poll the worker offers its CPU to other threads.
const SPINS_PER_POLL: u32 = 64;

/// After going to sleep, the worker looks at the rings once more this much later: a batch
/// whose last pushes were still in a producer's store buffer when it looked (producers do
/// not fence; see `BatchPipeline::wake_if_asleep`) is then taken, not left for the timer.
const RECHECK: Duration = Duration::from_millis(1);

/// A producing thread counts as active (for whether the worker may poll) while it pushed
/// within this long: a few scheduler time slices, so that a producer kept off its CPU by
/// the polling worker itself still counts.
const ACTIVE_WINDOW: Duration = Duration::from_millis(10);

/// While the exporter holds items of earlier batches, the sleeping worker looks whether it
/// has let them go, so that their room in the queue is given back promptly: first after
/// `HELD_POLL`, then twice as long each time nothing changed, up to `HELD_POLL_MAX` (a
/// collector that stays slow or down does not cost a wake-up every millisecond).
const HELD_POLL: Duration = Duration::from_millis(1);
const HELD_POLL_MAX: Duration = Duration::from_millis(64);

/// How much [`Worker::drain`] exports.
#[derive(Clone, Copy)]
enum Drain {
    /// What the rings hold when it starts.
    Queued,
    /// Everything, until the rings are empty.
    All,
}

pub(super) struct Worker<T, E> {
    shared: Arc<Shared<T>>,
    control: ControlRx,
    exporter: E,
    delay: Duration,
    batch: Vec<T>,
    /// Which thread pushed which items of `batch`.
    parts: Vec<Part>,
    /// The rings of the producing threads; `start` rotates so every ring is read in turn.
    rings: Vec<RingReader<T>>,
    start: usize,
    /// The first export failure since the last flush: reported by the next flush, so that a
    /// flush fails when what it waited for did (even if a busy worker had already exported
    /// those items before reading the flush request).
    failure_since_flush: Option<SdkError>,
    /// Items the exporter still holds (see [`BatchExport::held`]), counted in the budget.
    charged: usize,
    /// How long the sleeping worker waits before it looks at `charged` again.
    held_poll: Duration,
    /// How many CPUs this process may run on.
    cpus: usize,
    /// Whether this thread, and the threads of the process that created it, may run on one
    /// CPU only: see [`Worker::sleeps_between_batches`].
    one_cpu: bool,
    /// [`Worker::finish`] ran.
    finished: bool,
    /// The exporter's `held` panicked once: it is not called again.
    held_panicked: bool,
    /// Went to sleep: look at the rings once more after [`RECHECK`].
    recheck: bool,
    /// Sets when producers wake this thread.
    wake_policy: WakePolicy,
    /// Asleep between batches, with producers waking this thread at more than a batch:
    /// when to look whether they still occupy every CPU (see [`Worker::review_threshold`]).
    review_at: Option<Instant>,
}

impl<T, E> Drop for Worker<T, E> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<T, E> Worker<T, E> {
    /// Hands the rings back to the pipeline: items pushed after the final drain stay there
    /// and are counted as dropped. Runs once, when the worker is dropped if not before (a
    /// panic in the worker's own code still leaves the counts right and the thread's id
    /// cleared).
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        // Items taken out of the rings whose export never ended (the worker panicked).
        let lost = self.batch.len() as u64;
        if lost > 0 {
            self.batch.clear();
            self.shared.failed.fetch_add(lost, Ordering::Release);
        }
        // From here on no producer may move this thread: its id is free for reuse once it
        // exits.
        self.pull().tid = 0;
        let mut reg = self.shared.registry();
        reg.orphans.append(&mut self.rings);
        reg.worker_done = true;
    }

    /// The state of producers' moves of this thread.
    fn pull(&self) -> std::sync::MutexGuard<'_, super::batch::Pull> {
        // Nothing panics while holding the lock; a poisoned lock still holds valid data.
        self.shared.pull.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Send + 'static, E: BatchExport<T>> Worker<T, E> {
    pub(super) fn new(
        shared: Arc<Shared<T>>,
        control: ControlRx,
        exporter: E,
        delay: Duration,
    ) -> Self {
        let cap = shared.batch_size;
        let wake_policy = WakePolicy::new(&shared.wake_at);
        Worker {
            shared,
            control,
            exporter,
            delay,
            batch: Vec::with_capacity(cap),
            parts: Vec::new(),
            rings: Vec::new(),
            start: 0,
            failure_since_flush: None,
            charged: 0,
            held_poll: HELD_POLL,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            one_cpu: super::cpu::pinned_to_one(),
            finished: false,
            held_panicked: false,
            recheck: false,
            wake_policy,
            review_at: None,
        }
    }

    /// Runs until shutdown; sends on `ready` once producers can see and move this thread.
    pub(super) fn run(mut self, ready: SyncSender<()>) {
        // Producers may move this thread to their CPU (see `BatchPipeline::pull_worker`).
        self.pull().tid = super::cpu::thread_id();
        self.note_cpu();
        let _ = ready.send(());
        drop(ready);
        let mut next_timer = Instant::now() + self.delay;
        loop {
            self.restore_if_moved();
            if self.shared.wake_pending.load(Ordering::Acquire) && self.control.is_empty() {
                // Still awake: `run_busy` left full batches for a control message, and
                // producers send no wake-up while `wake_pending` is set.
                self.run_busy();
                continue;
            }
            let mut wake_at = if self.charged > 0 {
                next_timer.min(Instant::now() + self.held_poll)
            } else {
                next_timer
            };
            if self.recheck {
                wake_at = wake_at.min(Instant::now() + RECHECK);
            }
            if let Some(at) = self.review_at {
                wake_at = wake_at.min(at);
            }
            match self.control.recv_deadline(wake_at) {
                Ok(Control::Wake) => {
                    let dropped = self.shared.dropped.load(Ordering::Relaxed);
                    self.wake_policy.on_wake(dropped, &self.shared.wake_at);
                    self.recheck = false;
                    self.run_busy()
                }
                Err(RecvTimeoutError::Timeout)
                    if std::mem::take(&mut self.recheck) && self.claim_ready_batch() =>
                {
                    self.run_busy()
                }
                Err(RecvTimeoutError::Timeout)
                    if self.review_at.is_some_and(|at| Instant::now() >= at) =>
                {
                    self.review_threshold()
                }
                Ok(Control::Resource(r)) => {
                    let exporter = &mut self.exporter;
                    let _ = catch_panic("exporter's set_resource", || {
                        exporter.set_resource(&r);
                        Ok(())
                    });
                }
                Ok(Control::Flush(ack)) => {
                    let _ = self.drain(Drain::Queued);
                    let exporter = &mut self.exporter;
                    let flushed = catch_panic("exporter's force_flush", || exporter.force_flush());
                    self.sync_held();
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
                    let _ = self.drain(Drain::All);
                    let closed = self.shut_exporter();
                    self.sync_held();
                    let res = match self.failure_since_flush.take() {
                        Some(e) => Err(e),
                        None => closed,
                    };
                    self.finish();
                    let _ = ack.send(res);
                    return;
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() < next_timer => {
                    let before = self.charged;
                    self.sync_held();
                    if self.charged == before {
                        self.held_poll = (self.held_poll * 2).min(HELD_POLL_MAX);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.drain(Drain::Queued);
                    // Also when nothing was exported: the exporter may have let go of items
                    // (the held-items look is due no later than the timer).
                    self.sync_held();
                    next_timer = Instant::now() + self.delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.drain(Drain::All);
                    let _ = self.shut_exporter();
                    self.finish();
                    return;
                }
            }
        }
    }

    /// Shuts the exporter down (a panic in it counts as a failure).
    fn shut_exporter(&mut self) -> SdkResult {
        let exporter = &mut self.exporter;
        catch_panic("exporter's shutdown", || exporter.shutdown())
    }

    /// Exports full batches for as long as producers keep filling them. Between batches the
    /// worker spins for up to `BUSY_POLL` instead of sleeping: waking a sleeping thread costs
    /// the producer a syscall and, in a VM, an inter-processor interrupt, which would
    /// otherwise be paid once per batch. Before each poll it yields its CPU, which lets a
    /// producer sharing that CPU fill the next batch at once. While the worker is awake,
    /// `wake_pending` stays set, so producers send nothing.
    ///
    /// The worker spins only while some CPU is left to it: when as many threads as there are
    /// CPUs fed the queue lately, every CPU it spins on is one a producer wants
    /// (the scheduler gives a spinning thread its fair share, however often it yields), so it
    /// sleeps between batches instead and lets the producers wake it.
    fn run_busy(&mut self) {
        let batch_size = self.shared.batch_size;
        loop {
            if !self.export_full_batches() {
                // A flush or shutdown must not wait for producers to pause. `wake_pending`
                // stays set, so the worker comes back here once it has answered.
                return;
            }
            if self.sleeps_between_batches() {
                self.wake_policy.between_batches(true, &self.shared.wake_at);
                if self.sleep_unless_batch_ready() {
                    continue;
                }
                self.review_at = self
                    .wake_policy
                    .raised(&self.shared.wake_at)
                    .then(|| Instant::now() + ACTIVE_WINDOW);
                return;
            }
            let idle_since = Instant::now();
            while self.available() < batch_size {
                // A producer may be waiting for this CPU (see
                // `BatchPipeline::shares_cpu_with_worker`), or another thread: polling would
                // keep it waiting. When none is, this returns at once.
                std::thread::yield_now();
                self.note_cpu();
                // Reading a ring's length reads the line its producer writes on every push;
                // poll only every `SPINS_PER_POLL` pauses (about a microsecond) so the
                // waiting worker does not slow the producers down.
                for _ in 0..SPINS_PER_POLL {
                    std::hint::spin_loop();
                }
                self.adopt();
                self.sync_held();
                if idle_since.elapsed() >= BUSY_POLL {
                    self.wake_policy
                        .between_batches(false, &self.shared.wake_at);
                    self.review_at = None;
                    if self.sleep_unless_batch_ready() {
                        break;
                    }
                    return;
                }
            }
        }
    }

    /// Asleep between batches, producers waking this thread at more than a batch (half the
    /// queue): once they no longer occupy every CPU (they stopped, or fewer push), a batch
    /// wakes it again, and one already queued is taken now. Otherwise the threshold would
    /// stay up until producers next filled half the queue or the timer fired, and items
    /// pushed after they stopped (up to half the queue) would wait for the timer.
    fn review_threshold(&mut self) {
        self.review_at = None;
        self.adopt();
        if self.sleeps_between_batches() {
            self.review_at = Some(Instant::now() + ACTIVE_WINDOW);
            return;
        }
        self.wake_policy
            .between_batches(false, &self.shared.wake_at);
        // As in `sleep_unless_batch_ready`, but `wake_pending` is left as it is: a producer
        // may have set it, its wake-up on the way.
        fence(Ordering::SeqCst);
        if self.claim_ready_batch() {
            self.run_busy();
        } else {
            self.recheck = true;
        }
    }

    /// About to block: lets producers wake this thread again, then looks once more, so that a
    /// batch completed in between is not left waiting for the timer. `true` when such a batch
    /// is there (and the worker stays awake).
    fn sleep_unless_batch_ready(&mut self) -> bool {
        self.shared.wake_pending.store(false, Ordering::SeqCst);
        // Producers read `wake_pending` after their pushes, without a fence: see `RECHECK`.
        fence(Ordering::SeqCst);
        let ready = self.claim_ready_batch();
        self.recheck = !ready;
        ready
    }

    /// Asleep (`wake_pending` clear): whether the rings hold a batch, and then stays awake
    /// (unless a producer's wake-up is already on its way).
    fn claim_ready_batch(&mut self) -> bool {
        // A ring registered (and filled) since the last look counts too.
        self.adopt();
        let s = &self.shared;
        self.available() >= s.batch_size && !s.wake_pending.swap(true, Ordering::SeqCst)
    }

    /// Whether the worker sleeps between batches instead of polling: when at least as many
    /// threads as there are CPUs pushed items within the last `ACTIVE_WINDOW`. Never when
    /// the process is pinned to one CPU: there the worker always shares it with the
    /// producers, each yield of the polling worker hands it straight to them, and sleeping
    /// would only add the cost of the wake-ups (span_basic under `taskset -c 0` was ~7 %
    /// faster polling; benches/PERFORMANCE.md has the figures). A quota of one CPU's time is
    /// not that case: `cpus` is then 1 but the threads run on different CPUs, where a
    /// polling worker would spend the quota the producer needs.
    fn sleeps_between_batches(&mut self) -> bool {
        if self.one_cpu {
            return false;
        }
        let now = Instant::now();
        let mut active = 0;
        for r in &mut self.rings {
            // A ring whose thread exited, or left it for a larger one, has no producer.
            if !r.consumer.is_abandoned() {
                active += usize::from(r.pushed_within(ACTIVE_WINDOW, now));
            }
        }
        active >= self.cpus
    }

    /// Tells producers which CPU this thread runs on, and lets this thread run anywhere
    /// again if a producer moved it to its CPU.
    #[inline]
    fn note_cpu(&self) {
        self.restore_if_moved();
        let cpu = super::cpu::current();
        if self.shared.worker_cpu.load(Ordering::Relaxed) != cpu {
            self.shared.worker_cpu.store(cpu, Ordering::Relaxed);
        }
    }

    /// If a producer moved this thread to its CPU, lets it run on the CPUs it had before.
    #[inline]
    fn restore_if_moved(&self) {
        if self.shared.pulled.load(Ordering::Acquire) {
            self.restore_cpus();
        }
    }

    #[cold]
    fn restore_cpus(&self) {
        let mut pull = self.pull();
        if let Some(from) = pull.from.take() {
            super::cpu::restore(&from);
        }
        self.shared.pulled.store(false, Ordering::Relaxed);
    }

    /// Takes over the rings registered since the last call.
    #[inline]
    fn adopt(&mut self) {
        let s = &self.shared;
        if s.has_new.load(Ordering::Relaxed) && s.has_new.swap(false, Ordering::AcqRel) {
            let mut reg = s.registry();
            self.rings.append(&mut reg.incoming);
        }
    }

    /// Items waiting in all rings.
    fn available(&self) -> usize {
        self.rings.iter().map(|r| r.consumer.slots()).sum()
    }

    /// Exports while at least one full batch is queued. Returns `false`, leaving full
    /// batches queued, when a control message waits: producers that keep the queue full
    /// would otherwise keep a flush or shutdown waiting for as long as they do.
    fn export_full_batches(&mut self) -> bool {
        loop {
            self.note_cpu();
            self.adopt();
            if self.available() < self.shared.batch_size {
                return true;
            }
            if !self.control.is_empty() {
                return false;
            }
            // A failed batch is counted; the next one may succeed.
            let _ = self.fill_and_export(None);
            // Under sustained load the worker stays in this loop, away from the timer's
            // drain: the rings of threads that exited are let go here as well.
            self.retire_exited();
        }
    }

    /// Exports in batches, then forgets the rings of threads that exited. With
    /// `Drain::Queued`, what each ring held when it is called and nothing pushed after (rings
    /// are read in order), so that producers that keep pushing cannot keep a flush going;
    /// with `Drain::All`, until the rings are empty (for shutdown, once producers are
    /// refused).
    fn drain(&mut self, what: Drain) -> SdkResult {
        self.adopt();
        let mut quota: Option<Vec<usize>> = match what {
            Drain::Queued => Some(self.rings.iter().map(|r| r.consumer.slots()).collect()),
            Drain::All => None,
        };
        let mut res = Ok(());
        loop {
            self.note_cpu();
            if quota.is_none() {
                self.adopt();
            }
            // With a quota, nothing is left to export once every ring's is used up.
            match self.fill_and_export(quota.as_deref_mut()) {
                None => break,
                Some(Err(e)) => res = Err(e),
                Some(Ok(())) => {}
            }
        }
        self.retire_exited();
        res
    }

    /// Drops the rings whose thread exited once they are empty, keeping their counts.
    fn retire_exited(&mut self) {
        let mut i = 0;
        while i < self.rings.len() {
            let r = &self.rings[i];
            if r.consumer.is_abandoned() {
                // Pairs with the producer's release when it dropped its end.
                fence(Ordering::Acquire);
                if r.consumer.is_empty() {
                    let r = self.rings.swap_remove(i);
                    let mut reg = self.shared.registry();
                    reg.retired_pushed += r.meta.pushed.load(Ordering::Acquire);
                    reg.metas.retain(|m| !Arc::ptr_eq(m, &r.meta));
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Moves up to a batch of items out of the rings, starting from a different ring each
    /// time so that no thread's ring waits behind a busier one, and notes in `parts` which
    /// thread pushed which of them. With `quota` (one count per ring, by index; missing ones
    /// count as zero), takes at most that many from each ring, and counts them off.
    fn fill(&mut self, mut quota: Option<&mut [usize]>) {
        self.parts.clear();
        let n = self.rings.len();
        if n == 0 {
            return;
        }
        self.start = (self.start + 1) % n;
        for k in 0..n {
            let room = self.shared.batch_size - self.batch.len();
            if room == 0 {
                break;
            }
            let i = (self.start + k) % n;
            let r = &mut self.rings[i];
            let mut take = r.consumer.slots().min(room);
            if let Some(q) = quota.as_deref_mut() {
                match q.get_mut(i) {
                    Some(left) => {
                        take = take.min(*left);
                        *left -= take;
                    }
                    None => take = 0,
                }
            }
            if take > 0 {
                if let Ok(chunk) = r.consumer.read_chunk(take) {
                    self.batch.extend(chunk);
                    r.taken += take as u64;
                    self.shared.budget.release(take);
                    let end = self.batch.len();
                    match self.parts.last_mut() {
                        // A thread's old ring and its new one.
                        Some(last) if last.thread == r.meta.thread => last.end = end,
                        _ => self.parts.push(Part {
                            thread: r.meta.thread,
                            end,
                        }),
                    }
                }
            }
        }
    }

    /// Fills a batch (within `quota`, if given: see [`Worker::fill`]) and exports it; `None`
    /// when there was nothing to export.
    fn fill_and_export(&mut self, quota: Option<&mut [usize]>) -> Option<SdkResult> {
        self.fill(quota);
        if self.batch.is_empty() {
            return None;
        }
        let n = self.batch.len() as u64;
        let exporter = &mut self.exporter;
        let batch = &self.batch;
        let res = catch_panic("exporter", || exporter.export(batch));
        match &res {
            Ok(()) => {
                self.shared.exported.fetch_add(n, Ordering::Release);
            }
            Err(e) => {
                self.shared.failed.fetch_add(n, Ordering::Release);
                diagnostics::report(&format!("export of {n} items failed: {e}"));
                if self.failure_since_flush.is_none() {
                    // Not the exporter's `Timeout`: that would read as the flush timing out.
                    self.failure_since_flush = Some(SdkError::failed(format!(
                        "an export of {n} items failed: {e}"
                    )));
                }
            }
        }
        self.exporter.recycle(&mut self.batch, &self.parts);
        self.batch.clear();
        self.sync_held();
        Some(res)
    }

    /// Keeps the items the exporter still holds counted in the queue's budget: an exporter
    /// that returns before its requests complete (so that the next batch is encoded while
    /// earlier ones travel) must not let the processor hold more than `max_queue_size`.
    #[inline]
    fn sync_held(&mut self) {
        // An exporter whose `held` panicked is taken to hold nothing from then on (it is
        // asked every poll: one report, not one panic a microsecond).
        if self.held_panicked {
            return;
        }
        let exporter = &mut self.exporter;
        let held = match std::panic::catch_unwind(AssertUnwindSafe(|| exporter.held())) {
            Ok(n) => n,
            Err(_) => {
                self.held_panicked = true;
                diagnostics::report("exporter's held panicked; it is not asked again");
                0
            }
        };
        if held == self.charged {
            return;
        }
        if held > self.charged {
            self.shared.budget.charge(held - self.charged);
        } else {
            self.shared.budget.discharge(self.charged - held);
        }
        self.charged = held;
        self.held_poll = HELD_POLL;
        // The rings have less (or more) room: producers wake this thread at half of it.
        self.wake_policy.held(held, &self.shared.wake_at);
    }
}
