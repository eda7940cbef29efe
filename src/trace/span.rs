//! Live spans: [`Span`] (owned) and [`SpanHandle`] (shared, e.g. the current span).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::attributes::{collect_limited, upsert, KeyValue, StringValue};
use crate::time::{now_unix_nanos, to_unix_nanos};
use crate::trace::id::SpanContext;
use crate::trace::limits::SpanLimits;
use crate::trace::provider::ProviderInner;
use crate::trace::span_data::{Event, Link, SpanData, Status};
use crate::trace::span_rc::{Slot, SpanRc};

/// A span being recorded. Ends when [`Span::end`] is called or when it is dropped.
///
/// A non-recording span (the sampler dropped it, or no SDK is installed) records nothing and
/// every method on it is a cheap no-op; it still has a [`SpanContext`], so its children and
/// propagated headers keep the trace id. A record-only span (the sampler's `RecordOnly`) is
/// recorded and reaches the processors, but is not sampled, so it is not exported.
pub struct Span {
    state: State,
}

enum State {
    /// Not recording (unsampled, remote, or already ended).
    Idle(SpanContext),
    /// Recording: the data and the provider that receives it at the end.
    Live(Live),
}

/// A recording span's state. The record holds its provider (see `Owner`).
struct Live {
    data: Box<SpanData>,
}

impl Live {
    #[inline]
    /// The provider's limits (a recording span's record always holds its provider; the
    /// defaults otherwise, rather than a panic in the instrumented application).
    fn limits(&self) -> SpanLimits {
        self.data
            .owner
            .get()
            .map_or_else(SpanLimits::default, |p| p.limits)
    }
}

thread_local! {
    /// The provider this thread last ended a span for. Ending a span moves its record into
    /// the provider's processors, so the provider is reached through this thread's own
    /// strong reference rather than a reference count shared by every thread.
    static ENDING: Cell<Option<Arc<ProviderInner>>> = const { Cell::new(None) };
}

/// Hands an ended record to its provider.
#[inline]
fn finish(data: Box<SpanData>) {
    let Some(ptr) = data.owner.get().map(Arc::as_ptr) else {
        return;
    };
    // Taken out while in use: a span ended from inside a processor finds the slot empty and
    // takes the slow path.
    let provider = match ENDING.try_with(Cell::take).ok().flatten() {
        Some(p) if std::ptr::eq(Arc::as_ptr(&p), ptr) => p,
        _ => match data.owner.get() {
            Some(owner) => Arc::clone(owner),
            None => return,
        },
    };
    provider.on_end(data);
    let _ = ENDING.try_with(|slot| slot.set(Some(provider)));
}

impl Span {
    pub(crate) fn recording(data: Box<SpanData>) -> Self {
        Span {
            state: State::Live(Live { data }),
        }
    }

    /// A span that records nothing, with the given context.
    pub fn non_recording(span_context: SpanContext) -> Self {
        Span {
            state: State::Idle(span_context),
        }
    }

    /// The span's identity.
    pub fn span_context(&self) -> &SpanContext {
        match &self.state {
            State::Idle(cx) => cx,
            State::Live(l) => &l.data.span_context,
        }
    }

    /// `true` while the span records data (sampled or record-only, and not ended).
    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Live(_))
    }

    #[inline]
    fn live(&mut self) -> Option<&mut Live> {
        match &mut self.state {
            State::Live(l) => Some(l),
            State::Idle(_) => None,
        }
    }

    /// Sets one attribute (replacing a previous value for the key). Accepts every OTLP
    /// attribute type: `bool`, integers, floats, strings and `Vec`s or arrays of each.
    #[inline]
    pub fn set_attribute(&mut self, key: impl Into<StringValue>, value: impl Into<crate::Value>) {
        if let Some(l) = self.live() {
            let limits = l.limits().span_attrs();
            l.data.set_attribute(key, value, limits);
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(l) = self.live() {
            let limits = l.limits().span_attrs();
            for kv in attributes {
                l.data.upsert_attribute(kv, limits);
            }
        }
    }

    /// Adds an event, timestamped now.
    #[inline]
    pub fn add_event(
        &mut self,
        name: impl Into<StringValue>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if self.is_recording() {
            self.push_event(name, now_unix_nanos(), attributes);
        }
    }

    /// Adds an event with an explicit timestamp.
    pub fn add_event_with_timestamp(
        &mut self,
        name: impl Into<StringValue>,
        timestamp: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if self.is_recording() {
            self.push_event(name, to_unix_nanos(timestamp), attributes);
        }
    }

    fn push_event(
        &mut self,
        name: impl Into<StringValue>,
        ts: u64,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let Some(l) = self.live() else { return };
        let limits = l.limits();
        if l.data.events.len() >= limits.max_events_per_span as usize {
            l.data.dropped_events_count += 1;
            return;
        }
        if l.data.events.capacity() == 0 {
            // Most spans have one or two events: start with room for one instead of the
            // default four (256 bytes per span that sit in the queue).
            l.data.events.reserve_exact(1);
        }
        // The event goes into its slot with constant parts only, then takes its attributes
        // there (see `crate::slot`).
        crate::slot::push_fields!(
            &mut l.data.events,
            Event {
                name: name.into(),
                timestamp_unix_nano: ts,
                attributes: Vec::new(),
                dropped_attributes_count: 0,
            }
        );
        let limits = limits.event_attrs();
        if let Some(event) = l.data.events.last_mut() {
            l.data.reuse.filling_event(event, |event| {
                for kv in attributes {
                    if !upsert(&mut event.attributes, kv, limits) {
                        event.dropped_attributes_count += 1;
                    }
                }
            });
        }
    }

    /// Adds a link to another span.
    pub fn add_link(
        &mut self,
        span_context: SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let Some(l) = self.live() else { return };
        let limits = l.limits();
        let (attributes, dropped) = collect_limited(attributes, limits.link_attrs());
        // A link to an invalid context carries nothing, unless it has attributes or a
        // trace state (the specification keeps those).
        if !span_context.is_valid()
            && span_context.trace_state().is_empty()
            && attributes.is_empty()
            && dropped == 0
        {
            return;
        }
        if l.data.links.len() >= limits.max_links_per_span as usize {
            l.data.dropped_links_count += 1;
            return;
        }
        l.data.links.push(Link {
            span_context,
            attributes,
            dropped_attributes_count: dropped,
        });
    }

    /// Sets the status, with the specification's rules: `Ok` is final, setting `Unset` is
    /// ignored, and a later `Error` replaces an earlier one.
    pub fn set_status(&mut self, status: Status) {
        if let Some(l) = self.live() {
            if l.data.status.should_replace(&status) {
                l.data.status = status;
            }
        }
    }

    /// Records an error as an `exception` event with `exception.type`, `exception.message`
    /// and, as `exception.stacktrace`, the error followed by its chain of sources. It does not
    /// change the status; call [`Span::set_status`] for that.
    pub fn record_exception<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.record_exception_with(error, [])
    }

    /// Like [`Span::record_exception`], with extra event attributes.
    pub fn record_exception_with<E: std::error::Error + ?Sized>(
        &mut self,
        error: &E,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if !self.is_recording() {
            return;
        }
        let mut attrs = exception_attributes(error);
        attrs.extend(attributes);
        self.push_event("exception", now_unix_nanos(), attrs);
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<StringValue>) {
        if let Some(l) = self.live() {
            l.data.name = name.into();
        }
    }

    /// Ends the span now. Later calls (and drop) do nothing.
    #[inline]
    pub fn end(&mut self) {
        // Checked here, inline: ending an ended span (as drop does after `end`) costs no call.
        if self.is_recording() {
            self.end_at(None)
        }
    }

    /// Ends the span at `timestamp`.
    pub fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if self.is_recording() {
            self.end_at(Some(to_unix_nanos(timestamp)))
        }
    }

    /// Ends a recording span.
    fn end_at(&mut self, ts: Option<u64>) {
        let State::Live(live) = &self.state else {
            return;
        };
        let cx = live.data.span_context.clone();
        // `mem::replace` of the whole state would read it back in 16-byte blocks right after
        // `Span::recording` wrote it in 8-byte fields: a load that cannot be forwarded from
        // those stores and waits for them to reach the cache (the hottest instruction of a
        // short span, and more so while the sibling hardware thread is busy). Only the
        // record's pointer is read instead.
        // SAFETY: the state is `Live`, so `live.data` is an initialised box. It is copied
        // out, and the state is then overwritten without being dropped, so the box is owned
        // exactly once (by `data`). Nothing between the read and the write can panic.
        let mut data = unsafe { std::ptr::read(&live.data) };
        // SAFETY: the state's box was moved into `data` just above; overwriting the state
        // without dropping it is what completes that move.
        unsafe { std::ptr::write(&mut self.state, State::Idle(cx)) };
        // The clock is re-anchored to the system clock once a second; never end before the
        // start.
        data.end_time_unix_nano = ts
            .unwrap_or_else(now_unix_nanos)
            .max(data.start_time_unix_nano);
        finish(data);
    }
}

/// The attributes of an `exception` event for `error`.
pub(crate) fn exception_attributes<E: std::error::Error + ?Sized>(error: &E) -> Vec<KeyValue> {
    let mut trace = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        trace.push_str("\ncaused by: ");
        trace.push_str(&s.to_string());
        source = s.source();
    }
    vec![
        KeyValue::new(crate::semconv::EXCEPTION_TYPE, error_type_name(error)),
        KeyValue::new(crate::semconv::EXCEPTION_MESSAGE, error.to_string()),
        KeyValue::new(crate::semconv::EXCEPTION_STACKTRACE, trace),
    ]
}

/// The error's type name: the static type when known, otherwise the leading identifier of
/// its `Debug` output (`MyError { .. }` or `Custom(..)` give `MyError`, `Custom`).
fn error_type_name<E: std::error::Error + ?Sized>(error: &E) -> String {
    let name = std::any::type_name::<E>();
    if !name.starts_with("dyn ") {
        return name.to_string();
    }
    let dbg = format!("{error:?}");
    let ident: String = dbg
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    if ident.is_empty() {
        "error".to_string()
    } else {
        ident
    }
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("span_context", self.span_context())
            .field("recording", &self.is_recording())
            .finish()
    }
}

/// A span shared through a [`Context`](crate::context::Context): what
/// `start_as_current_span` makes current and [`get_current_span`](crate::trace::get_current_span)
/// returns.
pub(crate) struct SharedSpan {
    cx: SpanContext,
    span: Mutex<Span>,
}

impl SharedSpan {
    pub(crate) fn new(span: Span) -> Self {
        SharedSpan {
            cx: span.span_context().clone(),
            span: Mutex::new(span),
        }
    }
    pub(crate) fn span_context(&self) -> &SpanContext {
        &self.cx
    }
    fn with<T>(&self, f: impl FnOnce(&mut Span) -> T) -> Option<T> {
        self.span.lock().ok().map(|mut s| f(&mut s))
    }
    /// The span, no longer shared.
    fn into_span(self) -> Span {
        self.span
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

thread_local! {
    /// Allocations of this thread's ended current spans, reused by its next ones.
    static SLOTS: RefCell<Vec<Slot<SharedSpan>>> = const { RefCell::new(Vec::new()) };
}

/// How many allocations [`SLOTS`] keeps: enough for the usual nesting depth.
const MAX_SLOTS: usize = 8;

/// Two references to `span` made shared: one for the context it becomes current in, one for
/// its guard (see [`SpanRc::pair_in`]).
#[inline]
pub(crate) fn shared_pair(span: Span) -> (SpanRc<SharedSpan>, SpanRc<SharedSpan>) {
    SpanRc::pair_in(slot(), SharedSpan::new(span))
}

/// [`shared_pair`] for a recording span given by its record. The node is built from the
/// record's pointer, and each of its fields is written straight into the allocation: moving
/// a whole `Span`, or a `SharedSpan` built on the stack, would read it back in 16-byte
/// blocks right after narrower writes, which stalls.
#[inline]
pub(crate) fn shared_pair_recording(
    data: Box<SpanData>,
) -> (SpanRc<SharedSpan>, SpanRc<SharedSpan>) {
    // SAFETY: both fields of the node's `SharedSpan` are written.
    unsafe {
        SpanRc::pair_in_with(slot(), |node| {
            std::ptr::addr_of_mut!((*node).cx).write(data.span_context.clone());
            std::ptr::addr_of_mut!((*node).span).write(Mutex::new(Span::recording(data)));
        })
    }
}

/// An allocation for a current span's node: this thread's last free one, or a new one.
#[inline]
fn slot() -> Slot<SharedSpan> {
    SLOTS
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_else(Box::new_uninit)
}

/// Ends a current span whose guard is dropping: `guard` is the guard's reference, `context`
/// the one from the context it detached. When they are its only two references (the usual
/// case) the span ends without a lock or an atomic read-modify-write, and its allocation is
/// kept for the next current span.
#[inline]
pub(crate) fn end_current(guard: Option<SpanRc<SharedSpan>>, context: Option<SpanRc<SharedSpan>>) {
    match (guard, context) {
        (Some(g), Some(c)) => match SpanRc::reclaim_pair(g, c) {
            Ok((shared, slot)) => {
                shared.into_span().end();
                let _ = SLOTS.try_with(|s| {
                    if let Ok(mut s) = s.try_borrow_mut() {
                        if s.len() < MAX_SLOTS {
                            s.push(slot);
                        }
                    }
                });
            }
            Err((g, c)) => {
                drop(c);
                end_shared(Some(g));
            }
        },
        (g, c) => {
            drop(c);
            end_shared(g);
        }
    }
}

/// A shared handle to a span: the current span, or the span of a guard. Every method locks
/// the span briefly; on a handle with no span (no active span) they do nothing.
#[derive(Clone, Default)]
pub struct SpanHandle(Option<SpanRc<SharedSpan>>);

impl SpanHandle {
    pub(crate) fn new(inner: Option<SpanRc<SharedSpan>>) -> Self {
        SpanHandle(inner)
    }

    fn with<T: Default>(&self, f: impl FnOnce(&mut Span) -> T) -> T {
        self.0.as_ref().and_then(|s| s.with(f)).unwrap_or_default()
    }

    /// The span's identity ([`SpanContext::INVALID`] with no span).
    pub fn span_context(&self) -> &SpanContext {
        self.0.as_ref().map_or(&SpanContext::INVALID, |s| &s.cx)
    }
    /// See [`Span::is_recording`].
    pub fn is_recording(&self) -> bool {
        self.with(|s| s.is_recording())
    }
    /// See [`Span::set_attribute`].
    pub fn set_attribute(&self, key: impl Into<StringValue>, value: impl Into<crate::Value>) {
        self.with(|s| s.set_attribute(key, value))
    }
    /// See [`Span::set_attributes`].
    pub fn set_attributes(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.with(|s| s.set_attributes(attributes))
    }
    /// See [`Span::add_event`].
    pub fn add_event(
        &self,
        name: impl Into<StringValue>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.with(|s| s.add_event(name, attributes))
    }
    /// See [`Span::add_event_with_timestamp`].
    pub fn add_event_with_timestamp(
        &self,
        name: impl Into<StringValue>,
        timestamp: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.with(|s| s.add_event_with_timestamp(name, timestamp, attributes))
    }
    /// See [`Span::add_link`].
    pub fn add_link(
        &self,
        span_context: SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.with(|s| s.add_link(span_context, attributes))
    }
    /// See [`Span::set_status`].
    pub fn set_status(&self, status: Status) {
        self.with(|s| s.set_status(status))
    }
    /// See [`Span::record_exception`].
    pub fn record_exception<E: std::error::Error + ?Sized>(&self, error: &E) {
        self.with(|s| s.record_exception(error))
    }
    /// See [`Span::record_exception_with`].
    pub fn record_exception_with<E: std::error::Error + ?Sized>(
        &self,
        error: &E,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.with(|s| s.record_exception_with(error, attributes))
    }
    /// See [`Span::update_name`].
    pub fn update_name(&self, name: impl Into<StringValue>) {
        self.with(|s| s.update_name(name))
    }
    /// See [`Span::end`].
    pub fn end(&self) {
        self.with(|s| s.end())
    }
    /// See [`Span::end_with_timestamp`].
    pub fn end_with_timestamp(&self, timestamp: SystemTime) {
        self.with(|s| s.end_with_timestamp(timestamp))
    }

    /// Lets go of the span: what [`end_current`] takes.
    pub(crate) fn take(&mut self) -> Option<SpanRc<SharedSpan>> {
        self.0.take()
    }
}

/// Ends a shared span; without locking when `shared` is its last reference.
#[inline]
fn end_shared(shared: Option<SpanRc<SharedSpan>>) {
    match shared.map(SpanRc::try_unwrap) {
        None => {}
        Some(Ok(only)) => only.into_span().end(),
        Some(Err(shared)) => {
            shared.with(|s| s.end());
        }
    }
}

impl fmt::Debug for SpanHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpanHandle")
            .field(self.span_context())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_pair() -> (SpanRc<SharedSpan>, SpanRc<SharedSpan>) {
        shared_pair(Span::non_recording(SpanContext::INVALID))
    }

    #[test]
    fn a_current_span_reuses_the_allocation_of_the_one_before() {
        // On a fresh thread: the cache starts empty.
        std::thread::spawn(|| {
            let (a, b) = idle_pair();
            let first = &*a as *const SharedSpan;
            end_current(Some(a), Some(b));
            assert_eq!(SLOTS.with(|s| s.borrow().len()), 1);
            let (c, d) = idle_pair();
            assert_eq!(&*c as *const SharedSpan, first, "the same allocation");
            assert_eq!(SLOTS.with(|s| s.borrow().len()), 0);

            // A third reference (a kept handle) keeps the node: nothing is reclaimed, and
            // the span lives until that reference goes.
            let kept = c.clone();
            end_current(Some(c), Some(d));
            assert_eq!(SLOTS.with(|s| s.borrow().len()), 0);
            assert_eq!(kept.span_context(), &SpanContext::INVALID);
            drop(kept);

            // The cache is bounded.
            let pairs: Vec<_> = (0..MAX_SLOTS + 3).map(|_| idle_pair()).collect();
            for (g, c) in pairs {
                end_current(Some(g), Some(c));
            }
            assert_eq!(SLOTS.with(|s| s.borrow().len()), MAX_SLOTS);
        })
        .join()
        .unwrap();
    }
}
