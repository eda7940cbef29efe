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

/// One cell per stripe, each padded to its own cache lines. Never empty.
pub(crate) struct Stripes<C>(Box<[CachePadded<C>]>);

impl<C> Stripes<C> {
    /// `n` cells (at least one), made by `make`.
    pub(crate) fn new(n: usize, mut make: impl FnMut() -> C) -> Self {
        Stripes((0..n.max(1)).map(|_| CachePadded::new(make())).collect())
    }

    /// The cell of stripe `i`, and whether the caller is its only writer (`i` is an
    /// exclusive stripe the caller holds, see [`current`]). Unstriped cells (fewer stripes)
    /// give their shared first cell.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> (&C, bool) {
        match self.0.get(i) {
            Some(c) => (c, i != SHARED),
            None => (&self.0[SHARED], false),
        }
    }

    /// The first cell (the only one of an unstriped series).
    pub(crate) fn first(&self) -> &C {
        &self.0[0]
    }

    /// Every cell, to merge at collection.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &C> {
        self.0.iter().map(|c| &**c)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
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

/// Cells per striped series: the shared stripe and the exclusive ones.
pub(crate) fn cells() -> usize {
    count() + 1
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
    fn an_out_of_range_index_gives_the_shared_first_cell() {
        let s = Stripes::new(1, || 7u8);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(5), (&7, false));
        let mut k = 0u8;
        let s = Stripes::new(3, || {
            k += 1;
            k
        });
        assert_eq!(
            (s.get(0), s.get(2), s.get(3)),
            ((&1, false), (&3, true), (&1, false))
        );
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(*s.first(), 1);
    }
}
