//! Recycling of span records.
//!
//! A span's data lives in one heap block from start to export, so ending, queueing and
//! batching a span move a pointer, never the ~250-byte record. After export, the batch
//! processor clears the records (keeping their vectors' capacity) and returns them here, and
//! the next spans reuse them: in steady state a span allocates nothing for itself, and no
//! block is freed on a thread other than the one that allocated it (which is slow with most
//! allocators).
//!
//! The pool is bounded; records with unusually large vectors are freed instead of kept.

use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;

use crate::scope::InstrumentationScope;
use crate::trace::id::SpanContext;
use crate::trace::span_data::{SpanData, SpanKind, Status};

const POOL_SIZE: usize = 8192;
const MAX_KEPT_ATTRIBUTES: usize = 32;
const MAX_KEPT_EVENTS: usize = 16;
const MAX_KEPT_LINKS: usize = 8;

fn pool() -> &'static ArrayQueue<Box<SpanData>> {
    static POOL: OnceLock<ArrayQueue<Box<SpanData>>> = OnceLock::new();
    POOL.get_or_init(|| ArrayQueue::new(POOL_SIZE))
}

fn empty_scope() -> InstrumentationScope {
    static EMPTY: OnceLock<InstrumentationScope> = OnceLock::new();
    EMPTY.get_or_init(InstrumentationScope::default).clone()
}

/// A record for a new span: recycled when possible. Its vectors are emptied here, on the
/// thread that will fill it (which also allocated most of what they held), and keep their
/// capacity; every other field is overwritten by the caller.
#[inline]
pub(crate) fn take() -> Box<SpanData> {
    match pool().pop() {
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
        }),
    }
}

#[inline]
fn clear_or_shrink<T>(v: &mut Vec<T>, max_kept: usize) {
    if v.capacity() > max_kept {
        *v = Vec::new();
    } else {
        v.clear();
    }
}

/// Returns exported records to the pool, untouched: the exporting thread does not write to
/// them (no cache lines bounce back), and their contents are dropped by the next span that
/// takes them. When the pool is full the rest are freed here.
pub(crate) fn recycle(batch: &mut Vec<Box<SpanData>>) {
    let pool = pool();
    for s in batch.drain(..) {
        if pool.push(s).is_err() {
            // Full: the remaining records are freed.
        }
    }
}
