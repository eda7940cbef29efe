//! Recycling of span records.
//!
//! A span's data lives in one heap block from start to export, so ending, queueing and
//! batching a span move a pointer, never the ~220-byte record. After export, the batch
//! processor hands the whole batch of records back here, untouched, and new spans reuse
//! them: in steady state a span allocates nothing for itself.
//!
//! Records travel in batches, so recycling costs no atomic operation per span: the exporting
//! thread pushes each exported batch (a `Vec` of records) onto a bounded stack of free
//! batches (one lock per batch), and a thread starting spans takes a whole batch into a
//! thread-local cache when its cache runs dry. A stack rather than a queue: the batch taken
//! is the one exported last, whose records are the likeliest to still be in the CPU's
//! caches. The record's vectors are cleared by the thread that reuses it (which usually
//! allocated what they held), and the exporting thread never writes to a record, so no
//! cache line is bounced back and forth for it.
//!
//! Memory stays bounded: at most `FREE_BATCHES` batches wait on the stack (more are freed),
//! each thread caches at most one batch, and records with unusually large vectors are
//! replaced by fresh ones.

use std::cell::RefCell;
use std::sync::{Mutex, OnceLock};

use crate::scope::InstrumentationScope;
use crate::trace::id::SpanContext;
use crate::trace::span_data::{SpanData, SpanKind, Status};

/// Batches of free records kept for reuse.
const FREE_BATCHES: usize = 16;
const MAX_KEPT_ATTRIBUTES: usize = 32;
const MAX_KEPT_EVENTS: usize = 16;
const MAX_KEPT_LINKS: usize = 8;

fn free_batches() -> &'static Mutex<Vec<Vec<Box<SpanData>>>> {
    static FREE: Mutex<Vec<Vec<Box<SpanData>>>> = Mutex::new(Vec::new());
    &FREE
}

thread_local! {
    /// This thread's cache of free records.
    static LOCAL: RefCell<Vec<Box<SpanData>>> = const { RefCell::new(Vec::new()) };
}

fn empty_scope() -> InstrumentationScope {
    static EMPTY: OnceLock<InstrumentationScope> = OnceLock::new();
    EMPTY.get_or_init(InstrumentationScope::default).clone()
}

fn local_pop() -> Option<Box<SpanData>> {
    LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            if let Some(r) = l.pop() {
                return Some(r);
            }
            let mut batch = free_batches().lock().ok()?.pop()?;
            let r = batch.pop();
            *l = batch;
            r
        })
        .ok()
        .flatten()
}

/// A record for a new span: recycled when possible. Its vectors are emptied here, on the
/// thread that will fill it, and keep their capacity; every other field is overwritten by
/// the caller.
#[inline]
pub(crate) fn take() -> Box<SpanData> {
    match local_pop() {
        Some(mut b) => {
            clear_or_shrink(&mut b.attributes, MAX_KEPT_ATTRIBUTES);
            clear_or_shrink(&mut b.events, MAX_KEPT_EVENTS);
            clear_or_shrink(&mut b.links, MAX_KEPT_LINKS);
            b
        }
        None => Box::new(SpanData {
            span_context: SpanContext::INVALID,
            parent_span_id: crate::trace::id::SpanId::INVALID,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name: "".into(),
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status::Unset,
            scope: empty_scope(),
            owner: Default::default(),
        }),
    }
}

#[inline]
fn clear_or_shrink<T>(v: &mut Vec<T>, max_kept: usize) {
    if v.is_empty() {
        // The common case; `clear` would still call the elements' out-of-line drop.
    } else if v.capacity() > max_kept {
        *v = Vec::new();
    } else {
        v.clear();
    }
}

/// Most records a thread keeps for itself (its cache holds a batch taken from the queue,
/// or records it could not hand over).
const MAX_LOCAL: usize = 4096;

/// Keeps a record that was never exported (its span was dropped because the queue was
/// full) for this thread's next spans, instead of freeing it and allocating a new one.
pub(crate) fn give_back(record: Box<SpanData>) {
    let _ = LOCAL.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            if l.len() < MAX_LOCAL {
                l.push(record);
            }
        }
    });
}

/// Hands an exported batch of records back for reuse, untouched, leaving `batch` empty (with
/// room for the next batch). When enough batches are already waiting, the records are freed.
pub(crate) fn recycle(batch: &mut Vec<Box<SpanData>>) {
    if batch.is_empty() {
        return;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(batch.capacity()));
    // Beyond `FREE_BATCHES` waiting batches, this one is dropped here, freeing its records.
    if let Ok(mut free) = free_batches().lock() {
        if free.len() < FREE_BATCHES {
            free.push(full);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_cleared_and_memory_stays_bounded() {
        // Fill more batches than the queue keeps: the extra ones are freed, not kept.
        for round in 0..FREE_BATCHES + 4 {
            let mut batch: Vec<Box<SpanData>> = (0..8)
                .map(|i| {
                    let mut r = take();
                    r.attributes
                        .push(crate::KeyValue::new("k", i as i64 + round as i64));
                    r
                })
                .collect();
            recycle(&mut batch);
            assert!(batch.is_empty());
        }
        assert!(free_batches().lock().unwrap().len() <= FREE_BATCHES);
        let r = take();
        assert!(r.attributes.is_empty(), "recycled records are cleared");
    }

    #[test]
    fn refused_records_are_reused_by_their_thread_and_bounded() {
        std::thread::spawn(|| {
            let mut r = take();
            r.attributes.push(crate::KeyValue::new("k", 1));
            let addr = &*r as *const SpanData;
            give_back(r);
            let again = take();
            assert_eq!(
                &*again as *const SpanData, addr,
                "the same record comes back"
            );
            assert!(again.attributes.is_empty());
            let many: Vec<_> = (0..MAX_LOCAL + 10).map(|_| take()).collect();
            for r in many {
                give_back(r);
            }
            LOCAL.with(|l| assert_eq!(l.borrow().len(), MAX_LOCAL));
        })
        .join()
        .unwrap();
    }
}
