//! Recycling of span records, on the shared [`pool`](crate::pipeline::pool).
//!
//! A span's data lives in one heap block from start to export, so ending, queueing and
//! batching a span move a pointer, never the ~220-byte record. After export the batch
//! processor hands the records back untouched, and new spans reuse them: in steady state a
//! span allocates nothing for itself. A record's vectors are cleared by the thread that
//! reuses it (which usually allocated what they held) and keep their capacity, unless they
//! grew unusually large.

use std::sync::OnceLock;

use crate::pipeline::pool::{self, pooled};
use crate::scope::InstrumentationScope;
use crate::trace::id::SpanContext;
use crate::trace::span_data::{SpanData, SpanKind, Status};

const MAX_KEPT_ATTRIBUTES: usize = 32;
const MAX_KEPT_EVENTS: usize = 16;
const MAX_KEPT_LINKS: usize = 8;

// Span records are small (~220 bytes plus vectors of a few attributes), so the item bound
// leaves room for 16 batches of 8192 (the batch count bounds smaller batches): a tighter
// bound made the export thread free the records of large batches, contending with the
// producing thread's allocations (export_grpc_1m's producer loop 0.30-0.40 s against
// 0.26-0.36 s, 8 alternating runs each with a bound of 8192).
pooled!(SpanData, max_free = 16 * 8192);

fn empty_scope() -> InstrumentationScope {
    static EMPTY: OnceLock<InstrumentationScope> = OnceLock::new();
    EMPTY.get_or_init(InstrumentationScope::default).clone()
}

/// A record for a new span: recycled when possible. Its vectors are emptied here, on the
/// thread that will fill it, and keep their capacity; every other field is overwritten by
/// the caller.
#[inline]
pub(crate) fn take() -> Box<SpanData> {
    match pool::pop::<SpanData>() {
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

/// Keeps a record that was never exported (its span was dropped because the queue was
/// full) for this thread's next spans, instead of freeing it and allocating a new one.
pub(crate) fn give_back(record: Box<SpanData>) {
    pool::give_back(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::pool::{Pooled, MAX_LOCAL};

    #[test]
    fn refused_records_are_reused_by_their_thread_and_bounded() {
        std::thread::spawn(|| {
            // Through this thread's cache, so that no other test's records come first (the
            // free stack is shared by the whole process).
            let mut r = take();
            r.attributes.push(crate::KeyValue::new("k", 1));
            r.events.push(crate::trace::Event {
                name: "e".into(),
                timestamp_unix_nano: 1,
                attributes: Vec::new(),
                dropped_attributes_count: 0,
            });
            let addr = &*r as *const SpanData;
            give_back(r);
            let again = take();
            assert_eq!(
                &*again as *const SpanData, addr,
                "the same record comes back"
            );
            assert!(
                again.attributes.is_empty() && again.events.is_empty(),
                "cleared"
            );
            assert!(
                again.attributes.capacity() > 0,
                "its vectors keep their room"
            );
            let many: Vec<_> = (0..MAX_LOCAL + 10).map(|_| take()).collect();
            for r in many {
                give_back(r);
            }
            assert_eq!(SpanData::with_local(|l| l.len()), Some(MAX_LOCAL));
        })
        .join()
        .unwrap();
    }
}
