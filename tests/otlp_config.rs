//! OTLP exporter settings: builder values over `OTEL_EXPORTER_OTLP_*` variables over the
//! defaults, per signal, with typed errors. Variables are given through a lookup closure,
//! so no test touches the process environment (no races between tests).
#![cfg(all(feature = "grpc", feature = "http"))]

use std::collections::HashMap;
use std::time::Duration;

use otlp_sdk::export::otlp::{
    Compression, OtlpConfig, OtlpExporterBuilder, OtlpSpanExporter, Protocol, Signal,
};
use otlp_sdk::{ConfigError, ConfigErrorKind};

type Builder = OtlpExporterBuilder<OtlpSpanExporter>;
type Vars<'a> = &'a [(&'a str, &'a str)];

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn resolve(b: &Builder, signal: Signal, vars: &[(&str, &str)]) -> Result<OtlpConfig, ConfigError> {
    b.resolve_with(signal, env(vars))
}

fn ok(b: &Builder, signal: Signal, vars: &[(&str, &str)]) -> OtlpConfig {
    resolve(b, signal, vars).unwrap_or_else(|e| panic!("{vars:?}: {e}"))
}

fn cert(name: &str) -> String {
    format!("{}/tests/support/certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn defaults_follow_the_spec() {
    let c = ok(&Builder::default(), Signal::Traces, &[]);
    assert_eq!(c.protocol(), Protocol::HttpProtobuf);
    assert_eq!(c.endpoint(), "http://localhost:4318/v1/traces");
    assert_eq!(c.timeout(), Duration::from_secs(10));
    assert_eq!(c.compression(), Compression::None);
    assert_eq!(c.header_names().count(), 0);
    let g = ok(
        &Builder::default(),
        Signal::Traces,
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    assert_eq!(g.endpoint(), "http://localhost:4317");
}

#[test]
fn endpoint_rules_table() {
    let b = Builder::default();
    // (signal, vars, expected endpoint)
    let table: &[(Signal, Vars<'_>, &str)] = &[
        (
            Signal::Traces,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            "http://c:4318/v1/traces",
        ),
        (
            Signal::Metrics,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")],
            "http://c:4318/v1/metrics",
        ),
        (
            Signal::Logs,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/base")],
            "https://c/base/v1/logs",
        ),
        // A per-signal endpoint is used as is, and wins over the base.
        (
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1234/custom"),
            ],
            "http://t:1234/custom",
        ),
        // ... only for its own signal.
        (
            Signal::Logs,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1234/custom"),
            ],
            "http://base:4318/v1/logs",
        ),
        // gRPC: the base endpoint is used as is.
        (
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ],
            "http://c:4317",
        ),
        // gRPC without a scheme: TLS unless insecure.
        (
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"),
            ],
            "https://c:4317",
        ),
        (
            Signal::Metrics,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "c:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "true"),
            ],
            "http://c:4317",
        ),
    ];
    for (signal, vars, want) in table {
        assert_eq!(
            ok(&b, *signal, vars).endpoint(),
            *want,
            "{signal:?} {vars:?}"
        );
    }
    // The builder's endpoint wins and is used as is.
    let b = Builder::default().with_endpoint("http://mine:9/x");
    let c = ok(
        &b,
        Signal::Traces,
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/y")],
    );
    assert_eq!(c.endpoint(), "http://mine:9/x");
}

#[test]
fn per_signal_variables_override_general_ones_and_the_builder_wins() {
    let vars: &[(&str, &str)] = &[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "700"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
    ];
    let b = Builder::default();
    let t = ok(&b, Signal::Traces, vars);
    assert_eq!(
        (t.protocol(), t.timeout(), t.compression()),
        (
            Protocol::Grpc,
            Duration::from_millis(2500),
            Compression::Gzip
        )
    );
    let m = ok(&b, Signal::Metrics, vars);
    assert_eq!(
        (m.protocol(), m.compression()),
        (Protocol::HttpJson, Compression::None)
    );
    let l = ok(&b, Signal::Logs, vars);
    assert_eq!(l.timeout(), Duration::from_millis(700));

    let b = Builder::default()
        .with_protocol(Protocol::HttpProtobuf)
        .with_timeout(Duration::from_secs(3))
        .with_compression(Compression::None);
    let t = ok(&b, Signal::Traces, vars);
    assert_eq!(
        (t.protocol(), t.timeout(), t.compression()),
        (
            Protocol::HttpProtobuf,
            Duration::from_secs(3),
            Compression::None
        )
    );
}

#[test]
fn headers_merge_env_and_builder() {
    let vars: &[(&str, &str)] = &[
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general,x-a=1"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "api-key=traces%20key, x-b = 2",
        ),
    ];
    // The per-signal variable replaces the general one entirely.
    let t = ok(&Builder::default(), Signal::Traces, vars);
    assert!(t.has_header("api-key", "traces key"));
    assert!(t.has_header("x-b", "2"));
    assert!(!t.header_names().any(|h| h == "x-a"));
    let m = ok(&Builder::default(), Signal::Metrics, vars);
    assert!(m.has_header("api-key", "general") && m.has_header("x-a", "1"));
    // Builder headers replace same-named ones (case-insensitively) and add new ones.
    let b = Builder::default().with_headers([("API-KEY", "mine"), ("x-c", "3")]);
    let m = ok(&b, Signal::Metrics, vars);
    assert!(m.has_header("api-key", "mine"));
    assert!(m.has_header("x-a", "1") && m.has_header("x-c", "3"));
    assert_eq!(m.header_names().count(), 3);
    // Debug shows names, never values.
    let dbg = format!("{m:?}");
    assert!(dbg.contains("x-c") && !dbg.contains("mine") && !dbg.contains("general"));
}

#[test]
fn bad_endpoints_and_files_are_typed_errors_naming_the_variable_and_value() {
    let b = Builder::default();
    // (vars, signal, setting named, value shown, kind)
    let table: &[(Vars<'_>, &str, &str, ConfigErrorKind)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "localhost:4318",
            ConfigErrorKind::Invalid,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x")],
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://x",
            ConfigErrorKind::Invalid,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:99999")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://h:99999",
            ConfigErrorKind::Invalid,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/no/such/ca.pem",
            ConfigErrorKind::Unreadable,
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/no/key.pem")],
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            "/no/key.pem",
            ConfigErrorKind::Unreadable,
        ),
    ];
    for (vars, setting, value, kind) in table {
        let e = resolve(&b, Signal::Traces, vars).expect_err(setting);
        assert_eq!(
            (e.setting(), e.value(), e.kind()),
            (*setting, *value, *kind),
            "{e}"
        );
        assert!(e.to_string().contains(setting) && e.to_string().contains(value));
    }
    let e = Builder::default()
        .with_timeout(Duration::ZERO)
        .resolve_with(Signal::Traces, env(&[]))
        .unwrap_err();
    assert_eq!(
        (e.setting(), e.kind()),
        ("with_timeout", ConfigErrorKind::OutOfRange)
    );
    let e = Builder::default()
        .with_endpoint("not a url")
        .resolve_with(Signal::Traces, env(&[]))
        .unwrap_err();
    assert_eq!(e.setting(), "with_endpoint");
}

#[test]
fn malformed_headers_never_leak_their_values() {
    for raw in [
        "token=s3cret,broken",
        "bad key=s3cret",
        "k=s3cret%0A",
        "Authorization Bearer s3cret=x",
    ] {
        let e = resolve(
            &Builder::default(),
            Signal::Logs,
            &[("OTEL_EXPORTER_OTLP_HEADERS", raw)],
        )
        .unwrap_err();
        assert_eq!(e.setting(), "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
    }
    let e = Builder::default()
        .with_headers([("x", "line\nbreak-s3cret")])
        .resolve_with(Signal::Traces, env(&[]))
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("s3cret"));
}

#[test]
fn tls_files_are_read_and_checked() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", cert("ca.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert("client.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", cert("client.key")),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let c = ok(&Builder::default(), Signal::Traces, &vars);
    assert!(c.has_ca_certificate() && c.has_client_certificate());
    // A certificate without its key is an error.
    let e = resolve(&Builder::default(), Signal::Traces, &vars[..2]).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    // A file that is not PEM.
    let e = Builder::default()
        .with_tls_ca_file(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .resolve_with(Signal::Traces, env(&[]))
        .unwrap_err();
    assert_eq!(
        (e.setting(), e.kind()),
        ("with_tls_ca_file", ConfigErrorKind::Invalid)
    );
}

#[cfg(feature = "http")]
#[test]
fn build_rejects_pem_files_with_broken_contents() {
    let dir = std::env::temp_dir().join(format!("otlp-sdk-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let r = OtlpSpanExporter::builder().with_tls_ca_file(&bad).build();
    let _ = std::fs::remove_dir_all(&dir);
    let e = r.unwrap_err();
    assert_eq!(e.setting(), "OTEL_EXPORTER_OTLP_CERTIFICATE");
    assert!(
        OtlpSpanExporter::builder()
            .with_tls_client_cert(cert("client.pem"), cert("ca.pem"))
            .build()
            .is_err(),
        "a certificate is not a private key"
    );
    // Good files build.
    OtlpSpanExporter::builder()
        .with_endpoint("https://localhost:4318/v1/traces")
        .with_tls_ca_file(cert("ca.pem"))
        .with_tls_client_cert(cert("client.pem"), cert("client.key"))
        .build()
        .unwrap();
}

#[test]
fn values_the_spec_says_to_ignore_are_ignored() {
    // Unknown enum values, booleans other than "true" and bad numbers are reported and
    // read as unset (the specification's type-specific guidance), never a failure.
    let b = Builder::default();
    for vars in [
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml")][..],
        &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpcc")],
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
        &[("OTEL_EXPORTER_OTLP_INSECURE", "yes")],
    ] {
        let c = ok(&b, Signal::Traces, vars);
        assert_eq!(c.protocol(), Protocol::HttpProtobuf, "{vars:?}");
        assert_eq!(c.timeout(), Duration::from_secs(10), "{vars:?}");
        assert_eq!(c.compression(), Compression::None, "{vars:?}");
    }
    // Enum values in any case.
    let c = ok(
        &b,
        Signal::Traces,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
        ],
    );
    assert_eq!(
        (c.protocol(), c.compression()),
        (Protocol::HttpJson, Compression::Gzip)
    );
    // A zero timeout means no limit (a year).
    let c = ok(
        &b,
        Signal::Traces,
        &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0")],
    );
    assert_eq!(c.timeout(), Duration::from_secs(365 * 24 * 3600));
    // Only "true" (in any case) is true: a scheme-less gRPC endpoint then gets http.
    for (value, scheme) in [("TRUE", "http"), ("1", "https"), ("yes", "https")] {
        let c = ok(
            &b,
            Signal::Traces,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", value),
            ],
        );
        assert_eq!(
            c.endpoint(),
            format!("{scheme}://collector:4317"),
            "{value}"
        );
    }
}

#[test]
fn the_scheme_is_read_in_any_case() {
    let c = ok(
        &Builder::default(),
        Signal::Traces,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTPS://collector:4317"),
        ],
    );
    assert_eq!(c.endpoint(), "https://collector:4317");
}

#[test]
fn the_signal_path_goes_before_the_query() {
    let c = ok(
        &Builder::default(),
        Signal::Logs,
        &[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318/base/?tenant=a",
        )],
    );
    assert_eq!(c.endpoint(), "http://c:4318/base/v1/logs?tenant=a");
}
