//! OTLP/gRPC with tonic: a few lazily connected channels, the request bytes already encoded
//! (a pass-through codec), gRPC statuses mapped to retry verdicts.
//!
//! A request goes out on the connection with the fewest requests in flight (the first one
//! on a tie), so one request at a time uses one connection, and concurrent requests get a
//! connection each, up to [`CONNECTIONS`], the way an HTTP/1.1 client's pool would. A
//! collector reads each HTTP/2 connection's frames in one task; spreading large concurrent
//! requests over several lets it read them on several cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::config::{Compression, OtlpConfig};
use super::retry::{grpc_verdict, rpc, Verdict};
use super::Attempt;
use crate::error::{ConfigError, ConfigErrorKind};

/// The most connections one exporter opens to its collector.
const CONNECTIONS: usize = 4;

/// One connection to the collector and the requests in flight on it.
struct Lane {
    grpc: tonic::client::Grpc<Channel>,
    in_flight: AtomicUsize,
}

/// Counts a request on its lane while it is in flight.
struct InFlight<'a>(&'a Lane);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub(crate) struct GrpcSender {
    lanes: Arc<[Lane; CONNECTIONS]>,
    path: http::uri::PathAndQuery,
    metadata: MetadataMap,
}

impl GrpcSender {
    /// Builds the channels (each connected lazily, on its first request). Must run inside
    /// the export thread's runtime.
    pub(crate) fn new(config: &OtlpConfig) -> Result<Self, ConfigError> {
        let invalid = |reason: String| {
            ConfigError::new(
                ConfigErrorKind::Invalid,
                "endpoint",
                config.endpoint.clone(),
                reason,
            )
        };
        let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true);
        if config.endpoint.starts_with("https") {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &config.tls.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let (Some(c), Some(k)) = (&config.tls.client_cert_pem, &config.tls.client_key_pem) {
                tls = tls.identity(Identity::from_pem(c, k));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| invalid(format!("TLS: {e}")))?;
        }
        let lanes = Arc::new(std::array::from_fn(|_| {
            let mut grpc = tonic::client::Grpc::new(endpoint.connect_lazy());
            if config.compression == Compression::Gzip {
                grpc = grpc
                    .send_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Gzip);
            }
            Lane {
                grpc,
                in_flight: AtomicUsize::new(0),
            }
        }));
        let mut metadata = MetadataMap::new();
        for (k, v) in &config.headers {
            let bad = || {
                ConfigError::redacted(
                    ConfigErrorKind::Invalid,
                    "headers",
                    format!("header {k:?} is not valid gRPC metadata"),
                )
            };
            let key =
                MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
            let value = MetadataValue::try_from(v.as_str()).map_err(|_| bad())?;
            metadata.insert(key, value);
        }
        Ok(GrpcSender {
            lanes,
            path: http::uri::PathAndQuery::from_static(config.signal.grpc_path()),
            metadata,
        })
    }

    /// The lane for the next request: the one with the fewest requests in flight, the
    /// first on a tie.
    fn lane(&self) -> InFlight<'_> {
        let load = |l: &Lane| l.in_flight.load(Ordering::Relaxed);
        let mut lane = &self.lanes[0];
        for l in &self.lanes[1..] {
            if load(l) < load(lane) {
                lane = l;
            }
        }
        lane.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(lane)
    }

    pub(crate) async fn send(&self, body: Bytes, timeout: Duration) -> Attempt {
        let lane = self.lane();
        let mut grpc = lane.0.grpc.clone();
        if let Err(e) = grpc.ready().await {
            return Attempt::Failed(Verdict::Retry(None), format!("gRPC connection: {e}"));
        }
        let mut req = tonic::Request::new(body);
        *req.metadata_mut() = self.metadata.clone();
        req.set_timeout(timeout);
        match grpc.unary(req, self.path.clone(), RawCodec).await {
            Ok(resp) => Attempt::Done(resp.into_inner()),
            Err(status) => {
                let delay = rpc::retry_delay(status.details());
                Attempt::Failed(
                    grpc_verdict(status.code() as i32, delay),
                    format!("gRPC status {:?}: {}", status.code(), status.message()),
                )
            }
        }
    }
}

/// Sends pre-encoded message bytes and returns the response message's bytes undecoded.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

#[derive(Clone, Copy, Debug, Default)]
struct RawEncoder;

#[derive(Clone, Copy, Debug, Default)]
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}
