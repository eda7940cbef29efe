//! The exportable snapshot of a collection: what readers hand to exporters.
//!
//! Times are nanoseconds since the Unix epoch. Attribute lists are sorted by key.

use crate::attributes::{KeyValue, StringValue};
use crate::metrics::Temporality;
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::{SpanId, TraceId};

/// Everything one collection produced, for one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceMetrics {
    /// The provider's resource.
    pub resource: Resource,
    /// One entry per meter (instrumentation scope) that produced at least one point.
    pub scope_metrics: Vec<ScopeMetrics>,
}

impl ResourceMetrics {
    /// The first metric named `name`, in any scope (handy in tests).
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.scope_metrics
            .iter()
            .flat_map(|s| s.metrics.iter())
            .find(|m| m.name.as_str() == name)
    }
}

/// The metrics of one meter.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeMetrics {
    /// The meter's instrumentation scope.
    pub scope: InstrumentationScope,
    /// Its metric streams, in instrument creation order.
    pub metrics: Vec<Metric>,
}

/// One metric stream: a name, its metadata and its points.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// The stream name (the instrument name, or a view's rename).
    pub name: StringValue,
    /// The description.
    pub description: StringValue,
    /// The unit, e.g. `ms` or `1`.
    pub unit: StringValue,
    /// The points.
    pub data: MetricData,
}

/// The points of a metric, by aggregation.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// A sum (counters, up-down counters).
    Sum(SumData),
    /// Last values (gauges).
    Gauge(GaugeData),
    /// An explicit-bucket histogram.
    Histogram(HistogramData),
    /// A base-2 exponential histogram.
    ExponentialHistogram(ExponentialHistogramData),
}

impl MetricData {
    /// The number of points.
    pub fn len(&self) -> usize {
        match self {
            MetricData::Sum(s) => s.data_points.len(),
            MetricData::Gauge(g) => g.data_points.len(),
            MetricData::Histogram(h) => h.data_points.len(),
            MetricData::ExponentialHistogram(h) => h.data_points.len(),
        }
    }

    /// `true` when there is no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A measured number, keeping the instrument's number type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// From a `u64` instrument.
    U64(u64),
    /// From an `i64` instrument.
    I64(i64),
    /// From an `f64` instrument.
    F64(f64),
}

impl Number {
    /// The value as `f64`.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::U64(v) => v as f64,
            Number::I64(v) => v as f64,
            Number::F64(v) => v,
        }
    }

    /// The value as `i64` (`u64` saturates, `f64` truncates).
    pub fn as_i64(self) -> i64 {
        match self {
            Number::U64(v) => i64::try_from(v).unwrap_or(i64::MAX),
            Number::I64(v) => v,
            Number::F64(v) => v as i64,
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::U64(v) => write!(f, "{v}"),
            Number::I64(v) => write!(f, "{v}"),
            Number::F64(v) => write!(f, "{v}"),
        }
    }
}

/// A sampled measurement attached to a point, linking it to a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The measurement's attributes that the point's attributes do not have (removed by a
    /// view's attribute filter).
    pub filtered_attributes: Vec<KeyValue>,
    /// When the measurement was recorded.
    pub time_unix_nano: u64,
    /// The measured value.
    pub value: Number,
    /// The span that was current, if any.
    pub span_id: Option<SpanId>,
    /// The trace that was current, if any.
    pub trace_id: Option<TraceId>,
}

/// A sum or gauge point.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberDataPoint {
    /// The attributes (sorted by key).
    pub attributes: Vec<KeyValue>,
    /// Start of the period the point covers.
    pub start_time_unix_nano: u64,
    /// End of the period (the collection time).
    pub time_unix_nano: u64,
    /// The value.
    pub value: Number,
    /// Sampled measurements.
    pub exemplars: Vec<Exemplar>,
}

/// Sum points.
#[derive(Clone, Debug, PartialEq)]
pub struct SumData {
    /// The points, one per attribute set.
    pub data_points: Vec<NumberDataPoint>,
    /// Cumulative or delta.
    pub temporality: Temporality,
    /// `true` for counters (the sum never decreases).
    pub is_monotonic: bool,
}

/// Gauge points.
#[derive(Clone, Debug, PartialEq)]
pub struct GaugeData {
    /// The points, one per attribute set.
    pub data_points: Vec<NumberDataPoint>,
}

/// An explicit-bucket histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramDataPoint {
    /// The attributes (sorted by key).
    pub attributes: Vec<KeyValue>,
    /// Start of the period the point covers.
    pub start_time_unix_nano: u64,
    /// End of the period.
    pub time_unix_nano: u64,
    /// Number of measurements (the sum of `bucket_counts`).
    pub count: u64,
    /// Sum of the measurements; `None` when the instrument can record negative values
    /// (up-down counters, gauges): the specification says the sum should not be collected
    /// for them.
    pub sum: Option<f64>,
    /// Smallest measurement (when recorded).
    pub min: Option<f64>,
    /// Largest measurement (when recorded).
    pub max: Option<f64>,
    /// Upper bounds (inclusive) of all buckets but the last.
    pub bounds: Vec<f64>,
    /// Counts per bucket; one more than `bounds`.
    pub bucket_counts: Vec<u64>,
    /// Sampled measurements.
    pub exemplars: Vec<Exemplar>,
}

/// Explicit-bucket histogram points.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramData {
    /// The points.
    pub data_points: Vec<HistogramDataPoint>,
    /// Cumulative or delta.
    pub temporality: Temporality,
}

/// Consecutive buckets of an exponential histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExponentialBuckets {
    /// Index of the first bucket.
    pub offset: i32,
    /// Counts of buckets `offset`, `offset + 1`, ...
    pub counts: Vec<u64>,
}

/// A base-2 exponential histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialHistogramDataPoint {
    /// The attributes (sorted by key).
    pub attributes: Vec<KeyValue>,
    /// Start of the period the point covers.
    pub start_time_unix_nano: u64,
    /// End of the period.
    pub time_unix_nano: u64,
    /// Number of measurements.
    pub count: u64,
    /// Sum of the measurements; `None` when the instrument can record negative values
    /// (up-down counters, gauges): the specification says the sum should not be collected
    /// for them.
    pub sum: Option<f64>,
    /// Smallest measurement (when recorded).
    pub min: Option<f64>,
    /// Largest measurement (when recorded).
    pub max: Option<f64>,
    /// Resolution: bucket boundaries are powers of `2^(2^-scale)`.
    pub scale: i32,
    /// Measurements equal to zero.
    pub zero_count: u64,
    /// The zero bucket's threshold (always 0 here).
    pub zero_threshold: f64,
    /// Buckets of positive measurements.
    pub positive: ExponentialBuckets,
    /// Buckets of negative measurements (by absolute value).
    pub negative: ExponentialBuckets,
    /// Sampled measurements.
    pub exemplars: Vec<Exemplar>,
}

/// Exponential histogram points.
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialHistogramData {
    /// The points.
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    /// Cumulative or delta.
    pub temporality: Temporality,
}
