//! Shared test helpers: a launcher for the real collector `rotel`, fake OTLP collectors
//! (HTTP and gRPC) with scripted replies, and span factories.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read as _};
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otlp_sdk::proto::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use otlp_sdk::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otlp_sdk::resource::Resource;
use otlp_sdk::trace::{SpanData, TracerProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod diagnostics;
#[allow(unused_imports)]
pub use diagnostics::diagnostics;

/// A free port on 127.0.0.1 (bound then released), below the kernel's range of ephemeral
/// ports. Tests start (or restart) a collector on it after clients already try to reach it,
/// and a port of the ephemeral range could meanwhile become some socket's local port: even
/// the client's own, as a TCP connection to a closed local port in that range can connect to
/// itself. Ports are tried in turn from an offset that differs per process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .filter(|&low| low > FIRST + 1000)
        .unwrap_or(32_768);
    let span = ephemeral_low - FIRST;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = std::process::id().wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    let _ = NEXT.compare_exchange(u32::MAX, seed % span, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{ephemeral_low}")
}

// ---------------------------------------------------------------------------------------
// rotel

/// A running rotel collector on free ports; killed on drop.
pub struct Rotel {
    child: Child,
    grpc_port: u16,
    http_port: u16,
    output: Arc<Mutex<String>>,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "otlp-sdk-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Rotel {
    /// Starts rotel from `$ROTEL_AGENT`. Without it: panics when `CI=true` (the collector
    /// must be there in CI), else prints a note and returns `None`.
    pub fn start() -> Option<Rotel> {
        let agent = match std::env::var("ROTEL_AGENT") {
            Ok(a) if !a.is_empty() => a,
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("ROTEL_AGENT is not set but CI=true: the e2e tests need rotel");
                }
                eprintln!("note: ROTEL_AGENT not set; skipping the rotel end-to-end test");
                return None;
            }
        };
        let dir = TempDir::new("rotel");
        for _ in 0..5 {
            // A failed attempt's guard removed the directory.
            std::fs::create_dir_all(&dir.0).expect("temp dir");
            let (grpc_port, http_port) = (free_port(), free_port());
            let mut child = Command::new(&agent)
                .args(["start", "--exporter", "blackhole"])
                .args([
                    "--debug-log",
                    "traces",
                    "--debug-log",
                    "metrics",
                    "--debug-log",
                    "logs",
                ])
                .args(["--debug-log-verbosity", "detailed"])
                .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
                .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
                .arg("--pid-file")
                .arg(dir.0.join("rotel.pid"))
                .arg("--log-file")
                .arg(dir.0.join("rotel.log"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run ROTEL_AGENT={agent}: {e}"));
            let output = Arc::new(Mutex::new(String::new()));
            for pipe in [
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let out = output.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(pipe);
                    let mut line = String::new();
                    while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                        out.lock().unwrap().push_str(&line);
                        line.clear();
                    }
                });
            }
            let mut rotel = Rotel {
                child,
                grpc_port,
                http_port,
                output,
                _dir: TempDir(dir.0.clone()),
            };
            // Ready when both ports accept connections.
            let deadline = Instant::now() + Duration::from_secs(10);
            let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            while Instant::now() < deadline {
                if let Ok(Some(_)) = rotel.child.try_wait() {
                    break;
                }
                if up(grpc_port) && up(http_port) {
                    std::mem::forget(dir);
                    return Some(rotel);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("rotel did not start; output:\n{}", rotel.output());
        }
        panic!("rotel failed to start 5 times");
    }

    /// `http://127.0.0.1:<grpc port>`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// `http://127.0.0.1:<http port>` (append `/v1/traces` etc.).
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Everything rotel printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until `pred(output)` holds; returns the output. Panics with the output after
    /// `timeout`.
    pub fn wait_for(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if pred(&out) {
                return out;
            }
            if Instant::now() > deadline {
                panic!("rotel output never matched within {timeout:?}; output:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Rotel {
    /// Like [`Rotel::wait_for`], then also waits until rotel has stopped printing (its output
    /// unchanged for 300 ms, at most `timeout` more): rotel prints one request over many
    /// writes, so the lines after the one `pred` looks for may not be there yet.
    pub fn wait_for_settled(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let mut out = self.wait_for(pred, timeout);
        let deadline = Instant::now() + timeout;
        let mut still = 0;
        while still < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.output();
            if now.len() == out.len() {
                still += 1;
            } else {
                still = 0;
                out = now;
            }
        }
        out
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// A fake OTLP/HTTP collector

/// One scripted HTTP reply.
#[derive(Clone, Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Announce a longer body than is sent, then close the connection.
    pub cut_short: bool,
}

impl HttpReply {
    pub fn status(status: u16) -> Self {
        HttpReply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            cut_short: false,
        }
    }
    /// The reply's body ends before its announced length: the connection closes.
    pub fn cut_short(mut self) -> Self {
        self.cut_short = true;
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".into(), content_type.into()));
        self.body = body;
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// A request the fake collector received (body already gunzipped).
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub gzipped: bool,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct HttpState {
    script: VecDeque<HttpReply>,
    received: Vec<HttpRequest>,
    /// While set, requests are read and recorded but not answered.
    paused: bool,
    /// Requests read and not yet answered, and the most there ever were.
    active: usize,
    max_active: usize,
}

/// A minimal HTTP/1.1 server on 127.0.0.1: answers each request with the next scripted
/// reply, then `200` with an empty body.
pub struct FakeHttpCollector {
    pub port: u16,
    state: Arc<Mutex<HttpState>>,
    _rt: RuntimeThread,
}

impl FakeHttpCollector {
    pub fn start(script: Vec<HttpReply>) -> Self {
        Self::start_on(0, script)
    }

    /// Listens on `port` (0: any free port).
    pub fn start_on(port: u16, script: Vec<HttpReply>) -> Self {
        Self::start_with(port, script, None)
    }

    /// Serves HTTPS with the test server certificate (see [`server_tls`]);
    /// `require_client_cert` demands a client certificate from the test CA.
    pub fn start_tls(script: Vec<HttpReply>, require_client_cert: bool) -> Self {
        Self::start_with(0, script, Some(rustls_server_config(require_client_cert)))
    }

    fn start_with(
        port: u16,
        script: Vec<HttpReply>,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Self {
        let state = Arc::new(Mutex::new(HttpState {
            script: script.into(),
            ..HttpState::default()
        }));
        let rt = RuntimeThread::new();
        let listener = std_listener(port);
        let port = listener.local_addr().unwrap().port();
        let st = state.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                match &tls {
                    None => {
                        tokio::spawn(serve_http(sock, st));
                    }
                    Some(cfg) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                        tokio::spawn(async move {
                            if let Ok(tls_sock) = acceptor.accept(sock).await {
                                serve_http(tls_sock, st).await;
                            }
                        });
                    }
                }
            }
        });
        FakeHttpCollector {
            port,
            state,
            _rt: rt,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `https://localhost:<port><path>` (the test server certificate's name).
    pub fn tls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<HttpRequest> {
        self.state.lock().unwrap().received.clone()
    }

    /// Holds every reply (requests are still read and recorded) until [`Self::resume`].
    pub fn pause(&self) {
        self.state.lock().unwrap().paused = true;
    }

    pub fn resume(&self) {
        self.state.lock().unwrap().paused = false;
    }

    /// The most requests that were ever received and not yet answered at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.state.lock().unwrap().max_active
    }
}

/// Reads one HTTP/1.1 request from `sock`: its head (request line and headers) as text and
/// its body (by `content-length`). `buf` keeps what was read past it. `None` once the peer
/// closes or fails.
async fn read_request<S>(sock: &mut S, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let mut chunk = [0u8; 65536];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some((head, body))
}

async fn serve_http<S>(mut sock: S, st: Arc<Mutex<HttpState>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    while let Some((head, raw)) = read_request(&mut sock, &mut buf).await {
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("")
            .to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let gzipped = headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip");
        let body = if gzipped {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .expect("valid gzip body");
            out
        } else {
            raw
        };
        let reply = {
            let mut s = st.lock().unwrap();
            s.received.push(HttpRequest {
                path,
                headers,
                body,
                gzipped,
            });
            s.active += 1;
            s.max_active = s.max_active.max(s.active);
            s.script
                .pop_front()
                .unwrap_or_else(|| HttpReply::status(200))
        };
        while st.lock().unwrap().paused {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let mut out = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            reply.status,
            reply.body.len() + if reply.cut_short { 100 } else { 0 }
        );
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&reply.body);
        st.lock().unwrap().active -= 1;
        if sock.write_all(&bytes).await.is_err() || reply.cut_short {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// A fake OTLP/gRPC trace collector

/// One scripted gRPC reply.
#[derive(Clone, Debug)]
pub enum GrpcReply {
    /// Success, optionally partial: (rejected spans, message).
    Ok(Option<(i64, String)>),
    /// A failing status: code and optional RetryInfo delay.
    Status(tonic::Code, Option<Duration>),
    /// Wait, then succeed.
    Slow(Duration),
}

#[derive(Default)]
struct GrpcState {
    script: VecDeque<GrpcReply>,
    received: Vec<(ExportTraceServiceRequest, tonic::metadata::MetadataMap)>,
    /// The client address of each request: one per connection.
    peers: Vec<Option<std::net::SocketAddr>>,
}

#[derive(Clone)]
struct FakeTraceService(Arc<Mutex<GrpcState>>);

#[tonic::async_trait]
impl TraceService for FakeTraceService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let metadata = request.metadata().clone();
        let peer = request.remote_addr();
        let reply = {
            let mut s = self.0.lock().unwrap();
            s.peers.push(peer);
            s.received.push((request.into_inner(), metadata));
            s.script.pop_front().unwrap_or(GrpcReply::Ok(None))
        };
        match reply {
            GrpcReply::Ok(partial) => Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: partial.map(|(rejected_spans, error_message)| {
                    ExportTracePartialSuccess {
                        rejected_spans,
                        error_message,
                    }
                }),
            })),
            GrpcReply::Status(code, None) => Err(tonic::Status::new(code, "scripted failure")),
            GrpcReply::Status(code, Some(delay)) => Err(tonic::Status::with_details(
                code,
                "scripted failure",
                retry_info(code as i32, delay).into(),
            )),
            GrpcReply::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            }
        }
    }
}

/// Encodes `google.rpc.Status { code, details: [RetryInfo { retry_delay }] }`.
fn retry_info(code: i32, delay: Duration) -> Vec<u8> {
    use prost::Message;
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<PDuration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct PDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    let info = RetryInfo {
        retry_delay: Some(PDuration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    };
    Status {
        code,
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// A tonic trace service on 127.0.0.1 answering with scripted replies, then OK.
pub struct FakeGrpcCollector {
    pub port: u16,
    state: Arc<Mutex<GrpcState>>,
    _rt: RuntimeThread,
}

impl FakeGrpcCollector {
    pub fn start(script: Vec<GrpcReply>) -> Self {
        Self::start_with(script, None)
    }

    /// Serves over TLS with `tls` (`None`: plain text).
    pub fn start_with(
        script: Vec<GrpcReply>,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Self {
        Self::start_on(0, script, tls)
    }

    /// Listens on `port` (0: any free port).
    pub fn start_on(
        port: u16,
        script: Vec<GrpcReply>,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Self {
        let state = Arc::new(Mutex::new(GrpcState {
            script: script.into(),
            received: Vec::new(),
            peers: Vec::new(),
        }));
        let rt = RuntimeThread::new();
        let listener = std_listener(port);
        let port = listener.local_addr().unwrap().port();
        let svc = TraceServiceServer::new(FakeTraceService(state.clone()))
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let mut server = tonic::transport::Server::builder();
            if let Some(tls) = tls {
                server = server.tls_config(tls).expect("server TLS config");
            }
            let _ = server
                .add_service(svc)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await;
        });
        FakeGrpcCollector {
            port,
            state,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `https://localhost:<port>` (the test server certificate's name).
    pub fn tls_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The requests received.
    pub fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The client address (so the connection) each request came from, in arrival order.
    pub fn peers(&self) -> Vec<std::net::SocketAddr> {
        let s = self.state.lock().unwrap();
        s.peers.iter().map(|p| p.expect("a TCP peer")).collect()
    }

    /// The metadata of each request.
    pub fn metadata(&self) -> Vec<tonic::metadata::MetadataMap> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// Spans in all requests.
pub fn span_count(reqs: &[ExportTraceServiceRequest]) -> usize {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

/// A non-blocking std listener on 127.0.0.1:`port` (usable from inside a runtime).
fn std_listener(port: u16) -> StdListener {
    let l = StdListener::bind(("127.0.0.1", port)).expect("bind fake collector");
    l.set_nonblocking(true).expect("non-blocking");
    l
}

/// A multi-thread runtime on its own threads, for fake servers; shut down on drop.
pub struct RuntimeThread(Option<tokio::runtime::Runtime>);

impl RuntimeThread {
    pub fn new() -> Self {
        RuntimeThread(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime"),
        ))
    }
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.0.as_ref().unwrap().block_on(f)
    }
    pub fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, f: F) {
        self.0.as_ref().unwrap().spawn(f);
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Spans

/// `n` finished spans named `span-<i>` with an `i` attribute, from scope `test.scope`.
pub fn make_spans(n: usize) -> Vec<Box<SpanData>> {
    let exporter = otlp_sdk::export::InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_resource(Resource::empty())
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test.scope");
    for i in 0..n {
        let mut span = tracer.start_span(format!("span-{i}"));
        span.set_attribute("i", i as i64);
        span.end();
    }
    let _ = provider.shutdown();
    exporter
        .finished_spans()
        .into_iter()
        .map(Box::new)
        .collect()
}

/// A file of the test PKI in `tests/support/certs` (CA, server and client certificates).
pub fn cert_path(name: &str) -> String {
    format!("{}/tests/support/certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Server TLS with the test server certificate; with `require_client_cert`, clients must
/// present a certificate signed by the test CA (mTLS).
pub fn server_tls(require_client_cert: bool) -> tonic::transport::ServerTlsConfig {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |n: &str| std::fs::read(cert_path(n)).expect("test certificate");
    let mut tls =
        ServerTlsConfig::new().identity(Identity::from_pem(read("server.pem"), read("server.key")));
    if require_client_cert {
        tls = tls.client_ca_root(Certificate::from_pem(read("ca.pem")));
    }
    tls
}

/// A rustls server configuration with the test server certificate.
fn rustls_server_config(require_client_cert: bool) -> Arc<tokio_rustls::rustls::ServerConfig> {
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, server::WebPkiClientVerifier};
    let read = |n: &str| std::fs::read(cert_path(n)).expect("test certificate");
    let certs = rustls_pemfile::certs(&mut read("server.pem").as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut read("server.key").as_slice())
            .unwrap()
            .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut read("ca.pem").as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(builder.with_single_cert(certs, key).unwrap())
}

// ---------------------------------------------------------------------------------------
// Misbehaving collectors and measurements (reliability suite)

/// Accepts connections on a free 127.0.0.1 port and runs `handle` on each, on its own
/// runtime (the server stops when the returned runtime is dropped). Returns the port and a
/// count of the connections accepted.
fn serve<F, Fut>(handle: F) -> (u16, Arc<std::sync::atomic::AtomicUsize>, RuntimeThread)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = RuntimeThread::new();
    let listener = std_listener(0);
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let conns = connections.clone();
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        while let Ok((sock, _)) = listener.accept().await {
            conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(handle(sock));
        }
    });
    (port, connections, rt)
}

fn local_url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// A misbehaving TCP server on 127.0.0.1 (see [`SilentServer`] and [`RawReplyServer`]):
/// its port and the connections it accepted. Closed on drop.
pub struct TcpServer {
    pub port: u16,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    _rt: RuntimeThread,
}

impl TcpServer {
    pub fn url(&self, path: &str) -> String {
        local_url(self.port, path)
    }
}

/// A TCP server that accepts connections and reads everything sent, but never answers (a
/// hung collector).
pub struct SilentServer;

impl SilentServer {
    pub fn start() -> TcpServer {
        let (port, connections, rt) = serve(|mut sock| async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = sock.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        TcpServer {
            port,
            connections,
            _rt: rt,
        }
    }
}

/// A TCP server that answers whatever arrives first with `reply` (raw bytes, e.g. garbage
/// that is not HTTP at all) and closes the connection.
pub struct RawReplyServer;

impl RawReplyServer {
    pub fn start(reply: Vec<u8>) -> TcpServer {
        let reply = Arc::new(reply);
        let (port, connections, rt) = serve(move |mut sock| {
            let reply = reply.clone();
            async move {
                let mut buf = vec![0u8; 65536];
                if matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = sock.write_all(&reply).await;
                }
                let _ = sock.shutdown().await;
            }
        });
        TcpServer {
            port,
            connections,
            _rt: rt,
        }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with `status`, `content_type`
/// and a body of `size` bytes, streamed in 64 KiB chunks (the server never holds the whole
/// body, so the client's memory can be measured). Counts the requests.
pub struct HugeBodyServer {
    pub port: u16,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
    _rt: RuntimeThread,
}

impl HugeBodyServer {
    pub fn start(status: u16, content_type: &'static str, size: usize) -> Self {
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reqs = requests.clone();
        let (port, _connections, rt) = serve(move |mut sock| {
            let reqs = reqs.clone();
            async move {
                let mut buf = Vec::new();
                while read_request(&mut sock, &mut buf).await.is_some() {
                    reqs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n\
                         content-length: {size}\r\n\r\n"
                    );
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![0xA5u8; 65536];
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if sock.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                }
            }
        });
        HugeBodyServer {
            port,
            requests,
            _rt: rt,
        }
    }

    pub fn url(&self, path: &str) -> String {
        local_url(self.port, path)
    }
}

/// The resident set size of this process, in bytes (Linux `/proc/self/status` VmRSS).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmRSS")
}

/// Samples [`rss_bytes`] every millisecond on a thread until dropped; `peak()` is the
/// highest value seen.
pub struct RssSampler {
    peak: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start() -> Self {
        use std::sync::atomic::Ordering;
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_bytes()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        RssSampler {
            peak,
            stop,
            handle: Some(handle),
        }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Rotel {
    /// Starts rotel on the given (grpc, http) ports, or free ones, without debug logging
    /// (for load: nothing is printed per item). `None` as for [`Rotel::start`].
    pub fn start_quiet(ports: Option<(u16, u16)>) -> Option<Rotel> {
        let agent = match std::env::var("ROTEL_AGENT") {
            Ok(a) if !a.is_empty() => a,
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("ROTEL_AGENT is not set but CI=true: the e2e tests need rotel");
                }
                eprintln!("note: ROTEL_AGENT not set; skipping the rotel test");
                return None;
            }
        };
        for _ in 0..5 {
            let dir = TempDir::new("rotel-quiet");
            let (grpc_port, http_port) = ports.unwrap_or_else(|| (free_port(), free_port()));
            let child = Command::new(&agent)
                .args(["start", "--exporter", "blackhole"])
                .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
                .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
                .arg("--pid-file")
                .arg(dir.0.join("rotel.pid"))
                .arg("--log-file")
                .arg(dir.0.join("rotel.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run ROTEL_AGENT={agent}: {e}"));
            let mut rotel = Rotel {
                child,
                grpc_port,
                http_port,
                output: Arc::new(Mutex::new(String::new())),
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            while Instant::now() < deadline {
                if let Ok(Some(_)) = rotel.child.try_wait() {
                    break;
                }
                if up(grpc_port) && up(http_port) {
                    return Some(rotel);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if ports.is_some() {
                // Fixed ports may still be held by the previous instance for a moment.
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        panic!("rotel failed to start 5 times");
    }

    /// The (grpc, http) ports.
    pub fn ports(&self) -> (u16, u16) {
        (self.grpc_port, self.http_port)
    }

    /// Kills the collector process (abruptly, SIGKILL) and waits for it to exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RuntimeThread {
    /// Shuts the runtime down now: every listener and connection of the server closes.
    pub fn kill(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl FakeGrpcCollector {
    /// Stops serving abruptly (listener and connections closed); what it received stays
    /// readable.
    pub fn kill(&mut self) {
        self._rt.kill();
    }
}

impl FakeHttpCollector {
    /// Stops serving abruptly (listener and connections closed); what it received stays
    /// readable.
    pub fn kill(&mut self) {
        self._rt.kill();
    }
}

/// Waits until 127.0.0.1:`port` can be bound again (after a server on it was killed).
pub fn wait_port_free(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while StdListener::bind(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} stayed busy");
        std::thread::sleep(Duration::from_millis(20));
    }
}
