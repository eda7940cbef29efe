//! Instruments and their builders.
//!
//! Synchronous instruments ([`Counter`], [`UpDownCounter`], [`Histogram`], [`Gauge`]) are
//! cheap to clone and record on the calling thread (see the hot-path notes in
//! [`crate::metrics`]). Observable instruments report through callbacks that run at each
//! collection.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::attributes::{KeyValue, StringValue};
use crate::diagnostics;
use crate::metrics::aggregate::{ObservableStream, SyncMeasure};
use crate::metrics::meter::{advisory_boundaries, InstrumentDesc, Meter};
use crate::metrics::number::sealed::Num;
use crate::metrics::number::MetricNumber;
use crate::metrics::InstrumentKind;

/// Recorders of a bound handle, one per stream.
type Recorders<T> = Box<[Box<dyn Fn(T) + Send + Sync>]>;

/// The shared part of a synchronous instrument: its streams.
pub(crate) struct SyncInner<T> {
    name: StringValue,
    streams: Box<[Arc<dyn SyncMeasure<T>>]>,
    reported_invalid: AtomicBool,
}

impl<T: Num> SyncInner<T> {
    pub(crate) fn new(name: StringValue, streams: Vec<Arc<dyn SyncMeasure<T>>>) -> Self {
        SyncInner {
            name,
            streams: streams.into(),
            reported_invalid: AtomicBool::new(false),
        }
    }

    pub(crate) fn noop(name: StringValue) -> Self {
        Self::new(name, Vec::new())
    }

    #[inline(always)]
    fn measure(&self, value: T, attrs: &[KeyValue]) {
        for s in self.streams.iter() {
            s.measure(value, attrs);
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid(&self, value: T, what: &str) {
        if !self.reported_invalid.swap(true, Ordering::Relaxed) {
            diagnostics::report(&format!(
                "instrument {}: {what} {value:?} dropped (further ones are dropped silently)",
                self.name
            ));
        }
    }

    fn bind(&self, attrs: &[KeyValue]) -> Recorders<T> {
        self.streams
            .iter()
            .map(|s| Arc::clone(s).bind(attrs))
            .collect()
    }
}

macro_rules! debug_by_name {
    ($($ty:ident),*) => {$(
        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).field("name", &self.inner.name).finish()
            }
        }
    )*};
}

/// A monotonic counter: `add` takes non-negative increments (negative or non-finite ones are
/// dropped and reported once).
#[derive(Clone)]
pub struct Counter<T> {
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> Counter<T> {
    /// Adds `value` to the series of `attributes` (their order does not matter).
    #[inline]
    pub fn add(&self, value: T, attributes: &[KeyValue]) {
        if value.is_non_negative() && value.is_finite() {
            self.inner.measure(value, attributes);
        } else {
            self.inner
                .invalid(value, "negative or non-finite counter increment");
        }
    }

    /// A handle bound to one attribute set: the fastest way to record on it repeatedly.
    pub fn bind(&self, attributes: &[KeyValue]) -> BoundCounter<T> {
        BoundCounter {
            recorders: self.inner.bind(attributes),
            inner: Arc::clone(&self.inner),
        }
    }
}

/// A [`Counter`] bound to one attribute set.
pub struct BoundCounter<T> {
    recorders: Recorders<T>,
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> BoundCounter<T> {
    /// Adds `value` (non-negative) to the bound series.
    #[inline]
    pub fn add(&self, value: T) {
        if value.is_non_negative() && value.is_finite() {
            for r in self.recorders.iter() {
                r(value);
            }
        } else {
            self.inner
                .invalid(value, "negative or non-finite counter increment");
        }
    }
}

/// An up-down counter: `add` takes any finite increment.
#[derive(Clone)]
pub struct UpDownCounter<T> {
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> UpDownCounter<T> {
    /// Adds `value` (possibly negative) to the series of `attributes`.
    #[inline]
    pub fn add(&self, value: T, attributes: &[KeyValue]) {
        if value.is_finite() {
            self.inner.measure(value, attributes);
        } else {
            self.inner
                .invalid(value, "non-finite up-down counter increment");
        }
    }
}

/// A histogram: `record` takes finite non-negative values (negative values, NaN and
/// infinities are dropped and reported once, as Python's SDK drops negative values: a
/// histogram's sum is exported as a count that only grows).
#[derive(Clone)]
pub struct Histogram<T> {
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> Histogram<T> {
    /// Records `value` in the series of `attributes`.
    #[inline]
    pub fn record(&self, value: T, attributes: &[KeyValue]) {
        if value.is_non_negative() && value.is_finite() {
            self.inner.measure(value, attributes);
        } else {
            self.inner
                .invalid(value, "negative or non-finite histogram value");
        }
    }

    /// A handle bound to one attribute set.
    pub fn bind(&self, attributes: &[KeyValue]) -> BoundHistogram<T> {
        BoundHistogram {
            recorders: self.inner.bind(attributes),
            inner: Arc::clone(&self.inner),
        }
    }
}

/// A [`Histogram`] bound to one attribute set.
pub struct BoundHistogram<T> {
    recorders: Recorders<T>,
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> BoundHistogram<T> {
    /// Records `value` in the bound series.
    #[inline]
    pub fn record(&self, value: T) {
        if value.is_non_negative() && value.is_finite() {
            for r in self.recorders.iter() {
                r(value);
            }
        } else {
            self.inner
                .invalid(value, "negative or non-finite histogram value");
        }
    }
}

/// A synchronous gauge: `record` sets the current value (non-finite values are dropped).
#[derive(Clone)]
pub struct Gauge<T> {
    inner: Arc<SyncInner<T>>,
}

impl<T: MetricNumber> Gauge<T> {
    /// Sets the value of the series of `attributes`.
    #[inline]
    pub fn record(&self, value: T, attributes: &[KeyValue]) {
        if value.is_finite() {
            self.inner.measure(value, attributes);
        } else {
            self.inner.invalid(value, "non-finite gauge value");
        }
    }
}

macro_rules! enabled {
    ($($ty:ident),*) => {$(
        impl<T> $ty<T> {
            /// `false` when measurements go nowhere (no reader, every view drops the
            /// instrument, invalid name, provider shut down): callers can then skip costly
            /// attribute computation.
            pub fn is_enabled(&self) -> bool {
                !self.inner.streams.is_empty()
            }
        }
    )*};
}

enabled!(Counter, UpDownCounter, Histogram, Gauge);

debug_by_name!(
    Counter,
    BoundCounter,
    UpDownCounter,
    Histogram,
    BoundHistogram,
    Gauge
);

/// Builds a synchronous instrument: `meter.u64_counter("name").with_unit("1").build()`.
pub struct InstrumentBuilder<'a, I> {
    meter: &'a Meter,
    name: StringValue,
    description: Option<StringValue>,
    unit: Option<StringValue>,
    boundaries: Option<Vec<f64>>,
    _i: PhantomData<fn() -> I>,
}

impl<I> fmt::Debug for InstrumentBuilder<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentBuilder")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("description", &self.description)
            .finish()
    }
}

impl<'a, I> InstrumentBuilder<'a, I> {
    pub(crate) fn new(meter: &'a Meter, name: StringValue) -> Self {
        InstrumentBuilder {
            meter,
            name,
            description: None,
            unit: None,
            boundaries: None,
            _i: PhantomData,
        }
    }

    /// The unit, e.g. `ms`, `By` or `1` (at most 63 ASCII characters).
    pub fn with_unit(mut self, unit: impl Into<StringValue>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// A human-readable description.
    pub fn with_description(mut self, description: impl Into<StringValue>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn desc(self, kind: InstrumentKind) -> (&'a Meter, InstrumentDesc) {
        let boundaries = self
            .boundaries
            .and_then(|b| advisory_boundaries(&self.name, b));
        (
            self.meter,
            InstrumentDesc {
                name: self.name,
                description: self.description.unwrap_or_default(),
                unit: self.unit.unwrap_or_default(),
                kind,
                boundaries,
            },
        )
    }
}

impl<T> InstrumentBuilder<'_, Histogram<T>> {
    /// Advisory explicit bucket boundaries (increasing, finite), used unless a view sets an
    /// aggregation. Invalid ones are reported and the defaults used.
    pub fn with_boundaries(mut self, boundaries: Vec<f64>) -> Self {
        self.boundaries = Some(boundaries);
        self
    }
}

macro_rules! sync_build {
    ($($ty:ident<$t:ty> => $kind:ident;)*) => {$(
        impl InstrumentBuilder<'_, $ty<$t>> {
            /// Creates the instrument (or returns the existing one of the same identity).
            pub fn build(self) -> $ty<$t> {
                let (meter, desc) = self.desc(InstrumentKind::$kind);
                $ty { inner: meter.register_sync::<$t>(desc) }
            }
        }
    )*};
}

sync_build! {
    Counter<u64> => Counter;
    Counter<f64> => Counter;
    UpDownCounter<i64> => UpDownCounter;
    UpDownCounter<f64> => UpDownCounter;
    Histogram<u64> => Histogram;
    Histogram<f64> => Histogram;
    Gauge<u64> => Gauge;
    Gauge<i64> => Gauge;
    Gauge<f64> => Gauge;
}

// ---------------------------------------------------------------------------------------
// Observable instruments

/// A callback of an observable instrument.
pub(crate) type Callback<T> = Box<dyn Fn(&Observer<'_, T>) + Send + Sync>;

/// The shared part of an observable instrument: its streams, per reader.
pub(crate) struct AsyncInner<T> {
    pub(crate) streams: Vec<Vec<Arc<ObservableStream<T>>>>,
    pub(crate) name_for_reports: StringValue,
}

impl<T> AsyncInner<T> {
    pub(crate) fn new(name: StringValue, streams: Vec<Vec<Arc<ObservableStream<T>>>>) -> Self {
        AsyncInner {
            streams,
            name_for_reports: name,
        }
    }
}

/// What a callback reports observations to, as Python's `Observation(value, attributes)`.
pub struct Observer<'a, T> {
    streams: &'a [Arc<ObservableStream<T>>],
    name: &'a StringValue,
}

impl<T> fmt::Debug for Observer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

impl<'a, T: MetricNumber> Observer<'a, T> {
    pub(crate) fn new(streams: &'a [Arc<ObservableStream<T>>], name: &'a StringValue) -> Self {
        Observer { streams, name }
    }

    /// Reports the current value for `attributes`. A callback may report several attribute
    /// sets; reporting the same set twice keeps the last value.
    pub fn observe(&self, value: T, attributes: &[KeyValue]) {
        if !value.is_finite() {
            diagnostics::report(&format!(
                "observable instrument {}: non-finite observation dropped",
                self.name
            ));
            return;
        }
        for s in self.streams {
            s.observe(value, attributes);
        }
    }
}

macro_rules! async_handle {
    ($($(#[$doc:meta])* $ty:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $ty<T> {
            _inner: Arc<AsyncInner<T>>,
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

async_handle! {
    /// An observable (asynchronous) monotonic counter: its callbacks report the running
    /// total at each collection.
    ObservableCounter;
    /// An observable up-down counter: its callbacks report the current total.
    ObservableUpDownCounter;
    /// An observable gauge: its callbacks report current values.
    ObservableGauge;
}

/// Builds an observable instrument:
/// `meter.u64_observable_counter("PF").with_callback(|o| o.observe(8, &[])).build()`.
pub struct AsyncInstrumentBuilder<'a, I, T> {
    meter: &'a Meter,
    name: StringValue,
    description: Option<StringValue>,
    unit: Option<StringValue>,
    callbacks: Vec<Callback<T>>,
    _i: PhantomData<fn() -> I>,
}

impl<I, T> fmt::Debug for AsyncInstrumentBuilder<'_, I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncInstrumentBuilder")
            .field("name", &self.name)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}

impl<'a, I, T: MetricNumber> AsyncInstrumentBuilder<'a, I, T> {
    pub(crate) fn new(meter: &'a Meter, name: StringValue) -> Self {
        AsyncInstrumentBuilder {
            meter,
            name,
            description: None,
            unit: None,
            callbacks: Vec::new(),
            _i: PhantomData,
        }
    }

    /// The unit (at most 63 ASCII characters).
    pub fn with_unit(mut self, unit: impl Into<StringValue>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// A human-readable description.
    pub fn with_description(mut self, description: impl Into<StringValue>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a callback, run at every collection of every reader. A panicking callback is
    /// caught and reported; the collection goes on.
    pub fn with_callback(
        mut self,
        callback: impl Fn(&Observer<'_, T>) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    fn register(self, kind: InstrumentKind) -> Arc<AsyncInner<T>> {
        let desc = InstrumentDesc {
            name: self.name,
            description: self.description.unwrap_or_default(),
            unit: self.unit.unwrap_or_default(),
            kind,
            boundaries: None,
        };
        self.meter.register_async::<T>(desc, self.callbacks)
    }
}

macro_rules! async_build {
    ($($ty:ident<$t:ty> => $kind:ident;)*) => {$(
        impl AsyncInstrumentBuilder<'_, $ty<$t>, $t> {
            /// Creates the instrument and registers its callbacks.
            pub fn build(self) -> $ty<$t> {
                $ty { _inner: self.register(InstrumentKind::$kind) }
            }
        }
    )*};
}

async_build! {
    ObservableCounter<u64> => ObservableCounter;
    ObservableCounter<f64> => ObservableCounter;
    ObservableUpDownCounter<i64> => ObservableUpDownCounter;
    ObservableUpDownCounter<f64> => ObservableUpDownCounter;
    ObservableGauge<u64> => ObservableGauge;
    ObservableGauge<i64> => ObservableGauge;
    ObservableGauge<f64> => ObservableGauge;
}
