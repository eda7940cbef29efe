//! The transport shared by the three signals: [`OtlpClient`].
//!
//! The client owns one thread running a small current-thread tokio runtime, on which the
//! tonic channel or the reqwest client lives. [`OtlpClient::export`] encodes (and, for HTTP,
//! compresses) the request on the caller's thread, hands the bytes to that runtime and waits
//! on a std channel for the outcome. The caller therefore needs no async runtime, and a
//! caller inside tokio (current-thread or multi-thread) cannot deadlock: the work never runs
//! on the caller's runtime. Retries (with backoff, `Retry-After` and `RetryInfo`) happen on
//! the export thread, all within the export timeout.

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

use super::config::{Compression, OtlpConfig, Protocol, Signal};
use super::json::OtlpJson;
use super::retry::{RetryPolicy, Verdict};
use super::{Attempt, Sender};
use crate::diagnostics;
use crate::error::{ConfigError, ConfigErrorKind, SdkError, SdkResult};
use crate::proto::collector::logs::v1 as cl;
use crate::proto::collector::metrics::v1 as cm;
use crate::proto::collector::trace::v1 as ct;

/// An OTLP export request: one of the three collector services' request messages.
pub trait OtlpRequest: Message + OtlpJson + Send + 'static {
    /// The service's response message.
    type Response: Message + Default + OtlpJson;
    /// The signal the request carries.
    const SIGNAL: Signal;
    /// The partial-success part of a response: rejected items and the server's message.
    fn partial_success(resp: &Self::Response) -> (i64, &str);
}

impl OtlpRequest for ct::ExportTraceServiceRequest {
    type Response = ct::ExportTraceServiceResponse;
    const SIGNAL: Signal = Signal::Traces;
    fn partial_success(resp: &Self::Response) -> (i64, &str) {
        resp.partial_success
            .as_ref()
            .map_or((0, ""), |p| (p.rejected_spans, p.error_message.as_str()))
    }
}

impl OtlpRequest for cm::ExportMetricsServiceRequest {
    type Response = cm::ExportMetricsServiceResponse;
    const SIGNAL: Signal = Signal::Metrics;
    fn partial_success(resp: &Self::Response) -> (i64, &str) {
        resp.partial_success.as_ref().map_or((0, ""), |p| {
            (p.rejected_data_points, p.error_message.as_str())
        })
    }
}

impl OtlpRequest for cl::ExportLogsServiceRequest {
    type Response = cl::ExportLogsServiceResponse;
    const SIGNAL: Signal = Signal::Logs;
    fn partial_success(resp: &Self::Response) -> (i64, &str) {
        resp.partial_success.as_ref().map_or((0, ""), |p| {
            (p.rejected_log_records, p.error_message.as_str())
        })
    }
}

/// Counters of one exporter, shared with the handle [`ExportStats`] gives out. All counts
/// are of items (spans, data points, log records) unless said otherwise.
#[derive(Clone, Default)]
pub struct ExportStats(Arc<StatsInner>);

#[derive(Default)]
struct StatsInner {
    exported: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    requests: AtomicU64,
    failed_requests: AtomicU64,
    partial_reported: AtomicBool,
}

impl ExportStats {
    /// Items the collector accepted.
    pub fn exported(&self) -> u64 {
        self.0.exported.load(Ordering::Relaxed)
    }
    /// Items the collector rejected in a partial-success response.
    pub fn rejected(&self) -> u64 {
        self.0.rejected.load(Ordering::Relaxed)
    }
    /// Items dropped because their export failed (after any retries).
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }
    /// Retries made (attempts after the first, over all exports).
    pub fn retries(&self) -> u64 {
        self.0.retries.load(Ordering::Relaxed)
    }
    /// Export calls made.
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }
    /// Export calls that failed.
    pub fn failed_requests(&self) -> u64 {
        self.0.failed_requests.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for ExportStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportStats")
            .field("exported", &self.exported())
            .field("rejected", &self.rejected())
            .field("failed", &self.failed())
            .field("retries", &self.retries())
            .field("requests", &self.requests())
            .field("failed_requests", &self.failed_requests())
            .finish()
    }
}

/// A request handed to the export thread whose outcome has not been collected yet.
#[derive(Debug)]
pub(crate) struct Pending {
    reply: mpsc::Receiver<Result<Bytes, SdkError>>,
    items: u64,
    /// When the request went on the wire (set by the export thread).
    started: Arc<OnceLock<Instant>>,
}

impl Pending {
    /// The items the request carries.
    pub(crate) fn items(&self) -> u64 {
        self.items
    }
}

struct Job {
    body: Bytes,
    /// The body was encoded into a buffer of the pool: hand it back once sent.
    reuse: bool,
    reply: mpsc::SyncSender<Result<Bytes, SdkError>>,
    /// Requests of this client that may be on the wire at once.
    limit: Arc<tokio::sync::Semaphore>,
    /// Set when the request goes on the wire: its timeout runs from then.
    started: Arc<OnceLock<Instant>>,
}

/// Request buffers handed back for the next request's encoding, so that a steady stream of
/// large requests does not fault in fresh pages for each one (a 1 MB body is ~250 page
/// faults, and the allocator returns big blocks to the OS when they are freed).
#[derive(Debug, Default)]
struct BufferPool(Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    /// Buffers kept at most.
    const KEEP: usize = 4;
    /// Larger buffers are freed rather than kept.
    const MAX_BYTES: usize = 4 << 20;

    /// An empty buffer, with the capacity of an earlier request's when one is free.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default()
    }

    /// Keeps `body`'s buffer if nothing else refers to it any more.
    fn give(&self, body: Bytes) {
        if let Ok(buf) = body.try_into_mut() {
            self.keep(Vec::from(buf));
        }
    }

    /// Keeps `buf` for a later request, unless enough are kept or it is unusually large.
    fn keep(&self, mut buf: Vec<u8>) {
        if buf.capacity() > Self::MAX_BYTES {
            return;
        }
        buf.clear();
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() < Self::KEEP {
                kept.push(buf);
            }
        }
    }
}

/// The OTLP client of one signal: builds the transport once, then exports any request of
/// that signal. `export` may be called from any thread, including inside a tokio runtime.
pub struct OtlpClient {
    signal: Signal,
    protocol: Protocol,
    compression: Compression,
    timeout: Duration,
    endpoint: String,
    jobs: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    stats: ExportStats,
    /// Requests on the wire at once (see [`OtlpClient::set_max_concurrent`]); later ones wait
    /// in order on the export thread.
    limit: Arc<tokio::sync::Semaphore>,
    /// Buffers of completed requests, for encoding the next ones.
    buffers: Arc<BufferPool>,
}

impl fmt::Debug for OtlpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpClient")
            .field("signal", &self.signal)
            .field("protocol", &self.protocol)
            .field("endpoint", &super::config::redact_userinfo(&self.endpoint))
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OtlpClient {
    /// Starts the export thread and builds the transport for `config` on it.
    pub fn new(config: OtlpConfig) -> Result<Self, ConfigError> {
        super::check_pem(&config)?;
        let (jobs_tx, jobs_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), ConfigError>>(1);
        let stats = ExportStats::default();
        let thread_stats = stats.clone();
        let thread_config = config.clone();
        let buffers = Arc::<BufferPool>::default();
        let thread_buffers = Arc::clone(&buffers);
        let name = format!("otlp-sdk-{}", config.signal.env_name().to_lowercase());
        let worker = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                run(
                    thread_config,
                    jobs_rx,
                    ready_tx,
                    thread_stats,
                    thread_buffers,
                )
            })
            .map_err(|e| {
                ConfigError::new(
                    ConfigErrorKind::Unsupported,
                    "export thread",
                    "spawn",
                    e.to_string(),
                )
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = worker.join();
                return Err(e);
            }
            Err(_) => {
                let _ = worker.join();
                return Err(ConfigError::new(
                    ConfigErrorKind::Unsupported,
                    "export thread",
                    "start",
                    "the export thread stopped while starting",
                ));
            }
        }
        Ok(OtlpClient {
            signal: config.signal,
            protocol: config.protocol,
            compression: config.compression,
            timeout: config.timeout,
            endpoint: config.endpoint,
            jobs: Mutex::new(Some(jobs_tx)),
            worker: Mutex::new(Some(worker)),
            stats,
            limit: Arc::new(tokio::sync::Semaphore::new(1)),
            buffers,
        })
    }

    /// Lets up to `n` submitted requests be on the wire at once (default 1); requests
    /// submitted beyond that wait on the export thread, in order, and their export timeout
    /// starts when they are sent.
    pub(crate) fn set_max_concurrent(&mut self, n: usize) {
        self.limit = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
    }

    /// An empty buffer to encode a protobuf request into: one a completed request of this
    /// client no longer needs (its capacity kept) when there is one. Every protobuf request
    /// is encoded into one, so the buffers handed back are all taken again.
    pub(crate) fn take_buffer(&self) -> Vec<u8> {
        self.buffers.take()
    }

    /// The client's counters (a shared handle: it stays current).
    pub fn stats(&self) -> ExportStats {
        self.stats.clone()
    }

    /// Sends `req`, which holds `items` items (spans, data points or log records), and waits
    /// for the outcome: success (possibly partial: rejected items are counted and reported
    /// once through [`diagnostics`]), or the error after retries or at the timeout.
    pub fn export<R: OtlpRequest>(&self, req: &R, items: usize) -> SdkResult {
        let body = match self.protocol {
            Protocol::HttpJson => req.to_otlp_json().into_bytes(),
            _ => {
                // What `encode_to_vec` does, into a reused buffer: room for the whole
                // message first, so the encoding cannot run out of it.
                let mut body = self.take_buffer();
                body.reserve(req.encoded_len());
                req.encode_raw(&mut body);
                body
            }
        };
        self.export_body::<R>(body, items)
    }

    /// The protocol this client speaks.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Like [`OtlpClient::export`], for a request already encoded for this client's protocol
    /// (protobuf bytes of `R`, or its OTLP/JSON text).
    pub(crate) fn export_body<R: OtlpRequest>(&self, body: Vec<u8>, items: usize) -> SdkResult {
        let pending = self.submit(body, items)?;
        self.complete::<R>(pending)
    }

    /// Hands an encoded request to the export thread without waiting for its outcome; pass
    /// the returned [`Pending`] to [`OtlpClient::complete`]. Several requests may be in flight.
    pub(crate) fn submit(&self, mut body: Vec<u8>, items: usize) -> Result<Pending, SdkError> {
        let items = items as u64;
        self.stats.0.requests.fetch_add(1, Ordering::Relaxed);
        let fail = |e: SdkError| {
            self.stats.0.failed.fetch_add(items, Ordering::Relaxed);
            self.stats.0.failed_requests.fetch_add(1, Ordering::Relaxed);
            e
        };
        // The body is compressed here (for gRPC, the one message it carries), and the
        // uncompressed buffer can be reused at once. Only buffers of protobuf encodings go
        // back to the pool: they are the ones taken from it.
        let mut reuse = self.protocol != Protocol::HttpJson;
        if self.compression == Compression::Gzip {
            let compressed = gzip(&body).map_err(fail)?;
            let plain = std::mem::replace(&mut body, compressed);
            if reuse {
                self.buffers.keep(plain);
            }
            reuse = false;
        }
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let started = Arc::new(OnceLock::new());
        {
            let jobs = self
                .jobs
                .lock()
                .map_err(|_| fail(SdkError::failed("exporter lock poisoned")))?;
            let jobs = jobs
                .as_ref()
                .ok_or_else(|| fail(SdkError::AlreadyShutdown))?;
            jobs.send(Job {
                body: Bytes::from(body),
                reuse,
                reply: reply_tx,
                limit: self.limit.clone(),
                started: Arc::clone(&started),
            })
            .map_err(|_| fail(SdkError::failed("the export thread has stopped")))?;
        }
        Ok(Pending {
            reply: reply_rx,
            items,
            started,
        })
    }

    /// Waits for the outcome of a submitted request and counts it: success (possibly partial:
    /// rejected items are counted and reported once), or the error after retries or at the
    /// timeout.
    pub(crate) fn complete<R: OtlpRequest>(&self, pending: Pending) -> SdkResult {
        // The export thread enforces the timeout, from when the request goes on the wire
        // (it may first wait for other threads' requests to this client); the margin only
        // guards against a stuck thread.
        let limit = self.timeout + Duration::from_secs(2);
        let reply = loop {
            let wait = match pending.started.get() {
                Some(t) => (*t + limit).saturating_duration_since(Instant::now()),
                None => limit,
            };
            match pending.reply.recv_timeout(wait) {
                Ok(r) => break r,
                // Still queued behind other requests (its time has not started), or sent
                // since the wait began: wait on, from when it was sent.
                Err(mpsc::RecvTimeoutError::Timeout)
                    if pending.started.get().is_none_or(|t| t.elapsed() < limit) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break Err(SdkError::Timeout(self.timeout)),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(SdkError::failed("the export thread has stopped"))
                }
            }
        };
        self.account::<R>(pending.items, reply)
    }

    /// Like [`OtlpClient::complete`] without waiting: `None` while the request is still
    /// queued or in flight.
    pub(crate) fn poll<R: OtlpRequest>(&self, pending: &Pending) -> Option<SdkResult> {
        let reply = match pending.reply.try_recv() {
            Ok(r) => r,
            Err(mpsc::TryRecvError::Empty) => return None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Err(SdkError::failed("the export thread has stopped"))
            }
        };
        Some(self.account::<R>(pending.items, reply))
    }

    /// Counts the outcome of a request of `items` items.
    fn account<R: OtlpRequest>(&self, items: u64, reply: Result<Bytes, SdkError>) -> SdkResult {
        debug_assert_eq!(R::SIGNAL, self.signal, "request of another signal");
        let result = reply.and_then(|resp| self.decode::<R>(&resp));
        match result {
            Ok(rejected) => {
                let rejected = rejected.min(items);
                self.stats
                    .0
                    .exported
                    .fetch_add(items - rejected, Ordering::Relaxed);
                self.stats.0.rejected.fetch_add(rejected, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.stats.0.failed.fetch_add(items, Ordering::Relaxed);
                self.stats.0.failed_requests.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Decodes the response; returns the number of rejected items.
    fn decode<R: OtlpRequest>(&self, resp: &[u8]) -> Result<u64, SdkError> {
        if resp.is_empty() {
            return Ok(0);
        }
        let decoded = match self.protocol {
            Protocol::HttpJson => {
                R::Response::from_otlp_json_slice(resp).map_err(|e| e.to_string())
            }
            _ => R::Response::decode(resp).map_err(|e| e.to_string()),
        };
        let resp = match decoded {
            Ok(r) => r,
            Err(e) => {
                // The data was accepted (2xx / OK); only the response is unreadable.
                diagnostics::report(&format!(
                    "OTLP {} exporter: unreadable success response: {e}",
                    self.signal.env_name().to_lowercase()
                ));
                return Ok(0);
            }
        };
        let (rejected, message) = R::partial_success(&resp);
        if (rejected > 0 || !message.is_empty())
            && !self.stats.0.partial_reported.swap(true, Ordering::Relaxed)
        {
            {
                diagnostics::report(&format!(
                    "OTLP {} exporter: the collector rejected {rejected} {} (partial success): {message} (reported once; see the exporter's stats for totals)",
                    self.signal.env_name().to_lowercase(),
                    self.signal.items(),
                ));
            }
        }
        Ok(rejected.max(0) as u64)
    }

    /// Stops the export thread (after the export in progress, if any). Later exports fail
    /// with [`SdkError::AlreadyShutdown`].
    pub fn shutdown(&self) -> SdkResult {
        let sender = self
            .jobs
            .lock()
            .map_err(|_| SdkError::failed("exporter lock poisoned"))?
            .take();
        if sender.is_none() {
            return Err(SdkError::AlreadyShutdown);
        }
        drop(sender);
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = worker {
            // Never join ourselves (cannot happen: the worker never calls shutdown).
            if w.thread().id() != std::thread::current().id() {
                let _ = w.join();
            }
        }
        Ok(())
    }
}

impl Drop for OtlpClient {
    fn drop(&mut self) {
        // Closing the channel ends the export thread; it is not joined here so that a drop
        // never blocks.
        if let Ok(mut j) = self.jobs.lock() {
            j.take();
        }
    }
}

pub(super) fn gzip(body: &[u8]) -> Result<Vec<u8>, SdkError> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(body)
        .and_then(|_| enc.finish())
        .map_err(|e| SdkError::failed(format!("gzip: {e}")))
}

/// The export thread: builds the transport, reports readiness, then serves jobs.
fn run(
    config: OtlpConfig,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
    ready: mpsc::SyncSender<Result<(), ConfigError>>,
    stats: ExportStats,
    buffers: Arc<BufferPool>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(ConfigError::new(
                ConfigErrorKind::Unsupported,
                "export runtime",
                "tokio",
                e.to_string(),
            )));
            return;
        }
    };
    rt.block_on(async move {
        let sender = match Sender::new(&config) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let timeout = config.timeout;
        let policy = config.retry.clone();
        // The requests on the wire: a shutdown waits for them rather than cancel them.
        let mut sending = tokio::task::JoinSet::new();
        while let Some(job) = jobs.recv().await {
            // Jobs are taken in order, each once a slot on the wire is free.
            let Ok(permit) = job.limit.clone().acquire_owned().await else {
                continue;
            };
            let _ = job.started.set(Instant::now());
            while sending.try_join_next().is_some() {}
            let sender = sender.clone();
            let policy = policy.clone();
            let stats = stats.clone();
            let buffers = Arc::clone(&buffers);
            sending.spawn(async move {
                let r = send_with_retry(&sender, &job.body, timeout, &policy, &stats).await;
                drop(permit);
                if job.reuse {
                    buffers.give(job.body);
                }
                let _ = job.reply.send(r);
            });
        }
        // Shut down (or dropped): the requests already on the wire finish, each within its
        // timeout, before the runtime that carries them goes.
        while sending.join_next().await.is_some() {}
    });
}

async fn send_with_retry(
    sender: &Sender,
    body: &Bytes,
    timeout: Duration,
    policy: &RetryPolicy,
    stats: &ExportStats,
) -> Result<Bytes, SdkError> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::from_os_rng();
    let deadline = Instant::now() + timeout;
    let mut retry = 0u32;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(SdkError::Timeout(timeout));
        }
        let attempt = tokio::time::timeout(remaining, sender.send(body.clone(), remaining)).await;
        let (verdict, msg) = match attempt {
            Err(_) => return Err(SdkError::Timeout(timeout)),
            Ok(Attempt::Done(resp)) => return Ok(resp),
            Ok(Attempt::Failed(verdict, msg)) => (verdict, msg),
        };
        let server_delay = match verdict {
            Verdict::Fail => return Err(SdkError::failed(msg)),
            Verdict::Retry(d) => d,
        };
        if retry >= policy.max_retries {
            return Err(SdkError::failed(format!(
                "{msg} (gave up after {retry} retries)"
            )));
        }
        let delay = server_delay.unwrap_or_else(|| policy.backoff(retry, rng.random::<f64>()));
        // The delay may come from the server (`Retry-After`, `RetryInfo`) and be absurd:
        // compare durations, as `now + delay` could overflow.
        if delay >= deadline.saturating_duration_since(Instant::now()) {
            return Err(SdkError::failed(format!(
                "{msg} (a retry in {delay:?} would pass the {timeout:?} export timeout)"
            )));
        }
        stats.0.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_request_hands_its_buffer_back_once_nothing_else_holds_it() {
        let pool = BufferPool::default();
        let mut v = Vec::with_capacity(4096);
        v.extend_from_slice(&[7u8; 3000]);
        let addr = v.as_ptr();
        let body = Bytes::from(v);
        let on_the_wire = body.clone();
        pool.give(body);
        assert_eq!(
            pool.take().capacity(),
            0,
            "a buffer still in use is not kept"
        );
        pool.give(on_the_wire);
        let again = pool.take();
        assert_eq!(again.as_ptr(), addr, "the same allocation comes back");
        assert!(again.is_empty() && again.capacity() >= 4096);
        for _ in 0..BufferPool::KEEP + 2 {
            pool.give(Bytes::from(vec![1u8; 16]));
        }
        assert_eq!(pool.0.lock().unwrap().len(), BufferPool::KEEP);
        let _ = pool.take();
        pool.give(Bytes::from(vec![0u8; BufferPool::MAX_BYTES + 1]));
        assert_eq!(
            pool.0.lock().unwrap().len(),
            BufferPool::KEEP - 1,
            "an unusually large buffer is freed"
        );
    }

    /// A client whose requests fail at once: connection refused, no retry.
    #[cfg(feature = "http")]
    fn refused_client(protocol: Protocol, compression: Compression) -> OtlpClient {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let config = super::super::OtlpExporterBuilder::<()>::default()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_protocol(protocol)
            .with_compression(compression)
            .with_retry(RetryPolicy {
                max_retries: 0,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
            })
            .resolve_with(Signal::Traces, |_| None)
            .unwrap();
        OtlpClient::new(config).unwrap()
    }

    #[cfg(feature = "http")]
    #[test]
    fn only_buffers_taken_from_the_pool_go_back_to_it() {
        let body = || {
            let mut b = Vec::with_capacity(5000);
            b.extend_from_slice(&[1u8; 5000]);
            b
        };
        // Protobuf: the request's buffer comes back once the request is done (here failed).
        let c = refused_client(Protocol::HttpProtobuf, Compression::None);
        assert!(c
            .export_body::<ct::ExportTraceServiceRequest>(body(), 1)
            .is_err());
        assert!(c.take_buffer().capacity() >= 5000);
        // JSON text is never encoded into a pooled buffer, so it is not kept.
        let c = refused_client(Protocol::HttpJson, Compression::None);
        assert!(c
            .export_body::<ct::ExportTraceServiceRequest>(body(), 1)
            .is_err());
        assert_eq!(c.take_buffer().capacity(), 0);
        // Gzip over HTTP: the uncompressed buffer is kept at once, the compressed body not.
        let c = refused_client(Protocol::HttpProtobuf, Compression::Gzip);
        assert!(c
            .export_body::<ct::ExportTraceServiceRequest>(body(), 1)
            .is_err());
        assert!(c.take_buffer().capacity() >= 5000);
        assert_eq!(c.take_buffer().capacity(), 0);
    }
}
