//! The [`MeterProvider`]: resource, readers, views; creates meters and owns the collection
//! pipeline that readers pull from.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::attributes::StringValue;
use crate::diagnostics;
use crate::error::{SdkError, SdkResult};
use crate::metrics::data::{ResourceMetrics, ScopeMetrics};
use crate::metrics::exemplar::ExemplarFilter;
use crate::metrics::meter::{Meter, MeterState};
use crate::metrics::reader::{MetricReader, ReaderImpl};
use crate::metrics::view::View;
use crate::metrics::{InstrumentKind, Temporality};
use crate::resource::Resource;
use crate::scope::InstrumentationScope;

/// The specification's default cardinality limit per metric stream.
pub(crate) const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// What the instruments of all meters share: configuration and the registry of meters that
/// readers collect.
pub(crate) struct Pipeline {
    pub(crate) resource: Resource,
    pub(crate) views: Vec<View>,
    /// Per reader, the temporality of each instrument kind.
    pub(crate) temporalities: Vec<[Temporality; 7]>,
    pub(crate) exemplar_filter: ExemplarFilter,
    pub(crate) cardinality_limit: usize,
    meters: Mutex<Vec<Arc<MeterState>>>,
    /// One per reader: collections of one reader never overlap (callbacks write the
    /// observable streams that the collection then reads).
    collecting: Vec<Mutex<()>>,
    pub(crate) shut_down: AtomicBool,
}

impl Pipeline {
    pub(crate) fn reader_count(&self) -> usize {
        self.temporalities.len()
    }

    /// The meter state of `scope`, created on first use (same scope, same meter).
    fn meter_state(&self, scope: InstrumentationScope) -> Arc<MeterState> {
        let mut meters = self.meters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = meters.iter().find(|m| m.scope == scope) {
            return Arc::clone(m);
        }
        let m = Arc::new(MeterState::new(scope, self.reader_count()));
        meters.push(Arc::clone(&m));
        m
    }

    /// Runs the callbacks and collects every stream of reader `reader`.
    pub(crate) fn collect(&self, reader: usize) -> ResourceMetrics {
        let _one_at_a_time = self
            .collecting
            .get(reader)
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        let meters: Vec<Arc<MeterState>> = self
            .meters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let scope_metrics = meters
            .iter()
            .filter_map(|m| {
                let metrics = m.collect(reader);
                (!metrics.is_empty()).then(|| ScopeMetrics {
                    scope: m.scope.clone(),
                    metrics,
                })
            })
            .collect();
        ResourceMetrics {
            resource: self.resource.clone(),
            scope_metrics,
        }
    }
}

/// Creates meters and owns the readers. Cheap to clone; all clones share one provider. When
/// the last clone is dropped, the provider shuts down (a final collection and export).
///
/// ```
/// use otlp_sdk::metrics::{ManualReader, MeterProvider, MetricData, Number};
/// use otlp_sdk::KeyValue;
///
/// let reader = ManualReader::new();
/// let provider = MeterProvider::builder().with_reader(reader.clone()).build();
/// let counter = provider.meter("my.meter.name").u64_counter("work.counter").build();
/// counter.add(2, &[KeyValue::new("work.type", "a")]);
/// let metrics = reader.collect().unwrap();
/// let MetricData::Sum(sum) = &metrics.metric("work.counter").unwrap().data else { panic!() };
/// assert_eq!(sum.data_points[0].value, Number::U64(2));
/// ```
#[derive(Clone)]
pub struct MeterProvider {
    inner: Arc<ProviderInner>,
}

struct ProviderInner {
    pipeline: Arc<Pipeline>,
    readers: Vec<Box<dyn ReaderImpl>>,
    shut_down: AtomicBool,
}

impl ProviderInner {
    fn shutdown(&self) -> SdkResult {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        self.pipeline.shut_down.store(true, Ordering::SeqCst);
        let mut result = Ok(());
        for r in &self.readers {
            if let Err(e) = r.shutdown() {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }
}

impl Drop for ProviderInner {
    fn drop(&mut self) {
        if !self.shut_down.load(Ordering::SeqCst) {
            if let Err(e) = self.shutdown() {
                diagnostics::report(&format!("meter provider shutdown on drop: {e}"));
            }
        }
    }
}

impl fmt::Debug for MeterProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterProvider")
            .field("readers", &self.inner.readers.len())
            .field("views", &self.inner.pipeline.views.len())
            .finish()
    }
}

impl Default for MeterProvider {
    /// A provider with no reader: its instruments record nothing.
    fn default() -> Self {
        MeterProvider::builder().build()
    }
}

impl MeterProvider {
    /// A builder: the default resource, no reader, no view, the exemplar filter from
    /// `OTEL_METRICS_EXEMPLAR_FILTER`.
    pub fn builder() -> MeterProviderBuilder {
        MeterProviderBuilder {
            resource: None,
            readers: Vec::new(),
            views: Vec::new(),
            exemplar_filter: None,
            cardinality_limit: None,
        }
    }

    /// A meter for the instrumentation scope `name` (e.g. `"my.meter.name"`), as Python's
    /// `get_meter(name)`. The same scope always yields the same meter.
    pub fn meter(&self, name: impl Into<StringValue>) -> Meter {
        self.meter_with_scope(InstrumentationScope::new(name))
    }

    /// A meter for a scope with version, schema URL or attributes.
    pub fn meter_with_scope(&self, scope: InstrumentationScope) -> Meter {
        if scope.name().is_empty() {
            diagnostics::report("meter created with an empty name; it still works");
        }
        let state = self.inner.pipeline.meter_state(scope);
        Meter::new(Arc::clone(&self.inner.pipeline), state)
    }

    /// The provider's resource.
    pub fn resource(&self) -> &Resource {
        &self.inner.pipeline.resource
    }

    /// Collects and exports now on every push reader; waits for the exports.
    pub fn force_flush(&self) -> SdkResult {
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        let mut result = Ok(());
        for r in &self.inner.readers {
            if let Err(e) = r.force_flush() {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Shuts every reader down, after a final collection and export. A second call returns
    /// [`SdkError::AlreadyShutdown`]. Instruments created afterwards are no-ops.
    pub fn shutdown(&self) -> SdkResult {
        self.inner.shutdown()
    }
}

/// Builds a [`MeterProvider`].
pub struct MeterProviderBuilder {
    resource: Option<Resource>,
    readers: Vec<Box<dyn ReaderImpl>>,
    views: Vec<View>,
    exemplar_filter: Option<ExemplarFilter>,
    cardinality_limit: Option<usize>,
}

impl fmt::Debug for MeterProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterProviderBuilder")
            .field("resource", &self.resource)
            .field("readers", &self.readers.len())
            .field("views", &self.views)
            .finish()
    }
}

impl MeterProviderBuilder {
    /// The resource (default: [`Resource::default`]).
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Adds a reader ([`PeriodicExportingMetricReader`](crate::metrics::PeriodicExportingMetricReader)
    /// or [`ManualReader`](crate::metrics::ManualReader)). Each reader gets its own
    /// aggregation state, with the temporality it asks for.
    pub fn with_reader(mut self, reader: impl MetricReader) -> Self {
        self.readers.push(reader.into_reader_box().0);
        self
    }

    /// Adds a view. An instrument matched by no view gets its default stream; one matched
    /// by several views gets one stream per view.
    pub fn with_view(mut self, view: View) -> Self {
        self.views.push(view);
        self
    }

    /// The exemplar filter (default: from `OTEL_METRICS_EXEMPLAR_FILTER`, else trace-based).
    pub fn with_exemplar_filter(mut self, filter: ExemplarFilter) -> Self {
        self.exemplar_filter = Some(filter);
        self
    }

    /// The default cardinality limit of every stream (default 2000; a view can override
    /// it). Zero is reported and ignored.
    pub fn with_cardinality_limit(mut self, limit: usize) -> Self {
        if limit == 0 {
            diagnostics::report("cardinality limit 0 ignored; using 2000");
        } else {
            self.cardinality_limit = Some(limit);
        }
        self
    }

    /// The provider; readers start (the periodic reader's thread) here.
    pub fn build(mut self) -> MeterProvider {
        if crate::env::sdk_disabled() {
            // No reader: instruments record nothing, and no export thread starts.
            self.readers.clear();
        }
        self.readers.retain(|r| r.claim());
        let temporalities = self
            .readers
            .iter()
            .map(|r| InstrumentKind::ALL.map(|k| r.temporality(k)))
            .collect();
        let pipeline = Arc::new(Pipeline {
            resource: self.resource.unwrap_or_default(),
            views: self.views,
            temporalities,
            exemplar_filter: self
                .exemplar_filter
                .unwrap_or_else(ExemplarFilter::from_env),
            cardinality_limit: self.cardinality_limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT),
            meters: Mutex::new(Vec::new()),
            collecting: self.readers.iter().map(|_| Mutex::new(())).collect(),
            shut_down: AtomicBool::new(false),
        });
        for (i, r) in self.readers.iter().enumerate() {
            r.register(Arc::clone(&pipeline), i);
        }
        MeterProvider {
            inner: Arc::new(ProviderInner {
                pipeline,
                readers: self.readers,
                shut_down: AtomicBool::new(false),
            }),
        }
    }
}
