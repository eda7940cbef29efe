//! OTLP/HTTP with reqwest: protobuf or JSON bodies (already encoded and compressed by the
//! caller), HTTP statuses and `Retry-After` mapped to retry verdicts.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
};

use super::config::{Compression, OtlpConfig, Protocol};
use super::retry::{http_verdict, parse_retry_after, rpc, Verdict};
use super::Attempt;
use crate::error::{ConfigError, ConfigErrorKind};

#[derive(Clone)]
pub(crate) struct HttpSender {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
}

impl HttpSender {
    pub(crate) fn new(config: &OtlpConfig) -> Result<Self, ConfigError> {
        let tls_err = |setting: &'static str, e: reqwest::Error| {
            ConfigError::new(
                ConfigErrorKind::Invalid,
                setting,
                "<PEM file>",
                e.to_string(),
            )
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(super::USER_AGENT)
            .use_rustls_tls()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            // A redirect would turn the POST into a GET (301, 302) and could carry the
            // headers elsewhere: the endpoint is what it says, and a 3xx is a failure.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &config.tls.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| tls_err("OTEL_EXPORTER_OTLP_CERTIFICATE", e))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(c), Some(k)) = (&config.tls.client_cert_pem, &config.tls.client_key_pem) {
            let mut pem = c.clone();
            pem.push(b'\n');
            pem.extend_from_slice(k);
            let id = reqwest::Identity::from_pem(&pem)
                .map_err(|e| tls_err("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", e))?;
            builder = builder.identity(id);
        }
        let client = builder.build().map_err(|e| {
            ConfigError::new(ConfigErrorKind::Invalid, "http client", "", e.to_string())
        })?;
        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let bad = || {
                ConfigError::redacted(
                    ConfigErrorKind::Invalid,
                    "headers",
                    format!("header {k:?} is not a valid HTTP header"),
                )
            };
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(v).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let content_type = match config.protocol {
            Protocol::HttpJson => "application/json",
            _ => "application/x-protobuf",
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if config.compression == Compression::Gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(HttpSender {
            client,
            url: config.endpoint.clone(),
            headers,
        })
    }

    /// One attempt; the caller bounds it by the time left before the export deadline.
    pub(crate) async fn send(&self, body: Bytes, _timeout: Duration) -> Attempt {
        let resp = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                // Connection errors (refused, reset, DNS) are retryable.
                let verdict = if e.is_connect() || e.is_request() || e.is_timeout() {
                    Verdict::Retry(None)
                } else {
                    Verdict::Fail
                };
                // reqwest's message names the URL; drop it (it may hold credentials), the
                // endpoint is known to the user.
                let e = e.without_url();
                return Attempt::Failed(verdict, format!("HTTP request: {}", error_chain(&e)));
            }
        };
        let status = resp.status();
        if status.is_success() {
            return match read_limited(resp, MAX_RESPONSE_BODY).await {
                Ok(Some(b)) => Attempt::Done(b),
                Ok(None) => {
                    // The data was accepted; only the (oversized) reply is ignored.
                    crate::diagnostics::report(&format!(
                        "OTLP/HTTP exporter: success response body over {MAX_RESPONSE_BODY} bytes not read"
                    ));
                    Attempt::Done(Bytes::new())
                }
                Err(e) => {
                    // The data was accepted: sending it again would deliver it twice. Only
                    // the reply (a partial-success count, if any) is lost.
                    crate::diagnostics::report(&format!(
                        "OTLP/HTTP exporter: success response body not read: {e}"
                    ));
                    Attempt::Done(Bytes::new())
                }
            };
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let is_proto = resp
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
        let body = read_limited(resp, MAX_ERROR_BODY)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        Attempt::Failed(
            http_verdict(status.as_u16(), retry_after),
            format!("HTTP status {status}{}", describe_body(&body, is_proto)),
        )
    }
}

/// The largest success response read: an OTLP response is tiny (at most a partial-success
/// message), so a bigger body is a broken or hostile server and is not buffered.
const MAX_RESPONSE_BODY: usize = 4 << 20;

/// The largest error response body read (only its start is shown in the error).
const MAX_ERROR_BODY: usize = 64 << 10;

/// The body of `resp`, or `None` (without reading the rest) when it is longer than `limit`.
async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// A short description of an error response body: the `google.rpc.Status` message when the
/// body is one, else the start of the text.
fn describe_body(body: &[u8], is_proto: bool) -> String {
    use prost::Message;
    if body.is_empty() {
        return String::new();
    }
    if is_proto {
        if let Ok(s) = rpc::Status::decode(body) {
            return format!(": {}", s.message);
        }
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    format!(": {}", text.trim())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
