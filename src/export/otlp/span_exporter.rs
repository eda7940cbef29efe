//! [`OtlpSpanExporter`]: spans over OTLP.

use std::fmt;

use super::config::{Protocol, Signal};
use super::encode;
use super::json::OtlpJson;
use super::transport::{ExportStats, OtlpClient};
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkResult};
use crate::export::wire;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::resource::Resource;
use crate::trace::{SpanData, SpanExporter};

/// Exports spans to an OTLP collector over gRPC, HTTP/protobuf or HTTP/JSON.
///
/// Build it with [`OtlpSpanExporter::builder`] and give it to a batch processor
/// (`TracerProvider::builder().with_batch_exporter(exporter)`).
pub struct OtlpSpanExporter {
    client: OtlpClient,
    resource: Resource,
    /// Reused between exports: protobuf requests are written straight from the span records
    /// into this buffer (see `export::wire`).
    buf: Vec<u8>,
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
        Ok(OtlpSpanExporter {
            client,
            resource: Resource::default(),
            buf: Vec::new(),
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
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let body = if self.client.protocol() == Protocol::HttpJson {
            let spans: Vec<&SpanData> = batch.iter().map(|b| &**b).collect();
            let req = encode::traces_request(
                &encode::resource(&self.resource),
                &encode::resource_schema_url(&self.resource),
                &spans,
            );
            req.to_otlp_json().into_bytes()
        } else {
            self.buf.clear();
            wire::encode_trace_request(&self.resource, batch, &mut self.buf);
            // The transport keeps the body until the request completes; hand it a copy of
            // the exact size and keep the (large) buffer for the next batch.
            self.buf.clone()
        };
        self.client
            .export_body::<ExportTraceServiceRequest>(body, batch.len())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }

    fn shutdown(&mut self) -> SdkResult {
        self.client.shutdown()
    }
}
