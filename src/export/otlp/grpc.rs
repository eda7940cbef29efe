//! OTLP/gRPC over tonic's channels: a few lazily connected HTTP/2 connections, the request
//! already encoded, gRPC statuses mapped to retry verdicts.
//!
//! A unary call is made here on the channel, rather than through `tonic::client::Grpc`: its
//! codec must copy a message into a buffer of its own, grown for each request, so every
//! 1-2 MB request cost a fresh allocation, its page faults and a copy. Here the encoded
//! bytes become the HTTP/2 body as they are, after the 5-byte gRPC frame header. The
//! response follows the gRPC over HTTP/2 protocol as tonic reads it: a `grpc-status` in the
//! headers (trailers-only) or the trailers, else one inferred from the HTTP status.
//!
//! A request goes out on the connection with the fewest requests in flight (the first one
//! on a tie), so one request at a time uses one connection, and concurrent requests get a
//! connection each, up to [`CONNECTIONS`], the way an HTTP/1.1 client's pool would. A
//! collector reads each HTTP/2 connection's frames in one task; spreading large concurrent
//! requests over several lets it read them on several cores.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderValue, CONTENT_TYPE, TE};
use http_body::{Body as _, Frame, SizeHint};
use tonic::codegen::Service;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

use super::config::{Compression, OtlpConfig};
use super::retry::{grpc_verdict, rpc, Verdict};
use super::Attempt;
use crate::error::{ConfigError, ConfigErrorKind};

/// The most connections one exporter opens to its collector.
const CONNECTIONS: usize = 4;

/// One connection to the collector and the requests in flight on it.
struct Lane {
    channel: Channel,
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
    /// The request headers: the configured metadata and gRPC's own.
    headers: http::HeaderMap,
    /// Bodies arrive gzip-compressed (see `OtlpClient::submit`).
    gzip: bool,
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
            .tcp_nodelay(true)
            .user_agent(super::USER_AGENT)
            .map_err(|e| invalid(e.to_string()))?;
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
        let lanes = Arc::new(std::array::from_fn(|_| Lane {
            channel: endpoint.connect_lazy(),
            in_flight: AtomicUsize::new(0),
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
        let gzip = config.compression == Compression::Gzip;
        let mut headers = metadata.into_headers();
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        if gzip {
            headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
            headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
        }
        Ok(GrpcSender {
            lanes,
            path: http::uri::PathAndQuery::from_static(config.signal.grpc_path()),
            headers,
            gzip,
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

    /// One unary call with `body`, the encoded request (gzip-compressed when so
    /// configured). Returns the response message's bytes.
    pub(crate) async fn send(&self, body: Bytes, timeout: Duration) -> Attempt {
        let lane = self.lane();
        let mut channel = lane.0.channel.clone();
        if let Err(e) = poll_fn(|cx| channel.poll_ready(cx)).await {
            return Attempt::Failed(Verdict::Retry(None), format!("gRPC connection: {e}"));
        }
        let Ok(len) = u32::try_from(body.len()) else {
            return Attempt::Failed(Verdict::Fail, "gRPC message over 4 GiB".into());
        };
        let mut prefix = [0u8; 5];
        prefix[0] = u8::from(self.gzip);
        prefix[1..].copy_from_slice(&len.to_be_bytes());
        let mut req = http::Request::new(tonic::body::Body::new(Framed {
            prefix: Some(Bytes::copy_from_slice(&prefix)),
            message: Some(body),
        }));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = http::Uri::from(self.path.clone());
        *req.version_mut() = http::Version::HTTP_2;
        *req.headers_mut() = self.headers.clone();
        req.headers_mut()
            .insert("grpc-timeout", grpc_timeout(timeout));
        let status = match channel.call(req).await {
            Ok(resp) => read_response(resp, self.gzip).await,
            Err(e) => Err(Status::unavailable(format!("gRPC transport: {e}"))),
        };
        match status {
            Ok(message) => Attempt::Done(message),
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

/// A `grpc-timeout` header value: the time in milliseconds (at most 8 digits, as the
/// protocol requires; longer timeouts are sent in seconds).
fn grpc_timeout(timeout: Duration) -> HeaderValue {
    let ms = timeout.as_millis();
    let text = if ms < 100_000_000 {
        format!("{ms}m")
    } else {
        format!("{}S", timeout.as_secs().min(99_999_999))
    };
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("99999999S"))
}

/// The request body: the gRPC frame header, then the message, each sent as it is.
struct Framed {
    prefix: Option<Bytes>,
    message: Option<Bytes>,
}

impl http_body::Body for Framed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let next = self.prefix.take().or_else(|| self.message.take());
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.message.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let n = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        SizeHint::with_exact(n(&self.prefix) + n(&self.message))
    }
}

/// The largest response message read (tonic's default decoding limit): an export response
/// holds at most a partial-success count and message.
const MAX_RESPONSE: usize = 4 << 20;

/// Reads a unary response: its message (decompressed) when the call succeeded, else its
/// status.
async fn read_response(
    resp: http::Response<tonic::body::Body>,
    gzip: bool,
) -> Result<Bytes, Status> {
    let (parts, mut body) = resp.into_parts();
    // Trailers-only: the status is in the headers, and there is no message.
    if let Some(status) = status_from_headers(&parts.headers) {
        return match status.code() {
            Code::Ok => Ok(Bytes::new()),
            _ => Err(status),
        };
    }
    let mut data = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| Status::unavailable(format!("gRPC response: {e}")))?;
        match frame.into_data() {
            Ok(d) => {
                if data.len() + d.len() > MAX_RESPONSE + 5 {
                    // Delivered, but the reply is unreadable: not worth a retry (which would
                    // deliver the spans again).
                    return Err(Status::resource_exhausted(format!(
                        "gRPC response over the {MAX_RESPONSE}-byte limit"
                    )));
                }
                data.extend_from_slice(&d)
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    match trailers.as_ref().and_then(status_from_headers) {
        Some(status) if status.code() == Code::Ok => {}
        Some(status) => return Err(status),
        None => return Err(status_from_http(parts.status)),
    }
    let compressed = parts
        .headers
        .get("grpc-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    message(data.freeze(), compressed && gzip)
}

/// The gRPC status in `headers`, if any. Status details that are not valid base64 are left
/// out (tonic's own reading panics on them, and the server decides what they hold).
fn status_from_headers(headers: &http::HeaderMap) -> Option<Status> {
    use base64::Engine as _;
    const DETAILS: &str = "grpc-status-details-bin";
    // The engine tonic decodes them with: standard alphabet, padding optional.
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    match headers.get(DETAILS) {
        Some(d) if ENGINE.decode(d.as_bytes()).is_err() => {
            let mut clean = headers.clone();
            clean.remove(DETAILS);
            Status::from_header_map(&clean)
        }
        _ => Status::from_header_map(headers),
    }
}

/// The gRPC status for a response without one, from its HTTP status (the mapping of
/// gRPC's `http-grpc-status-mapping.md`, as tonic applies it).
fn status_from_http(status: http::StatusCode) -> Status {
    use http::StatusCode as H;
    let code = match status {
        H::BAD_REQUEST => Code::Internal,
        H::UNAUTHORIZED => Code::Unauthenticated,
        H::FORBIDDEN => Code::PermissionDenied,
        H::NOT_FOUND => Code::Unimplemented,
        H::TOO_MANY_REQUESTS | H::BAD_GATEWAY | H::SERVICE_UNAVAILABLE | H::GATEWAY_TIMEOUT => {
            Code::Unavailable
        }
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!("no grpc-status in the response (HTTP {status})"),
    )
}

/// The message of a unary response body: one length-prefixed frame (none for an empty
/// message).
fn message(mut data: Bytes, gzip: bool) -> Result<Bytes, Status> {
    if data.is_empty() {
        return Ok(data);
    }
    let bad = |what: &str| Status::internal(format!("gRPC response: {what}"));
    if data.len() < 5 {
        return Err(bad("truncated frame header"));
    }
    let flag = data.get_u8();
    let len = data.get_u32() as usize;
    if data.len() < len {
        return Err(bad("truncated message"));
    }
    let msg = data.split_to(len);
    match flag {
        0 => Ok(msg),
        1 if gzip => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&msg[..])
                .read_to_end(&mut out)
                .map_err(|e| bad(&format!("gzip: {e}")))?;
            Ok(Bytes::from(out))
        }
        _ => Err(bad("compressed message without a negotiated encoding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_with_details_that_are_not_base64_is_read_without_them() {
        // tonic's own reading panics on such details; the server controls them.
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", "14".parse().unwrap());
        h.insert("grpc-message", "busy".parse().unwrap());
        h.insert("grpc-status-details-bin", "%%%".parse().unwrap());
        let status = status_from_headers(&h).expect("a status");
        assert_eq!(status.code(), Code::Unavailable, "still retryable");
        assert_eq!(status.message(), "busy");
        assert!(status.details().is_empty());
        // Valid details are kept, padded or not.
        for details in ["CAg=", "CAg"] {
            h.insert("grpc-status-details-bin", details.parse().unwrap());
            assert_eq!(status_from_headers(&h).unwrap().details(), &[8u8, 8][..]);
        }
    }

    fn frame(flag: u8, msg: &[u8]) -> Bytes {
        let mut b = vec![flag];
        b.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        b.extend_from_slice(msg);
        Bytes::from(b)
    }

    #[test]
    fn the_request_body_is_the_frame_header_then_the_message_as_given() {
        let message = Bytes::from_static(b"encoded request");
        let mut body = Framed {
            prefix: Some(Bytes::from_static(&[0, 0, 0, 0, 15])),
            message: Some(message.clone()),
        };
        assert_eq!(body.size_hint().exact(), Some(20));
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut chunks = Vec::new();
        while let Poll::Ready(Some(Ok(f))) = Pin::new(&mut body).poll_frame(&mut cx) {
            chunks.push(f.into_data().unwrap());
        }
        assert!(body.is_end_stream());
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1].as_ptr(),
            message.as_ptr(),
            "the message is not copied"
        );
    }

    #[test]
    fn response_messages_are_unframed_and_decompressed() {
        assert_eq!(message(frame(0, b"abc"), false).unwrap(), &b"abc"[..]);
        assert_eq!(message(Bytes::new(), false).unwrap(), &b""[..]);
        let gz = super::super::transport::gzip(b"partial").unwrap();
        assert_eq!(message(frame(1, &gz), true).unwrap(), &b"partial"[..]);
        for (bad, gzip) in [
            (frame(1, &gz), false),
            (Bytes::from_static(&[0, 0, 0]), false),
            (Bytes::from_static(&[0, 0, 0, 0, 9, 1]), false),
        ] {
            assert_eq!(message(bad, gzip).unwrap_err().code(), Code::Internal);
        }
    }

    #[test]
    fn a_response_without_grpc_status_takes_it_from_the_http_status() {
        use http::StatusCode as H;
        for (http, code) in [
            (H::BAD_REQUEST, Code::Internal),
            (H::UNAUTHORIZED, Code::Unauthenticated),
            (H::FORBIDDEN, Code::PermissionDenied),
            (H::NOT_FOUND, Code::Unimplemented),
            (H::TOO_MANY_REQUESTS, Code::Unavailable),
            (H::SERVICE_UNAVAILABLE, Code::Unavailable),
            (H::GATEWAY_TIMEOUT, Code::Unavailable),
            (H::OK, Code::Unknown),
        ] {
            assert_eq!(status_from_http(http).code(), code, "{http}");
        }
    }

    #[test]
    fn timeouts_are_sent_in_milliseconds_within_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(1500)), "1500m");
        assert_eq!(grpc_timeout(Duration::from_secs(10)), "10000m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
        assert_eq!(grpc_timeout(Duration::MAX), "99999999S");
    }
}
