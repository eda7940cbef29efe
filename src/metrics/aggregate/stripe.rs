//! Striped cells: a series of a counter or histogram keeps one cell per stripe, each on its
//! own cache lines, and every thread records on the stripe it was assigned. Threads recording
//! on the same series then write different lines (no line bouncing between cores); a
//! collection merges the stripes, so the reported values stay exact.
//!
//! The stripe count is the number of CPUs (at most [`MAX_STRIPES`]), fixed for the process.
//! Threads get stripes round robin, in the order they first record.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

/// The most stripes a series gets: enough for the usual core counts, while bounding the
/// memory of each series (one padded cell per stripe).
pub(crate) const MAX_STRIPES: usize = 8;

/// One cell per stripe, each padded to its own cache lines. Never empty.
pub(crate) struct Stripes<C>(Box<[CachePadded<C>]>);

impl<C> Stripes<C> {
    /// `n` cells (at least one), made by `make`.
    pub(crate) fn new(n: usize, mut make: impl FnMut() -> C) -> Self {
        Stripes((0..n.max(1)).map(|_| CachePadded::new(make())).collect())
    }

    /// The cell of stripe `i`; the first one when there are fewer stripes (unstriped cells).
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> &C {
        match self.0.get(i) {
            Some(c) => c,
            None => &self.0[0],
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

/// How many stripes a striped series gets in this process.
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_STRIPES)
    })
}

const UNASSIGNED: usize = usize::MAX;

thread_local! {
    // No destructor: readable at any time, even while the thread is being torn down.
    static INDEX: Cell<usize> = const { Cell::new(UNASSIGNED) };
}

/// The calling thread's stripe, below [`count`].
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
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let i = NEXT.fetch_add(1, Ordering::Relaxed) % count();
    INDEX.with(|c| c.set(i));
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_stripe_and_stripes_are_in_range() {
        let n = count();
        assert!((1..=MAX_STRIPES).contains(&n));
        let mine = current();
        assert_eq!(current(), mine);
        let others: Vec<usize> = (0..4)
            .map(|_| std::thread::spawn(current).join().unwrap())
            .collect();
        assert!(others.iter().chain([&mine]).all(|&i| i < n));
    }

    #[test]
    fn an_out_of_range_index_falls_back_to_the_first_cell() {
        let s = Stripes::new(1, || 7u8);
        assert_eq!(s.len(), 1);
        assert_eq!(*s.get(5), 7);
        let mut k = 0u8;
        let s = Stripes::new(3, || {
            k += 1;
            k
        });
        assert_eq!((*s.get(0), *s.get(2), *s.get(3)), (1, 3, 1));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(*s.first(), 1);
    }
}
