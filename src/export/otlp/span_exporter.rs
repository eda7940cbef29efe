//! [`OtlpSpanExporter`]: spans over OTLP.

use std::collections::VecDeque;
use std::fmt;

use super::config::{Protocol, Signal};
use super::encode;
use super::json::OtlpJson;
use super::transport::{ExportStats, OtlpClient, Pending};
use super::wire;
use super::OtlpExporterBuilder;
use crate::error::{ConfigError, SdkError, SdkResult};
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
    /// Requests handed to the transport whose outcome is not collected yet, oldest first.
    in_flight: VecDeque<Pending>,
    max_in_flight: usize,
    /// The first failure collected when no call was waiting for it; the next `export` or
    /// `force_flush` returns it.
    failure: Option<SdkError>,
}

/// With more than one request in flight, `export` waits only once this many requests are
/// held. Inside a batch processor, which counts held spans against its queue, the queue size
/// is the real bound; this one bounds an exporter used on its own.
const MAX_HELD_REQUESTS: usize = 256;

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

    /// Lets up to `n` requests be on the wire at once (default 1: each `export` waits for
    /// its request's outcome). With `n > 1`, `export` returns as soon as the batch is encoded
    /// and handed to the transport, which sends up to `n` requests at a time, in order: the
    /// next batches are encoded while earlier ones travel, and their spans' records are
    /// recycled at once. A batch processor counts the spans of requests not yet completed
    /// against its queue size ([`SpanExporter::held`]). Each `export` result then reports
    /// the hand-off plus the first failure collected since the previous call. `force_flush`
    /// and `shutdown` wait for every request. Per-span outcomes are always exact in
    /// [`OtlpSpanExporter::stats`]. Over gRPC, requests on the wire at once use separate
    /// connections (up to 4, opened as needed), as they do over HTTP/1.1, so that the
    /// collector can read them in parallel.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self.client.set_max_concurrent(self.max_in_flight);
        self
    }

    /// Collects outcomes until at most `keep` requests are outstanding, then those already
    /// known; the first failure is returned (all are counted in the stats).
    fn settle(&mut self, keep: usize) -> SdkResult {
        while self.in_flight.len() > keep {
            if let Some(p) = self.in_flight.pop_front() {
                let outcome = self.client.complete::<ExportTraceServiceRequest>(p);
                self.note(outcome);
            }
        }
        self.collect_ready();
        self.failure.take().map_or(Ok(()), Err)
    }

    /// Collects the outcomes of the oldest requests that have completed, without waiting.
    fn collect_ready(&mut self) {
        while let Some(p) = self.in_flight.front() {
            let Some(outcome) = self.client.poll::<ExportTraceServiceRequest>(p) else {
                break;
            };
            self.in_flight.pop_front();
            self.note(outcome);
        }
    }

    /// Keeps the first failure for the next caller.
    fn note(&mut self, outcome: SdkResult) {
        if let Err(e) = outcome {
            self.failure.get_or_insert(e);
        }
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
            failure: None,
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
            // The transport owns the body until the request completes and then hands its
            // buffer back for a later request; the encoder reserves room for the whole batch
            // once it has written the first span, so a request rarely needs more than one
            // allocation.
            let mut body = self.client.take_buffer();
            wire::encode_trace_request(&self.resource, batch, &mut body);
            body
        };
        let submitted = self
            .client
            .submit(body, batch.len())
            .map(|p| self.in_flight.push_back(p));
        let keep = if self.max_in_flight == 1 {
            0
        } else {
            MAX_HELD_REQUESTS
        };
        let settled = self.settle(keep);
        submitted.and(settled)
    }

    fn held(&mut self) -> usize {
        self.collect_ready();
        self.in_flight.iter().map(|p| p.items() as usize).sum()
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
