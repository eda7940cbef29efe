//! Metric exporters: the [`MetricExporter`] trait, an in-memory exporter for tests and a
//! console exporter.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::error::{SdkError, SdkResult};
use crate::export::console::{attributes_json as attrs_json, float_json, ConsoleWriter};
use crate::metrics::data::{Exemplar, MetricData, Number, NumberDataPoint, ResourceMetrics};
use crate::metrics::{InstrumentKind, Temporality, TemporalityPreference};

/// Where a [`PeriodicExportingMetricReader`](crate::metrics::PeriodicExportingMetricReader)
/// sends each collection. Called from the reader's thread, one call at a time.
pub trait MetricExporter: Send + 'static {
    /// Sends one collection.
    fn export(&mut self, metrics: &ResourceMetrics) -> SdkResult;

    /// The temporality this exporter wants for instruments of `kind` (default: cumulative).
    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        Temporality::Cumulative
    }

    /// Sends anything buffered.
    fn force_flush(&mut self) -> SdkResult {
        Ok(())
    }

    /// Releases resources; called once, after the final export.
    fn shutdown(&mut self) -> SdkResult {
        Ok(())
    }
}

/// Keeps every exported collection in memory. Clones share the storage, so a test keeps one
/// clone and gives the other to the reader.
#[derive(Clone, Debug, Default)]
pub struct InMemoryMetricExporter {
    exported: Arc<Mutex<Vec<ResourceMetrics>>>,
    preference: TemporalityPreference,
}

impl InMemoryMetricExporter {
    /// An exporter asking for the temporalities of `preference`.
    pub fn with_temporality(preference: TemporalityPreference) -> Self {
        InMemoryMetricExporter {
            preference,
            ..Default::default()
        }
    }

    /// A copy of every collection exported so far, in order.
    pub fn exported(&self) -> Vec<ResourceMetrics> {
        self.exported.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Forgets what was exported so far.
    pub fn reset(&self) {
        if let Ok(mut e) = self.exported.lock() {
            e.clear();
        }
    }
}

impl MetricExporter for InMemoryMetricExporter {
    fn export(&mut self, metrics: &ResourceMetrics) -> SdkResult {
        self.exported
            .lock()
            .map_err(|_| SdkError::failed("in-memory exporter poisoned"))?
            .push(metrics.clone());
        Ok(())
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.preference.temporality(kind)
    }
}

/// Prints each collection as indented JSON on stdout, in the layout of the Python SDK's
/// `ConsoleMetricExporter` (resource, scope, metrics and their data points).
pub struct ConsoleMetricExporter {
    out: ConsoleWriter,
    preference: TemporalityPreference,
}

impl fmt::Debug for ConsoleMetricExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleMetricExporter")
    }
}

impl Default for ConsoleMetricExporter {
    /// Writes to stdout, cumulative temporality.
    fn default() -> Self {
        Self::with_writer(std::io::stdout())
    }
}

impl ConsoleMetricExporter {
    /// Writes to `w` instead of stdout.
    pub fn with_writer(w: impl Write + Send + 'static) -> Self {
        ConsoleMetricExporter {
            out: ConsoleWriter::new(w),
            preference: TemporalityPreference::Cumulative,
        }
    }

    /// Asks for the temporalities of `preference`.
    pub fn with_temporality(mut self, preference: TemporalityPreference) -> Self {
        self.preference = preference;
        self
    }
}

impl MetricExporter for ConsoleMetricExporter {
    fn export(&mut self, metrics: &ResourceMetrics) -> SdkResult {
        self.out.write_blocks([resource_metrics_json(metrics)])
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.preference.temporality(kind)
    }
}

fn number_json(n: Number) -> Json {
    match n {
        Number::U64(v) => json!(v),
        Number::I64(v) => json!(v),
        Number::F64(v) => float_json(v),
    }
}

fn exemplars_json(ex: &[Exemplar]) -> Json {
    Json::Array(
        ex.iter()
            .map(|e| {
                json!({
                    "filtered_attributes": attrs_json(&e.filtered_attributes),
                    "value": number_json(e.value),
                    "time_unix_nano": e.time_unix_nano,
                    "span_id": e.span_id.map(|s| s.to_string()),
                    "trace_id": e.trace_id.map(|t| t.to_string()),
                })
            })
            .collect(),
    )
}

fn temporality_code(t: Temporality) -> i32 {
    match t {
        Temporality::Delta => 1,
        Temporality::Cumulative => 2,
    }
}

fn number_points_json(points: &[NumberDataPoint]) -> Vec<Json> {
    points
        .iter()
        .map(|p| {
            json!({
                "attributes": attrs_json(&p.attributes),
                "start_time_unix_nano": p.start_time_unix_nano,
                "time_unix_nano": p.time_unix_nano,
                "value": number_json(p.value),
                "exemplars": exemplars_json(&p.exemplars),
            })
        })
        .collect()
}

fn data_json(d: &MetricData) -> Json {
    match d {
        MetricData::Sum(s) => json!({
            "data_points": number_points_json(&s.data_points),
            "aggregation_temporality": temporality_code(s.temporality),
            "is_monotonic": s.is_monotonic,
        }),
        MetricData::Gauge(g) => json!({
            "data_points": number_points_json(&g.data_points),
        }),
        MetricData::Histogram(h) => json!({
            "data_points": h.data_points.iter().map(|p| json!({
                "attributes": attrs_json(&p.attributes),
                "start_time_unix_nano": p.start_time_unix_nano,
                "time_unix_nano": p.time_unix_nano,
                "count": p.count,
                "sum": p.sum,
                "bucket_counts": p.bucket_counts,
                "explicit_bounds": p.bounds,
                "min": p.min,
                "max": p.max,
                "exemplars": exemplars_json(&p.exemplars),
            })).collect::<Vec<_>>(),
            "aggregation_temporality": temporality_code(h.temporality),
        }),
        MetricData::ExponentialHistogram(h) => json!({
            "data_points": h.data_points.iter().map(|p| json!({
                "attributes": attrs_json(&p.attributes),
                "start_time_unix_nano": p.start_time_unix_nano,
                "time_unix_nano": p.time_unix_nano,
                "count": p.count,
                "sum": p.sum,
                "scale": p.scale,
                "zero_count": p.zero_count,
                "positive": {"offset": p.positive.offset, "bucket_counts": p.positive.counts},
                "negative": {"offset": p.negative.offset, "bucket_counts": p.negative.counts},
                "flags": 0,
                "min": p.min,
                "max": p.max,
                "exemplars": exemplars_json(&p.exemplars),
            })).collect::<Vec<_>>(),
            "aggregation_temporality": temporality_code(h.temporality),
        }),
    }
}

pub(crate) fn resource_metrics_json(rm: &ResourceMetrics) -> Json {
    json!({
        "resource_metrics": [{
            "resource": {
                "attributes": attrs_json(rm.resource.attributes()),
                "schema_url": rm.resource.schema_url().unwrap_or(""),
            },
            "scope_metrics": rm.scope_metrics.iter().map(|sm| json!({
                "scope": {
                    "name": sm.scope.name(),
                    "version": sm.scope.version(),
                    "attributes": attrs_json(sm.scope.attributes()),
                    "schema_url": sm.scope.schema_url().unwrap_or(""),
                },
                "metrics": sm.metrics.iter().map(|m| json!({
                    "name": m.name.as_str(),
                    "description": m.description.as_str(),
                    "unit": m.unit.as_str(),
                    "data": data_json(&m.data),
                })).collect::<Vec<_>>(),
                "schema_url": sm.scope.schema_url().unwrap_or(""),
            })).collect::<Vec<_>>(),
            "schema_url": rm.resource.schema_url().unwrap_or(""),
        }]
    })
}
