//! Per-thread rings: the producer side of a batch pipeline.
//!
//! Each thread that hands items to a pipeline gets its own bounded single-producer
//! single-consumer ring ([`rtrb`]), created on its first item and registered with the
//! pipeline; the export thread is the only consumer of every ring. A push is a slot write and
//! one release store of the ring's tail: no compare-and-swap, and no cache line written by two
//! producing threads, so threads ending spans at once do not contend. The export thread reads
//! each ring in bulk.
//!
//! The pipeline's `max_queue_size` bounds the items waiting in all its rings together. The
//! total is kept in one shared counter that each producer updates once every
//! `REPORT_EVERY` pushes (and the export thread once per batch read), so the bound may be
//! exceeded by at most `REPORT_EVERY - 1` items per producing thread. A producer also reads
//! the counter only then (the value its update returns), and again only when the queue
//! looks full: reading it on every push cost a cache miss each time another thread had
//! updated it since (span_attrs_2threads in a slow phase of the VM: 55.9-59.4 ns against
//! 60.1-61.1, 4 alternating pairs). Its own pushes since are counted exactly, so it still
//! overshoots by at most its unreported pushes.
//!
//! A thread's first ring holds up to 2048 items (the default queue size). When it is full
//! while the queue as a whole has room, the thread gets a ring twice as large (up to the
//! queue size) and the export thread drains and retires the old one: memory follows what
//! each thread actually queues, even with a very large `max_queue_size`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtrb::{Consumer, Producer, PushError, RingBuffer};

/// A type that travels through batch pipelines. Each such type keeps its own thread-local
/// rings (one per pipeline the thread pushes to); implement it with [`pipeline_item!`].
pub(crate) trait PipelineItem: Send + Sized + 'static {
    /// Runs `f` on this thread's rings; `None` when they are unavailable (the thread is
    /// exiting, or a push is already in progress on this thread).
    fn with_rings<R>(f: impl FnOnce(&mut LocalRings<Self>) -> R) -> Option<R>;

    /// Disposes of an item the pipeline refused (queue full); by default it is dropped.
    fn discard(self) {}
}

/// Implements [`PipelineItem`] for a type, with its own thread-local rings.
macro_rules! pipeline_item {
    ($t:ty $(, discard = $discard:path)?) => {
        impl $crate::pipeline::PipelineItem for $t {
            $(
                #[inline]
                fn discard(self) {
                    $discard(self)
                }
            )?
            #[inline]
            fn with_rings<R>(
                f: impl FnOnce(&mut $crate::pipeline::LocalRings<Self>) -> R,
            ) -> Option<R> {
                thread_local! {
                    static RINGS: std::cell::RefCell<$crate::pipeline::LocalRings<$t>> =
                        const { std::cell::RefCell::new($crate::pipeline::LocalRings::new()) };
                }
                $crate::pipeline::LocalRings::with(&RINGS, f)
            }
        }
    };
}
pub(crate) use pipeline_item;

/// Pushes counted by one ring's producer (written by that thread only, read by `stats`),
/// and the producer's [`pool::thread_tag`](super::pool::thread_tag).
#[derive(Debug)]
pub(super) struct RingMeta {
    pub(super) pushed: AtomicU64,
    pub(super) thread: u64,
}

/// The export thread's end of one ring.
pub(super) struct RingReader<T> {
    pub(super) consumer: Consumer<T>,
    pub(super) meta: Arc<RingMeta>,
    /// Items the export thread has taken out of this ring.
    pub(super) taken: u64,
    /// Items pushed as of the last [`RingReader::pushed_within`], and when that count was
    /// first seen (`None` while it is 0).
    seen: u64,
    seen_at: Option<Instant>,
}

impl<T> RingReader<T> {
    /// Whether the producer pushed anything in the `window` before `now` (as far as calls
    /// to this, at `now`, can tell).
    pub(super) fn pushed_within(&mut self, window: Duration, now: Instant) -> bool {
        let pushed = self.taken + self.consumer.slots() as u64;
        if pushed != self.seen {
            self.seen = pushed;
            self.seen_at = Some(now);
        }
        self.seen_at.is_some_and(|t| now.duration_since(t) < window)
    }
}

/// The shared bound on items waiting in a pipeline's rings.
#[derive(Debug)]
pub(super) struct Budget {
    /// Items in the rings, minus those pushed but not yet reported by their producer (so it
    /// may be briefly negative), plus those the exporter holds.
    queued: crossbeam_utils::CachePadded<AtomicIsize>,
    /// Of `queued`, the items the exporter holds (written by the export thread only).
    held: AtomicIsize,
    max: isize,
}

impl Budget {
    pub(super) fn new(max: usize) -> Self {
        Budget {
            queued: crossbeam_utils::CachePadded::new(AtomicIsize::new(0)),
            held: AtomicIsize::new(0),
            max: isize::try_from(max).unwrap_or(isize::MAX),
        }
    }

    /// The capacity of a thread's first ring: a fraction of the queue, grown on demand.
    fn first_ring(&self) -> usize {
        (self.max.max(1) as usize).min(FIRST_RING)
    }

    /// The export thread took `n` items out of the rings.
    pub(super) fn release(&self, n: usize) {
        self.queued.fetch_sub(n as isize, Ordering::Relaxed);
    }

    /// Counts `n` items held outside the rings (by the exporter) against the queue.
    pub(super) fn charge(&self, n: usize) {
        self.held.fetch_add(n as isize, Ordering::Relaxed);
        self.queued.fetch_add(n as isize, Ordering::Relaxed);
    }

    /// The exporter let go of `n` items it held.
    pub(super) fn discharge(&self, n: usize) {
        self.held.fetch_sub(n as isize, Ordering::Relaxed);
        self.queued.fetch_sub(n as isize, Ordering::Relaxed);
    }

    /// About how many items all rings hold together (producers report 32 pushes at a
    /// time): whether a batch is ready even when no single thread's ring holds one.
    #[inline]
    pub(super) fn in_rings(&self) -> usize {
        let n = self.queued.load(Ordering::Relaxed) - self.held.load(Ordering::Relaxed);
        n.max(0) as usize
    }

    /// The shared count (for tests).
    #[cfg(test)]
    pub(super) fn queued(&self) -> isize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The largest first ring of a thread, in items; rings grow (doubling, up to the whole queue)
/// when a thread needs more.
const FIRST_RING: usize = 2048;

/// Producers add their pushes to the shared count this many at a time.
const REPORT_EVERY: u32 = 32;

/// One pipeline's ring on this thread.
struct LocalRing<T> {
    pipeline: u64,
    producer: Producer<T>,
    meta: Arc<RingMeta>,
    /// The pipeline's budget: the pushes not yet reported go to it when this thread exits.
    budget: Arc<Budget>,
    pushed: u64,
    /// Pushes not yet added to the budget's count.
    unreported: u32,
    /// Pushes refused since this thread last pushed (see [`LocalRings::push`]).
    refused: u32,
    /// The budget's shared count as this thread last read it: when it reported, or when
    /// the queue looked full.
    seen: isize,
}

impl<T> Drop for LocalRing<T> {
    /// The export thread counts every item it takes off the budget, so the pushes not yet
    /// reported must be added, or the count would drift lower with each exiting thread and
    /// the queue would no longer be bounded.
    fn drop(&mut self) {
        if self.unreported > 0 {
            self.budget
                .queued
                .fetch_add(self.unreported as isize, Ordering::Relaxed);
        }
    }
}

/// This thread's rings for one item type, most recently used first.
pub(crate) struct LocalRings<T> {
    rings: Vec<LocalRing<T>>,
}

/// What a push did.
pub(super) enum Pushed<T> {
    /// Queued. Every few pushes `used` tells how many items the ring holds, for the caller
    /// to see whether a batch is ready.
    Queued { used: Option<usize> },
    /// The ring is full: the item comes back.
    Full(T),
}

/// While the queue stays full, a producer offers the export thread a chance to make room
/// once every this many refused pushes. A yield that finds the export thread not yet due to
/// run (the scheduler counts its polling against it) leaves it waiting until the next one.
const RELIEVE_EVERY: u32 = 64;

/// Producers look at how full their ring is every this many pushes (it reads the export
/// thread's cache line).
const CHECK_EVERY: u64 = 32;

impl<T> LocalRings<T> {
    /// No rings yet.
    pub(crate) const fn new() -> Self {
        LocalRings { rings: Vec::new() }
    }

    /// Borrows a thread-local set of rings.
    #[inline]
    pub(crate) fn with<R>(
        key: &'static std::thread::LocalKey<RefCell<LocalRings<T>>>,
        f: impl FnOnce(&mut LocalRings<T>) -> R,
    ) -> Option<R> {
        key.try_with(|r| r.try_borrow_mut().ok().map(|mut r| f(&mut r)))
            .ok()
            .flatten()
    }

    /// Pushes to pipeline `id`'s ring on this thread. `register(capacity)` creates a ring
    /// (and hands its reading end to the pipeline): on first use, and to grow this thread's
    /// ring when it is full while the queue as a whole still has room.
    ///
    /// When the queue is full, `relieve` may give the export thread a chance to make room
    /// (it returns `true` if it did), and the push is tried once more. It is called for the
    /// first refused push and then once every [`RELIEVE_EVERY`] until this thread's next
    /// successful push, so a thread that keeps finding the queue full pays for it once
    /// every few dozen items, not per item.
    #[inline]
    pub(super) fn push(
        &mut self,
        id: u64,
        budget: &Arc<Budget>,
        item: T,
        register: impl Fn(usize) -> (Producer<T>, Arc<RingMeta>),
        relieve: impl FnOnce() -> bool,
    ) -> Pushed<T> {
        let ring = match self.rings.first() {
            Some(r) if r.pipeline == id => &mut self.rings[0],
            _ => self.find_or_add(id, budget, &register),
        };
        match ring.push_within(item, budget, &register) {
            Pushed::Full(item) => {
                let refused = ring.refused;
                ring.refused = refused.wrapping_add(1);
                if refused % RELIEVE_EVERY == 0 && relieve() {
                    ring.push_within(item, budget, &register)
                } else {
                    Pushed::Full(item)
                }
            }
            pushed => pushed,
        }
    }

    #[cold]
    fn find_or_add(
        &mut self,
        id: u64,
        budget: &Arc<Budget>,
        register: &impl Fn(usize) -> (Producer<T>, Arc<RingMeta>),
    ) -> &mut LocalRing<T> {
        let at = match self.rings.iter().position(|r| r.pipeline == id) {
            Some(i) => i,
            None => {
                // Rings of pipelines that are gone are freed here.
                self.rings.retain(|r| !r.producer.is_abandoned());
                let (producer, meta) = register(budget.first_ring());
                self.rings.push(LocalRing {
                    pipeline: id,
                    producer,
                    meta,
                    budget: Arc::clone(budget),
                    pushed: 0,
                    unreported: 0,
                    refused: 0,
                    // Read now: a new thread must see a queue that others filled.
                    seen: budget.queued.load(Ordering::Relaxed),
                });
                self.rings.len() - 1
            }
        };
        self.rings.swap(0, at);
        &mut self.rings[0]
    }
}

impl<T> LocalRing<T> {
    /// Pushes if the queue's budget and the rings allow it.
    #[inline(always)]
    fn push_within(
        &mut self,
        item: T,
        budget: &Budget,
        register: &impl Fn(usize) -> (Producer<T>, Arc<RingMeta>),
    ) -> Pushed<T> {
        if self.seen + self.unreported as isize >= budget.max {
            // Full as last seen: the export thread may have made room since.
            self.seen = budget.queued.load(Ordering::Relaxed);
            if self.seen + self.unreported as isize >= budget.max {
                return Pushed::Full(item);
            }
        }
        match self.try_push(item, budget) {
            Ok(pushed) => pushed,
            Err(item) => self.grow_and_push(item, budget, register),
        }
    }

    /// Pushes unless the ring is full (the item then comes back).
    #[inline(always)]
    fn try_push(&mut self, item: T, budget: &Budget) -> Result<Pushed<T>, T> {
        // Counted before the item is visible to the export thread, so that `stats` never
        // sees an item exported before it was accepted.
        self.meta.pushed.store(self.pushed + 1, Ordering::Release);
        if let Err(PushError::Full(item)) = self.producer.push(item) {
            self.meta.pushed.store(self.pushed, Ordering::Release);
            return Err(item);
        }
        self.pushed += 1;
        self.unreported += 1;
        self.refused = 0;
        if self.unreported == REPORT_EVERY {
            let before = budget
                .queued
                .fetch_add(REPORT_EVERY as isize, Ordering::Relaxed);
            self.seen = before + REPORT_EVERY as isize;
            self.unreported = 0;
        }
        // Also on a ring's first push: threads that push fewer than `CHECK_EVERY` items
        // and exit (a thread per request) report only when they exit, and the next
        // thread's first push is then the one to see that they left a batch between them.
        let used = if self.pushed % CHECK_EVERY == 0 || self.pushed == 1 {
            Some(self.producer.buffer().capacity() - self.producer.slots())
        } else {
            None
        };
        Ok(Pushed::Queued { used })
    }

    /// The ring is full but the queue is not: this thread gets a ring twice as large (up to
    /// the whole queue), so that rings only take the memory their threads use. The old ring
    /// is left to the export thread, which drains and retires it.
    #[cold]
    fn grow_and_push(
        &mut self,
        item: T,
        budget: &Budget,
        register: &impl Fn(usize) -> (Producer<T>, Arc<RingMeta>),
    ) -> Pushed<T> {
        let capacity = self.producer.buffer().capacity();
        let max = budget.max.max(1) as usize;
        if capacity >= max {
            return Pushed::Full(item);
        }
        let (producer, meta) = register(capacity.saturating_mul(2).min(max));
        self.producer = producer;
        self.meta = meta;
        self.pushed = 0;
        match self.try_push(item, budget) {
            Ok(pushed) => pushed,
            Err(item) => Pushed::Full(item),
        }
    }
}

/// A new ring of `capacity` items: the producer's end with its counter, and the reader.
pub(super) fn new_ring<T>(
    capacity: usize,
    thread: u64,
) -> (Producer<T>, Arc<RingMeta>, RingReader<T>) {
    let (producer, consumer) = RingBuffer::new(capacity);
    let meta = Arc::new(RingMeta {
        pushed: AtomicU64::new(0),
        thread,
    });
    let reader = RingReader {
        consumer,
        meta: Arc::clone(&meta),
        taken: 0,
        seen: 0,
        seen_at: None,
    };
    (producer, meta, reader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Registers rings of the requested capacity, keeping their readers.
    struct Registrar(RefCell<Vec<RingReader<u32>>>);

    impl Registrar {
        fn new() -> Self {
            Registrar(RefCell::new(Vec::new()))
        }
        fn register(&self, capacity: usize) -> (Producer<u32>, Arc<RingMeta>) {
            let (p, m, r) = new_ring(capacity, 1);
            self.0.borrow_mut().push(r);
            (p, m)
        }
        fn queued(&self) -> usize {
            self.0.borrow().iter().map(|r| r.consumer.slots()).sum()
        }
        /// Takes every item out of the rings, as the export thread does; returns how many.
        fn drain(&self) -> usize {
            let mut n = 0;
            for r in self.0.borrow_mut().iter_mut() {
                while r.consumer.pop().is_ok() {
                    n += 1;
                }
            }
            n
        }
    }

    #[test]
    fn rings_are_per_pipeline_and_dead_ones_are_freed() {
        let mut rings = LocalRings::<u32>::new();
        let budget = Arc::new(Budget::new(4));
        let reg = Registrar::new();
        for i in 0..4 {
            assert!(matches!(
                rings.push(1, &budget, i, |c| reg.register(c), || false),
                Pushed::Queued { .. }
            ));
        }
        // The ring holds the whole queue (4): full, and it does not grow past the queue.
        assert!(matches!(
            rings.push(1, &budget, 9, |_| unreachable!(), || false),
            Pushed::Full(9)
        ));
        assert!(matches!(
            rings.push(2, &budget, 7, |c| reg.register(c), || false),
            Pushed::Queued { .. }
        ));
        let mut readers = reg.0.borrow_mut();
        assert_eq!(readers.len(), 2);
        assert_eq!(readers[0].meta.pushed.load(Ordering::Relaxed), 4);
        assert_eq!(readers[0].consumer.slots(), 4);
        assert_eq!(readers[1].consumer.pop(), Ok(7));
        // Pipeline 1 goes away: its ring is freed when this thread next registers one.
        readers.remove(0);
        drop(readers);
        let _ = rings.push(3, &budget, 1, |c| reg.register(c), || false);
        assert_eq!(rings.rings.len(), 2);
    }

    #[test]
    fn a_reader_sees_whether_its_producer_pushed_lately() {
        let (mut producer, _, mut reader) = new_ring::<u32>(8, 1);
        let window = Duration::from_millis(10);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(!reader.pushed_within(window, at(0)), "nothing pushed yet");
        producer.push(1).unwrap();
        producer.push(2).unwrap();
        assert!(reader.pushed_within(window, at(1)));
        assert!(reader.pushed_within(window, at(5)), "within the window");
        assert!(!reader.pushed_within(window, at(11)), "nothing since 1 ms");
        // Items taken out are not new pushes.
        let chunk = reader.consumer.read_chunk(2).unwrap();
        chunk.commit_all();
        reader.taken += 2;
        assert!(!reader.pushed_within(window, at(12)));
        producer.push(3).unwrap();
        assert!(reader.pushed_within(window, at(13)));
    }

    #[test]
    fn a_thread_ring_starts_small_and_grows_to_the_queue_size() {
        let mut rings = LocalRings::<u32>::new();
        let budget = Arc::new(Budget::new(5000));
        let reg = Registrar::new();
        let mut queued = 0;
        for i in 0..6000 {
            if let Pushed::Queued { .. } = rings.push(1, &budget, i, |c| reg.register(c), || false)
            {
                queued += 1;
            }
        }
        let caps: Vec<usize> = reg
            .0
            .borrow()
            .iter()
            .map(|r| r.consumer.buffer().capacity())
            .collect();
        // 1024, then doubled while the queue had room (older rings still hold their items).
        assert_eq!(caps, [FIRST_RING, 4096]);
        // Nothing was lost on the way: every accepted item is in one of the rings.
        assert_eq!(reg.queued(), queued);
        let counted: u64 = reg
            .0
            .borrow()
            .iter()
            .map(|r| r.meta.pushed.load(Ordering::Relaxed))
            .sum();
        assert_eq!(counted, queued as u64);
        assert!(
            (5000..5000 + REPORT_EVERY as usize).contains(&queued),
            "{queued}"
        );
        // The export thread drains everything; the next growth stops at the queue size.
        for r in reg.0.borrow_mut().iter_mut() {
            while r.consumer.pop().is_ok() {}
        }
        budget.release(queued);
        for i in 0..6000 {
            let _ = rings.push(1, &budget, i, |c| reg.register(c), || false);
        }
        let last = reg
            .0
            .borrow()
            .last()
            .map(|r| r.consumer.buffer().capacity());
        assert_eq!(last, Some(5000));
    }

    #[test]
    fn the_budget_bounds_all_rings_together() {
        let budget = Arc::new(Budget::new(64));
        let reg = Registrar::new();
        // Two "threads" (two ring sets) share one pipeline's budget.
        let (mut a, mut b) = (LocalRings::<u32>::new(), LocalRings::<u32>::new());
        let mut queued = 0;
        for i in 0..200 {
            let rings = if i % 2 == 0 { &mut a } else { &mut b };
            if let Pushed::Queued { .. } = rings.push(1, &budget, i, |c| reg.register(c), || false)
            {
                queued += 1;
            }
        }
        // The bound holds up to REPORT_EVERY - 1 unreported pushes per producer.
        assert!(
            (64..64 + 2 * REPORT_EVERY as usize).contains(&queued),
            "{queued}"
        );
        // Draining frees room again.
        let drained = reg.drain();
        assert_eq!(drained, queued);
        budget.release(drained);
        assert!(matches!(
            a.push(1, &budget, 0, |_| unreachable!(), || false),
            Pushed::Queued { .. }
        ));
    }

    #[test]
    fn a_new_thread_sees_a_queue_that_others_filled() {
        // Producers read the shared count only when they report (or the queue looks full):
        // a thread's first ring must start from the count as it is, not from zero.
        let budget = Arc::new(Budget::new(64));
        let reg = Registrar::new();
        let mut a = LocalRings::<u32>::new();
        for i in 0..64 {
            let pushed = a.push(1, &budget, i, |c| reg.register(c), || false);
            assert!(matches!(pushed, Pushed::Queued { .. }));
        }
        assert_eq!(budget.queued(), 64, "two reports of 32");
        let mut b = LocalRings::<u32>::new();
        let pushed = b.push(1, &budget, 0, |c| reg.register(c), || false);
        assert!(matches!(pushed, Pushed::Full(_)), "the queue is full");
    }

    #[test]
    fn a_full_queue_is_relieved_once_every_few_refused_pushes() {
        use std::cell::Cell;
        let budget = Arc::new(Budget::new(4));
        let reg = Registrar::new();
        let mut rings = LocalRings::<u32>::new();
        let calls = Cell::new(0);
        // What the export thread does: take everything out of the rings.
        let drain = || {
            let mut readers = reg.0.borrow_mut();
            let n = readers
                .iter_mut()
                .map(|r| std::iter::from_fn(|| r.consumer.pop().ok()).count())
                .sum();
            budget.release(n);
        };
        let in_vain = || {
            calls.set(calls.get() + 1);
            false
        };
        let making_room = || {
            calls.set(calls.get() + 1);
            drain();
            true
        };
        for i in 0..4 {
            let pushed = rings.push(1, &budget, i, |c| reg.register(c), in_vain);
            assert!(matches!(pushed, Pushed::Queued { .. }));
        }
        // Full: relieving in vain refuses the item, and is not tried again, even by a
        // push that could have made room, for `RELIEVE_EVERY` refused pushes.
        let pushed = rings.push(1, &budget, 4, |c| reg.register(c), in_vain);
        assert!(matches!(pushed, Pushed::Full(4)));
        for i in 1..RELIEVE_EVERY {
            let pushed = rings.push(1, &budget, 100 + i, |c| reg.register(c), making_room);
            assert!(matches!(pushed, Pushed::Full(x) if x == 100 + i));
        }
        assert_eq!(calls.get(), 1, "once every RELIEVE_EVERY refused pushes");
        // The next refused push relieves again; this time it makes room, and the item is
        // queued.
        let pushed = rings.push(1, &budget, 5, |c| reg.register(c), making_room);
        assert!(matches!(pushed, Pushed::Queued { .. }));
        assert_eq!(calls.get(), 2);
        for i in 6..9 {
            let pushed = rings.push(1, &budget, i, |c| reg.register(c), in_vain);
            assert!(matches!(pushed, Pushed::Queued { .. }), "{i}");
        }
        // Full again, right after a successful push: relieved at once.
        let pushed = rings.push(1, &budget, 9, |c| reg.register(c), making_room);
        assert!(matches!(pushed, Pushed::Queued { .. }));
        assert_eq!(calls.get(), 3);
        assert_eq!(reg.queued(), 1, "item 9, pushed after the drain");
    }
}
