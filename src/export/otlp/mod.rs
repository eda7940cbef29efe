//! OTLP exporters: gRPC (feature `grpc`), HTTP/protobuf and HTTP/JSON (feature `http`).
//!
//! ```no_run
//! # #[cfg(feature = "http")] {
//! use std::time::Duration;
//! use otlp_sdk::export::otlp::{Compression, OtlpSpanExporter, Protocol};
//! use otlp_sdk::trace::TracerProvider;
//!
//! let exporter = OtlpSpanExporter::builder()
//!     .with_protocol(Protocol::HttpProtobuf)
//!     .with_endpoint("http://localhost:4318/v1/traces")
//!     .with_headers([("api-key", "secret")])
//!     .with_timeout(Duration::from_secs(5))
//!     .with_compression(Compression::Gzip)
//!     .build()
//!     .expect("valid OTLP settings");
//! let provider = TracerProvider::builder().with_batch_exporter(exporter).build();
//! # }
//! ```
//!
//! ## Settings
//! Settings not given to the builder come from the specification's environment variables,
//! the signal's variable (`OTEL_EXPORTER_OTLP_TRACES_*`, `_METRICS_*`, `_LOGS_*`) winning
//! over the general one (`OTEL_EXPORTER_OTLP_*`), then from the defaults:
//!
//! | Variable suffix | Builder | Default | Values |
//! |---|---|---|---|
//! | `ENDPOINT` | `with_endpoint` | `http://localhost:4318` (`:4317` for gRPC) | URL; gRPC also `host:port` |
//! | `PROTOCOL` | `with_protocol` | `http/protobuf` | `grpc`, `http/protobuf`, `http/json` (any case) |
//! | `HEADERS` | `with_headers` | none | `k1=v1,k2=v2`, values percent-decoded |
//! | `TIMEOUT` | `with_timeout` | `10000` (10 s) | milliseconds; 0 means no limit |
//! | `COMPRESSION` | `with_compression` | `none` | `gzip`, `none` (any case) |
//! | `CERTIFICATE` | `with_tls_ca_file` | system roots | PEM file of CA certificates |
//! | `CLIENT_CERTIFICATE`, `CLIENT_KEY` | `with_tls_client_cert` | none | PEM files (mTLS) |
//! | `INSECURE` | `with_insecure` | `false` | gRPC `host:port` endpoints: plain text if `true` (only `true`, in any case, is true) |
//!
//! A builder endpoint and a per-signal endpoint variable are used as they are; the general
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is a base to which HTTP exporters append `/v1/traces`,
//! `/v1/metrics` or `/v1/logs`. As the specification reads variables by type, an unknown
//! protocol or compression, or a bad timeout, is reported through
//! [`diagnostics`](crate::diagnostics) and ignored; an endpoint, headers or certificate
//! files that cannot work, and any bad builder value, are a [`ConfigError`] from `build()`
//! naming the setting and the value (header values are never shown). TLS certificate
//! verification is always on.
//!
//! ## Delivery
//! Exporters need no async runtime: each owns a thread with a small tokio runtime, and can
//! be called from anywhere, including from inside a tokio runtime. Failed exports are
//! retried as the specification says (gRPC `UNAVAILABLE`, `CANCELLED`, `DEADLINE_EXCEEDED`,
//! `ABORTED`, `OUT_OF_RANGE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` with `RetryInfo`; HTTP
//! 429, 502, 503, 504 and connection errors), with exponential backoff and jitter, honouring
//! `Retry-After` and `RetryInfo`, always within the export timeout ([`RetryPolicy`]).
//! Partial successes are counted (`ExportStats`) and reported once through
//! [`diagnostics`](crate::diagnostics).
//!
//! ## For signal exporters
//! A signal's exporter is a thin adapter: `OtlpExporterBuilder::build_client` resolves the
//! settings for its [`Signal`] and starts an `OtlpClient`; the exporter encodes its items
//! into the signal's request message and calls `OtlpClient::export`:
//!
//! ```text
//! pub struct OtlpLogExporter { client: OtlpClient, resource: Resource }
//! impl OtlpLogExporter {
//!     pub fn builder() -> OtlpExporterBuilder<OtlpLogExporter> { OtlpExporterBuilder::default() }
//! }
//! impl OtlpExporterBuilder<OtlpLogExporter> {
//!     pub fn build(self) -> Result<OtlpLogExporter, ConfigError> {
//!         Ok(OtlpLogExporter { client: self.build_client(Signal::Logs)?, resource: Resource::default() })
//!     }
//! }
//! impl LogExporter for OtlpLogExporter {
//!     fn export(&mut self, batch: &[Box<LogData>]) -> SdkResult {
//!         let req: ExportLogsServiceRequest = to_proto(&self.resource, batch);
//!         self.client.export(&req, batch.len())
//!     }
//!     fn shutdown(&mut self) -> SdkResult { self.client.shutdown() }
//! }
//! ```
// Without a transport, only the configuration, encoding and JSON mapping are compiled; parts
// used only by the transports are then unused.
#![cfg_attr(not(any(feature = "grpc", feature = "http")), allow(dead_code))]

mod config;
pub(crate) mod encode;
pub mod json;
mod retry;

pub use config::{Compression, OtlpConfig, Protocol, Signal, DEFAULT_TIMEOUT};
pub use retry::RetryPolicy;

#[cfg(any(feature = "grpc", feature = "http"))]
mod transport;
#[cfg(any(feature = "grpc", feature = "http"))]
pub use transport::{ExportStats, OtlpClient, OtlpRequest};

#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http")]
mod http;

#[allow(unused_imports)]
pub(crate) use encode::{
    any_value, group_by_scope, key_values, resource, resource_schema_url, scope,
};

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use crate::error::ConfigError;
use config::Options;

/// The `User-Agent` the exporters send, naming the exporter, its language and its version, as
/// the OTLP exporter specification asks.
#[cfg(any(feature = "grpc", feature = "http"))]
const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust-otlp-sdk/",
    env!("CARGO_PKG_VERSION")
);

/// Builds an OTLP exporter `E` (for example `OtlpSpanExporter::builder()`). Values given here
/// win over the environment variables.
pub struct OtlpExporterBuilder<E> {
    opts: Options,
    _exporter: PhantomData<fn() -> E>,
}

impl<E> Default for OtlpExporterBuilder<E> {
    fn default() -> Self {
        OtlpExporterBuilder {
            opts: Options::default(),
            _exporter: PhantomData,
        }
    }
}

impl<E> fmt::Debug for OtlpExporterBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporterBuilder")
            .field("options", &self.opts)
            .finish()
    }
}

impl<E> OtlpExporterBuilder<E> {
    /// The URL to send to, used as it is (for HTTP, include the path, e.g.
    /// `http://collector:4318/v1/traces`). gRPC endpoints may omit the scheme (`host:4317`):
    /// TLS is then used unless [`with_insecure`](Self::with_insecure).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.opts.endpoint = Some(endpoint.into());
        self
    }
    /// The protocol (default `http/protobuf`).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.opts.protocol = Some(protocol);
        self
    }
    /// Adds headers (gRPC metadata) sent with every export, replacing same-named headers
    /// from the environment. Values are treated as secrets: never printed.
    pub fn with_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.opts
            .headers
            .extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }
    /// The export timeout, for one whole export including retries (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.opts.timeout = Some(timeout);
        self
    }
    /// Request compression (default none).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.opts.compression = Some(compression);
        self
    }
    /// A PEM file of CA certificates to trust for `https` endpoints, in addition to the
    /// system roots.
    pub fn with_tls_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.opts.ca_file = Some(path.as_ref().to_string_lossy().into_owned());
        self
    }
    /// A client certificate chain and its private key (PEM files), for mutual TLS.
    pub fn with_tls_client_cert(
        mut self,
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Self {
        self.opts.client_cert_file = Some(cert_path.as_ref().to_string_lossy().into_owned());
        self.opts.client_key_file = Some(key_path.as_ref().to_string_lossy().into_owned());
        self
    }
    /// For a gRPC endpoint given without a scheme: `true` connects in plain text (default
    /// `false`: TLS). Certificate verification itself can never be disabled.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.opts.insecure = Some(insecure);
        self
    }
    /// How failed exports are retried (default [`RetryPolicy::default`]).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.opts.retry = Some(policy);
        self
    }

    /// The settings `build` would use for `signal`, from this builder and the process
    /// environment.
    pub fn resolve(&self, signal: Signal) -> Result<OtlpConfig, ConfigError> {
        config::resolve(&self.opts, signal, &config::std_env)
    }

    /// Like [`resolve`](Self::resolve), reading variables through `env` instead of the
    /// process environment (for tests and embedding).
    pub fn resolve_with(
        &self,
        signal: Signal,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<OtlpConfig, ConfigError> {
        config::resolve(&self.opts, signal, &env)
    }

    /// Resolves the settings for `signal` and starts a client: the building block of every
    /// signal's exporter.
    #[cfg(any(feature = "grpc", feature = "http"))]
    pub fn build_client(&self, signal: Signal) -> Result<OtlpClient, ConfigError> {
        OtlpClient::new(self.resolve(signal)?)
    }
}

/// Checks that the TLS files hold what they should, so that a bad file is a build error and
/// not a failure at the first export.
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) fn check_pem(config: &OtlpConfig) -> Result<(), ConfigError> {
    use crate::error::ConfigErrorKind;
    let bad = |setting: &'static str, reason: &str| {
        ConfigError::new(ConfigErrorKind::Invalid, setting, "<PEM file>", reason)
    };
    if let Some(ca) = &config.tls.ca_pem {
        let n = rustls_pemfile::certs(&mut ca.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("OTEL_EXPORTER_OTLP_CERTIFICATE", &e.to_string()))?
            .len();
        if n == 0 {
            return Err(bad(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "no certificate in the file",
            ));
        }
    }
    if let Some(c) = &config.tls.client_cert_pem {
        let n = rustls_pemfile::certs(&mut c.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &e.to_string()))?
            .len();
        if n == 0 {
            return Err(bad(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                "no certificate in the file",
            ));
        }
    }
    if let Some(k) = &config.tls.client_key_pem {
        match rustls_pemfile::private_key(&mut k.as_slice()) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(bad(
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                    "no private key in the file",
                ))
            }
            Err(e) => return Err(bad("OTEL_EXPORTER_OTLP_CLIENT_KEY", &e.to_string())),
        }
    }
    Ok(())
}

/// One attempt's outcome, from a transport.
#[cfg(any(feature = "grpc", feature = "http"))]
pub(crate) enum Attempt {
    /// Accepted; the response message's bytes.
    Done(bytes::Bytes),
    /// Failed: whether to retry, and why.
    Failed(retry::Verdict, String),
}

/// The transport of a client.
#[cfg(any(feature = "grpc", feature = "http"))]
#[derive(Clone)]
pub(crate) enum Sender {
    #[cfg(feature = "grpc")]
    Grpc(grpc::GrpcSender),
    #[cfg(feature = "http")]
    Http(http::HttpSender),
}

#[cfg(any(feature = "grpc", feature = "http"))]
impl Sender {
    /// Builds the transport; runs on the export thread's runtime.
    pub(crate) fn new(config: &OtlpConfig) -> Result<Self, ConfigError> {
        match config.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => grpc::GrpcSender::new(config).map(Sender::Grpc),
            #[cfg(feature = "http")]
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                http::HttpSender::new(config).map(Sender::Http)
            }
            #[allow(unreachable_patterns)]
            other => Err(ConfigError::new(
                crate::error::ConfigErrorKind::Unsupported,
                "protocol",
                other.as_str(),
                "not compiled in",
            )),
        }
    }

    pub(crate) async fn send(&self, body: bytes::Bytes, timeout: Duration) -> Attempt {
        match self {
            #[cfg(feature = "grpc")]
            Sender::Grpc(s) => s.send(body, timeout).await,
            #[cfg(feature = "http")]
            Sender::Http(s) => s.send(body, timeout).await,
        }
    }
}

#[cfg(any(feature = "grpc", feature = "http"))]
mod log_exporter;
#[cfg(any(feature = "grpc", feature = "http"))]
mod wire;
#[cfg(any(feature = "grpc", feature = "http"))]
pub use log_exporter::OtlpLogExporter;
#[cfg(any(feature = "grpc", feature = "http"))]
mod metric_exporter;
#[cfg(any(feature = "grpc", feature = "http"))]
pub use metric_exporter::OtlpMetricExporter;
#[cfg(any(feature = "grpc", feature = "http"))]
mod span_exporter;
#[cfg(any(feature = "grpc", feature = "http"))]
pub use span_exporter::OtlpSpanExporter;

/// Appends the OTLP protobuf bytes of an `ExportTraceServiceRequest` holding `spans` under
/// `resource` to `buf`: what [`OtlpSpanExporter`] sends, written straight from the records.
/// The bytes are exactly those of `encode_spans(resource, spans).encode_to_vec()` (prost's
/// encoding of the same request), without building the request's structs first; nothing is
/// appended for an empty batch.
///
/// ```
/// use otlp_sdk::export::otlp::{encode_spans, encode_spans_to_protobuf};
/// use otlp_sdk::export::InMemorySpanExporter;
/// use otlp_sdk::trace::TracerProvider;
/// use prost::Message;
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = TracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// provider.tracer("demo").start("work").end();
/// let spans = exporter.finished_spans();
/// let boxed: Vec<_> = spans.iter().cloned().map(Box::new).collect();
/// let mut bytes = Vec::new();
/// encode_spans_to_protobuf(provider.resource(), &boxed, &mut bytes);
/// assert_eq!(bytes, encode_spans(provider.resource(), &spans).encode_to_vec());
/// ```
#[cfg(any(feature = "grpc", feature = "http"))]
pub fn encode_spans_to_protobuf(
    resource: &crate::resource::Resource,
    spans: &[Box<crate::trace::SpanData>],
    buf: &mut Vec<u8>,
) {
    wire::encode_trace_request(resource, spans, buf);
}

/// Encodes spans into an OTLP trace request as the exporter does (for tests and benchmarks).
pub fn encode_spans(
    resource: &crate::resource::Resource,
    spans: &[crate::trace::SpanData],
) -> crate::proto::collector::trace::v1::ExportTraceServiceRequest {
    encode::traces_request(
        &encode::resource(resource),
        resource.schema_url().unwrap_or_default(),
        spans,
    )
}
