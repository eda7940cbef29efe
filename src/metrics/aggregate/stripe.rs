//! Striped cells: a series of a counter or histogram keeps one cell per stripe, each on its
//! own cache lines, and every thread records on its own stripe. Threads recording on the
//! same series then write different lines (no line bouncing between cores); a collection
//! merges the stripes, so the reported values stay exact.
//!
//! Stripe 0 is shared: any thread may update it, with atomic read-modify-write operations.
//! Stripes `1..=count()` are exclusive: a thread claims one the first time it records (one
//! claim per thread, for every series) and gives it back when it exits. While a thread holds
//! stripe `k`, it is the only thread updating any series' stripe `k`, so cumulative streams
//! (whose collector only reads) may update it with a plain load and store, without a locked
//! instruction. Threads beyond `count()` live ones use the shared stripe.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

/// The most exclusive stripes: enough for the usual core counts, while bounding the memory
/// of each series (one padded cell per stripe).
pub(crate) const MAX_STRIPES: usize = 8;

/// The stripe of threads holding no exclusive one.
pub(crate) const SHARED: usize = 0;

/// The cells of one series: the shared stripe's, made with the series, and one per
/// exclusive stripe, made the first time its holder records on the series (so a series only
/// costs memory for the threads that use it). Each cell is padded to its own cache lines.
pub(crate) struct Stripes<C> {
    shared: CachePadded<C>,
    exclusive: Box<[OnceLock<Box<CachePadded<C>>>]>,
}

impl<C> Stripes<C> {
    /// The shared cell (from `make`) and room for `exclusive` more (none: an unstriped series).
    pub(crate) fn new(exclusive: usize, make: impl FnOnce() -> C) -> Self {
        Stripes {
            shared: CachePadded::new(make()),
            exclusive: (0..exclusive).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The cell of stripe `i` (made with `make` if needed), and whether the caller is its
    /// only writer (`i` is an exclusive stripe the caller holds, see [`current`]). Without
    /// such a stripe (unstriped series, [`SHARED`]), the shared cell.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize, make: impl FnOnce() -> C) -> (&C, bool) {
        match i.checked_sub(1).and_then(|k| self.exclusive.get(k)) {
            Some(cell) => (
                cell.get_or_init(|| Box::new(CachePadded::new(make()))),
                true,
            ),
            None => (&self.shared, false),
        }
    }

    /// The shared cell (the only one of an unstriped series).
    pub(crate) fn first(&self) -> &C {
        &self.shared
    }

    /// Every cell made so far, to merge at collection. A cell made after this call only holds
    /// measurements made after it, for the next collection.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &C> {
        std::iter::once(&*self.shared)
            .chain(self.exclusive.iter().filter_map(|c| c.get().map(|b| &***b)))
    }
}

/// How many exclusive stripes there are in this process: the number of CPUs, at most
/// [`MAX_STRIPES`].
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_STRIPES)
    })
}

/// Which exclusive stripes are held.
struct Claims([AtomicBool; MAX_STRIPES]);

impl Claims {
    const fn new() -> Self {
        Claims([const { AtomicBool::new(false) }; MAX_STRIPES])
    }

    /// Claims a free stripe among the first `n`: its number (`1..=n`).
    fn claim(&self, n: usize) -> Option<usize> {
        (0..n.min(MAX_STRIPES)).find_map(|k| {
            // Acquire: the previous holder's updates happen before ours.
            self.0[k]
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .ok()
                .map(|_| k + 1)
        })
    }

    /// Gives stripe `i` (from [`Claims::claim`]) back; the caller must not update it again.
    fn release(&self, i: usize) {
        // Release: our updates happen before those of the next holder.
        self.0[i - 1].store(false, Ordering::Release);
    }
}

static CLAIMS: Claims = Claims::new();

const UNASSIGNED: usize = usize::MAX;

/// Gives the thread's stripe back when the thread exits.
struct Holder(Cell<usize>);

impl Drop for Holder {
    fn drop(&mut self) {
        let i = self.0.get();
        if i != SHARED {
            // Anything this thread records from now on (in later thread-local destructors)
            // goes to the shared stripe: stop using `i` before giving it back.
            INDEX.with(|c| c.set(SHARED));
            CLAIMS.release(i);
        }
    }
}

thread_local! {
    // No destructor: readable at any time, even while the thread is being torn down.
    static INDEX: Cell<usize> = const { Cell::new(UNASSIGNED) };
    static HOLDER: Holder = const { Holder(Cell::new(SHARED)) };
}

/// The calling thread's stripe: an exclusive one (`1..=count()`) that no other live thread
/// uses, or [`SHARED`].
#[inline(always)]
pub(crate) fn current() -> usize {
    let i = INDEX.with(Cell::get);
    if i != UNASSIGNED {
        i
    } else {
        assign()
    }
}

#[cold]
fn assign() -> usize {
    let i = match CLAIMS.claim(count()) {
        // Registering the holder fails once the thread is being torn down: give it back.
        Some(i) => match HOLDER.try_with(|h| h.0.set(i)) {
            Ok(()) => i,
            Err(_) => {
                CLAIMS.release(i);
                SHARED
            }
        },
        None => SHARED,
    };
    INDEX.with(|c| c.set(i));
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn live_threads_never_share_an_exclusive_stripe() {
        let n = count();
        assert!((1..=MAX_STRIPES).contains(&n));
        let threads = 2 * MAX_STRIPES;
        let barrier = Arc::new(Barrier::new(threads));
        let got: Vec<usize> = (0..threads)
            .map(|_| {
                let b = barrier.clone();
                std::thread::spawn(move || {
                    let i = current();
                    assert_eq!(current(), i, "a thread keeps its stripe");
                    b.wait(); // all alive at once
                    i
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(got.iter().all(|&i| i <= n));
        let mut exclusive: Vec<usize> = got.into_iter().filter(|&i| i != SHARED).collect();
        let before = exclusive.len();
        exclusive.sort_unstable();
        exclusive.dedup();
        assert_eq!(exclusive.len(), before, "two live threads hold one stripe");
    }

    #[test]
    fn claims_are_exclusive_until_released() {
        let c = Claims::new();
        assert_eq!(c.claim(2), Some(1));
        assert_eq!(c.claim(2), Some(2));
        assert_eq!(c.claim(2), None, "all taken");
        c.release(1);
        assert_eq!(c.claim(2), Some(1), "given back, claimed again");
        assert_eq!(c.claim(MAX_STRIPES + 5), Some(3), "bounded by the table");
    }

    #[test]
    fn exclusive_cells_are_made_on_first_use_and_others_get_the_shared_one() {
        let s = Stripes::new(0, || 7u8);
        assert_eq!(s.get(5, || unreachable!()), (&7, false), "unstriped");
        assert_eq!(s.iter().count(), 1);
        let s = Stripes::new(3, || 1u8);
        assert_eq!(s.iter().count(), 1, "only the shared cell until used");
        assert_eq!(s.get(SHARED, || unreachable!()), (&1, false));
        assert_eq!(s.get(2, || 3), (&3, true));
        assert_eq!(s.get(2, || unreachable!()), (&3, true), "made once");
        assert_eq!(s.get(4, || unreachable!()), (&1, false), "out of range");
        assert_eq!(s.get(3, || 4), (&4, true));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(*s.first(), 1);
    }
}
