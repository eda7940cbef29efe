//! Recycling of span records, on the shared [`pool`].
//!
//! A span's data lives in one heap block from start to export, so ending, queueing and
//! batching a span move a pointer, never the ~220-byte record. After export the batch
//! processor hands the records back untouched, and new spans reuse them: in steady state a
//! span allocates nothing for itself. A record's vectors are cleared by the thread that
//! reuses it (which usually allocated what they held) and keep their capacity, unless they
//! grew unusually large.
//!
//! Clearing a vector reads every element, to drop it. So each record also tracks whether any
//! of its attributes or events owns something ([`Reuse`]); when none does (static keys and
//! names, numbers, inline arrays: the common case), clearing only resets the lengths. The
//! elements' lines are then written by the next span without first being read, which
//! matters when the record was last filled on another CPU.

use std::sync::OnceLock;

use crate::attributes::KeyValue;
use crate::pipeline::pool::{self, pooled};
use crate::pipeline::prefetch;
use crate::scope::InstrumentationScope;
use crate::trace::id::SpanContext;
use crate::trace::span_data::{Event, SpanData, SpanKind, Status};

const MAX_KEPT_ATTRIBUTES: usize = 32;
const MAX_KEPT_EVENTS: usize = 16;
const MAX_KEPT_LINKS: usize = 8;

// Span records are small (~220 bytes plus vectors of a few attributes), so the item bound
// leaves room for 16 batches of 8192 (the batch count bounds smaller batches): a tighter
// bound made the export thread free the records of large batches, contending with the
// producing thread's allocations (export_grpc_1m's producer loop 0.30-0.40 s against
// 0.26-0.36 s, 8 alternating runs each with a bound of 8192).
pooled!(
    SpanData,
    max_free = 16 * 8192,
    prefetch_owned = prefetch_vectors
);

/// Prefetches the start of a recycled record's attribute and event buffers, which the next
/// span writes without reading first: three lines of attributes (the first three 56-byte
/// pairs) and the first event.
#[inline(always)]
fn prefetch_vectors(d: &SpanData) {
    if d.attributes.capacity() != 0 {
        prefetch::for_write::<3>(d.attributes.as_ptr().cast());
    }
    if d.events.capacity() != 0 {
        prefetch::for_write::<1>(d.events.as_ptr().cast());
    }
}

/// Whether a record's attributes and events can be forgotten rather than dropped when the
/// record is reused: whether none of them owns memory or a reference count.
///
/// The SDK keeps it up to date as it fills the record, from the pairs and events it stores
/// (where the compiler usually knows the answer, so that it costs nothing). Wherever other
/// code has had the record mutably (processors' `on_start`, and a processor's `on_end` that
/// hands the record on), it is recomputed from the contents ([`Reuse::scan`]). A clone
/// carries it: a clone owns what the original owns.
#[derive(Clone, Copy, Default)]
pub(crate) struct Reuse {
    /// No attribute owns anything.
    plain_attributes: bool,
    /// No event owns anything (its name is static and it has no attribute vector).
    plain_events: bool,
}

impl Reuse {
    /// That of a record with empty vectors.
    pub(crate) const EMPTY: Reuse = Reuse {
        plain_attributes: true,
        plain_events: true,
    };

    /// A pair was stored in the record's attributes (see [`crate::attributes::Upsert`]).
    #[inline(always)]
    pub(crate) fn attribute_stored(&mut self, owns: bool) {
        if owns {
            self.plain_attributes = false;
        }
    }

    /// Fills the last event through `fill` (which runs user code: an attribute iterator).
    /// Meanwhile the events count as owning memory, so that if `fill` panics, the event it
    /// left half-filled is dropped properly on reuse, not forgotten.
    #[inline(always)]
    pub(crate) fn filling_event(&mut self, event: &mut Event, fill: impl FnOnce(&mut Event)) {
        let plain = std::mem::replace(&mut self.plain_events, false);
        fill(event);
        self.plain_events = plain;
        self.event_stored(event);
    }

    /// An event was added to the record, with its attributes.
    #[inline(always)]
    pub(crate) fn event_stored(&mut self, event: &Event) {
        if event.needs_drop() {
            self.plain_events = false;
        }
    }

    /// Recomputes it from the record's contents.
    pub(crate) fn scan(record: &mut SpanData) {
        record.reuse = Reuse::of(record);
    }

    /// What `record` holds (this reads every attribute and event).
    fn of(record: &SpanData) -> Reuse {
        Reuse {
            plain_attributes: !record.attributes.iter().any(KeyValue::needs_drop),
            plain_events: !record.events.iter().any(Event::needs_drop),
        }
    }

    /// Whether it is true of `record`: it claims nothing plain that is not (for debug
    /// assertions).
    fn holds_for(self, record: &SpanData) -> bool {
        let truth = Reuse::of(record);
        (!self.plain_attributes || truth.plain_attributes)
            && (!self.plain_events || truth.plain_events)
    }
}

impl PartialEq for Reuse {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Reuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

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
            let reuse = b.reuse;
            debug_assert!(
                reuse.holds_for(&b),
                "a record's attributes or events own more than its `Reuse` says"
            );
            b.reuse = Reuse::EMPTY;
            clear_or_shrink(
                &mut b.attributes,
                reuse.plain_attributes,
                MAX_KEPT_ATTRIBUTES,
            );
            clear_or_shrink(&mut b.events, reuse.plain_events, MAX_KEPT_EVENTS);
            clear_or_shrink(&mut b.links, false, MAX_KEPT_LINKS);
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
            reuse: Reuse::EMPTY,
        }),
    }
}

/// Empties `v`. With `plain`, its elements are known to own nothing and are not read.
#[inline]
fn clear_or_shrink<T>(v: &mut Vec<T>, plain: bool, max_kept: usize) {
    if plain {
        // SAFETY: a length of 0 is within any capacity and leaves no element that must be
        // initialised. The elements are forgotten rather than dropped, which `plain` (see
        // `Reuse`) says is the same: none of them owns memory or a reference count.
        unsafe { v.set_len(0) };
    }
    if v.capacity() > max_kept {
        *v = Vec::new();
    } else if !v.is_empty() {
        // (`clear` on an empty vector would still call the elements' out-of-line drop.)
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

    /// A record whose attributes and events own nothing is emptied without reading them; one
    /// with a shared string, a heap array or an event's attribute vector is emptied by
    /// dropping them, so that nothing leaks (Miri checks this too: it reports leaks).
    #[test]
    fn reuse_forgets_only_what_owns_nothing() {
        use crate::attributes::Value;
        use crate::trace::Event;
        use std::sync::Arc;

        fn event(name: crate::StringValue, attributes: Vec<crate::KeyValue>) -> Event {
            Event {
                name,
                timestamp_unix_nano: 1,
                attributes,
                dropped_attributes_count: 0,
            }
        }

        std::thread::spawn(|| {
            type Contents = (Vec<crate::KeyValue>, Vec<Event>);
            type Case = (&'static str, fn(&Arc<str>) -> Contents, bool, bool);
            let shared: Arc<str> = Arc::from("shared");
            // (what, its contents built from `shared`, plain attributes, plain events)
            let cases: [Case; 6] = [
                (
                    "static keys, numbers, static strings, inline arrays",
                    |_| {
                        let attributes = vec![
                            crate::KeyValue::new("a", 1i64),
                            crate::KeyValue::new("b", "s"),
                            crate::KeyValue::new("c", [1i64, 2, 3]),
                            crate::KeyValue::new("d", 0.5),
                            crate::KeyValue::new("e", true),
                        ];
                        (attributes, vec![event("e".into(), Vec::new())])
                    },
                    true,
                    true,
                ),
                (
                    "a shared string value",
                    |s| {
                        let kv = crate::KeyValue::new("a", Value::from(s.clone()));
                        (vec![kv], vec![])
                    },
                    false,
                    true,
                ),
                (
                    "a shared key",
                    |s| (vec![crate::KeyValue::new(s.clone(), 1)], vec![]),
                    false,
                    true,
                ),
                (
                    "an array in a Vec",
                    |_| (vec![crate::KeyValue::new("a", vec![1i64, 2, 3, 4])], vec![]),
                    false,
                    true,
                ),
                (
                    "an event with a shared name",
                    |s| (vec![], vec![event(s.clone().into(), Vec::new())]),
                    true,
                    false,
                ),
                (
                    "an event with attributes",
                    |_| {
                        let attributes = vec![crate::KeyValue::new("k", 1)];
                        (vec![], vec![event("e".into(), attributes)])
                    },
                    true,
                    false,
                ),
            ];
            for (what, contents, plain_attributes, plain_events) in cases {
                let mut r = take();
                (r.attributes, r.events) = contents(&shared);
                Reuse::scan(&mut r);
                assert_eq!(r.reuse.plain_attributes, plain_attributes, "{what}");
                assert_eq!(r.reuse.plain_events, plain_events, "{what}");
                give_back(r);
                let again = take();
                assert!(again.attributes.is_empty() && again.events.is_empty());
                assert!(
                    again.reuse.plain_attributes && again.reuse.plain_events,
                    "emptied vectors own nothing"
                );
                give_back(again);
                assert_eq!(Arc::strong_count(&shared), 1, "{what}: released");
            }
        })
        .join()
        .unwrap();
    }

    /// Debug builds check, on every reuse, that a record's `Reuse` claims nothing plain that
    /// is not: every test that recycles records checks the tracking along the way.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "own more than its `Reuse` says")]
    fn debug_builds_catch_a_record_that_owns_more_than_it_says() {
        let mut r = take();
        r.attributes
            .push(crate::KeyValue::new("k", String::from("owned")));
        r.reuse = Reuse::EMPTY;
        give_back(r);
        let _ = take();
    }
}
