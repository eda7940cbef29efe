//! The [`Tracer`]: starts spans.

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::attributes::{collect_limited, KeyValue, StringValue};
use crate::context::{Context, ContextGuard};
use crate::scope::InstrumentationScope;
use crate::time::{now_unix_nanos, to_unix_nanos};
use crate::trace::id::{SpanContext, SpanId};
use crate::trace::id_generator::{random_ids, random_span_id};
use crate::trace::pool;
use crate::trace::provider::ProviderHandle;
use crate::trace::sampler::{SamplingDecision, SamplingResult};
use crate::trace::span::{self, Span, SpanHandle};
use crate::trace::span_data::{Link, SpanData, SpanKind, Status};

/// Starts spans for one instrumentation scope. Cheap to clone.
///
/// The calls mirror the Python guide: [`Tracer::start_as_current_span`] (a guard: the span is
/// current while it lives and ends when it drops), [`Tracer::start_span`] (not current),
/// [`Tracer::in_span`] (a closure), and [`Tracer::span_builder`] for kind, attributes, links,
/// start time or an explicit parent.
#[derive(Clone)]
pub struct Tracer {
    provider: ProviderHandle,
    scope: InstrumentationScope,
    /// For a tracer of the global no-op provider (taken before an SDK was installed, as in
    /// a `static`): the installed provider's tracer of the same scope, once there is one.
    proxy: Option<Arc<OnceLock<Tracer>>>,
}

impl Tracer {
    pub(crate) fn new(provider: ProviderHandle, scope: InstrumentationScope) -> Self {
        let proxy = provider.is_stand_in().then(Default::default);
        Tracer {
            provider,
            scope,
            proxy,
        }
    }

    /// The tracer a no-op one stands for: that of the global provider installed since, as
    /// Python's `ProxyTracer` (the first one found is kept).
    #[cold]
    #[inline(never)]
    fn installed(&self) -> Option<&Tracer> {
        let cell = self.proxy.as_ref()?;
        if let Some(t) = cell.get() {
            return Some(t);
        }
        let provider = crate::global::installed_tracer_provider()?;
        Some(cell.get_or_init(|| provider.tracer_with_scope(self.scope.clone())))
    }

    /// [`Tracer::build_parts`] through the installed provider's tracer, for a no-op one.
    #[cold]
    #[inline(never)]
    fn build_through_proxy(
        &self,
        b: &mut SpanBuilder,
        cx: &Context,
    ) -> Option<Result<Box<SpanData>, SpanContext>> {
        Some(self.installed()?.build_parts(b, cx))
    }

    /// The instrumentation scope.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// Starts a span, child of the current span (if any). It is not made current.
    #[inline]
    pub fn start_span(&self, name: impl Into<StringValue>) -> Span {
        // SAFETY: the builder is a temporary, not used after the call.
        unsafe { self.build_in_current(&mut ManuallyDrop::new(SpanBuilder::new(name.into()))) }
    }

    /// Alias of [`Tracer::start_span`].
    #[inline]
    pub fn start(&self, name: impl Into<StringValue>) -> Span {
        self.start_span(name)
    }

    /// Starts a span as a child of the span in `parent`.
    pub fn start_with_context(&self, name: impl Into<StringValue>, parent: &Context) -> Span {
        self.build(&mut SpanBuilder::new(name.into()), parent)
    }

    /// Starts a span and makes it current until the returned guard drops; then the span ends
    /// and the previous context is restored. Nested calls nest.
    ///
    /// ```
    /// # let tracer = otlp_sdk::trace::TracerProvider::default().tracer("t");
    /// let parent = tracer.start_as_current_span("parent");
    /// {
    ///     let child = tracer.start_as_current_span("child");
    ///     assert_eq!(child.span_context().trace_id(), parent.span_context().trace_id());
    /// }
    /// ```
    pub fn start_as_current_span(&self, name: impl Into<StringValue>) -> SpanGuard {
        // SAFETY: the builder is a temporary, not used after the call.
        unsafe {
            SpanBuilder::start_as_current_in(
                &mut ManuallyDrop::new(SpanBuilder::new(name.into())),
                self,
            )
        }
    }

    /// Runs `f` inside a new current span, which ends when `f` returns (or panics). `f` gets
    /// the span's handle (clone it to keep it).
    ///
    /// ```
    /// # let tracer = otlp_sdk::trace::TracerProvider::default().tracer("t");
    /// let answer = tracer.in_span("compute", |span| {
    ///     span.set_attribute("input", 21);
    ///     42
    /// });
    /// assert_eq!(answer, 42);
    /// ```
    pub fn in_span<T>(&self, name: impl Into<StringValue>, f: impl FnOnce(&SpanHandle) -> T) -> T {
        let guard = self.start_as_current_span(name);
        f(&guard.handle)
    }

    /// A builder for a span with kind, attributes, links, start time or parent.
    pub fn span_builder(&self, name: impl Into<StringValue>) -> SpanBuilder {
        SpanBuilder::new(name.into())
    }

    /// Builds the span `b` describes, taking what it needs out of `b`. By reference rather
    /// than by value: moving the builder (written field by field a moment before) into a
    /// closure copies it in 16-byte blocks, and such a load of narrower fresh stores stalls.
    #[inline(always)]
    fn build(&self, b: &mut SpanBuilder, cx: &Context) -> Span {
        match self.build_parts(b, cx) {
            Ok(data) => Span::recording(data),
            Err(span_context) => Span::non_recording(span_context),
        }
    }

    /// [`Tracer::build`] under the current context, then drops the builder (see
    /// [`SpanBuilder::release`]). Only the record's pointer comes back out of the
    /// thread-local access (the context of a non-recording span goes through `idle`): a whole
    /// `Span` would be moved through `Option` and `Result` wrappers, read back in 16-byte
    /// blocks right after being written field by field, which stalls.
    ///
    /// # Safety
    ///
    /// `b` must not be used after the call.
    #[inline(always)]
    unsafe fn build_in_current(&self, b: &mut ManuallyDrop<SpanBuilder>) -> Span {
        let mut idle = None;
        let data = Context::map_current(|cx| match self.build_parts(b, cx) {
            Ok(data) => Some(data),
            Err(span_context) => {
                idle = Some(span_context);
                None
            }
        });
        // SAFETY: the caller does not use `b` again.
        unsafe { SpanBuilder::release(b) };
        match data {
            Some(data) => Span::recording(data),
            None => Span::non_recording(idle.unwrap_or(SpanContext::INVALID)),
        }
    }

    /// [`Tracer::build`]'s work: the record of a recording span, or the context of a
    /// non-recording one.
    #[inline(always)]
    fn build_parts(&self, b: &mut SpanBuilder, cx: &Context) -> Result<Box<SpanData>, SpanContext> {
        if self.provider.passes_context_only() {
            if let Some(built) = self.build_through_proxy(b, cx) {
                return built;
            }
            return Err(b.parent.as_ref().unwrap_or(cx).span_context().clone());
        }
        let parent_cx = match &b.parent {
            Some(p) => p,
            None => cx,
        };
        let psc = parent_cx.span_context();
        let has_parent = psc.is_valid();
        let (trace_id, span_id) = match &self.provider.id_generator {
            None if has_parent => (psc.trace_id(), random_span_id()),
            None => random_ids(),
            Some(g) if has_parent => (psc.trace_id(), g.new_span_id()),
            Some(g) => (g.new_trace_id(), g.new_span_id()),
        };
        let attrs_in: &[KeyValue] = b.attributes.as_deref().unwrap_or_default();
        let sampler = &self.provider.sampler;
        let result = match sampler.quick_decision(psc) {
            Some(decision) => SamplingResult {
                decision,
                attributes: Vec::new(),
                trace_state: psc.trace_state().clone(),
            },
            None => sampler.should_sample(parent_cx, trace_id, &b.name, b.kind, attrs_in, &b.links),
        };
        let sampled = result.decision == SamplingDecision::RecordAndSample;
        let flags = psc.trace_flags().with_sampled(sampled);
        if result.decision == SamplingDecision::Drop {
            return Err(SpanContext::new(
                trace_id,
                span_id,
                flags,
                false,
                result.trace_state,
            ));
        }
        // Read only where attributes or links need them (not on the common path).
        let limits = &self.provider.limits;
        // A recycled record: its vectors are empty but keep their capacity.
        let mut data = pool::take();
        // Built in place: a context built on the stack and then moved in would be read back
        // in 16-byte blocks right after being written field by field, which stalls.
        data.span_context = SpanContext::new(trace_id, span_id, flags, false, result.trace_state);
        data.parent_span_id = if has_parent {
            psc.span_id()
        } else {
            SpanId::INVALID
        };
        data.parent_is_remote = has_parent && psc.is_remote();
        data.kind = b.kind;
        data.name = b.name.take();
        data.start_time_unix_nano = b.start_time.map_or_else(now_unix_nanos, to_unix_nanos);
        data.end_time_unix_nano = 0;
        data.dropped_attributes_count = 0;
        data.dropped_events_count = 0;
        data.dropped_links_count = 0;
        data.status = Status::Unset;
        // A recycled record usually holds this tracer's scope already: keeping it avoids
        // touching the scope's reference count (shared with the exporting thread).
        if !data.scope.ptr_eq(&self.scope) {
            data.scope = self.scope.clone();
        }
        if !data.owner.is(&self.provider) {
            data.owner.set(&self.provider);
        }
        // The builder's attributes, then the sampler's (which win on a shared key).
        if let Some(given) = b.attributes.take() {
            for kv in given {
                data.upsert_attribute(kv, limits.span_attrs());
            }
        }
        if result.attributes.is_empty() {
            forget_empty(result.attributes);
        } else {
            for kv in result.attributes {
                data.upsert_attribute(kv, limits.span_attrs());
            }
        }
        if !b.links.is_empty() {
            for l in std::mem::take(&mut b.links) {
                if data.links.len() >= limits.max_links_per_span as usize {
                    data.dropped_links_count += 1;
                    continue;
                }
                let (la, ld) = collect_limited(l.attributes, limits.link_attrs());
                data.links.push(Link {
                    span_context: l.span_context,
                    attributes: la,
                    dropped_attributes_count: l.dropped_attributes_count + ld,
                });
            }
        }
        if self.provider.on_start(&mut data, parent_cx) {
            // Processors may have changed anything.
            crate::trace::pool::Reuse::scan(&mut data);
        }
        Ok(data)
    }
}

/// Disposes of an empty vector. One that never allocated is forgotten rather than dropped:
/// that saves the out-of-line drop of its (zero) elements on every span start.
#[inline(always)]
fn forget_empty<T>(v: Vec<T>) {
    debug_assert!(v.is_empty());
    if v.capacity() == 0 {
        // Owns no heap memory: nothing to free.
        std::mem::forget(v);
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("scope", &self.scope)
            .finish()
    }
}

/// Describes a span before it starts: kind, attributes (visible to the sampler), links,
/// start time and parent.
#[derive(Debug)]
pub struct SpanBuilder {
    name: StringValue,
    kind: SpanKind,
    attributes: Option<Vec<KeyValue>>,
    links: Vec<Link>,
    start_time: Option<SystemTime>,
    parent: Option<Context>,
}

impl SpanBuilder {
    fn new(name: StringValue) -> Self {
        SpanBuilder {
            name,
            kind: SpanKind::Internal,
            attributes: None,
            links: Vec::new(),
            start_time: None,
            parent: None,
        }
    }
    /// Sets the span kind (default `Internal`).
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }
    /// Sets the initial attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes = Some(attributes.into_iter().collect());
        self
    }
    /// Adds links.
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }
    /// Sets an explicit start time.
    pub fn with_start_time(mut self, t: SystemTime) -> Self {
        self.start_time = Some(t);
        self
    }
    /// Uses `parent`'s span as the parent instead of the current context's.
    pub fn with_parent(mut self, parent: Context) -> Self {
        self.parent = Some(parent);
        self
    }
    /// Uses no parent: the span starts a new trace.
    pub fn as_root(mut self) -> Self {
        self.parent = Some(Context::new());
        self
    }
    /// Starts the span (not current).
    pub fn start(self, tracer: &Tracer) -> Span {
        // SAFETY: the builder is a temporary, not used after the call.
        unsafe { tracer.build_in_current(&mut ManuallyDrop::new(self)) }
    }
    /// Starts the span and makes it current until the guard drops.
    pub fn start_as_current(self, tracer: &Tracer) -> SpanGuard {
        // SAFETY: the builder is a temporary, not used after the call.
        unsafe { SpanBuilder::start_as_current_in(&mut ManuallyDrop::new(self), tracer) }
    }

    /// [`SpanBuilder::start_as_current`] for a builder kept in a `ManuallyDrop`, which it
    /// drops (see [`SpanBuilder::release`]).
    ///
    /// # Safety
    ///
    /// `b` must not be used after the call.
    #[inline(always)]
    unsafe fn start_as_current_in(b: &mut ManuallyDrop<SpanBuilder>, tracer: &Tracer) -> SpanGuard {
        // Build the span and its context from the current one in place (no clone of it): one
        // reference to the span in the context, one in the guard.
        // Only the span's two references come out of the context access, and the new context
        // is made from the current one in place: a whole context built in the closure and
        // returned through it would be read back in 16-byte blocks right after being written
        // field by field, which stalls.
        let mut theirs = None;
        let mine = Context::map_current(|cx| {
            let (mine, t) = match tracer.build_parts(b, cx) {
                Ok(data) => span::shared_pair_recording(data),
                Err(span_context) => span::shared_pair(Span::non_recording(span_context)),
            };
            theirs = Some(t);
            mine
        });
        // SAFETY: the caller does not use `b` again.
        unsafe { SpanBuilder::release(b) };
        let cx = theirs.map(Context::attach_shared_span);
        SpanGuard {
            handle: SpanHandle::new(Some(mine)),
            cx,
            made_unwinding: std::thread::panicking(),
        }
    }

    /// Drops a builder after a build, which took its name and attributes. Most builders then
    /// own nothing, and dropping them the usual way would still call the out-of-line drop of
    /// the builder and of its empty link vector on every span start (~40 of the ~800-900
    /// instructions of a span_attrs span). So builders are built in a `ManuallyDrop`, and
    /// this checks their parts in place (narrow reads: moving the builder out would read it
    /// back in 16-byte blocks right after the build wrote it field by field, which stalls),
    /// dropping them only when they own something. (A panic in the build, from a sampler or
    /// processor, leaks what the builder holds: a leak, not a double drop.)
    ///
    /// # Safety
    ///
    /// `b` must not be used afterwards (it is dropped, unless it owns nothing).
    #[inline(always)]
    unsafe fn release(b: &mut ManuallyDrop<SpanBuilder>) {
        let owns_nothing = !b.name.needs_drop()
            && b.attributes.is_none()
            && b.links.capacity() == 0
            && b.parent.is_none();
        if !owns_nothing {
            // SAFETY: the caller does not use `b` again, so it is dropped exactly once.
            unsafe { ManuallyDrop::drop(b) }
        }
    }
}

/// The result of [`Tracer::start_as_current_span`]: the span is current while the guard lives;
/// dropping the guard ends the span and restores the previous context. Derefs to
/// [`SpanHandle`], so `guard.set_attribute(..)` works.
#[must_use = "the span ends as soon as the guard is dropped"]
pub struct SpanGuard {
    handle: SpanHandle,
    cx: Option<ContextGuard>,
    /// The thread was already unwinding from a panic when the guard was made (in a `Drop`
    /// run then): dropping it later is no sign of a failure of its own.
    made_unwinding: bool,
}

impl SpanGuard {
    /// A handle to the span that outlives the guard.
    pub fn span(&self) -> SpanHandle {
        self.handle.clone()
    }
}

impl std::ops::Deref for SpanGuard {
    type Target = SpanHandle;
    fn deref(&self) -> &SpanHandle {
        &self.handle
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        // Unwound through by a panic: the span failed (as an exception does in Python's
        // `with start_as_current_span`).
        if std::thread::panicking() && !self.made_unwinding {
            crate::trace::traced::record_panic(&self.handle);
        }
        // Detach first and take the context's reference back: with the guard's, they are
        // usually the span's only two, and it ends with neither a lock nor an atomic RMW.
        let context = self
            .cx
            .take()
            .and_then(ContextGuard::detach)
            .and_then(|cx| cx.span);
        span::end_current(self.handle.take(), context);
    }
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpanGuard").field(&self.handle).finish()
    }
}
