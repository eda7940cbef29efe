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

/// A cleared record, recycled when possible.
#[inline]
pub(crate) fn take() -> Box<SpanData> {
    match pool().pop() {
        Some(b) => b,
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

/// Clears `batch` and returns its records to the pool.
pub(crate) fn recycle(batch: &mut Vec<Box<SpanData>>) {
    let pool = pool();
    for mut s in batch.drain(..) {
        if s.attributes.capacity() > MAX_KEPT_ATTRIBUTES
            || s.events.capacity() > MAX_KEPT_EVENTS
            || s.links.capacity() > MAX_KEPT_LINKS
        {
            continue;
        }
        s.attributes.clear();
        s.events.clear();
        s.links.clear();
        s.span_context = SpanContext::INVALID;
        s.name = "".into();
        s.status = Status::Unset;
        s.scope = empty_scope();
        if pool.push(s).is_err() {
            // Full: the remaining records are freed.
        }
    }
}
