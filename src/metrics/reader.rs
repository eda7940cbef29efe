//! Metric readers: how collections are triggered.
//!
//! - [`PeriodicExportingMetricReader`]: collects every interval on its own named thread (no
//!   async runtime) and hands the result to a [`MetricExporter`]; `force_flush` and
//!   `shutdown` collect and export at once (so a short program still exports everything).
//! - [`ManualReader`]: collects when asked ([`ManualReader::collect`]), for pull exporters
//!   and tests.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::diagnostics;
use crate::env::millis_or_report;
use crate::error::{catch_panic, SdkError, SdkResult};
use crate::metrics::data::ResourceMetrics;
use crate::metrics::exporter::MetricExporter;
use crate::metrics::provider::Pipeline;
use crate::metrics::{InstrumentKind, Temporality, TemporalityPreference};

/// What the provider needs from a reader.
pub(crate) trait ReaderImpl: Send + Sync {
    fn temporality(&self, kind: InstrumentKind) -> Temporality;
    /// Takes the reader for a provider being built: `false` (reported) when another
    /// provider has it already, and this one must do without it.
    fn claim(&self) -> bool {
        true
    }
    /// Connects the reader to the provider's pipeline as reader number `index`.
    fn register(&self, pipeline: Arc<Pipeline>, index: usize);
    fn force_flush(&self) -> SdkResult;
    fn shutdown(&self) -> SdkResult;
}

/// A reader the [`MeterProvider`](crate::metrics::MeterProvider) can use: a
/// [`PeriodicExportingMetricReader`] or a [`ManualReader`]. Sealed.
pub trait MetricReader: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_reader_box(self) -> ReaderBox;
}

/// Internal: a reader, type-erased.
#[doc(hidden)]
pub struct ReaderBox(pub(crate) Box<dyn ReaderImpl>);

impl fmt::Debug for ReaderBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReaderBox")
    }
}

type Selector = Arc<dyn Fn(InstrumentKind) -> Temporality + Send + Sync>;

// ---------------------------------------------------------------------------------------
// Manual reader

/// A reader that collects on demand. Clones share the reader, so a test keeps one clone and
/// gives the other to the provider.
///
/// ```
/// use otlp_sdk::metrics::{ManualReader, MeterProvider, TemporalityPreference};
/// let reader = ManualReader::builder()
///     .with_temporality(TemporalityPreference::Delta)
///     .build();
/// let provider = MeterProvider::builder().with_reader(reader.clone()).build();
/// provider.meter("m").u64_counter("c").build().add(1, &[]);
/// assert_eq!(reader.collect().unwrap().scope_metrics.len(), 1);
/// ```
#[derive(Clone)]
pub struct ManualReader {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    selector: Selector,
    pipeline: Mutex<Option<(Arc<Pipeline>, usize)>>,
    /// A provider took this reader (see `ReaderImpl::claim`).
    claimed: AtomicBool,
    shut_down: AtomicBool,
}

impl fmt::Debug for ManualReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualReader").finish_non_exhaustive()
    }
}

impl Default for ManualReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualReader {
    /// A manual reader with cumulative temporality.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder.
    pub fn builder() -> ManualReaderBuilder {
        ManualReaderBuilder {
            selector: Arc::new(|_| Temporality::Cumulative),
        }
    }

    /// Runs the callbacks and collects every stream now.
    pub fn collect(&self) -> Result<ResourceMetrics, SdkError> {
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        let registered = self
            .inner
            .pipeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match registered {
            Some((p, i)) => Ok(p.collect(i)),
            None => Err(SdkError::failed(
                "the reader is not registered with a meter provider",
            )),
        }
    }
}

/// Builds a [`ManualReader`].
pub struct ManualReaderBuilder {
    selector: Selector,
}

impl fmt::Debug for ManualReaderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualReaderBuilder")
            .finish_non_exhaustive()
    }
}

impl ManualReaderBuilder {
    /// The temporality per instrument kind from a preference.
    pub fn with_temporality(mut self, preference: TemporalityPreference) -> Self {
        self.selector = Arc::new(move |k| preference.temporality(k));
        self
    }

    /// Any mapping from instrument kind to temporality.
    pub fn with_temporality_selector(
        mut self,
        selector: impl Fn(InstrumentKind) -> Temporality + Send + Sync + 'static,
    ) -> Self {
        self.selector = Arc::new(selector);
        self
    }

    /// The reader.
    pub fn build(self) -> ManualReader {
        ManualReader {
            inner: Arc::new(ManualInner {
                selector: self.selector,
                pipeline: Mutex::new(None),
                claimed: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
            }),
        }
    }
}

impl ReaderImpl for ManualReader {
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        (self.inner.selector)(kind)
    }

    fn claim(&self) -> bool {
        if self.inner.claimed.swap(true, Ordering::SeqCst) {
            // The specification: a reader belongs to one provider. The second one must not
            // collect through it, nor shut it down.
            diagnostics::report(
                "a ManualReader belongs to one meter provider; this one is built without it",
            );
            return false;
        }
        true
    }

    fn register(&self, pipeline: Arc<Pipeline>, index: usize) {
        let mut slot = self
            .inner
            .pipeline
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            diagnostics::report(
                "a ManualReader was registered with a second meter provider; it keeps the first",
            );
            return;
        }
        *slot = Some((pipeline, index));
    }

    fn force_flush(&self) -> SdkResult {
        Ok(())
    }

    fn shutdown(&self) -> SdkResult {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        Ok(())
    }
}

impl MetricReader for ManualReader {
    fn into_reader_box(self) -> ReaderBox {
        ReaderBox(Box::new(self))
    }
}

// ---------------------------------------------------------------------------------------
// Periodic exporting reader

/// Default collection interval (`OTEL_METRIC_EXPORT_INTERVAL`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default export timeout (`OTEL_METRIC_EXPORT_TIMEOUT`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Collects every interval and exports to a [`MetricExporter`], on its own thread
/// (`otlp-sdk-metrics`), as Python's `PeriodicExportingMetricReader`.
///
/// Shutdown (and dropping the provider) performs a final collection and export.
pub struct PeriodicExportingMetricReader {
    exporter: Mutex<Option<Box<dyn MetricExporter>>>,
    temporality: [Temporality; 7],
    interval: Duration,
    timeout: Duration,
    worker: Mutex<Option<Worker>>,
    shut_down: AtomicBool,
}

struct Worker {
    tx: Sender<Msg>,
    handle: Option<JoinHandle<()>>,
}

enum Msg {
    Flush(Sender<SdkResult>),
    Shutdown(Sender<SdkResult>),
}

impl fmt::Debug for PeriodicExportingMetricReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicExportingMetricReader")
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PeriodicExportingMetricReader {
    /// A builder exporting to `exporter`; interval and timeout from
    /// `OTEL_METRIC_EXPORT_INTERVAL` / `OTEL_METRIC_EXPORT_TIMEOUT` (milliseconds), else
    /// 60 s and 30 s.
    pub fn builder(exporter: impl MetricExporter) -> PeriodicReaderBuilder {
        PeriodicReaderBuilder {
            exporter: Box::new(exporter),
            interval: None,
            timeout: None,
        }
    }

    /// The collection interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The export timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn send(&self, make: impl FnOnce(Sender<SdkResult>) -> Msg) -> Option<Receiver<SdkResult>> {
        let worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let w = worker.as_ref()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        w.tx.send(make(tx)).ok()?;
        Some(rx)
    }

    fn wait(&self, rx: Receiver<SdkResult>) -> SdkResult {
        rx.recv_timeout(self.timeout)
            .unwrap_or(Err(SdkError::Timeout(self.timeout)))
    }
}

/// Builds a [`PeriodicExportingMetricReader`].
pub struct PeriodicReaderBuilder {
    exporter: Box<dyn MetricExporter>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
}

impl fmt::Debug for PeriodicReaderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicReaderBuilder")
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PeriodicReaderBuilder {
    /// Time between collections (zero is reported and the default used).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Longest wait for an export in `force_flush` and `shutdown` (zero is reported and the
    /// default used).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The reader. Its thread starts when the provider is built.
    pub fn build(self) -> PeriodicExportingMetricReader {
        let pick = |given: Option<Duration>, var: &'static str, default: Duration| {
            let from_env = given.is_none();
            let d = given.or_else(|| millis_or_report(var)).unwrap_or(default);
            if d.is_zero() && from_env && var == "OTEL_METRIC_EXPORT_TIMEOUT" {
                // The specification: a zero timeout means no limit.
                crate::pipeline::MAX_DURATION
            } else if d.is_zero() {
                diagnostics::report(&format!("{var}: zero is not allowed; using {default:?}"));
                default
            } else {
                // Deadlines are `now + d`: clamp absurd values (`Duration::MAX`) so that they
                // cannot overflow.
                d.min(crate::pipeline::MAX_DURATION)
            }
        };
        let interval = pick(
            self.interval,
            "OTEL_METRIC_EXPORT_INTERVAL",
            DEFAULT_INTERVAL,
        );
        let timeout = pick(self.timeout, "OTEL_METRIC_EXPORT_TIMEOUT", DEFAULT_TIMEOUT);
        let temporality = InstrumentKind::ALL.map(|k| self.exporter.temporality(k));
        PeriodicExportingMetricReader {
            exporter: Mutex::new(Some(self.exporter)),
            temporality,
            interval,
            timeout,
            worker: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        }
    }
}

impl ReaderImpl for PeriodicExportingMetricReader {
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.temporality[kind.index()]
    }

    fn register(&self, pipeline: Arc<Pipeline>, index: usize) {
        let Some(exporter) = self
            .exporter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            diagnostics::report("a PeriodicExportingMetricReader was registered twice");
            return;
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let interval = self.interval;
        let timeout = self.timeout;
        let spawned = std::thread::Builder::new()
            .name("otlp-sdk-metrics".into())
            .spawn(move || run(pipeline, index, exporter, rx, interval, timeout));
        match spawned {
            Ok(handle) => {
                *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(Worker {
                    tx,
                    handle: Some(handle),
                });
            }
            Err(e) => diagnostics::report(&format!(
                "could not start the metrics export thread ({e}); metrics are not exported"
            )),
        }
    }

    fn force_flush(&self) -> SdkResult {
        if self.shut_down.load(Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        match self.send(Msg::Flush) {
            Some(rx) => self.wait(rx),
            None => Err(SdkError::failed("the metrics export thread is not running")),
        }
    }

    fn shutdown(&self) -> SdkResult {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return Err(SdkError::AlreadyShutdown);
        }
        let Some(rx) = self.send(Msg::Shutdown) else {
            return Err(SdkError::failed("the metrics export thread is not running"));
        };
        let result = self.wait(rx);
        if !matches!(result, Err(SdkError::Timeout(_))) {
            let handle = self
                .worker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
                .and_then(|w| w.handle.take());
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
        result
    }
}

impl MetricReader for PeriodicExportingMetricReader {
    fn into_reader_box(self) -> ReaderBox {
        ReaderBox(Box::new(self))
    }
}

/// The export thread.
fn run(
    pipeline: Arc<Pipeline>,
    index: usize,
    mut exporter: Box<dyn MetricExporter>,
    rx: Receiver<Msg>,
    interval: Duration,
    timeout: Duration,
) {
    let export = |exporter: &mut Box<dyn MetricExporter>| -> SdkResult {
        let metrics = pipeline.collect(index);
        if metrics.scope_metrics.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = catch_panic("metric exporter", || exporter.export(&metrics));
        if started.elapsed() > timeout {
            diagnostics::report(&format!(
                "metric export took {:?}, more than the {timeout:?} timeout",
                started.elapsed()
            ));
        }
        result
    };
    let mut next = Instant::now() + interval;
    loop {
        match rx.recv_deadline(next) {
            Ok(Msg::Flush(reply)) => {
                let r = export(&mut exporter)
                    .and(catch_panic("metric exporter's force_flush", || {
                        exporter.force_flush()
                    }));
                let _ = reply.send(r);
            }
            Ok(Msg::Shutdown(reply)) => {
                let r = export(&mut exporter);
                let r2 = catch_panic("metric exporter's shutdown", || exporter.shutdown());
                let _ = reply.send(r.and(r2));
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = export(&mut exporter) {
                    diagnostics::report(&format!("metric export failed: {e}"));
                }
                next = Instant::now() + interval;
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = export(&mut exporter);
                let _ = catch_panic("metric exporter's shutdown", || exporter.shutdown());
                return;
            }
        }
    }
}
