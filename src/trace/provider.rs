//! The [`TracerProvider`]: configuration shared by all tracers (resource, processors, sampler,
//! id generator, limits) and the owner of the span pipelines.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::attributes::StringValue;
use crate::error::{first_error, SdkError, SdkResult};
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::id_generator::IdGenerator;
use crate::trace::limits::SpanLimits;
use crate::trace::processor::{
    BatchSpanProcessor, FromSdk, SimpleSpanProcessor, SpanExporter, SpanProcessor,
};
use crate::trace::sampler::Sampler;
use crate::trace::span_data::SpanData;
use crate::trace::tracer::Tracer;

/// Creates tracers and routes their finished spans to the span processors. Cheap to clone
/// (all clones share one provider).
///
/// ```
/// use otlp_sdk::export::InMemorySpanExporter;
/// use otlp_sdk::resource::{Resource, SERVICE_NAME};
/// use otlp_sdk::trace::TracerProvider;
/// use otlp_sdk::KeyValue;
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = TracerProvider::builder()
///     .with_resource(Resource::new([KeyValue::new(SERVICE_NAME, "my.service.name")]))
///     .with_simple_exporter(exporter.clone())
///     .build();
/// let tracer = provider.tracer("my.tracer.name");
/// tracer.in_span("span.name", |_span| {});
/// provider.shutdown().unwrap();
/// assert_eq!(exporter.finished_spans()[0].name.as_str(), "span.name");
/// ```
///
/// When the last `TracerProvider` and [`Tracer`] handle of a provider is dropped, the provider
/// shuts down (flushing its processors) as if [`TracerProvider::shutdown`] had been called.
#[derive(Clone)]
pub struct TracerProvider {
    pub(crate) inner: ProviderHandle,
}

/// A counted handle on a provider, held by [`TracerProvider`] and [`Tracer`]: the last one
/// dropped shuts the provider down. Spans do not hold one (their record keeps the provider's
/// memory alive through an [`Owner`]), so starting and ending a span touches no shared
/// reference count.
pub(crate) struct ProviderHandle(Arc<ProviderInner>);

impl ProviderHandle {
    fn new(inner: ProviderInner) -> Self {
        inner.handles.store(1, Ordering::Relaxed);
        ProviderHandle(Arc::new(inner))
    }
}

impl Clone for ProviderHandle {
    fn clone(&self) -> Self {
        self.0.handles.fetch_add(1, Ordering::Relaxed);
        ProviderHandle(Arc::clone(&self.0))
    }
}

impl Drop for ProviderHandle {
    fn drop(&mut self) {
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 1
            && !self.0.shut_down.swap(true, Ordering::AcqRel)
        {
            for p in &self.0.processors {
                let _ = p.shutdown();
            }
        }
    }
}

impl std::ops::Deref for ProviderHandle {
    type Target = Arc<ProviderInner>;
    fn deref(&self) -> &Arc<ProviderInner> {
        &self.0
    }
}

/// The provider that created a span record. Kept in the record and recycled with it, so a
/// recycled record usually already holds the right provider and no reference count moves.
/// Clones of a record (for a second processor, or kept by an exporter) do not carry it.
#[derive(Default)]
pub(crate) struct Owner(Option<Arc<ProviderInner>>);

impl Owner {
    #[inline]
    pub(crate) fn is(&self, provider: &Arc<ProviderInner>) -> bool {
        self.0.as_ref().is_some_and(|p| Arc::ptr_eq(p, provider))
    }
    pub(crate) fn set(&mut self, provider: &Arc<ProviderInner>) {
        self.0 = Some(Arc::clone(provider));
    }
    #[inline]
    pub(crate) fn get(&self) -> Option<&Arc<ProviderInner>> {
        self.0.as_ref()
    }
}

impl Clone for Owner {
    fn clone(&self) -> Self {
        Owner(None)
    }
}

impl PartialEq for Owner {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

pub(crate) struct ProviderInner {
    pub(crate) resource: Resource,
    processors: Vec<Box<dyn SpanProcessor>>,
    /// Whether any processor has an `on_start` hook.
    start_hooks: bool,
    pub(crate) sampler: Sampler,
    pub(crate) id_generator: Option<Arc<dyn IdGenerator>>,
    pub(crate) limits: SpanLimits,
    shut_down: AtomicBool,
    /// A no-op (the global stand-in for a missing SDK, or OTEL_SDK_DISABLED): spans carry
    /// their parent's context, unrecorded.
    noop: bool,
    /// The global stand-in: its tracers start spans through a provider set later.
    stand_in: bool,
    dropped_after_shutdown: AtomicU64,
    /// Live [`ProviderHandle`]s.
    handles: std::sync::atomic::AtomicUsize,
}

impl ProviderInner {
    #[inline]
    pub(crate) fn on_end(&self, span: Box<SpanData>) {
        if self.shut_down.load(Ordering::Relaxed) {
            self.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.processors.as_slice() {
            [] => {}
            [one] => one.on_end_from_sdk(span, FromSdk::new()),
            [rest @ .., last] => {
                for p in rest {
                    p.on_end_from_sdk(span.clone(), FromSdk::new());
                }
                last.on_end_from_sdk(span, FromSdk::new());
            }
        }
    }

    /// Whether this is the global stand-in for a missing SDK (not a provider disabled by
    /// OTEL_SDK_DISABLED, whose tracers must not proxy to the global provider: it may be
    /// that very provider).
    pub(crate) fn is_stand_in(&self) -> bool {
        self.stand_in
    }

    /// Whether new spans only pass their parent's context on (as the API without an SDK
    /// does): for the no-op provider, and once shut down.
    #[inline]
    pub(crate) fn passes_context_only(&self) -> bool {
        self.noop || self.shut_down.load(Ordering::Relaxed)
    }

    /// Calls the processors' `on_start` hooks; `false` when none has one (the span was not
    /// lent to any other code).
    ///
    /// The check is inlined into span start and the hooks are called out of line: as one
    /// function, the compiler kept it out of line, and every span paid for a call that
    /// saved six registers before finding no hook (~1.5 % of span_attrs_2threads' samples).
    #[inline(always)]
    pub(crate) fn on_start(&self, span: &mut SpanData, parent: &crate::context::Context) -> bool {
        if !self.start_hooks {
            return false;
        }
        self.run_start_hooks(span, parent);
        true
    }

    #[inline(never)]
    fn run_start_hooks(&self, span: &mut SpanData, parent: &crate::context::Context) {
        for p in &self.processors {
            crate::error::run_hook("span processor's on_start", || p.on_start(span, parent));
        }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Relaxed)
    }
}

impl Default for TracerProvider {
    fn default() -> Self {
        TracerProvider::builder().build()
    }
}

impl TracerProvider {
    /// What the API does without an SDK (the global provider until one is set): every span
    /// is non-recording and carries its parent's span context (an invalid one at the root),
    /// so that a context extracted from a request is injected unchanged downstream.
    pub(crate) fn noop() -> Self {
        TracerProvider::builder()
            .with_resource(Resource::empty())
            .with_sampler(Sampler::AlwaysOff)
            .build_with(true, true)
    }

    /// A builder with the defaults: the default resource, the sampler from the environment
    /// (`ParentBased(AlwaysOn)` when unset), limits from the environment, no processor.
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder {
            resource: None,
            processors: Vec::new(),
            sampler: None,
            id_generator: None,
            limits: None,
        }
    }

    /// A tracer for the instrumentation scope `name` (e.g. `"my.tracer.name"`).
    pub fn tracer(&self, name: impl Into<StringValue>) -> Tracer {
        self.tracer_with_scope(InstrumentationScope::new(name))
    }

    /// A tracer for a scope with version, schema URL or attributes.
    pub fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        Tracer::new(self.inner.clone(), scope)
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// Exports every span already ended, through every processor.
    pub fn force_flush(&self) -> SdkResult {
        if self.inner.is_shut_down() {
            return Err(SdkError::AlreadyShutdown);
        }
        first_error(self.inner.processors.iter().map(|p| p.force_flush()))
    }

    /// Flushes and shuts down every processor. Spans ended afterwards are dropped (counted in
    /// [`TracerProvider::dropped_after_shutdown`]). A second call returns
    /// [`SdkError::AlreadyShutdown`].
    pub fn shutdown(&self) -> SdkResult {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SdkError::AlreadyShutdown);
        }
        first_error(self.inner.processors.iter().map(|p| p.shutdown()))
    }

    /// The counters of every batch processor, added up: spans accepted into the queues,
    /// dropped (queue full), exported and failed.
    pub fn pipeline_stats(&self) -> crate::pipeline::PipelineStats {
        let mut total = crate::pipeline::PipelineStats::default();
        for s in self.inner.processors.iter().filter_map(|p| p.stats()) {
            total.accepted += s.accepted;
            total.dropped += s.dropped;
            total.exported += s.exported;
            total.failed += s.failed;
        }
        total
    }

    /// Spans that ended after `shutdown` and were therefore dropped.
    pub fn dropped_after_shutdown(&self) -> u64 {
        self.inner.dropped_after_shutdown.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for TracerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerProvider")
            .field("resource", &self.inner.resource)
            .field("processors", &self.inner.processors)
            .field("sampler", &self.inner.sampler)
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// Builds a [`TracerProvider`].
#[derive(Debug)]
pub struct TracerProviderBuilder {
    resource: Option<Resource>,
    processors: Vec<Box<dyn SpanProcessor>>,
    sampler: Option<Sampler>,
    id_generator: Option<Arc<dyn IdGenerator>>,
    limits: Option<SpanLimits>,
}

impl TracerProviderBuilder {
    /// Sets the resource.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }
    /// Adds a span processor; spans go to processors in the order they were added.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }
    /// Adds a [`BatchSpanProcessor`] around `exporter` (the usual choice).
    pub fn with_batch_exporter(self, exporter: impl SpanExporter) -> Self {
        self.with_span_processor(BatchSpanProcessor::new(exporter))
    }
    /// Adds a [`SimpleSpanProcessor`] around `exporter`.
    pub fn with_simple_exporter(self, exporter: impl SpanExporter) -> Self {
        self.with_span_processor(SimpleSpanProcessor::new(exporter))
    }
    /// Sets the sampler.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }
    /// Sets the id generator.
    pub fn with_id_generator(mut self, generator: impl IdGenerator + 'static) -> Self {
        self.id_generator = Some(Arc::new(generator));
        self
    }
    /// Sets the span limits.
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = Some(limits);
        self
    }
    /// The provider.
    pub fn build(mut self) -> TracerProvider {
        if crate::env::sdk_disabled() {
            // The processors (and their threads) go now: nothing would reach them.
            self.processors.clear();
            return self.build_with(true, false);
        }
        self.build_with(false, false)
    }

    fn build_with(self, noop: bool, stand_in: bool) -> TracerProvider {
        let resource = self.resource.unwrap_or_default();
        let sampler = self.sampler.unwrap_or_else(Sampler::from_env_or_default);
        let mut processors = self.processors;
        for p in &mut processors {
            p.set_resource(&resource);
        }
        let start_hooks = processors.iter().any(|p| p.has_on_start());
        TracerProvider {
            inner: ProviderHandle::new(ProviderInner {
                resource,
                processors,
                start_hooks,
                sampler,
                id_generator: self.id_generator,
                limits: self.limits.unwrap_or_else(SpanLimits::from_env),
                shut_down: AtomicBool::new(false),
                noop,
                stand_in,
                dropped_after_shutdown: AtomicU64::new(0),
                handles: Default::default(),
            }),
        }
    }
}
