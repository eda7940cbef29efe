//! [`OtlpSpanExporter`]: spans over OTLP.

use std::fmt;

use super::config::Signal;
use super::encode;
use super::transport::{ExportStats, OtlpClient};
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkResult};
use crate::proto::resource::v1 as pr;
use crate::resource::Resource;
use crate::trace::{SpanData, SpanExporter};

/// Exports spans to an OTLP collector over gRPC, HTTP/protobuf or HTTP/JSON.
///
/// Build it with [`OtlpSpanExporter::builder`] and give it to a batch processor
/// (`TracerProvider::builder().with_batch_exporter(exporter)`).
pub struct OtlpSpanExporter {
    client: OtlpClient,
    resource: pr::Resource,
    resource_schema_url: String,
}

impl OtlpSpanExporter {
    /// A builder; settings not given come from the environment, then the defaults.
    pub fn builder() -> OtlpExporterBuilder<OtlpSpanExporter> {
        OtlpExporterBuilder::default()
    }

    /// The exporter's counters (a shared handle that stays current after the exporter is
    /// moved into a processor).
    pub fn stats(&self) -> ExportStats {
        self.client.stats()
    }
}

impl OtlpExporterBuilder<OtlpSpanExporter> {
    /// The exporter, or the first bad setting.
    pub fn build(self) -> Result<OtlpSpanExporter, ConfigError> {
        let client = self.build_client(Signal::Traces)?;
        let resource = Resource::default();
        Ok(OtlpSpanExporter {
            client,
            resource: encode::resource(&resource),
            resource_schema_url: encode::resource_schema_url(&resource),
        })
    }
}

impl fmt::Debug for OtlpSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpSpanExporter")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for OtlpSpanExporter {
    fn export(&mut self, batch: &[SpanData]) -> SdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let req = encode::traces_request(&self.resource, &self.resource_schema_url, batch);
        self.client.export(&req, batch.len())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = encode::resource(resource);
        self.resource_schema_url = encode::resource_schema_url(resource);
    }

    fn shutdown(&mut self) -> SdkResult {
        self.client.shutdown()
    }
}
