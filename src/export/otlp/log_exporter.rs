//! [`OtlpLogExporter`]: log records over OTLP.

use std::fmt;

use super::config::Signal;
use super::transport::{ExportStats, OtlpClient};
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkResult};
use crate::logs::{LogData, LogExporter};
use crate::resource::Resource;

/// Exports log records to an OTLP collector over gRPC, HTTP/protobuf or HTTP/JSON, with the
/// same settings and environment variables as [`OtlpSpanExporter`](super::OtlpSpanExporter)
/// (`OTEL_EXPORTER_OTLP_LOGS_*` overrides).
///
/// ```no_run
/// use otlp_sdk::export::otlp::OtlpLogExporter;
/// use otlp_sdk::logs::LoggerProvider;
/// let exporter = OtlpLogExporter::builder().build().expect("valid OTLP settings");
/// let provider = LoggerProvider::builder().with_batch_exporter(exporter).build();
/// ```
pub struct OtlpLogExporter {
    client: OtlpClient,
    resource: Resource,
}

impl OtlpLogExporter {
    /// A builder; settings not given come from the environment, then the defaults.
    pub fn builder() -> OtlpExporterBuilder<OtlpLogExporter> {
        OtlpExporterBuilder::default()
    }

    /// The exporter's counters (a shared handle that stays current).
    pub fn stats(&self) -> ExportStats {
        self.client.stats()
    }
}

impl OtlpExporterBuilder<OtlpLogExporter> {
    /// The exporter, or the first bad setting.
    pub fn build(self) -> Result<OtlpLogExporter, ConfigError> {
        Ok(OtlpLogExporter {
            client: self.build_client(Signal::Logs)?,
            resource: Resource::default(),
        })
    }
}

impl fmt::Debug for OtlpLogExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpLogExporter")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl LogExporter for OtlpLogExporter {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let req = crate::logs::otlp::to_proto(&self.resource, batch);
        self.client.export(&req, batch.len())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }

    fn shutdown(&mut self) -> SdkResult {
        self.client.shutdown()
    }
}
