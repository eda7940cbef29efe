//! Metrics: the guide's whole metrics API, and the rest of the specification's metrics SDK.
//!
//! | Python guide | otlp-sdk |
//! |---|---|
//! | `MeterProvider(metric_readers=[reader], resource=r)` | [`MeterProvider::builder`]`().with_reader(reader).with_resource(r).build()` |
//! | `PeriodicExportingMetricReader(exporter)` | [`PeriodicExportingMetricReader::builder`]`(exporter).build()` |
//! | `metrics.set_meter_provider(p)` | [`global::set_meter_provider`](crate::global::set_meter_provider)`(p)` |
//! | `metrics.get_meter("my.meter.name")` | [`global::meter`](crate::global::meter)`("my.meter.name")` |
//! | `meter.create_counter("work.counter", unit="1", description=..)` | `meter.u64_counter("work.counter").with_unit("1").with_description(..).build()` |
//! | `counter.add(1, {"work.type": t})` | `counter.add(1, &[KeyValue::new("work.type", t)])` |
//! | `meter.create_observable_counter("PF", callbacks=[cb])` | `meter.u64_observable_counter("PF").with_callback(cb).build()` |
//! | `meter.create_histogram(..)` / `histogram.record(v, attrs)` | `meter.f64_histogram(..).build()` / `histogram.record(v, &attrs)` |
//!
//! ```
//! use otlp_sdk::metrics::{InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader};
//! use otlp_sdk::KeyValue;
//!
//! let exporter = InMemoryMetricExporter::default();
//! let reader = PeriodicExportingMetricReader::builder(exporter.clone()).build();
//! let provider = MeterProvider::builder().with_reader(reader).build();
//! let meter = provider.meter("my.meter.name");
//! let counter = meter
//!     .u64_counter("work.counter")
//!     .with_unit("1")
//!     .with_description("Counts the amount of work done")
//!     .build();
//! counter.add(1, &[KeyValue::new("work.type", "a")]);
//! meter
//!     .u64_observable_counter("PF")
//!     .with_callback(|observer| observer.observe(8, &[KeyValue::new("pid", 0)]))
//!     .build();
//! provider.shutdown().unwrap(); // final collection and export
//! let exported = exporter.exported();
//! assert_eq!(exported[0].scope_metrics[0].metrics.len(), 2);
//! ```
//!
//! ## How a measurement is recorded (the hot path)
//!
//! An instrument holds one *stream* per (reader, matching view). Recording `counter.add(v,
//! attrs)` on a stream:
//!
//! 1. looks the attribute slice up in a **per-thread cache** (a two-way set-associative array
//!    of 1024 slots per cell type, shared by the thread's streams). The first probe is keyed
//!    by the slice's address (pre-built attribute sets hit without hashing anything), the
//!    second by an order-independent hash of the contents (per-pair hashes combined by
//!    addition, so key order does not matter). Either hit is verified against the
//!    attributes themselves, so a reused address or a hash collision can never pick the
//!    wrong series. The address hit is verified first by *identity words*: each pair's key
//!    and string value by address and length (the cache keeps a clone of each string, so
//!    equal addresses mean equal text), numbers by value; only when those differ are the
//!    contents compared;
//! 2. on a hit, updates the series' cell for the calling thread's **stripe**. Counters and
//!    explicit histograms keep one cell per stripe, each on its own cache lines, merged
//!    (exactly) at collection: a thread holds an exclusive stripe while it lives (one per
//!    CPU, at most 8; later threads share stripe 0), so threads recording on one series write
//!    different lines. On its exclusive stripe of a cumulative stream, a thread is the
//!    cell's only writer and the collector only reads, so updates are plain loads and stores
//!    (no locked instruction). Otherwise (shared stripe, delta streams, whose collector
//!    resets cells) updates are atomic: `fetch_add` for integer sums, a compare-and-swap
//!    loop on the bits for `f64` sums, atomic bucket counters plus load-compare-CAS for
//!    min/max. Nothing is locked and nothing is allocated once the thread's cell of the
//!    series exists (made on its first use there);
//! 3. on a miss (first use of an attribute set on this thread), takes the stream's mutex,
//!    finds or creates the series (canonical form: sorted by key, duplicates removed with the
//!    last value winning, view attribute filter applied, cardinality limit enforced) and fills
//!    the cache slot.
//!
//! Series are reference counted (`Arc`), so a cached pointer is always valid memory.
//! Cumulative streams never remove series, and mark a series as recorded with a plain load
//! once marked. Delta streams reclaim series unused for two intervals: there, a recorder
//! announces its update on the series' state word (one atomic add before, one after), and
//! the collector removes a series only with a compare-and-swap that requires no update in
//! flight and none completed since the previous collection. A recorder that finds the
//! series removed records through the map again, so a measurement is never lost and never
//! counted twice.
//!
//! Exponential histograms keep a small mutex per series (rescaling touches every bucket);
//! exemplar reservoirs are only locked when a measurement is actually offered (by default:
//! inside a sampled span).

mod aggregate;
mod data;
mod exemplar;
mod exporter;
mod instrument;
mod meter;
mod number;
// Used by the OTLP metric exporter (`export::otlp::OtlpMetricExporter`).
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]
pub(crate) mod otlp;
mod provider;
mod reader;
mod view;

pub use data::{
    Exemplar, ExponentialBuckets, ExponentialHistogramData, ExponentialHistogramDataPoint,
    GaugeData, HistogramData, HistogramDataPoint, Metric, MetricData, Number, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SumData,
};
pub use exemplar::ExemplarFilter;
pub use exemplar::EXEMPLAR_FILTER_ENV;
pub use exporter::{ConsoleMetricExporter, InMemoryMetricExporter, MetricExporter};
pub use instrument::{
    AsyncInstrumentBuilder, BoundCounter, BoundHistogram, Counter, Gauge, Histogram,
    InstrumentBuilder, ObservableCounter, ObservableGauge, ObservableUpDownCounter, Observer,
    UpDownCounter,
};
pub use meter::Meter;
pub use number::MetricNumber;
pub use provider::{MeterProvider, MeterProviderBuilder};
#[doc(hidden)]
pub use reader::ReaderBox;
pub use reader::{
    ManualReader, ManualReaderBuilder, MetricReader, PeriodicExportingMetricReader,
    PeriodicReaderBuilder,
};
pub use view::{Aggregation, View, ViewBuilder};

use crate::diagnostics;

/// The kind of an instrument, as views and temporality selection see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// A synchronous, monotonic [`Counter`].
    Counter,
    /// A synchronous [`UpDownCounter`].
    UpDownCounter,
    /// A synchronous [`Histogram`].
    Histogram,
    /// A synchronous gauge ([`Gauge`]).
    Gauge,
    /// An asynchronous, monotonic counter ([`ObservableCounter`]).
    ObservableCounter,
    /// An asynchronous up-down counter ([`ObservableUpDownCounter`]).
    ObservableUpDownCounter,
    /// An asynchronous gauge ([`ObservableGauge`]).
    ObservableGauge,
}

impl InstrumentKind {
    /// Every kind, in declaration order.
    pub const ALL: [InstrumentKind; 7] = [
        InstrumentKind::Counter,
        InstrumentKind::UpDownCounter,
        InstrumentKind::Histogram,
        InstrumentKind::Gauge,
        InstrumentKind::ObservableCounter,
        InstrumentKind::ObservableUpDownCounter,
        InstrumentKind::ObservableGauge,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// `true` for the kinds whose measurements may be negative (up-down counters and
    /// gauges): the specification says a histogram of them should not collect the sum.
    pub(crate) fn records_negative(self) -> bool {
        matches!(
            self,
            InstrumentKind::UpDownCounter
                | InstrumentKind::Gauge
                | InstrumentKind::ObservableUpDownCounter
                | InstrumentKind::ObservableGauge
        )
    }

    /// `true` for the observable (callback) kinds.
    pub fn is_async(self) -> bool {
        matches!(
            self,
            InstrumentKind::ObservableCounter
                | InstrumentKind::ObservableUpDownCounter
                | InstrumentKind::ObservableGauge
        )
    }
}

/// How the points of a sum or histogram relate over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Temporality {
    /// Each point covers everything since the stream started (the OTLP default).
    #[default]
    Cumulative,
    /// Each point covers only the time since the previous collection.
    Delta,
}

/// An exporter's temporality preference, as `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`
/// names it; [`TemporalityPreference::temporality`] maps it to a [`Temporality`] per
/// instrument kind, as the specification defines.
///
/// ```
/// use otlp_sdk::metrics::{InstrumentKind, Temporality, TemporalityPreference};
/// let p = TemporalityPreference::LowMemory;
/// assert_eq!(p.temporality(InstrumentKind::Counter), Temporality::Delta);
/// assert_eq!(p.temporality(InstrumentKind::ObservableCounter), Temporality::Cumulative);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemporalityPreference {
    /// Cumulative for every kind (the default).
    #[default]
    Cumulative,
    /// Delta for counters, observable counters and histograms; cumulative for up-down
    /// counters (and gauges, whose points carry no temporality).
    Delta,
    /// Delta for synchronous counters and histograms only; cumulative otherwise.
    LowMemory,
}

/// The environment variable read by [`TemporalityPreference::from_env`].
pub const TEMPORALITY_PREFERENCE_ENV: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";

impl TemporalityPreference {
    /// The temporality for instruments of `kind`.
    pub fn temporality(self, kind: InstrumentKind) -> Temporality {
        use InstrumentKind as K;
        match (self, kind) {
            (TemporalityPreference::Cumulative, _) => Temporality::Cumulative,
            (TemporalityPreference::Delta, K::Counter | K::ObservableCounter | K::Histogram) => {
                Temporality::Delta
            }
            (TemporalityPreference::LowMemory, K::Counter | K::Histogram) => Temporality::Delta,
            _ => Temporality::Cumulative,
        }
    }

    /// Parses `cumulative`, `delta` or `lowmemory` (any case).
    pub fn parse(s: &str) -> Result<Self, crate::ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Ok(TemporalityPreference::Cumulative),
            "delta" => Ok(TemporalityPreference::Delta),
            "lowmemory" => Ok(TemporalityPreference::LowMemory),
            _ => Err(crate::ConfigError::new(
                crate::ConfigErrorKind::Invalid,
                TEMPORALITY_PREFERENCE_ENV,
                s,
                "expected cumulative, delta or lowmemory",
            )),
        }
    }

    /// The preference from `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: cumulative when
    /// unset; a bad value is reported through diagnostics and cumulative is used.
    pub fn from_env() -> Self {
        match crate::env::var(TEMPORALITY_PREFERENCE_ENV) {
            None => TemporalityPreference::Cumulative,
            Some(v) => Self::parse(&v).unwrap_or_else(|e| {
                diagnostics::report(&format!("{e}; using cumulative"));
                TemporalityPreference::Cumulative
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_table_matches_the_specification() {
        use InstrumentKind as K;
        use Temporality::{Cumulative as C, Delta as D};
        let delta = TemporalityPreference::Delta;
        let low = TemporalityPreference::LowMemory;
        let expect = [
            (K::Counter, D, D),
            (K::UpDownCounter, C, C),
            (K::Histogram, D, D),
            (K::Gauge, C, C),
            (K::ObservableCounter, D, C),
            (K::ObservableUpDownCounter, C, C),
            (K::ObservableGauge, C, C),
        ];
        for (k, d, l) in expect {
            assert_eq!(delta.temporality(k), d, "{k:?}");
            assert_eq!(low.temporality(k), l, "{k:?}");
            assert_eq!(TemporalityPreference::Cumulative.temporality(k), C);
        }
        assert_eq!(
            TemporalityPreference::parse("LowMemory").unwrap(),
            TemporalityPreference::LowMemory
        );
        assert!(TemporalityPreference::parse("sometimes").is_err());
    }
}
