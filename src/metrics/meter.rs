//! The [`Meter`]: creates instruments, applying the name rules, the identity rules for
//! duplicate registrations and the views, and keeps the streams its readers collect.

use std::any::{Any, TypeId};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crate::attributes::StringValue;
use crate::diagnostics;
use crate::metrics::aggregate::{
    Collect, ExponentialAgg, HistogramAgg, LastValueAgg, ObservableKind, ObservableStream,
    StreamConfig, StreamMeta, SumAgg, SyncMeasure, SyncStream,
};
use crate::metrics::data::Metric;
use crate::metrics::instrument::{
    AsyncInner, AsyncInstrumentBuilder, Callback, Counter, Gauge, Histogram, InstrumentBuilder,
    ObservableCounter, ObservableGauge, ObservableUpDownCounter, Observer, SyncInner,
    UpDownCounter,
};
use crate::metrics::number::sealed::Num;
use crate::metrics::provider::Pipeline;
use crate::metrics::view::{validate_boundaries, Aggregation};
use crate::metrics::InstrumentKind;
use crate::scope::InstrumentationScope;
use crate::time::now_unix_nanos;

type CollectFn = Arc<dyn Fn(usize) + Send + Sync>;

/// What a meter keeps: its instruments (for the identity rules), the streams per reader and
/// the callbacks of its observable instruments.
pub(crate) struct MeterState {
    pub(crate) scope: InstrumentationScope,
    instruments: Mutex<Vec<Registered>>,
    /// Per reader: streams in creation order, and their names (lowercase).
    streams: Vec<Mutex<Vec<Arc<dyn Collect>>>>,
    stream_names: Mutex<Vec<(usize, String)>>,
    /// Callbacks, called with the index of the collecting reader.
    callbacks: Mutex<Vec<(StringValue, CollectFn)>>,
}

struct Registered {
    id: Identity,
    handle: Arc<dyn Any + Send + Sync>,
}

#[derive(Clone, Debug, PartialEq)]
struct Identity {
    name_lower: String,
    kind: InstrumentKind,
    unit: StringValue,
    description: StringValue,
    number: TypeId,
}

impl MeterState {
    pub(crate) fn new(scope: InstrumentationScope, readers: usize) -> Self {
        MeterState {
            scope,
            instruments: Mutex::new(Vec::new()),
            streams: (0..readers).map(|_| Mutex::new(Vec::new())).collect(),
            stream_names: Mutex::new(Vec::new()),
            callbacks: Mutex::new(Vec::new()),
        }
    }

    /// Adds a stream for `reader`, warning when its name is already taken by another stream
    /// of this meter (the specification's conflicting metric identities: both are exported).
    fn add_stream(
        &self,
        reader: usize,
        name: &StringValue,
        instrument: &StringValue,
        stream: Arc<dyn Collect>,
    ) {
        let lower = name.to_ascii_lowercase();
        let mut names = self.stream_names.lock().unwrap_or_else(|p| p.into_inner());
        if names.iter().any(|(r, n)| *r == reader && *n == lower) {
            if name.as_str() != instrument.as_str() {
                diagnostics::report(&format!(
                    "conflicting metric streams: a view renames instrument {instrument} to \
                     {name}, a name already used in meter {}; both are exported",
                    self.scope.name()
                ));
            }
        } else {
            names.push((reader, lower));
        }
        if let Some(streams) = self.streams.get(reader) {
            streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(stream);
        }
    }

    /// Runs the callbacks for `reader` (a panicking one is reported and skipped), then
    /// collects the reader's streams.
    pub(crate) fn collect(&self, reader: usize) -> Vec<Metric> {
        let callbacks = self
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (name, cb) in callbacks {
            if catch_unwind(AssertUnwindSafe(|| cb(reader))).is_err() {
                diagnostics::report(&format!(
                    "callback of observable instrument {name} panicked; its observations up to \
                     the panic are kept"
                ));
            }
        }
        let now = now_unix_nanos();
        let Some(streams) = self.streams.get(reader) else {
            return Vec::new();
        };
        let streams = streams.lock().unwrap_or_else(|p| p.into_inner()).clone();
        streams.iter().filter_map(|s| s.collect(now)).collect()
    }
}

/// Creates instruments for one instrumentation scope. Cheap to clone.
///
/// Instrument names must match `[A-Za-z][A-Za-z0-9_./-]{0,254}` and units be at most 63
/// ASCII characters: otherwise the problem is reported through
/// [`diagnostics`] and the instrument returned records nothing.
/// Creating an instrument twice with the same identity (name, ignoring case, kind, number
/// type, unit and description) returns the same instrument; a different instrument under
/// an existing name is reported as a duplicate registration and still works, as its own
/// stream.
#[derive(Clone)]
pub struct Meter {
    pipeline: Arc<Pipeline>,
    state: Arc<MeterState>,
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meter")
            .field("scope", &self.state.scope)
            .finish()
    }
}

/// Instrument name syntax of the specification.
pub(crate) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-'))
}

fn valid_unit(unit: &str) -> bool {
    unit.len() <= 63 && unit.is_ascii()
}

/// The description of an instrument being created.
pub(crate) struct InstrumentDesc {
    pub(crate) name: StringValue,
    pub(crate) description: StringValue,
    pub(crate) unit: StringValue,
    pub(crate) kind: InstrumentKind,
    pub(crate) boundaries: Option<Vec<f64>>,
}

macro_rules! sync_ctor {
    ($(#[$doc:meta] $fn:ident -> $ty:ident<$t:ty>;)*) => {$(
        #[$doc]
        pub fn $fn(&self, name: impl Into<StringValue>) -> InstrumentBuilder<'_, $ty<$t>> {
            InstrumentBuilder::new(self, name.into())
        }
    )*};
}

macro_rules! async_ctor {
    ($(#[$doc:meta] $fn:ident -> $ty:ident<$t:ty>;)*) => {$(
        #[$doc]
        pub fn $fn(
            &self,
            name: impl Into<StringValue>,
        ) -> AsyncInstrumentBuilder<'_, $ty<$t>, $t> {
            AsyncInstrumentBuilder::new(self, name.into())
        }
    )*};
}

impl Meter {
    pub(crate) fn new(pipeline: Arc<Pipeline>, state: Arc<MeterState>) -> Self {
        Meter { pipeline, state }
    }

    /// The meter's instrumentation scope.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.state.scope
    }

    sync_ctor! {
        /// A `u64` counter (monotonic sum), as Python's `create_counter`.
        u64_counter -> Counter<u64>;
        /// An `f64` counter (monotonic sum).
        f64_counter -> Counter<f64>;
        /// An `i64` up-down counter (non-monotonic sum).
        i64_up_down_counter -> UpDownCounter<i64>;
        /// An `f64` up-down counter (non-monotonic sum).
        f64_up_down_counter -> UpDownCounter<f64>;
        /// A `u64` histogram (explicit buckets by default).
        u64_histogram -> Histogram<u64>;
        /// An `f64` histogram (explicit buckets by default), as Python's `create_histogram`.
        f64_histogram -> Histogram<f64>;
        /// A `u64` gauge (last value).
        u64_gauge -> Gauge<u64>;
        /// An `i64` gauge (last value).
        i64_gauge -> Gauge<i64>;
        /// An `f64` gauge (last value).
        f64_gauge -> Gauge<f64>;
    }

    async_ctor! {
        /// A `u64` observable counter, as Python's `create_observable_counter`.
        u64_observable_counter -> ObservableCounter<u64>;
        /// An `f64` observable counter.
        f64_observable_counter -> ObservableCounter<f64>;
        /// An `i64` observable up-down counter.
        i64_observable_up_down_counter -> ObservableUpDownCounter<i64>;
        /// An `f64` observable up-down counter.
        f64_observable_up_down_counter -> ObservableUpDownCounter<f64>;
        /// A `u64` observable gauge.
        u64_observable_gauge -> ObservableGauge<u64>;
        /// An `i64` observable gauge.
        i64_observable_gauge -> ObservableGauge<i64>;
        /// An `f64` observable gauge.
        f64_observable_gauge -> ObservableGauge<f64>;
    }

    /// Checks the name and unit; `false` (after a report) when the instrument must be a no-op.
    fn check(&self, desc: &InstrumentDesc) -> bool {
        if !valid_name(&desc.name) {
            diagnostics::report(&format!(
                "invalid instrument name {:?} (meter {}): it must match \
                 [A-Za-z][A-Za-z0-9_./-]{{0,254}}; the instrument records nothing",
                desc.name.as_str(),
                self.state.scope.name()
            ));
            return false;
        }
        if !valid_unit(&desc.unit) {
            diagnostics::report(&format!(
                "invalid unit {:?} of instrument {}: at most 63 ASCII characters; the \
                 instrument records nothing",
                desc.unit.as_str(),
                desc.name
            ));
            return false;
        }
        !self
            .pipeline
            .shut_down
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Finds an instrument of the same identity, or registers `make()`'s.
    fn register<H: Any + Send + Sync>(
        &self,
        desc: &InstrumentDesc,
        number: TypeId,
        make: impl FnOnce() -> Arc<H>,
    ) -> Arc<H> {
        let id = Identity {
            name_lower: desc.name.to_ascii_lowercase(),
            kind: desc.kind,
            unit: desc.unit.clone(),
            description: desc.description.clone(),
            number,
        };
        let mut instruments = self
            .state
            .instruments
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(r) = instruments.iter().find(|r| r.id == id) {
            if let Ok(h) = Arc::clone(&r.handle).downcast::<H>() {
                return h;
            }
        }
        if let Some(other) = instruments
            .iter()
            .find(|r| r.id.name_lower == id.name_lower)
        {
            diagnostics::report(&format!(
                "duplicate instrument registration: {} (meter {}) was created as {:?} \
                 (unit {:?}, description {:?}) and now as {:?} (unit {:?}, description {:?}); \
                 both are exported as separate streams",
                desc.name,
                self.state.scope.name(),
                other.id.kind,
                other.id.unit.as_str(),
                other.id.description.as_str(),
                id.kind,
                id.unit.as_str(),
                id.description.as_str(),
            ));
        }
        let handle = make();
        instruments.push(Registered {
            id,
            handle: Arc::clone(&handle) as Arc<dyn Any + Send + Sync>,
        });
        handle
    }

    /// The stream configurations of `desc` for `reader`: one per matching view (none for a
    /// dropping view), or the default one.
    fn streams_for(
        &self,
        desc: &InstrumentDesc,
        reader: usize,
    ) -> Vec<(StreamConfig, Aggregation)> {
        let temporality = self.pipeline.temporalities[reader][desc.kind.index()];
        let base = StreamConfig {
            meta: StreamMeta {
                name: desc.name.clone(),
                description: desc.description.clone(),
                unit: desc.unit.clone(),
            },
            temporality,
            filter: None,
            cardinality_limit: self.pipeline.cardinality_limit,
            exemplar_filter: self.pipeline.exemplar_filter,
        };
        let mut out = Vec::new();
        let mut matched = false;
        for v in &self.pipeline.views {
            if !v.matches(&desc.name, desc.kind, &desc.unit, &self.state.scope) {
                continue;
            }
            matched = true;
            if v.aggregation == Aggregation::Drop {
                continue;
            }
            let mut c = base.clone();
            if let Some(n) = &v.rename {
                c.meta.name = n.clone();
            }
            if let Some(d) = &v.description {
                c.meta.description = d.clone();
            }
            c.filter = v.filter.clone();
            if let Some(l) = v.cardinality_limit {
                c.cardinality_limit = l;
            }
            out.push((c, v.aggregation.clone()));
        }
        if !matched {
            out.push((base, Aggregation::Default));
        }
        if reader == 0 {
            self.report_views_sharing_the_name(desc, &out);
        }
        out
    }

    /// Reports two views that give an instrument streams of its own name (conflicting metric
    /// identities: both are exported). A view's rename onto a taken name is reported when
    /// the stream is added (`MeterState::add_stream`).
    fn report_views_sharing_the_name(
        &self,
        desc: &InstrumentDesc,
        configs: &[(StreamConfig, Aggregation)],
    ) {
        let own = desc.name.to_ascii_lowercase();
        let unrenamed = configs
            .iter()
            .filter(|(c, _)| c.meta.name.to_ascii_lowercase() == own)
            .count();
        if unrenamed > 1 {
            diagnostics::report(&format!(
                "conflicting metric streams: {unrenamed} views give instrument {} (meter {}) \
                 streams of its own name; all are exported",
                desc.name,
                self.state.scope.name()
            ));
        }
    }

    pub(crate) fn register_sync<T: Num>(&self, desc: InstrumentDesc) -> Arc<SyncInner<T>> {
        if !self.check(&desc) {
            return Arc::new(SyncInner::noop(desc.name));
        }
        self.register(&desc, TypeId::of::<T>(), || {
            let start = now_unix_nanos();
            let mut measures: Vec<Arc<dyn SyncMeasure<T>>> = Vec::new();
            for reader in 0..self.pipeline.reader_count() {
                for (config, aggregation) in self.streams_for(&desc, reader) {
                    let name = config.meta.name.clone();
                    let (m, c) = make_sync::<T>(config, &aggregation, &desc, start);
                    measures.push(m);
                    self.state.add_stream(reader, &name, &desc.name, c);
                }
            }
            Arc::new(SyncInner::new(desc.name.clone(), measures))
        })
    }

    pub(crate) fn register_async<T: crate::metrics::MetricNumber>(
        &self,
        desc: InstrumentDesc,
        callbacks: Vec<Callback<T>>,
    ) -> Arc<AsyncInner<T>> {
        if !self.check(&desc) {
            return Arc::new(AsyncInner::new(desc.name, Vec::new()));
        }
        let inner = self.register(&desc, TypeId::of::<T>(), || {
            let start = now_unix_nanos();
            let per_reader = (0..self.pipeline.reader_count())
                .map(|reader| {
                    self.streams_for(&desc, reader)
                        .into_iter()
                        .map(|(config, aggregation)| {
                            let kind = observable_kind(&desc, &aggregation);
                            let name = config.meta.name.clone();
                            let s = Arc::new(ObservableStream::<T>::new(config, kind, start));
                            let c = Arc::clone(&s) as Arc<dyn Collect>;
                            self.state.add_stream(reader, &name, &desc.name, c);
                            s
                        })
                        .collect()
                })
                .collect();
            Arc::new(AsyncInner::new(desc.name.clone(), per_reader))
        });
        let mut cbs = self
            .state
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for cb in callbacks {
            let inner = Arc::clone(&inner);
            let cb: Arc<Callback<T>> = Arc::new(cb);
            let f: CollectFn = Arc::new(move |reader: usize| {
                if let Some(streams) = inner.streams.get(reader) {
                    cb(&Observer::new(streams, &inner.name_for_reports));
                }
            });
            cbs.push((desc.name.clone(), f));
        }
        inner
    }
}

fn observable_kind(desc: &InstrumentDesc, aggregation: &Aggregation) -> ObservableKind {
    let default = match desc.kind {
        InstrumentKind::ObservableGauge => ObservableKind::Gauge,
        InstrumentKind::ObservableUpDownCounter => ObservableKind::Sum { monotonic: false },
        _ => ObservableKind::Sum { monotonic: true },
    };
    match aggregation {
        Aggregation::Default => default,
        Aggregation::Sum => ObservableKind::Sum {
            monotonic: desc.kind == InstrumentKind::ObservableCounter,
        },
        Aggregation::LastValue => ObservableKind::Gauge,
        other => {
            diagnostics::report(&format!(
                "aggregation {other:?} is not supported for observable instrument {}; using \
                 its default",
                desc.name
            ));
            default
        }
    }
}

type Streams<T> = (Arc<dyn SyncMeasure<T>>, Arc<dyn Collect>);

fn stream<T: Num, A: crate::metrics::aggregate::Aggregator<T>>(
    config: StreamConfig,
    agg: A,
    start: u64,
) -> Streams<T> {
    let s = Arc::new(SyncStream::new(config, agg, start));
    (
        Arc::clone(&s) as Arc<dyn SyncMeasure<T>>,
        s as Arc<dyn Collect>,
    )
}

fn make_sync<T: Num>(
    config: StreamConfig,
    aggregation: &Aggregation,
    desc: &InstrumentDesc,
    start: u64,
) -> Streams<T> {
    use InstrumentKind as K;
    let default_bounds = || match &desc.boundaries {
        Some(b) => b.clone(),
        None => crate::metrics::aggregate::DEFAULT_BOUNDARIES.to_vec(),
    };
    let monotonic = matches!(desc.kind, K::Counter | K::Histogram);
    // A histogram of an instrument that can record negative values has no sum (as the
    // specification says); its aggregator then does not record one.
    let keep_sum = !desc.kind.records_negative();
    match aggregation {
        Aggregation::Sum => stream(config, SumAgg::<T>::new(monotonic), start),
        Aggregation::LastValue => stream(config, LastValueAgg::<T>::new(), start),
        Aggregation::ExplicitBucketHistogram {
            boundaries,
            record_min_max,
        } => {
            let (b, mm) = (boundaries.clone(), *record_min_max);
            if keep_sum {
                stream(config, HistogramAgg::<T, true>::new(b, mm), start)
            } else {
                stream(config, HistogramAgg::<T, false>::new(b, mm), start)
            }
        }
        Aggregation::Base2ExponentialHistogram {
            max_size,
            max_scale,
            record_min_max,
        } => stream(
            config,
            ExponentialAgg::<T>::new(*max_size, *max_scale, *record_min_max, keep_sum),
            start,
        ),
        Aggregation::Default | Aggregation::Drop => match desc.kind {
            K::Histogram => stream(
                config,
                HistogramAgg::<T, true>::new(default_bounds(), true),
                start,
            ),
            K::Gauge => stream(config, LastValueAgg::<T>::new(), start),
            _ => stream(config, SumAgg::<T>::new(monotonic), start),
        },
    }
}

/// Validates advisory histogram boundaries; invalid ones are reported and ignored.
pub(crate) fn advisory_boundaries(name: &str, b: Vec<f64>) -> Option<Vec<f64>> {
    match validate_boundaries(&b) {
        Ok(()) => Some(b),
        Err(reason) => {
            diagnostics::report(&format!(
                "histogram {name}: advisory boundaries {b:?} ignored: {reason}"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn instrument_name_syntax() {
        for ok in ["a", "work.counter", "A_b-c/d.e", &"x".repeat(255)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "_a", "a b", "é", &"x".repeat(256), "a*"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
