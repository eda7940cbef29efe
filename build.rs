//! Generates the OTLP protobuf types (prost) and, with the `grpc` feature, the tonic client and
//! server stubs, from the schema in `proto/`. `protox` parses the `.proto` files in pure Rust, so
//! no system `protoc` is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
    "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
    "opentelemetry/proto/collector/logs/v1/logs_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let fds = protox::compile(PROTOS.iter().map(|p| root.join(p)), [&root])?;
    let mut config = prost_build::Config::new();
    // The schema's comments hold code samples that rustdoc would run as doctests; the
    // `.proto` files in `proto/` are the documentation.
    config.disable_comments(["."]);
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc)
        .build_transport(grpc)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
