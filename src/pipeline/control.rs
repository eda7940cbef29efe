//! The messages producers and callers send to a pipeline's export thread, and how that
//! thread waits for them.
//!
//! Messages travel over a bounded `crossbeam-channel`; the waiting is done here rather than
//! by the channel's own blocking receive. The channel spins for a few microseconds before it
//! blocks, and in the one case where the export thread sleeps between batches (producers on
//! every CPU) that spin is paid once per batch on a CPU a producer wants. The export thread
//! instead yields its CPU a couple of times and then parks; every sender unparks it after
//! sending.
//!
//! Measured on span_attrs_2threads (2 CPUs, alternating runs of the bench binary): the
//! channel's spin-then-yield wait ~31 ns per span, yields then park ~29.5 ns, and parking
//! at once (no yield) ~39.5 ns: a thread that parks right after running is placed by the
//! scheduler so that its next wake-up costs the producers more. So the yields stay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError};

use crate::error::SdkResult;
use crate::pipeline::BatchConfig;
use crate::resource::Resource;

/// A message to the export thread.
pub(super) enum Control {
    /// The resource of the provider, for the exporter.
    Resource(Resource),
    /// The rings hold batches to export.
    Wake,
    /// Export everything queued, then acknowledge.
    Flush(Sender<SdkResult>),
    /// Export everything queued, shut the exporter down, acknowledge and exit.
    Shutdown(Sender<SdkResult>),
}

/// How many queued items make a producer wake the sleeping export thread.
///
/// Usually a batch. But when producers occupy every CPU, the export thread sleeps between
/// batches (see `Worker::sleeps_between_batches`), and each wake-up then costs them a few
/// microseconds (a syscall, a context switch, an interrupt between CPUs in a VM). Then it
/// is woken when half the queue is filled (at least a batch), for every second batch rather
/// than every batch, and the other half of the queue is room for the wake-up's latency.
/// Half of the room the exporter leaves, that is: items it still holds (requests in flight)
/// count against the queue, and the rings can only fill what is left of it; woken at half
/// the whole queue, the export thread would otherwise be woken only once the rings were
/// full and items were being dropped.
/// When items were dropped since the last wake-up (the export thread came too late: in a
/// VM, a busy host may take a CPU from it for a while), it is woken for every batch again,
/// until [`CALM_WAKES`] wake-ups in a row have seen no drop.
///
/// Measured on span_attrs_2threads (alternating runs of the bench binary, fast phases):
/// ~100 000 wake-ups and ~35 ns per span when woken for every batch, ~57 000 and ~31 ns
/// at half the queue, 0.01-0.05 % dropped either way. At three quarters of the queue: ~1 ns
/// less, and more dropped in one run of three.
pub(super) struct WakeThreshold {
    /// What producers compare with.
    at: AtomicUsize,
    batch: usize,
    /// The queue's size.
    queue: usize,
}

impl WakeThreshold {
    pub(super) fn new(config: &BatchConfig) -> Self {
        WakeThreshold {
            at: AtomicUsize::new(config.max_export_batch_size),
            batch: config.max_export_batch_size,
            queue: config.max_queue_size,
        }
    }

    /// Half the room the rings have while the exporter holds `held` items, at least a batch.
    fn half_of_room(&self, held: usize) -> usize {
        (self.queue.saturating_sub(held) / 2).max(self.batch)
    }

    /// The current threshold.
    #[inline]
    pub(super) fn get(&self) -> usize {
        self.at.load(Ordering::Relaxed)
    }

    /// Whether `at` (a value [`WakeThreshold::get`] returned) is above a batch: the export
    /// thread sleeps between batches and nothing was dropped lately.
    #[inline]
    pub(super) fn is_calm(&self, at: usize) -> bool {
        at > self.batch
    }
}

/// Wake-ups without a drop after which the threshold may go back up to half the queue.
pub(super) const CALM_WAKES: u32 = 1000;

/// The export thread's side of [`WakeThreshold`]: it sets the threshold when it goes to
/// sleep, and looks at the drop count each time it is woken.
pub(super) struct WakePolicy {
    dropped_seen: u64,
    calm_wakes: u32,
    between_batches: bool,
    /// Items the exporter holds, counted against the queue.
    held: usize,
    /// The threshold last set (so that the shared line is written only on a change).
    set: usize,
}

impl WakePolicy {
    pub(super) fn new(threshold: &WakeThreshold) -> Self {
        WakePolicy {
            dropped_seen: 0,
            calm_wakes: CALM_WAKES,
            between_batches: false,
            held: 0,
            set: threshold.get(),
        }
    }

    /// The export thread was woken; `dropped` is the pipeline's drop count.
    pub(super) fn on_wake(&mut self, dropped: u64, threshold: &WakeThreshold) {
        if dropped != self.dropped_seen {
            self.dropped_seen = dropped;
            self.calm_wakes = 0;
        } else if self.calm_wakes < CALM_WAKES {
            self.calm_wakes += 1;
        }
        self.apply(threshold);
    }

    /// The export thread goes to sleep: `true` between batches (producers on every CPU),
    /// `false` after polling for a while (a CPU to spare).
    pub(super) fn between_batches(&mut self, yes: bool, threshold: &WakeThreshold) {
        self.between_batches = yes;
        self.apply(threshold);
    }

    /// The exporter now holds `held` items (see `BatchExport::held`).
    pub(super) fn held(&mut self, held: usize, threshold: &WakeThreshold) {
        self.held = held;
        self.apply(threshold);
    }

    /// Whether producers wake the export thread at more than a batch (half the room).
    pub(super) fn raised(&self, threshold: &WakeThreshold) -> bool {
        threshold.is_calm(self.set)
    }

    fn apply(&mut self, threshold: &WakeThreshold) {
        let at = if self.between_batches && self.calm_wakes >= CALM_WAKES {
            threshold.half_of_room(self.held)
        } else {
            threshold.batch
        };
        if at != self.set {
            self.set = at;
            threshold.at.store(at, Ordering::Relaxed);
        }
    }
}

/// How many times the waiting export thread yields its CPU before it parks.
const YIELDS_BEFORE_PARK: u32 = 2;

/// Room for messages: wake-ups are sent once per sleep, the others by API calls.
const CAPACITY: usize = 64;

/// A control channel, whose receiving end goes to the export thread; the sending end is
/// completed by [`ControlTx::new`] once that thread exists.
pub(super) fn channel() -> (Sender<Control>, ControlRx) {
    let (tx, rx) = crossbeam_channel::bounded(CAPACITY);
    (tx, ControlRx(rx))
}

/// The sending end: every message also unparks the export thread.
pub(super) struct ControlTx {
    /// `None` only while being dropped.
    tx: Option<Sender<Control>>,
    /// The export thread (`None` if it could not be spawned).
    worker: Option<Thread>,
}

impl ControlTx {
    pub(super) fn new(tx: Sender<Control>, worker: Option<Thread>) -> Self {
        ControlTx {
            tx: Some(tx),
            worker,
        }
    }

    /// Sends unless the channel is full; `false` if it was not sent.
    pub(super) fn try_send(&self, msg: Control) -> bool {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.try_send(msg).is_ok());
        self.unpark();
        sent
    }

    /// Sends, waiting for room as long as it takes; `false` if the export thread is gone.
    pub(super) fn send(&self, msg: Control) -> bool {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok());
        self.unpark();
        sent
    }

    /// Sends, waiting for room until `deadline`.
    pub(super) fn send_deadline(
        &self,
        msg: Control,
        deadline: Instant,
    ) -> Result<(), SendTimeoutError<Control>> {
        let sent = match &self.tx {
            Some(tx) => tx.send_deadline(msg, deadline),
            None => Err(SendTimeoutError::Disconnected(msg)),
        };
        self.unpark();
        sent
    }

    fn unpark(&self) {
        if let Some(t) = &self.worker {
            t.unpark();
        }
    }
}

impl Drop for ControlTx {
    /// Disconnects the channel, then unparks the export thread so that it sees it at once.
    fn drop(&mut self) {
        drop(self.tx.take());
        self.unpark();
    }
}

/// The export thread's receiving end.
pub(super) struct ControlRx(Receiver<Control>);

impl ControlRx {
    /// Whether no message waits.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The next message, waiting for it until `deadline`: yields the CPU
    /// [`YIELDS_BEFORE_PARK`] times, then parks (senders unpark this thread).
    pub(super) fn recv_deadline(&self, deadline: Instant) -> Result<Control, RecvTimeoutError> {
        let mut yields = 0;
        loop {
            match self.0.try_recv() {
                Ok(msg) => return Ok(msg),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            if yields < YIELDS_BEFORE_PARK {
                yields += 1;
                std::thread::yield_now();
            } else {
                // Returns at once if a sender unparked this thread since it last parked;
                // may also return spuriously: the loop looks again either way.
                std::thread::park_timeout(deadline - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spawn_receiver(
        rx: ControlRx,
        wait: Duration,
    ) -> std::thread::JoinHandle<Result<bool, RecvTimeoutError>> {
        std::thread::spawn(move || {
            rx.recv_deadline(Instant::now() + wait)
                .map(|m| matches!(m, Control::Wake))
        })
    }

    #[test]
    fn producers_wake_the_export_thread_at_half_the_queue_only_between_batches_and_without_drops() {
        let cfg = |q, b| BatchConfig {
            max_queue_size: q,
            max_export_batch_size: b,
            ..BatchConfig::default()
        };
        let t = WakeThreshold::new(&cfg(2048, 512));
        let mut p = WakePolicy::new(&t);
        assert_eq!(t.get(), 512, "a batch at first");
        assert!(!t.is_calm(t.get()));
        p.between_batches(true, &t);
        assert_eq!(t.get(), 1024, "half the queue between batches");
        assert!(t.is_calm(t.get()));
        assert!(p.raised(&t));
        p.on_wake(0, &t);
        assert_eq!(t.get(), 1024, "no drop");
        p.between_batches(false, &t);
        assert_eq!(t.get(), 512, "a batch when polling");
        p.between_batches(true, &t);
        p.on_wake(3, &t);
        assert_eq!(t.get(), 512, "a drop since the last wake-up");
        assert!(!t.is_calm(t.get()));
        assert!(!p.raised(&t));
        for _ in 0..CALM_WAKES - 1 {
            p.on_wake(3, &t);
            assert_eq!(t.get(), 512, "not calm for long enough yet");
        }
        p.on_wake(5, &t);
        assert_eq!(t.get(), 512, "another drop starts the count again");
        for _ in 0..CALM_WAKES - 1 {
            p.on_wake(5, &t);
        }
        assert_eq!(t.get(), 512);
        p.on_wake(5, &t);
        assert_eq!(t.get(), 1024, "calm again");

        // Items the exporter holds leave the rings less room: half of what is left.
        p.held(1024, &t);
        assert_eq!(t.get(), 512, "half the room left");
        p.held(1280, &t);
        assert_eq!(t.get(), 512, "at least a batch");
        p.held(usize::MAX, &t);
        assert_eq!(t.get(), 512);
        p.held(0, &t);
        assert_eq!(t.get(), 1024, "the room is back");
        let t = WakeThreshold::new(&cfg(2048, 256));
        let mut p = WakePolicy::new(&t);
        p.held(768, &t);
        assert_eq!(t.get(), 256, "a batch when not between batches");
        p.between_batches(true, &t);
        assert_eq!(t.get(), 640);

        let small = WakeThreshold::new(&cfg(600, 512));
        let mut p = WakePolicy::new(&small);
        p.between_batches(true, &small);
        assert_eq!(small.get(), 512, "at least a batch");
    }

    /// A receiver waiting on its own thread with a 30 s deadline, parked by the time this
    /// returns (it would otherwise see a message while yielding), and its sending end.
    fn parked_receiver() -> (
        ControlTx,
        std::thread::JoinHandle<Result<bool, RecvTimeoutError>>,
    ) {
        let (tx, rx) = channel();
        let h = spawn_receiver(rx, Duration::from_secs(30));
        let tx = ControlTx::new(tx, Some(h.thread().clone()));
        std::thread::sleep(Duration::from_millis(50));
        (tx, h)
    }

    #[test]
    fn a_parked_receiver_gets_a_message_long_before_its_deadline() {
        let (tx, h) = parked_receiver();
        assert!(tx.try_send(Control::Wake));
        assert_eq!(h.join().unwrap(), Ok(true));
    }

    #[test]
    fn a_parked_receiver_sees_the_senders_leave() {
        let (tx, h) = parked_receiver();
        drop(tx);
        assert_eq!(h.join().unwrap(), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_receiver_with_nothing_to_read_returns_at_its_deadline() {
        let (_tx, rx) = channel();
        let start = Instant::now();
        let r = rx.recv_deadline(start + Duration::from_millis(30));
        assert!(matches!(r, Err(RecvTimeoutError::Timeout)));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
