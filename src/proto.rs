//! The OTLP protobuf types, generated at build time from `proto/` (prost), and, with the
//! `grpc` feature, the tonic client and server stubs of the collector services.
//!
//! Exposed for fake collectors and tests; most users never need them.
#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

/// `opentelemetry.proto.*`
pub mod common {
    /// `opentelemetry.proto.common.v1`
    pub mod v1 {
        include!(concat!(
            env!("OUT_DIR"),
            "/opentelemetry.proto.common.v1.rs"
        ));
    }
}
/// `opentelemetry.proto.resource`
pub mod resource {
    /// `opentelemetry.proto.resource.v1`
    pub mod v1 {
        include!(concat!(
            env!("OUT_DIR"),
            "/opentelemetry.proto.resource.v1.rs"
        ));
    }
}
/// `opentelemetry.proto.trace`
pub mod trace {
    /// `opentelemetry.proto.trace.v1`
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.trace.v1.rs"));
    }
}
/// `opentelemetry.proto.metrics`
pub mod metrics {
    /// `opentelemetry.proto.metrics.v1`
    pub mod v1 {
        include!(concat!(
            env!("OUT_DIR"),
            "/opentelemetry.proto.metrics.v1.rs"
        ));
    }
}
/// `opentelemetry.proto.logs`
pub mod logs {
    /// `opentelemetry.proto.logs.v1`
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.logs.v1.rs"));
    }
}
/// `opentelemetry.proto.collector.*`
pub mod collector {
    /// `opentelemetry.proto.collector.trace`
    pub mod trace {
        /// `opentelemetry.proto.collector.trace.v1`
        pub mod v1 {
            include!(concat!(
                env!("OUT_DIR"),
                "/opentelemetry.proto.collector.trace.v1.rs"
            ));
        }
    }
    /// `opentelemetry.proto.collector.metrics`
    pub mod metrics {
        /// `opentelemetry.proto.collector.metrics.v1`
        pub mod v1 {
            include!(concat!(
                env!("OUT_DIR"),
                "/opentelemetry.proto.collector.metrics.v1.rs"
            ));
        }
    }
    /// `opentelemetry.proto.collector.logs`
    pub mod logs {
        /// `opentelemetry.proto.collector.logs.v1`
        pub mod v1 {
            include!(concat!(
                env!("OUT_DIR"),
                "/opentelemetry.proto.collector.logs.v1.rs"
            ));
        }
    }
}
