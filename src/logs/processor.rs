//! Log record processors: what happens to a record when a logger emits it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::context::Context;
use crate::diagnostics;
use crate::error::{SdkError, SdkResult};
use crate::logs::exporter::LogExporter;
use crate::logs::record::LogData;
use crate::pipeline::{BatchConfig, BatchExport, BatchPipeline, PipelineStats};
use crate::resource::Resource;

crate::pipeline::pipeline_item!(Box<LogData>, discard = crate::logs::pool::give_back);

/// Hooks called for every emitted log record.
///
/// Records go through the provider's processors in the order they were added; a change one
/// processor makes to the record is seen by the next. The last processor gets the record by
/// value through [`LogProcessor::on_emit_owned`], so a batch processor at the end of the
/// chain (the usual case) takes it without a copy: records are boxed once, at emit, in a box
/// reused from an earlier exported record.
pub trait LogProcessor: Send + Sync + fmt::Debug + 'static {
    /// A record was emitted in context `cx` (the context it was emitted in, usually the
    /// current one). The processor may change it, or copy it to keep it.
    fn on_emit(&self, data: &mut LogData, cx: &Context);
    /// Like [`LogProcessor::on_emit`], for the last processor of the chain, which may keep
    /// the record without copying it. The default calls `on_emit` (a panic in it is
    /// reported, not unwound into the code that logged).
    fn on_emit_owned(&self, mut data: Box<LogData>, cx: &Context) {
        crate::error::run_hook("log processor's on_emit", || self.on_emit(&mut data, cx));
    }
    /// Exports every record already emitted.
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

/// Exports each record as soon as it is emitted, on the emitting thread (which waits for the
/// export). A failed or panicking export is reported through
/// [`diagnostics`], never returned or unwound into the caller. Meant for
/// tests and debugging; use [`BatchLogProcessor`] in production.
pub struct SimpleLogProcessor {
    exporter: Mutex<Box<dyn LogExporter>>,
    shut_down: AtomicBool,
}

impl SimpleLogProcessor {
    /// A processor exporting through `exporter`.
    pub fn new(exporter: impl LogExporter) -> Self {
        SimpleLogProcessor {
            exporter: Mutex::new(Box::new(exporter)),
            shut_down: AtomicBool::new(false),
        }
    }

    /// Exports on the calling thread; a failure is reported, not returned (emit has no
    /// result).
    fn export(&self, batch: &[Box<LogData>]) {
        // A record the exporter itself logged while exporting is dropped (see
        // `export::reentry`). The failure is reported once the lock is released: the
        // diagnostics handler may log through this processor.
        let result = crate::export::reentry::exporting(std::ptr::from_ref(self).cast(), || {
            let mut e = self.exporter.lock().ok()?;
            Some(crate::error::catch_panic("exporter", || e.export(batch)))
        });
        if let Some(Some(Err(err))) = result {
            diagnostics::report(&format!("SimpleLogProcessor: export failed: {err}"));
        }
    }
}

impl fmt::Debug for SimpleLogProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimpleLogProcessor")
    }
}

impl LogProcessor for SimpleLogProcessor {
    fn on_emit(&self, data: &mut LogData, _cx: &Context) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        self.export(&[Box::new(data.clone())]);
    }
    fn on_emit_owned(&self, data: Box<LogData>, _cx: &Context) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        self.export(std::slice::from_ref(&data));
    }
    fn force_flush(&self) -> SdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SdkError::AlreadyShutdown);
        }
        let mut exporter = self
            .exporter
            .lock()
            .map_err(|_| SdkError::failed("exporter lock poisoned"))?;
        crate::error::catch_panic("exporter's force_flush", || exporter.force_flush())
    }
    fn shutdown(&self) -> SdkResult {
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

/// Batches emitted records on a background thread and exports them, on the same lock-free
/// [`pipeline`](crate::pipeline) as spans: emitting never blocks, and a full queue drops
/// (and counts) records. Configure it with [`BatchConfig`] (defaults: 2048 queued, 512 per
/// export, 1 s delay, 30 s timeout; `OTEL_BLRP_*` environment variables).
pub struct BatchLogProcessor {
    pipeline: BatchPipeline<Box<LogData>>,
}

struct ExportLogs(Box<dyn LogExporter>);

impl BatchExport<Box<LogData>> for ExportLogs {
    fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
        self.0.export(batch)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource)
    }
    fn recycle(&mut self, batch: &mut Vec<Box<LogData>>, parts: &[crate::pipeline::pool::Part]) {
        crate::pipeline::pool::recycle(batch, parts)
    }
    fn force_flush(&mut self) -> SdkResult {
        self.0.force_flush()
    }
    fn shutdown(&mut self) -> SdkResult {
        self.0.shutdown()
    }
}

impl BatchLogProcessor {
    /// A batch processor with the environment's (or the default) settings.
    pub fn new(exporter: impl LogExporter) -> Self {
        Self::with_config(exporter, BatchConfig::logs_from_env())
    }

    /// A batch processor with explicit settings.
    pub fn with_config(exporter: impl LogExporter, config: BatchConfig) -> Self {
        BatchLogProcessor {
            pipeline: BatchPipeline::new(ExportLogs(Box::new(exporter)), config, "otlp-sdk-logs"),
        }
    }

    /// Counters: accepted, dropped, exported and failed records.
    pub fn stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }
}

impl fmt::Debug for BatchLogProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchLogProcessor")
            .field("stats", &self.stats())
            .finish()
    }
}

impl LogProcessor for BatchLogProcessor {
    fn on_emit(&self, data: &mut LogData, _cx: &Context) {
        // Not the last processor: the record goes on to the next one, so a copy is queued,
        // in a reused box like every queued record.
        self.pipeline
            .push(crate::logs::pool::boxed(data.record.clone(), &data.scope));
    }
    #[inline]
    fn on_emit_owned(&self, data: Box<LogData>, _cx: &Context) {
        self.pipeline.push(data);
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
