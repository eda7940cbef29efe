//! Exporter settings: builder values merged over the `OTEL_EXPORTER_OTLP_*` environment
//! variables, resolved per signal into an [`OtlpConfig`].
//!
//! Precedence, for each setting: builder value, then the signal's variable
//! (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`), then the general one (`OTEL_EXPORTER_OTLP_TIMEOUT`),
//! then the default. Headers from the builder are added to the environment's, replacing
//! those with the same name.

use std::fmt;
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind};

/// The telemetry signal an exporter sends: selects the HTTP path, the gRPC service and the
/// per-signal environment variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans: `/v1/traces`, `TraceService`, `OTEL_EXPORTER_OTLP_TRACES_*`.
    Traces,
    /// Metric points: `/v1/metrics`, `MetricsService`, `OTEL_EXPORTER_OTLP_METRICS_*`.
    Metrics,
    /// Log records: `/v1/logs`, `LogsService`, `OTEL_EXPORTER_OTLP_LOGS_*`.
    Logs,
}

impl Signal {
    /// The path appended to a base HTTP endpoint (`/v1/traces`...).
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The gRPC method path of the collector service's `Export` call.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }

    /// The signal's infix in environment variable names (`TRACES`...).
    pub fn env_name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// What the items of this signal are called in messages (`spans`...).
    pub(crate) fn items(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
            Signal::Logs => "log records",
        }
    }
}

/// The OTLP transport and encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`), default port 4317. Needs the `grpc` feature.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`), default port 4318; the default.
    /// Needs the `http` feature.
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`http/json`), default port 4318. Needs the `http` feature.
    HttpJson,
}

impl Protocol {
    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling (`grpc`, `http/protobuf`,
    /// `http/json`), in any case.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            _ => None,
        }
    }

    /// The environment variable spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    /// `true` for the two HTTP protocols.
    pub fn is_http(self) -> bool {
        !matches!(self, Protocol::Grpc)
    }

    /// Whether this build has the protocol's exporter (its cargo feature).
    fn supported(self) -> bool {
        const GRPC: bool = cfg!(feature = "grpc");
        const HTTP: bool = cfg!(feature = "http");
        if self.is_http() {
            HTTP
        } else {
            GRPC
        }
    }
}

/// Compression of request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// gzip (`Content-Encoding: gzip` / `grpc-encoding: gzip`).
    Gzip,
}

/// TLS files, as given (paths) and as read (PEM contents).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) client_cert_pem: Option<Vec<u8>>,
    pub(crate) client_key_pem: Option<Vec<u8>>,
}

/// The settings given to a builder; `None` means "from the environment or the default".
#[derive(Clone, Default)]
pub(crate) struct Options {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) ca_file: Option<String>,
    pub(crate) client_cert_file: Option<String>,
    pub(crate) client_key_file: Option<String>,
    pub(crate) insecure: Option<bool>,
    pub(crate) retry: Option<super::retry::RetryPolicy>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("endpoint", &self.endpoint.as_deref().map(redact_userinfo))
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// Shows header names only: values are secrets (API keys).
struct HeaderNames<'a>(&'a [(String, String)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "<redacted>")))
            .finish()
    }
}

/// The default export timeout (10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest export timeout (a year): longer settings are clamped to it.
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Fully resolved settings of one signal's exporter. `Debug` never shows header values.
#[derive(Clone)]
pub struct OtlpConfig {
    pub(crate) signal: Signal,
    pub(crate) endpoint: String,
    pub(crate) protocol: Protocol,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
    pub(crate) tls: TlsFiles,
    pub(crate) retry: super::retry::RetryPolicy,
}

impl OtlpConfig {
    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }
    /// The URL requests go to (for HTTP, including the signal path).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
    /// The export timeout (for one whole export, retries included).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
    /// The compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }
    /// The names of the headers sent (values are secrets and are not exposed).
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(k, _)| k.as_str())
    }
    /// `true` when `name` is sent with exactly `value` (for tests; never reveals a value).
    pub fn has_header(&self, name: &str, value: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(name) && v == value)
    }
    /// `true` when a custom CA certificate is configured.
    pub fn has_ca_certificate(&self) -> bool {
        self.tls.ca_pem.is_some()
    }
    /// `true` when a client certificate (mTLS) is configured.
    pub fn has_client_certificate(&self) -> bool {
        self.tls.client_cert_pem.is_some()
    }
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("signal", &self.signal)
            .field("endpoint", &redact_userinfo(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("ca_certificate", &self.tls.ca_pem.is_some())
            .field("client_certificate", &self.tls.client_cert_pem.is_some())
            .finish()
    }
}

/// Looks environment variables up; [`std_env`] reads the process environment.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, trimmed, empty values as unset.
pub(crate) fn std_env(name: &str) -> Option<String> {
    crate::env::var(name)
}

struct Vars<'a> {
    signal: Signal,
    lookup: Lookup<'a>,
}

impl Vars<'_> {
    /// The signal's variable `OTEL_EXPORTER_OTLP_<SIGNAL>_<what>` if set, else the general
    /// one; returns the name that was used, for errors.
    fn get(&self, what: &str) -> Option<(String, String)> {
        let specific = format!("OTEL_EXPORTER_OTLP_{}_{what}", self.signal.env_name());
        if let Some(v) = self.non_empty(&specific) {
            return Some((specific, v));
        }
        let general = format!("OTEL_EXPORTER_OTLP_{what}");
        self.non_empty(&general).map(|v| (general, v))
    }

    fn non_empty(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Resolves `opts` for `signal`, reading variables through `lookup`.
pub(crate) fn resolve(
    opts: &Options,
    signal: Signal,
    lookup: Lookup<'_>,
) -> Result<OtlpConfig, ConfigError> {
    let vars = Vars { signal, lookup };

    let protocol = match opts.protocol {
        Some(p) => p,
        None => match vars.get("PROTOCOL") {
            None => Protocol::default(),
            Some((name, v)) => Protocol::parse(&v).unwrap_or_else(|| {
                ignored(&name, &v, "expected grpc, http/protobuf or http/json");
                Protocol::default()
            }),
        },
    };
    if !protocol.supported() {
        let feature = if protocol.is_http() { "http" } else { "grpc" };
        return Err(ConfigError::new(
            ConfigErrorKind::Unsupported,
            "protocol",
            protocol.as_str(),
            format!("otlp-sdk was built without the `{feature}` feature"),
        ));
    }

    let insecure = match opts.insecure {
        Some(b) => b,
        None => match vars.get("INSECURE") {
            None => false,
            // The specification: only "true" is true; anything else is false (and reported
            // unless it is "false").
            Some((name, v)) => match parse_bool(&v) {
                Some(b) => b,
                None => {
                    ignored(&name, &v, "expected true or false; read as false");
                    false
                }
            },
        },
    };

    let endpoint = resolve_endpoint(opts, &vars, protocol, insecure)?;

    let timeout = match opts.timeout {
        Some(t) if t.is_zero() => {
            return Err(ConfigError::new(
                ConfigErrorKind::OutOfRange,
                "with_timeout",
                "0",
                "the timeout must be positive",
            ))
        }
        Some(t) => t,
        None => match vars.get("TIMEOUT") {
            None => DEFAULT_TIMEOUT,
            Some((name, v)) => match v.parse::<u64>() {
                // The specification: a zero timeout means no limit.
                Ok(0) => MAX_TIMEOUT,
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => {
                    ignored(
                        &name,
                        &v,
                        "expected a positive whole number of milliseconds",
                    );
                    DEFAULT_TIMEOUT
                }
            },
        },
    };
    // Deadlines are computed as `now + timeout`: an absurd timeout (`Duration::MAX`) would
    // overflow them. A year is "forever" for an export.
    let timeout = timeout.min(MAX_TIMEOUT);

    let compression = match opts.compression {
        Some(c) => c,
        None => match vars.get("COMPRESSION") {
            None => Compression::None,
            Some((name, v)) => match v.to_ascii_lowercase().as_str() {
                "gzip" => Compression::Gzip,
                "none" => Compression::None,
                _ => {
                    ignored(&name, &v, "expected gzip or none");
                    Compression::None
                }
            },
        },
    };

    let mut headers = match vars.get("HEADERS") {
        None => Vec::new(),
        Some((name, v)) => parse_headers(&v)
            .map_err(|reason| ConfigError::redacted(ConfigErrorKind::Invalid, name, reason))?,
    };
    for (k, v) in &opts.headers {
        validate_header(k, v).map_err(|reason| {
            ConfigError::redacted(ConfigErrorKind::Invalid, "with_headers", reason)
        })?;
        match headers
            .iter_mut()
            .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
        {
            Some(slot) => slot.1 = v.clone(),
            None => headers.push((k.clone(), v.clone())),
        }
    }

    let tls = TlsFiles {
        ca_pem: read_file(&opts.ca_file, "with_tls_ca_file", &vars, "CERTIFICATE")?,
        client_cert_pem: read_file(
            &opts.client_cert_file,
            "with_tls_client_cert",
            &vars,
            "CLIENT_CERTIFICATE",
        )?,
        client_key_pem: read_file(
            &opts.client_key_file,
            "with_tls_client_cert",
            &vars,
            "CLIENT_KEY",
        )?,
    };
    if tls.client_cert_pem.is_some() != tls.client_key_pem.is_some() {
        return Err(ConfigError::new(
            ConfigErrorKind::Invalid,
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            if tls.client_cert_pem.is_some() {
                "certificate without key"
            } else {
                "key without certificate"
            },
            "a client certificate and its key must be given together",
        ));
    }

    Ok(OtlpConfig {
        signal,
        endpoint,
        protocol,
        headers,
        timeout,
        compression,
        tls,
        retry: opts.retry.clone().unwrap_or_default(),
    })
}

/// Reports a variable whose value is not understood, which is then ignored: the
/// specification wants unknown enum values, non-true booleans and bad numbers read this way
/// (warned about, never a failure). Values given to the builder are typed errors instead.
fn ignored(name: &str, value: &str, reason: &str) {
    crate::diagnostics::report(&format!("{name}={value:?} ignored: {reason}"));
}

/// `url` with any user information (`user:password@`) replaced by `***`, for Debug output and
/// error messages: credentials in an endpoint are secrets, like header values.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        // No scheme (a gRPC `host:port`): user information can still precede an `@`.
        return match url.split('/').next().and_then(|auth| auth.rfind('@')) {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_string(),
        };
    };
    let auth_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    match url[start..auth_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

fn resolve_endpoint(
    opts: &Options,
    vars: &Vars<'_>,
    protocol: Protocol,
    insecure: bool,
) -> Result<String, ConfigError> {
    // A builder endpoint or a signal-specific variable is used as is; the general base
    // endpoint gets the signal path for HTTP.
    let specific = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", vars.signal.env_name());
    let (setting, raw, as_is) = if let Some(e) = &opts.endpoint {
        ("with_endpoint".to_string(), e.trim().to_string(), true)
    } else if let Some(v) = vars.non_empty(&specific) {
        (specific, v, true)
    } else if let Some(v) = vars.non_empty("OTEL_EXPORTER_OTLP_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), v, false)
    } else {
        let base = if protocol.is_http() {
            "http://localhost:4318"
        } else {
            "http://localhost:4317"
        };
        ("default".to_string(), base.to_string(), false)
    };
    let invalid = |reason: &str| {
        ConfigError::new(
            ConfigErrorKind::Invalid,
            setting.clone(),
            redact_userinfo(&raw),
            reason,
        )
    };
    let url = match parse_url(&raw) {
        Ok(u) => u,
        // gRPC endpoints may omit the scheme: then TLS is used unless insecure.
        Err(UrlError::NoScheme) if !protocol.is_http() => {
            let with_scheme = format!("{}://{raw}", if insecure { "http" } else { "https" });
            parse_url(&with_scheme).map_err(|e| invalid(e.reason()))?
        }
        Err(e) => return Err(invalid(e.reason())),
    };
    if !protocol.is_http() || as_is {
        return Ok(url.full);
    }
    // The signal path goes at the end of the path, before any query.
    let (head, query) = url
        .full
        .split_at(url.full.find(['?', '#']).unwrap_or(url.full.len()));
    let base = head.trim_end_matches('/');
    Ok(format!("{base}{}{query}", vars.signal.http_path()))
}

struct Url {
    full: String,
}

#[derive(Debug)]
enum UrlError {
    NoScheme,
    BadScheme,
    NoHost,
    BadPort,
    BadChar,
}

impl UrlError {
    fn reason(&self) -> &'static str {
        match self {
            UrlError::NoScheme => "expected a URL such as http://localhost:4318",
            UrlError::BadScheme => "the scheme must be http or https",
            UrlError::NoHost => "the URL has no host",
            UrlError::BadPort => "the port is not a number from 1 to 65535",
            UrlError::BadChar => "the URL contains whitespace or control characters",
        }
    }
}

/// A strict check of `scheme://host[:port][/path]`.
fn parse_url(s: &str) -> Result<Url, UrlError> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::BadChar);
    }
    let (scheme, rest) = s.split_once("://").ok_or(UrlError::NoScheme)?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(if scheme.contains(['/', '.', ':']) {
            UrlError::NoScheme
        } else {
            UrlError::BadScheme
        });
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        let (h, tail) = after.split_once(']').ok_or(UrlError::NoHost)?;
        (h, tail.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(UrlError::BadPort),
        }
    }
    // The scheme in lower case: the transports compare it (`HTTPS://` is https too).
    Ok(Url {
        full: format!("{}://{rest}", scheme.to_ascii_lowercase()),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS`: `key1=value1,key2=value2`, values percent-decoded.
/// The error never contains a value.
pub(crate) fn parse_headers(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, item) in raw.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("entry {} has no '='", i + 1));
        };
        let key = k.trim().to_string();
        let value = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| format!("the value of entry {} is not UTF-8 once decoded", i + 1))?
            .into_owned();
        validate_header(&key, &value)?;
        match out.iter_mut().find(|(hk, _)| hk.eq_ignore_ascii_case(&key)) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

/// Header names are RFC 9110 tokens; values are visible ASCII, spaces and tabs.
fn validate_header(key: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || !key.chars().all(token) {
        // The name is not shown: a malformed entry may hold a secret.
        return Err("a header name is empty or not a valid HTTP header name".to_string());
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(format!(
            "the value of header {key:?} has characters not allowed in HTTP"
        ));
    }
    Ok(())
}

fn read_file(
    given: &Option<String>,
    builder_setting: &'static str,
    vars: &Vars<'_>,
    what: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let (setting, path) = match given {
        Some(p) => (builder_setting.to_string(), p.clone()),
        None => match vars.get(what) {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    match std::fs::read(&path) {
        Ok(bytes) if looks_like_pem(&bytes) => Ok(Some(bytes)),
        Ok(_) => Err(ConfigError::new(
            ConfigErrorKind::Invalid,
            setting,
            path,
            "the file is not PEM (no -----BEGIN line)",
        )),
        Err(e) => Err(ConfigError::new(
            ConfigErrorKind::Unreadable,
            setting,
            path,
            e.to_string(),
        )),
    }
}

fn looks_like_pem(b: &[u8]) -> bool {
    b.windows(11).any(|w| w == b"-----BEGIN ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("http://localhost:4318").is_ok());
        assert!(parse_url("https://[::1]:4317/x").is_ok());
        assert!(matches!(
            parse_url("localhost:4317"),
            Err(UrlError::NoScheme)
        ));
        assert!(matches!(parse_url("ftp://x"), Err(UrlError::BadScheme)));
        assert!(matches!(parse_url("http://:80"), Err(UrlError::NoHost)));
        assert!(matches!(
            parse_url("http://h:99999"),
            Err(UrlError::BadPort)
        ));
        assert!(matches!(parse_url("http://h :1"), Err(UrlError::BadChar)));
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_headers("a=b, api-key = x%20y ,,a=c").unwrap(),
            vec![("a".into(), "c".into()), ("api-key".into(), "x y".into())]
        );
        let e = parse_headers("secret=s3cr3t,broken").unwrap_err();
        assert!(!e.contains("s3cr3t"));
        assert!(parse_headers("bad key=v").is_err());
        assert!(parse_headers("k=%0A").is_err());
    }
}
