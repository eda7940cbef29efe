//! [`OtlpSpanExporter`]: spans over OTLP.

use std::collections::VecDeque;
use std::fmt;

use super::config::{Protocol, Signal};
use super::encode;
use super::json::OtlpJson;
use super::transport::{ExportStats, OtlpClient, Pending};
use super::wire;
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkResult};
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
    /// Requests sent whose outcome is not collected yet (at most `max_in_flight - 1` between
    /// calls).
    in_flight: VecDeque<Pending>,
    max_in_flight: usize,
}

impl OtlpSpanExporter {
    /// A builder; settings not given come from the environment, then the defaults.
    pub fn builder() -> OtlpExporterBuilder<OtlpSpanExporter> {
        OtlpExporterBuilder::default()
    }

    /// The exporter's counters (a shared handle that stays current after the exporter is
    /// moved into a processor). They count every span by the outcome of its request, exactly,
    /// whatever [`OtlpSpanExporter::with_max_in_flight`] is.
    pub fn stats(&self) -> ExportStats {
        self.client.stats()
    }

    /// Lets up to `n` requests be in flight at once (default 1). With `n > 1`, `export`
    /// returns as soon as the batch is encoded and handed to the transport while fewer than
    /// `n` requests are outstanding, so the next batch is encoded while earlier ones travel:
    /// throughput rises, and each `export` result then reports the hand-off plus the outcome
    /// of the earlier requests it waited for. `force_flush` and `shutdown` wait for every
    /// request. Per-span outcomes are always exact in [`OtlpSpanExporter::stats`].
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Collects outcomes until at most `keep` requests are outstanding; the first failure is
    /// returned (all are counted in the stats and the failures reported).
    fn settle(&mut self, keep: usize) -> SdkResult {
        let mut res = Ok(());
        while self.in_flight.len() > keep {
            if let Some(p) = self.in_flight.pop_front() {
                if let Err(e) = self.client.complete::<ExportTraceServiceRequest>(p) {
                    if res.is_ok() {
                        res = Err(e);
                    }
                }
            }
        }
        res
    }
}

impl OtlpExporterBuilder<OtlpSpanExporter> {
    /// The exporter, or the first bad setting.
    pub fn build(self) -> Result<OtlpSpanExporter, ConfigError> {
        let client = self.build_client(Signal::Traces)?;
        Ok(OtlpSpanExporter {
            client,
            resource: Resource::default(),
            in_flight: VecDeque::new(),
            max_in_flight: 1,
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
            // The transport owns the body until the request completes; the encoder reserves
            // the exact size up front, so each request is one allocation and no copy.
            let mut body = Vec::new();
            wire::encode_trace_request(&self.resource, batch, &mut body);
            body
        };
        let submitted = self
            .client
            .submit(body, batch.len())
            .map(|p| self.in_flight.push_back(p));
        let settled = self.settle(self.max_in_flight - 1);
        submitted.and(settled)
    }

    fn force_flush(&mut self) -> SdkResult {
        self.settle(0)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }

    fn shutdown(&mut self) -> SdkResult {
        let settled = self.settle(0);
        self.client.shutdown().and(settled)
    }
}
