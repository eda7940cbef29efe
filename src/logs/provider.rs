//! The [`LoggerProvider`]: configuration shared by all loggers (resource, processors, limits)
//! and the owner of the log pipelines.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::attributes::StringValue;
use crate::context::Context;
use crate::error::{first_error, SdkError, SdkResult};
use crate::logs::exporter::LogExporter;
use crate::logs::limits::LogLimits;
use crate::logs::logger::Logger;
use crate::logs::processor::{BatchLogProcessor, LogProcessor, SimpleLogProcessor};
use crate::logs::record::LogData;
use crate::resource::Resource;
use crate::scope::InstrumentationScope;

/// Creates loggers and routes their records to the log processors. Cheap to clone (all
/// clones share one provider).
///
/// ```
/// use otlp_sdk::logs::{InMemoryLogExporter, LogRecord, LoggerProvider, SeverityNumber};
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = LoggerProvider::builder()
///     .with_simple_exporter(exporter.clone())
///     .build();
/// let logger = provider.logger("my.logger.name");
/// logger.emit(LogRecord::new().with_severity(SeverityNumber::Info).with_body("hello"));
/// provider.shutdown().unwrap();
/// assert_eq!(exporter.emitted_logs()[0].record.body.as_ref().unwrap().as_str(), Some("hello"));
/// ```
#[derive(Clone)]
pub struct LoggerProvider {
    inner: Arc<ProviderInner>,
}

pub(crate) struct ProviderInner {
    resource: Resource,
    processors: Vec<Box<dyn LogProcessor>>,
    pub(crate) limits: LogLimits,
    shut_down: AtomicBool,
    dropped_after_shutdown: AtomicU64,
}

impl ProviderInner {
    #[inline]
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn has_processors(&self) -> bool {
        !self.processors.is_empty()
    }

    #[cold]
    pub(crate) fn count_dropped_after_shutdown(&self) {
        self.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs the record through the processors in order; the last one takes it by value.
    pub(crate) fn on_emit(&self, mut data: Box<LogData>, cx: &Context) {
        if let [rest @ .., last] = self.processors.as_slice() {
            for p in rest {
                crate::error::run_hook("log processor's on_emit", || p.on_emit(&mut data, cx));
            }
            last.on_emit_owned(data, cx);
        }
    }
}

impl Default for LoggerProvider {
    /// A provider with the default resource and no processor (records go nowhere).
    fn default() -> Self {
        LoggerProvider::builder().build()
    }
}

impl LoggerProvider {
    /// A builder with the defaults: the default resource, limits from the environment, no
    /// processor.
    pub fn builder() -> LoggerProviderBuilder {
        LoggerProviderBuilder {
            resource: None,
            processors: Vec::new(),
            limits: None,
        }
    }

    /// A logger for the instrumentation scope `name`.
    pub fn logger(&self, name: impl Into<StringValue>) -> Logger {
        self.logger_with_scope(InstrumentationScope::new(name))
    }

    /// A logger for a scope with version, schema URL or attributes.
    pub fn logger_with_scope(&self, scope: InstrumentationScope) -> Logger {
        Logger::new(Arc::clone(&self.inner), scope)
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// Exports every record already emitted, through every processor.
    pub fn force_flush(&self) -> SdkResult {
        if self.inner.is_shut_down() {
            return Err(SdkError::AlreadyShutdown);
        }
        first_error(self.inner.processors.iter().map(|p| p.force_flush()))
    }

    /// Flushes and shuts down every processor. Records emitted afterwards are dropped (counted
    /// in [`LoggerProvider::dropped_after_shutdown`]). A second call returns
    /// [`SdkError::AlreadyShutdown`].
    pub fn shutdown(&self) -> SdkResult {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SdkError::AlreadyShutdown);
        }
        first_error(self.inner.processors.iter().map(|p| p.shutdown()))
    }

    /// Records emitted after `shutdown`, and therefore dropped.
    pub fn dropped_after_shutdown(&self) -> u64 {
        self.inner.dropped_after_shutdown.load(Ordering::Relaxed)
    }

    /// The counters of every batch processor, added up: records accepted into the queues,
    /// dropped (queue full), exported and failed.
    pub fn pipeline_stats(&self) -> crate::pipeline::PipelineStats {
        let mut total = crate::pipeline::PipelineStats::default();
        for s in self.inner.processors.iter().filter_map(|p| p.stats()) {
            total.accepted += s.accepted;
            total.dropped += s.dropped;
            total.exported += s.exported;
            total.failed += s.failed;
        }
        total
    }
}

impl fmt::Debug for LoggerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerProvider")
            .field("resource", &self.inner.resource)
            .field("processors", &self.inner.processors)
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// Builds a [`LoggerProvider`].
#[derive(Debug)]
pub struct LoggerProviderBuilder {
    resource: Option<Resource>,
    processors: Vec<Box<dyn LogProcessor>>,
    limits: Option<LogLimits>,
}

impl LoggerProviderBuilder {
    /// Sets the resource.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }
    /// Adds a log processor; records go to processors in the order they were added.
    pub fn with_log_processor(mut self, processor: impl LogProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }
    /// Adds a [`BatchLogProcessor`] around `exporter` (the usual choice).
    pub fn with_batch_exporter(self, exporter: impl LogExporter) -> Self {
        self.with_log_processor(BatchLogProcessor::new(exporter))
    }
    /// Adds a [`SimpleLogProcessor`] around `exporter`.
    pub fn with_simple_exporter(self, exporter: impl LogExporter) -> Self {
        self.with_log_processor(SimpleLogProcessor::new(exporter))
    }
    /// Sets the limits (otherwise [`LogLimits::from_env`]).
    pub fn with_log_limits(mut self, limits: LogLimits) -> Self {
        self.limits = Some(limits);
        self
    }
    /// The provider.
    pub fn build(self) -> LoggerProvider {
        let resource = self.resource.unwrap_or_default();
        let mut processors = self.processors;
        if crate::env::sdk_disabled() {
            // No processor: records go nowhere (and no export thread runs).
            processors.clear();
        }
        for p in &mut processors {
            p.set_resource(&resource);
        }
        LoggerProvider {
            inner: Arc::new(ProviderInner {
                resource,
                processors,
                limits: self.limits.unwrap_or_else(LogLimits::from_env),
                shut_down: AtomicBool::new(false),
                dropped_after_shutdown: AtomicU64::new(0),
            }),
        }
    }
}
