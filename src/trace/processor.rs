//! Span processors (what happens to a span when it starts and ends) and the span exporter
//! interface.

use std::fmt;
use std::sync::Mutex;

use crate::context::Context;
use crate::error::{SdkError, SdkResult};
use crate::pipeline::{BatchConfig, BatchExport, BatchPipeline, PipelineStats};
use crate::resource::Resource;
use crate::trace::span_data::SpanData;

crate::pipeline::pipeline_item!(Box<SpanData>, discard = crate::trace::pool::give_back);

/// Receives batches of finished spans and sends them somewhere (console, memory, OTLP...).
///
/// Export calls are made one at a time from a processor's thread; an exporter needs no
/// locking of its own.
///
/// Spans arrive boxed: a span's record stays in one heap block from start to export (and is
/// recycled afterwards), so the pipeline moves pointers, not records. `&Box<SpanData>`
/// derefs to `&SpanData`.
pub trait SpanExporter: Send + fmt::Debug + 'static {
    /// Exports a batch.
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult;
    /// Spans of earlier `export` calls that the exporter still holds: an exporter may return
    /// from `export` once a batch is encoded and queued for sending, and finish the request
    /// later. The batch processor counts these spans against its `max_queue_size`, so what
    /// it and its exporter hold together stays bounded. The default, for exporters that are
    /// done with a batch when `export` returns, is 0.
    fn held(&mut self) -> usize {
        0
    }
    /// Called once, before the first export, with the provider's resource.
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Flushes anything the exporter buffers.
    fn force_flush(&mut self) -> SdkResult {
        Ok(())
    }
    /// Releases the exporter's resources; later exports should fail.
    fn shutdown(&mut self) -> SdkResult {
        Ok(())
    }
}

/// Made only by the SDK, when it calls [`SpanProcessor::on_end_from_sdk`].
#[doc(hidden)]
#[derive(Debug)]
pub struct FromSdk(());

impl FromSdk {
    pub(crate) fn new() -> Self {
        FromSdk(())
    }
}

/// Hooks called when spans start and end.
pub trait SpanProcessor: Send + Sync + fmt::Debug + 'static {
    /// A span started (it can still be modified).
    fn on_start(&self, _span: &mut SpanData, _parent: &Context) {}
    /// Whether [`on_start`](SpanProcessor::on_start) does anything: the provider calls the
    /// hooks only when some processor answers `true` (the default).
    #[doc(hidden)]
    fn has_on_start(&self) -> bool {
        true
    }
    /// A recording span ended; the processor takes it. Record-only spans (the sampler
    /// said `RecordOnly`) come here too: `span.span_context.is_sampled()` tells them apart,
    /// and the built-in processors export only sampled spans.
    fn on_end(&self, span: Box<SpanData>);
    /// [`on_end`](SpanProcessor::on_end) as the provider calls it: with a span that no other
    /// code has had since it ended. Only the SDK can call it (nobody else can make a
    /// [`FromSdk`]); processors that hand spans on may skip work for such spans. A processor
    /// that changes the span before handing it to another must pass it on with `on_end`.
    #[doc(hidden)]
    fn on_end_from_sdk(&self, span: Box<SpanData>, _: FromSdk) {
        // A panic in a processor is reported, not unwound into the code that ended the span.
        crate::error::run_hook("span processor's on_end", || self.on_end(span))
    }
    /// Exports everything already ended.
    fn force_flush(&self) -> SdkResult;
    /// Flushes and releases resources. Idempotent: later calls return
    /// [`SdkError::AlreadyShutdown`].
    fn shutdown(&self) -> SdkResult;
    /// Called once by the provider's builder with its resource.
    fn set_resource(&mut self, _resource: &Resource) {}
    /// Pipeline counters, for processors that queue (the batch processor).
    fn stats(&self) -> Option<PipelineStats> {
        None
    }
}

/// Exports each span as soon as it ends, on the thread that ends it (which waits for the
/// export). A failed or panicking export is reported through
/// [`diagnostics`](crate::diagnostics), never returned or unwound into the caller. Meant for
/// tests and debugging; use [`BatchSpanProcessor`] in production.
pub struct SimpleSpanProcessor {
    exporter: Mutex<Box<dyn SpanExporter>>,
    shut_down: std::sync::atomic::AtomicBool,
}

impl SimpleSpanProcessor {
    /// A processor exporting through `exporter`.
    pub fn new(exporter: impl SpanExporter) -> Self {
        SimpleSpanProcessor {
            exporter: Mutex::new(Box::new(exporter)),
            shut_down: Default::default(),
        }
    }
}

impl fmt::Debug for SimpleSpanProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimpleSpanProcessor")
    }
}

impl SpanProcessor for SimpleSpanProcessor {
    fn has_on_start(&self) -> bool {
        false
    }
    fn on_end(&self, span: Box<SpanData>) {
        use std::sync::atomic::Ordering;
        if self.shut_down.load(Ordering::Acquire) || !span.span_context.is_sampled() {
            return;
        }
        // A span the exporter itself made while exporting is dropped (see
        // `export::reentry`). The failure is reported once the lock is released: the
        // diagnostics handler may end spans through this processor.
        let result = crate::export::reentry::exporting(std::ptr::from_ref(self).cast(), || {
            let mut e = self.exporter.lock().ok()?;
            let batch = std::slice::from_ref(&span);
            Some(crate::error::catch_panic("exporter", || e.export(batch)))
        });
        if let Some(Some(Err(err))) = result {
            crate::diagnostics::report(&format!("SimpleSpanProcessor: export failed: {err}"));
        }
    }
    fn force_flush(&self) -> SdkResult {
        let mut exporter = self
            .exporter
            .lock()
            .map_err(|_| SdkError::failed("exporter lock poisoned"))?;
        crate::error::catch_panic("exporter's force_flush", || exporter.force_flush())
    }
    fn shutdown(&self) -> SdkResult {
        use std::sync::atomic::Ordering;
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SdkError::AlreadyShutdown);
        }
        let mut exporter = self
            .exporter
            .lock()
            .map_err(|_| SdkError::failed("exporter lock poisoned"))?;
        crate::error::catch_panic("exporter's shutdown", || exporter.shutdown())
    }
    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(e) = self.exporter.get_mut() {
            let _ = crate::error::catch_panic("exporter's set_resource", || {
                e.set_resource(resource);
                Ok(())
            });
        }
    }
}

/// Batches ended spans on a background thread and exports them; see the
/// [`pipeline`](crate::pipeline) module for how. Configure it with [`BatchConfig`] (defaults
/// and `OTEL_BSP_*` environment variables).
pub struct BatchSpanProcessor {
    pipeline: BatchPipeline<Box<SpanData>>,
}

struct ExportSpans(Box<dyn SpanExporter>);

impl BatchExport<Box<SpanData>> for ExportSpans {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        self.0.export(batch)
    }
    fn held(&mut self) -> usize {
        self.0.held()
    }
    fn recycle(&mut self, batch: &mut Vec<Box<SpanData>>, parts: &[crate::pipeline::pool::Part]) {
        crate::pipeline::pool::recycle(batch, parts)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource)
    }
    fn force_flush(&mut self) -> SdkResult {
        self.0.force_flush()
    }
    fn shutdown(&mut self) -> SdkResult {
        self.0.shutdown()
    }
}

impl BatchSpanProcessor {
    /// A batch processor with the environment's (or the default) settings.
    pub fn new(exporter: impl SpanExporter) -> Self {
        Self::with_config(exporter, BatchConfig::spans_from_env())
    }

    /// A batch processor with explicit settings.
    pub fn with_config(exporter: impl SpanExporter, config: BatchConfig) -> Self {
        BatchSpanProcessor {
            pipeline: BatchPipeline::new(ExportSpans(Box::new(exporter)), config, "otlp-sdk-spans"),
        }
    }

    /// Counters: accepted, dropped, exported and failed spans.
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }
}

impl fmt::Debug for BatchSpanProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSpanProcessor")
            .field("stats", &self.stats())
            .finish()
    }
}

impl SpanProcessor for BatchSpanProcessor {
    fn has_on_start(&self) -> bool {
        false
    }
    #[inline]
    fn on_end(&self, mut span: Box<SpanData>) {
        if !span.span_context.is_sampled() {
            return; // record-only: not exported
        }
        // Called by other code, which may have changed the record.
        crate::trace::pool::Reuse::scan(&mut span);
        self.pipeline.push(span);
    }
    #[inline]
    fn on_end_from_sdk(&self, span: Box<SpanData>, _: FromSdk) {
        if !span.span_context.is_sampled() {
            return; // record-only: not exported
        }
        self.pipeline.push(span);
    }
    fn force_flush(&self) -> SdkResult {
        self.pipeline.force_flush()
    }
    fn shutdown(&self) -> SdkResult {
        self.pipeline.shutdown()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.pipeline.set_resource(resource);
    }
    fn stats(&self) -> Option<PipelineStats> {
        Some(self.pipeline.stats())
    }
}
