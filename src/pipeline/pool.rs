//! Recycling of exported items: spans' and log records' boxes go back to the threads that
//! make new ones.
//!
//! An item lives in one heap block from creation to export, so queueing and batching it move
//! a pointer. After export the processor hands the whole batch back here, untouched, and new
//! items reuse the boxes: in steady state an item allocates nothing for itself, and what an
//! application thread allocated (attribute vectors, owned strings) is freed by an
//! application thread when the box is reused, not by the export thread. (With glibc's
//! malloc, blocks freed by another thread never return to the allocating thread's cache, so
//! every allocation of a steadily producing thread would take the slow, locked path.)
//!
//! Boxes travel in batches, so recycling costs no atomic operation per item: the export
//! thread pushes each exported batch onto a bounded stack of free batches (one lock per
//! batch), and a thread that needs a box takes a whole batch into a thread-local cache when
//! its cache runs dry. An exported batch goes back split by the thread that pushed each of
//! its items ([`Part`]), and a thread takes the last batch of its own, or else the last one
//! exported: boxes go back to the thread that wrote them, whose CPU's caches are the
//! likeliest to still hold them, so that reusing a box does not pull its lines from another
//! CPU. (Each thread takes back about as many boxes as it filled, one per item.) The export
//! thread never writes to an item, so no cache line is bounced back and forth for it.
//!
//! The vectors that carry boxes circulate too: a thread that takes a batch leaves its emptied
//! cache vector on the stack as a spare, and the export thread takes spares for its next
//! batches and for the parts it splits off. In steady state nothing is allocated or freed for
//! them, and no thread frees a vector another allocated (with glibc's malloc that takes the
//! lock of the allocating thread's arena, and a producer would sleep on it).
//!
//! A box comes back after a full trip through the queue, so its lines have often left this
//! CPU's caches by then. The cache is a stack, so the thread's next boxes are known: each pop
//! prefetches the box [`BOX_AHEAD`] pops ahead, and the heap blocks (vector buffers) of the
//! one [`OWNED_AHEAD`] pops ahead, whose addresses are in a box prefetched earlier.
//!
//! Memory stays bounded: the stack keeps at most [`FREE_BATCHES`] batches and
//! [`Pooled::MAX_FREE`] items of a type (at least one batch; more are freed on the export
//! thread), and a thread caches at most one batch, or [`MAX_LOCAL`] boxes of items the queue
//! refused. A kept item holds what it held until it is reused, so each type sets its bound
//! by how large its items get.

use std::cell::RefCell;
use std::sync::Mutex;

use super::prefetch;

/// Most boxes a thread keeps for itself (refused items; a batch taken from the stack may be
/// larger).
pub(crate) const MAX_LOCAL: usize = 4096;

/// Most batches waiting for reuse, per item type.
pub(crate) const FREE_BATCHES: usize = 16;

/// Most emptied vectors kept for the export thread's next batches, per item type: as many as
/// batches can wait, and one for the batch being filled.
const MAX_SPARES: usize = FREE_BATCHES + 1;

/// How many pops ahead a box is prefetched. A span takes 30-70 ns; with two producers, or a
/// busy neighbour on the host, a box can take ~100 ns to arrive from memory, so two pops
/// ahead came too late (span_attrs_2threads in a slow phase of the VM: 91-100 ns without
/// prefetch, 72-74 with boxes two pops ahead, 67-69 four ahead).
const BOX_AHEAD: usize = 4;

/// How many cache lines of a box are prefetched: its first 256 bytes, which hold a span
/// record (~220 bytes) or a log record.
const BOX_LINES: usize = 4;

/// How many pops ahead the cache's own line (the boxes' addresses) is prefetched: a batch
/// taken from the stack was last written by the export thread, on another CPU.
const SLOT_AHEAD: usize = 24;

/// How many pops ahead a box's own heap blocks are prefetched: reading their addresses loads
/// the box, which was prefetched `BOX_AHEAD - OWNED_AHEAD` pops earlier.
const OWNED_AHEAD: usize = 2;

/// Exported batches waiting for reuse, most recent last, each with the [`thread_tag`] of the
/// thread that filled it (0 if unknown).
#[derive(Debug)]
pub(crate) struct FreeStack<T> {
    batches: Vec<(u64, Vec<Box<T>>)>,
    /// Empty vectors, for the export thread's next batches: the cache vectors that threads
    /// emptied when they took a batch. See [`recycle`].
    spares: Vec<Vec<Box<T>>>,
}

impl<T> FreeStack<T> {
    /// An empty stack.
    pub(crate) const fn new() -> Self {
        FreeStack {
            batches: Vec::new(),
            spares: Vec::new(),
        }
    }

    /// Keeps an emptied vector for [`FreeStack::spare`] (at most [`MAX_SPARES`]; room for
    /// them is made by [`recycle`], so this allocates nothing).
    fn keep_spare(&mut self, v: Vec<Box<T>>) -> Option<Vec<Box<T>>> {
        debug_assert!(v.is_empty());
        if v.capacity() == 0 || self.spares.len() >= MAX_SPARES {
            return Some(v);
        }
        self.spares.push(v);
        None
    }

    /// An empty vector with room for `n` items: the smallest spare one with that room, else
    /// the roomiest grown to it (exactly: a vector is never grown past what it carries), or
    /// a new one.
    fn spare(&mut self, n: usize) -> Vec<Box<T>> {
        let fits = (0..self.spares.len())
            .filter(|&i| self.spares[i].capacity() >= n)
            .min_by_key(|&i| self.spares[i].capacity());
        let at = fits.or_else(|| (0..self.spares.len()).max_by_key(|&i| self.spares[i].capacity()));
        let mut v = at.map_or_else(Vec::new, |i| self.spares.swap_remove(i));
        v.reserve_exact(n);
        v
    }

    /// Items waiting (at most `FREE_BATCHES` batches to add up).
    fn items(&self) -> usize {
        self.batches.iter().map(|(_, b)| b.len()).sum()
    }

    /// Pushes `batch`, filled by `thread`, unless `FREE_BATCHES` batches or `max_free` items
    /// would wait (a batch is kept when none does, however large).
    /// Returns the batch when it is not kept, for the caller to drop once it has let the
    /// stack go.
    fn keep(&mut self, thread: u64, batch: Vec<Box<T>>, max_free: usize) -> Option<Vec<Box<T>>> {
        if batch.is_empty() {
            return None;
        }
        let room = self.batches.len() < FREE_BATCHES && self.items() + batch.len() <= max_free;
        if room || self.batches.is_empty() {
            self.batches.push((thread, batch));
            return None;
        }
        Some(batch)
    }

    /// Takes the last batch `thread` filled, or else the last one.
    fn take_for(&mut self, thread: u64) -> Option<Vec<Box<T>>> {
        let last = self.batches.len().checked_sub(1)?;
        let at = self
            .batches
            .iter()
            .rposition(|(t, _)| *t == thread)
            .unwrap_or(last);
        Some(self.batches.remove(at).1)
    }
}

/// A run of an exported batch's items that one thread pushed: those from the previous part's
/// `end` (or the start) up to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    /// The [`thread_tag`] of the thread that pushed them (0 if unknown).
    pub(crate) thread: u64,
    /// One past the part's last item, as an index into the batch.
    pub(crate) end: usize,
}

/// This thread's tag for the pool: nonzero, and unique in the process.
pub(crate) fn thread_tag() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TAG: Cell<u64> = const { Cell::new(0) };
    }
    TAG.try_with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
    .unwrap_or(0)
}

/// The free stack and this thread's cache of one item type. Implement it with
/// [`pooled!`], which gives each type its own statics.
pub(crate) trait Pooled: Sized + 'static {
    /// Most items waiting on the free stack (a batch is kept when the stack is empty, even a
    /// larger one).
    const MAX_FREE: usize;
    /// The stack of exported batches waiting for reuse.
    fn free_batches() -> &'static Mutex<FreeStack<Self>>;
    /// Runs `f` on this thread's cache; `None` when it is unavailable (the thread is exiting,
    /// or the cache is already borrowed).
    fn with_local<R>(f: impl FnOnce(&mut Vec<Box<Self>>) -> R) -> Option<R>;
    /// Prefetches the heap blocks this item will reuse (see [`prefetch`]);
    /// none by default.
    #[inline(always)]
    fn prefetch_owned(&self) {}
}

/// Implements [`Pooled`] for a type.
macro_rules! pooled {
    ($t:ty, max_free = $max:expr) => {
        $crate::pipeline::pool::pooled!($t, max_free = $max, {});
    };
    ($t:ty, max_free = $max:expr, prefetch_owned = $f:path) => {
        $crate::pipeline::pool::pooled!($t, max_free = $max, {
            #[inline(always)]
            fn prefetch_owned(&self) {
                $f(self)
            }
        });
    };
    ($t:ty, max_free = $max:expr, { $($extra:tt)* }) => {
        impl $crate::pipeline::pool::Pooled for $t {
            const MAX_FREE: usize = $max;
            fn free_batches() -> &'static std::sync::Mutex<$crate::pipeline::pool::FreeStack<Self>>
            {
                static FREE: std::sync::Mutex<$crate::pipeline::pool::FreeStack<$t>> =
                    std::sync::Mutex::new($crate::pipeline::pool::FreeStack::new());
                &FREE
            }
            #[inline]
            fn with_local<R>(f: impl FnOnce(&mut Vec<Box<Self>>) -> R) -> Option<R> {
                thread_local! {
                    static LOCAL: std::cell::RefCell<Vec<Box<$t>>> =
                        const { std::cell::RefCell::new(Vec::new()) };
                }
                $crate::pipeline::pool::with_cache(&LOCAL, f)
            }
            $($extra)*
        }
    };
}
pub(crate) use pooled;

#[doc(hidden)]
#[inline]
pub(crate) fn with_cache<T: 'static, R>(
    key: &'static std::thread::LocalKey<RefCell<Vec<Box<T>>>>,
    f: impl FnOnce(&mut Vec<Box<T>>) -> R,
) -> Option<R> {
    key.try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

/// A box from this thread's cache, refilled from the free stack when empty; `None` when there
/// is none to reuse. The box still holds its earlier item: the caller overwrites or clears it.
#[inline]
pub(crate) fn pop<T: Pooled>() -> Option<Box<T>> {
    T::with_local(|l| {
        if let Some(b) = l.pop() {
            prefetch_ahead(l);
            return Some(b);
        }
        let mut free = T::free_batches().lock().ok()?;
        let batch = free.take_for(thread_tag())?;
        // The emptied cache goes back as a spare rather than to the allocator: the export
        // thread allocated most of these vectors, and freeing one here would take the lock
        // of that thread's malloc arena just as it allocates (glibc; producers were put to
        // sleep on it ~5 000 times a second in span_attrs_2threads).
        let unkept = free.keep_spare(std::mem::replace(l, batch));
        drop(free);
        drop(unkept);
        let b = l.pop();
        prefetch_ahead(l);
        b
    })
    .flatten()
}

/// Prefetches the box `BOX_AHEAD` pops ahead in `cache`, and the heap blocks of the one
/// `OWNED_AHEAD` pops ahead.
#[inline(always)]
fn prefetch_ahead<T: Pooled>(cache: &[Box<T>]) {
    let n = cache.len();
    if let Some(i) = n.checked_sub(SLOT_AHEAD) {
        prefetch::for_write::<1>(cache.as_ptr().wrapping_add(i).cast());
    }
    if let Some(b) = n.checked_sub(BOX_AHEAD).map(|i| &cache[i]) {
        prefetch::for_write::<BOX_LINES>((&**b as *const T).cast());
    }
    if let Some(b) = n.checked_sub(OWNED_AHEAD).map(|i| &cache[i]) {
        b.prefetch_owned();
    }
}

/// Hands an exported batch back for reuse, untouched, leaving `batch` empty (with room for
/// the next batch). `parts` says which thread pushed which items: each thread's part goes on
/// the stack as a batch of its own, tagged with that thread, so that two threads whose
/// items share a batch each get their own boxes back (a box reused by another thread would
/// bring its lines over from the CPU that wrote them, ~8 per span record). A batch of
/// unknown parts goes back whole, untagged. When enough items are already waiting, a part
/// is freed here.
pub(crate) fn recycle<T: Pooled>(batch: &mut Vec<Box<T>>, parts: &[Part]) {
    if batch.is_empty() {
        return;
    }
    let Ok(mut free) = T::free_batches().lock() else {
        batch.clear();
        return;
    };
    // Room for every spare, made here, so that threads leaving theirs never allocate.
    let room = MAX_SPARES - free.spares.len();
    free.spares.reserve_exact(room);
    let items = batch.len();
    let mut rest = std::mem::take(batch);
    let mut unkept = Vec::new();
    // Every part but the first is moved off the end of what is left, into a spare vector,
    // from the last one down (each starts where the one before it ends); the first keeps
    // the batch's vector.
    for (before, part) in parts.iter().zip(parts.iter().skip(1)).rev() {
        if before.end < rest.len() {
            let mut piece = free.spare(rest.len() - before.end);
            piece.extend(rest.drain(before.end..));
            unkept.extend(free.keep(part.thread, piece, T::MAX_FREE));
        }
    }
    unkept.extend(free.keep(parts.first().map_or(0, |p| p.thread), rest, T::MAX_FREE));
    // Room for as many items as this batch had: the export thread's batches are about the
    // same size, and its vector grows if one is larger.
    *batch = free.spare(items);
    drop(free);
    // Batches the stack had no room for are freed once it is let go.
    drop(unkept);
}

/// Keeps the box of an item the queue refused for this thread's next item, instead of
/// freeing it and allocating a new one.
pub(crate) fn give_back<T: Pooled>(item: Box<T>) {
    T::with_local(|l| {
        if l.len() < MAX_LOCAL {
            l.push(item);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Item(Vec<u32>);
    pooled!(Item, max_free = 8);

    #[derive(Debug, Default)]
    struct Small;
    pooled!(Small, max_free = 1000);

    #[test]
    fn a_thread_takes_back_the_last_batch_it_filled_or_else_the_last_one() {
        let mut free = FreeStack::<Small>::new();
        let batch = |n| (0..n).map(|_| Box::new(Small)).collect::<Vec<_>>();
        // Tagged 1, 2, 1, 3 from the bottom; told apart by their lengths.
        for (tag, n) in [(1, 1), (2, 2), (1, 3), (3, 4)] {
            free.batches.push((tag, batch(n)));
        }
        let len = |b: Option<Vec<Box<Small>>>| b.map(|b| b.len());
        assert_eq!(len(free.take_for(1)), Some(3), "thread 1's last");
        assert_eq!(len(free.take_for(1)), Some(1), "then its earlier one");
        assert_eq!(
            len(free.take_for(1)),
            Some(4),
            "then the last of any thread"
        );
        assert_eq!(len(free.take_for(2)), Some(2));
        assert_eq!(len(free.take_for(2)), None, "empty");
    }

    #[test]
    fn each_thread_gets_back_the_boxes_it_filled() {
        #[derive(Debug, Default)]
        struct Tagged(u32);
        pooled!(Tagged, max_free = 1000);
        std::thread::spawn(|| {
            // A batch of 3 items from thread 7, 2 from thread 9, 1 from thread 7 again
            // (another of its rings); the item is the number of its thread.
            let mut batch: Vec<Box<Tagged>> = [7, 7, 7, 9, 9, 7]
                .into_iter()
                .map(|t| Box::new(Tagged(t)))
                .collect();
            let parts = [
                Part { thread: 7, end: 3 },
                Part { thread: 9, end: 5 },
                Part { thread: 7, end: 6 },
            ];
            recycle(&mut batch, &parts);
            assert!(batch.is_empty());
            let mut free = Tagged::free_batches().lock().unwrap();
            let got: Vec<(u64, Vec<u32>)> = std::iter::from_fn(|| free.batches.pop())
                .map(|(t, b)| (t, b.iter().map(|x| x.0).collect()))
                .collect();
            // Split off from the end: the first part is pushed last, so it is taken first.
            assert_eq!(got, [(7, vec![7, 7, 7]), (9, vec![9, 9]), (7, vec![7])]);
        })
        .join()
        .unwrap();
    }

    /// The vectors that carry boxes go round between the export thread and the threads that
    /// take batches: neither allocates nor frees one in steady state.
    #[test]
    fn emptied_caches_become_the_export_threads_next_batches() {
        #[derive(Debug, Default)]
        struct Carried;
        pooled!(Carried, max_free = 1000);
        let batch_of = |n| (0..n).map(|_| Box::new(Carried)).collect::<Vec<_>>();
        std::thread::spawn(move || {
            // The export thread's batch; recycling hands its vector over with the boxes.
            let mut batch = batch_of(4);
            let first = batch.as_ptr();
            recycle(&mut batch, &[]);
            assert!(batch.is_empty() && batch.capacity() >= 4);
            let second = batch.as_ptr();
            // This thread's (empty) cache takes the batch; its own vector becomes a spare.
            Carried::with_local(|l| *l = Vec::with_capacity(8)).unwrap();
            let cache = Carried::with_local(|l| l.as_ptr()).unwrap();
            assert!(pop::<Carried>().is_some());
            assert_eq!(
                Carried::with_local(|l| l.as_ptr()),
                Some(first),
                "the batch's vector"
            );
            while pop::<Carried>().is_some() {}
            // The next exported batch goes out in `second`; the export thread then fills
            // the spare this thread left.
            batch.extend(batch_of(4));
            recycle(&mut batch, &[]);
            assert_eq!(batch.as_ptr(), cache, "the emptied cache, reused");
            let free = Carried::free_batches().lock().unwrap();
            assert_eq!(free.batches.last().map(|(_, b)| b.as_ptr()), Some(second));
            assert!(free.spares.is_empty());
        })
        .join()
        .unwrap();
    }

    /// However often they go round, the vectors keep about the size of what they carry.
    #[test]
    fn circulating_vectors_do_not_grow() {
        #[derive(Debug, Default)]
        struct Round;
        pooled!(Round, max_free = 1000);
        std::thread::spawn(|| {
            let mut batch: Vec<Box<Round>> = Vec::with_capacity(8);
            let mut largest = 0;
            for round in 0..200 {
                batch.extend((0..8).map(|_| Box::new(Round)));
                // Two threads' parts, as with two producers.
                recycle(
                    &mut batch,
                    &[Part { thread: 1, end: 3 }, Part { thread: 2, end: 8 }],
                );
                largest = largest.max(batch.capacity());
                // This thread takes both back, and keeps a few refused boxes (its cache
                // grows a little past a batch now and then).
                while let Some(b) = pop::<Round>() {
                    drop(b);
                }
                for _ in 0..round % 11 {
                    give_back(Box::new(Round));
                }
                Round::with_local(|l| largest = largest.max(l.capacity()));
            }
            assert!(largest <= 16, "a vector grew to {largest}");
        })
        .join()
        .unwrap();
    }

    /// Parts split off a batch go out in spare vectors of the size they need.
    #[test]
    fn parts_go_out_in_spare_vectors() {
        let mut free = FreeStack::<Small>::new();
        for n in [2, 64, 8] {
            assert!(free.keep_spare(Vec::with_capacity(n)).is_none());
        }
        assert!(free.keep_spare(Vec::new()).is_some(), "nothing to keep");
        assert!(free.spare(5).capacity() >= 5);
        assert_eq!(free.spares.len(), 2);
        assert!(free.spare(100).capacity() >= 100, "the roomiest, grown");
        assert_eq!(free.spares.len(), 1);
        for _ in 0..MAX_SPARES + 2 {
            free.keep_spare(Vec::with_capacity(1));
        }
        assert_eq!(free.spares.len(), MAX_SPARES, "bounded");
    }

    #[test]
    fn at_most_free_batches_wait_whatever_their_size() {
        for _ in 0..FREE_BATCHES + 4 {
            recycle(&mut vec![Box::new(Small)], &[]);
        }
        let free = Small::free_batches().lock().unwrap();
        assert_eq!(
            (free.batches.len(), free.items()),
            (FREE_BATCHES, FREE_BATCHES)
        );
    }

    #[test]
    fn boxes_come_back_to_new_items_and_memory_stays_bounded() {
        std::thread::spawn(|| {
            assert!(pop::<Item>().is_none(), "nothing to reuse yet");
            let mut batch: Vec<Box<Item>> = (0..4).map(|i| Box::new(Item(vec![i]))).collect();
            let addrs: Vec<*const Item> = batch.iter().map(|b| &**b as *const _).collect();
            recycle(&mut batch, &[]);
            assert!(batch.is_empty() && batch.capacity() >= 4);
            // The batch exported last comes back first, each box untouched.
            let b = pop::<Item>().expect("a recycled box");
            assert!(addrs.contains(&(&*b as *const _)));
            assert_eq!(b.0.len(), 1, "the caller clears or overwrites it");
            // At most MAX_FREE items wait: eight batches of one, or one batch of any size.
            const { assert!(Item::MAX_FREE < FREE_BATCHES) };
            for _ in 0..Item::MAX_FREE + 3 {
                recycle(&mut vec![Box::new(Item::default())], &[]);
            }
            assert_eq!(Item::free_batches().lock().unwrap().items(), Item::MAX_FREE);
            assert_eq!(Item::free_batches().lock().unwrap().batches.len(), 8);
            while pop::<Item>().is_some() {}
            let big = || {
                (0..20)
                    .map(|_| Box::new(Item::default()))
                    .collect::<Vec<_>>()
            };
            recycle(&mut big(), &[]);
            recycle(&mut big(), &[]);
            let free = Item::free_batches().lock().unwrap();
            assert_eq!(
                (free.batches.len(), free.items()),
                (1, 20),
                "one batch, even too large"
            );
            drop(free);
            for _ in 0..MAX_LOCAL + 10 {
                give_back(Box::new(Item::default()));
            }
            assert_eq!(Item::with_local(|l| l.len()), Some(MAX_LOCAL));
            let kept = Item::with_local(|l| &*l[l.len() - 1] as *const Item).unwrap();
            assert_eq!(
                &*pop::<Item>().unwrap() as *const Item,
                kept,
                "refused boxes first"
            );
        })
        .join()
        .unwrap();
    }
}
