//! [`OtlpMetricExporter`]: metrics over OTLP.

use std::fmt;

use super::config::Signal;
use super::transport::{ExportStats, OtlpClient};
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkResult};
use crate::metrics::{
    InstrumentKind, MetricExporter, ResourceMetrics, Temporality, TemporalityPreference,
};

/// Exports metrics to an OTLP collector over gRPC, HTTP/protobuf or HTTP/JSON, with the same
/// settings and environment variables as [`OtlpSpanExporter`](super::OtlpSpanExporter)
/// (`OTEL_EXPORTER_OTLP_METRICS_*` overrides). Its temporality comes from
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative` by default, `delta`,
/// `lowmemory`) unless [`OtlpMetricExporter::with_temporality_preference`] says otherwise.
///
/// ```no_run
/// use otlp_sdk::export::otlp::OtlpMetricExporter;
/// use otlp_sdk::metrics::{MeterProvider, PeriodicExportingMetricReader};
/// let exporter = OtlpMetricExporter::builder().build().expect("valid OTLP settings");
/// let reader = PeriodicExportingMetricReader::builder(exporter).build();
/// let provider = MeterProvider::builder().with_reader(reader).build();
/// ```
pub struct OtlpMetricExporter {
    client: OtlpClient,
    preference: TemporalityPreference,
}

impl OtlpMetricExporter {
    /// A builder; settings not given come from the environment, then the defaults.
    pub fn builder() -> OtlpExporterBuilder<OtlpMetricExporter> {
        OtlpExporterBuilder::default()
    }

    /// The exporter's counters (data points exported, rejected, failed).
    pub fn stats(&self) -> ExportStats {
        self.client.stats()
    }

    /// Overrides the temporality preference read from the environment.
    pub fn with_temporality_preference(mut self, preference: TemporalityPreference) -> Self {
        self.preference = preference;
        self
    }
}

impl OtlpExporterBuilder<OtlpMetricExporter> {
    /// The exporter, or the first bad setting.
    pub fn build(self) -> Result<OtlpMetricExporter, ConfigError> {
        Ok(OtlpMetricExporter {
            client: self.build_client(Signal::Metrics)?,
            preference: TemporalityPreference::from_env(),
        })
    }
}

impl fmt::Debug for OtlpMetricExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpMetricExporter")
            .field("client", &self.client)
            .field("preference", &self.preference)
            .finish()
    }
}

/// Data points in a collection (what partial success counts as rejected).
fn data_points(metrics: &ResourceMetrics) -> usize {
    metrics
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .map(|m| m.data.len())
        .sum()
}

impl MetricExporter for OtlpMetricExporter {
    fn export(&mut self, metrics: &ResourceMetrics) -> SdkResult {
        let points = data_points(metrics);
        if points == 0 {
            return Ok(());
        }
        let req = crate::metrics::otlp::to_proto(metrics);
        self.client.export(&req, points)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.preference.temporality(kind)
    }

    fn shutdown(&mut self) -> SdkResult {
        self.client.shutdown()
    }
}
