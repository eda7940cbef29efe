//! [`SpanRc`]: the atomically counted pointer behind [`SpanHandle`](super::SpanHandle) and a
//! context's active span.
//!
//! It is `Arc` without weak references, plus two operations that keep atomic
//! read-modify-writes off the current-span path (`start_as_current_span` / `in_span`):
//! - [`SpanRc::pair_in`] makes two references at once: the count starts at 2, so the guard's
//!   reference costs no increment;
//! - [`SpanRc::reclaim_pair`] takes the value back from two references to the same node when
//!   they are the only ones, after one plain load of the count, and returns the emptied
//!   allocation so the caller can reuse it.
//!
//! Everything else (clone, drop, [`SpanRc::try_unwrap`]) behaves like `Arc`.

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// The allocation a [`SpanRc`] points to.
pub(crate) struct Node<T> {
    refs: AtomicUsize,
    value: T,
}

/// An allocation for a [`Node`], empty: what [`SpanRc::reclaim_pair`] gives back.
pub(crate) type Slot<T> = Box<MaybeUninit<Node<T>>>;

/// A counted shared reference to a `T`, like `Arc<T>` (see the module documentation).
pub(crate) struct SpanRc<T> {
    ptr: NonNull<Node<T>>,
    _owns: PhantomData<Node<T>>,
}

// SAFETY: a SpanRc is a shared reference to a T that may be dropped on any thread, exactly
// like Arc<T>, and needs the same bounds.
unsafe impl<T: Send + Sync> Send for SpanRc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for SpanRc<T> {}

/// Past this many references the count could overflow: abort, as `Arc` does.
const MAX_REFS: usize = isize::MAX as usize;

impl<T> SpanRc<T> {
    /// One reference to a new node holding `value`.
    pub(crate) fn new(value: T) -> Self {
        Self::from_ptr(Self::init(Box::new_uninit(), value, 1))
    }

    /// Two references to a new node holding `value`, built in `slot`. The count starts at 2:
    /// no atomic read-modify-write.
    #[inline]
    pub(crate) fn pair_in(slot: Slot<T>, value: T) -> (Self, Self) {
        let ptr = Self::init(slot, value, 2);
        (Self::from_ptr(ptr), Self::from_ptr(ptr))
    }

    /// [`SpanRc::pair_in`] with the value written in place by `init`, which gets the address
    /// of the node's value. A value built first and then moved into the node is copied in
    /// 16-byte blocks right after being written field by field, which stalls the CPU (see
    /// `crate::slot`); writing each field straight into the node does not.
    ///
    /// # Safety
    ///
    /// `init` must initialise the whole value (every field) before it returns.
    #[inline]
    pub(crate) unsafe fn pair_in_with(slot: Slot<T>, init: impl FnOnce(*mut T)) -> (Self, Self) {
        let node: *mut Node<T> = Box::into_raw(slot).cast();
        // SAFETY: `node` points to an allocation for a `Node<T>`, uninitialised and ours (it
        // came out of the box); the caller's `init` initialises the value, and the count is
        // written here, so the node is whole before a reference to it is made.
        unsafe {
            std::ptr::addr_of_mut!((*node).refs).write(AtomicUsize::new(2));
            init(std::ptr::addr_of_mut!((*node).value));
        }
        // SAFETY: from a box, so never null.
        let ptr = unsafe { NonNull::new_unchecked(node) };
        (Self::from_ptr(ptr), Self::from_ptr(ptr))
    }

    /// Writes a node counting `refs` references into `slot` and lets go of the box: the
    /// caller makes exactly `refs` references to it.
    #[inline]
    fn init(slot: Slot<T>, value: T, refs: usize) -> NonNull<Node<T>> {
        let node: &mut Node<T> = Box::leak(slot).write(Node {
            refs: AtomicUsize::new(refs),
            value,
        });
        NonNull::from(node)
    }

    #[inline]
    fn from_ptr(ptr: NonNull<Node<T>>) -> Self {
        SpanRc {
            ptr,
            _owns: PhantomData,
        }
    }

    #[inline]
    fn node(&self) -> &Node<T> {
        // SAFETY: the node lives while any reference to it does, and this is one.
        unsafe { self.ptr.as_ref() }
    }

    /// `true` when both point to the same node.
    #[inline]
    pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// Frees the node behind `ptr` without dropping its value.
    ///
    /// # Safety
    /// No reference to the node may remain, and its value must already be moved out.
    #[inline]
    unsafe fn into_slot(ptr: NonNull<Node<T>>) -> Slot<T> {
        // SAFETY: the node was allocated as a Slot<T> (in pair_in) and the caller guarantees
        // nothing refers to it any more; MaybeUninit<Node<T>> has Node<T>'s layout.
        unsafe { Box::from_raw(ptr.as_ptr().cast::<MaybeUninit<Node<T>>>()) }
    }

    /// Takes the value out of a node whose last reference is being given up: returns the
    /// value and the emptied allocation.
    ///
    /// # Safety
    /// The caller owns the only reference(s) to `ptr`'s node and gives them all up here.
    #[inline]
    unsafe fn take(ptr: NonNull<Node<T>>) -> (T, Slot<T>) {
        // SAFETY: the caller holds the only references, so the node is alive and nobody else
        // reads it; its value is read out exactly once and the allocation returned uninit.
        unsafe {
            let value = std::ptr::read(&ptr.as_ref().value);
            (value, Self::into_slot(ptr))
        }
    }

    /// The value, when `a` and `b` are the only references to one node; otherwise both back.
    #[inline]
    pub(crate) fn reclaim_pair(a: Self, b: Self) -> Result<(T, Slot<T>), (Self, Self)> {
        // Acquire: pairs with the Release decrement of every reference dropped on another
        // thread, so whatever they did to the value happened before we read it.
        if !Self::ptr_eq(&a, &b) || a.node().refs.load(Ordering::Acquire) != 2 {
            return Err((a, b));
        }
        let ptr = a.ptr;
        std::mem::forget(a);
        std::mem::forget(b);
        // SAFETY: the count is 2 and both references are here, so no other exists; none can
        // appear, because making one needs one (there are no weak references).
        Ok(unsafe { Self::take(ptr) })
    }

    /// The value, when `this` is the only reference; otherwise `this` back.
    pub(crate) fn try_unwrap(this: Self) -> Result<T, Self> {
        if this
            .node()
            .refs
            .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(this);
        }
        let this = ManuallyDrop::new(this);
        // SAFETY: the count went from 1 to 0 here, so `this` was the only reference and nobody
        // else can reach the node.
        Ok(unsafe { Self::take(this.ptr) }.0)
    }
}

impl<T> Clone for SpanRc<T> {
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed, as Arc: a new reference can only be made from an existing one, which
        // already keeps the node alive.
        if self.node().refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
            std::process::abort();
        }
        SpanRc {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for SpanRc<T> {
    #[inline]
    fn drop(&mut self) {
        if self.node().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Pairs with the Release decrements of the other references: their uses of the value
        // happen before it is dropped.
        fence(Ordering::Acquire);
        // SAFETY: this was the last reference; the node came from a Box (see into_slot) and
        // Box<Node<T>> drops the value and frees it.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

impl<T> Deref for SpanRc<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.node().value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn tracked() -> (Tracked, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        (Tracked(Arc::clone(&drops)), drops)
    }

    #[test]
    fn last_reference_drops_the_value_once() {
        let (t, drops) = tracked();
        let a = SpanRc::new(t);
        let b = a.clone();
        let c = b.clone();
        drop(a);
        drop(c);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_lone_pair_gives_its_value_and_allocation_back() {
        let (t, drops) = tracked();
        let (a, b) = SpanRc::pair_in(Box::new_uninit(), t);
        let Ok((value, slot)) = SpanRc::reclaim_pair(a, b) else {
            panic!("the pair is the only reference");
        };
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        // The slot is reused for the next node; the value is still alive and owned here.
        let (t2, drops2) = tracked();
        let (c, d) = SpanRc::pair_in(slot, t2);
        drop(value);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(c);
        drop(d);
        assert_eq!(drops2.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_pair_built_in_place_holds_what_was_written_and_counts_two() {
        let (t, drops) = tracked();
        // SAFETY: both fields of the tuple are written.
        let (a, b) = unsafe {
            SpanRc::pair_in_with(Box::new_uninit(), |v: *mut (Tracked, u64)| {
                std::ptr::addr_of_mut!((*v).0).write(t);
                std::ptr::addr_of_mut!((*v).1).write(42);
            })
        };
        assert_eq!(a.1, 42);
        assert!(SpanRc::ptr_eq(&a, &b));
        // A third reference keeps the node when the pair goes.
        let c = a.clone();
        drop(a);
        drop(b);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        assert_eq!(c.1, 42);
        drop(c);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "dropped with the last reference"
        );
    }

    #[test]
    fn a_pair_with_another_reference_is_not_reclaimed() {
        let (t, drops) = tracked();
        let (a, b) = SpanRc::pair_in(Box::new_uninit(), t);
        let extra = a.clone();
        let Err((a, b)) = SpanRc::reclaim_pair(a, b) else {
            panic!("a third reference exists");
        };
        drop(a);
        assert!(SpanRc::try_unwrap(b).is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        let value = SpanRc::try_unwrap(extra).ok().expect("the last reference");
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(value);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn references_to_different_nodes_are_not_a_pair() {
        let (a, _) = SpanRc::pair_in(Box::new_uninit(), 1u32);
        let (b, _) = SpanRc::pair_in(Box::new_uninit(), 2u32);
        let Err((a, b)) = SpanRc::reclaim_pair(a, b) else {
            panic!("different nodes");
        };
        assert_eq!((*a, *b), (1, 2));
    }

    #[test]
    fn references_dropped_on_other_threads_are_seen_before_reclaiming() {
        let (t, drops) = tracked();
        let (a, b) = SpanRc::pair_in(Box::new_uninit(), std::sync::Mutex::new((t, 0u64)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let r = a.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        r.lock().unwrap().1 += 1;
                        let again = r.clone();
                        drop(again);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let Ok((value, _slot)) = SpanRc::reclaim_pair(a, b) else {
            panic!("the other threads let go of their references");
        };
        assert_eq!(value.into_inner().unwrap().1, 200);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_last_reference_may_be_dropped_on_another_thread() {
        let (t, drops) = tracked();
        let (a, b) = SpanRc::pair_in(Box::new_uninit(), t);
        let h = std::thread::spawn(move || drop(b));
        drop(a);
        h.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
