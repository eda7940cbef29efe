//! The OpenTelemetry Python guide's scenario, in Rust.
//!
//! `cargo run --example guide` prints every span and log record to the console. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set it also exports OTLP there, over the protocol
//! `OTEL_EXPORTER_OTLP_PROTOCOL` names (`grpc`, `http/protobuf` or `http/json`).

use otlp_sdk::export::ConsoleSpanExporter;
use otlp_sdk::logs::{ConsoleLogExporter, LogBridge, LoggerProvider};
use otlp_sdk::metrics::{
    ConsoleMetricExporter, Counter, MeterProvider, Observer, PeriodicExportingMetricReader,
};
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::semconv::{HTTP_METHOD, HTTP_URL};
use otlp_sdk::trace::{get_current_span, Status, TracerProvider};
use otlp_sdk::{global, traced, KeyValue};

/// `true` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then every signal is also exported over
/// OTLP, configured by the `OTEL_EXPORTER_OTLP_*` variables (protocol from
/// `OTEL_EXPORTER_OTLP_PROTOCOL`).
fn otlp_wanted() -> bool {
    let wanted = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    if wanted && cfg!(not(any(feature = "grpc", feature = "http"))) {
        eprintln!("OTLP export needs the `grpc` or `http` feature; console only");
    }
    wanted
}

/// A bad OTLP setting is printed and the example goes on with the console only.
#[cfg(any(feature = "grpc", feature = "http"))]
fn configured<E>(exporter: Result<E, otlp_sdk::ConfigError>) -> Option<E> {
    exporter
        .map_err(|e| eprintln!("OTLP exporter not configured: {e}"))
        .ok()
}

/// Guide, "Initialization": a resource, a provider with batch processors (console, and OTLP
/// when configured), set as the global provider.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(unused_variables))]
fn init_tracing(resource: &Resource, otlp: bool) -> TracerProvider {
    #[allow(unused_mut)]
    let mut builder = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(ConsoleSpanExporter::default());
    #[cfg(any(feature = "grpc", feature = "http"))]
    if otlp {
        use otlp_sdk::export::otlp::OtlpSpanExporter;
        if let Some(exporter) = configured(OtlpSpanExporter::builder().build()) {
            builder = builder.with_batch_exporter(exporter);
        }
    }
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());
    provider
}

/// Guide, Metrics "Initialization": a meter provider with periodic exporting readers (console,
/// and OTLP when configured), set as the global provider. Shutdown makes a final collection,
/// so everything is exported even though the run ends before the first interval.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(unused_variables))]
fn init_metrics(resource: &Resource, otlp: bool) -> MeterProvider {
    let reader = PeriodicExportingMetricReader::builder(ConsoleMetricExporter::default()).build();
    #[allow(unused_mut)]
    let mut builder = MeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(reader);
    #[cfg(any(feature = "grpc", feature = "http"))]
    if otlp {
        use otlp_sdk::export::otlp::OtlpMetricExporter;
        if let Some(exporter) = configured(OtlpMetricExporter::builder().build()) {
            builder = builder.with_reader(PeriodicExportingMetricReader::builder(exporter).build());
        }
    }
    let provider = builder.build();
    global::set_meter_provider(provider.clone());
    provider
}

/// Logs: a logger provider with batch processors (console, and OTLP when configured), set as
/// the global one, and the `log` crate bridge, so `log::info!` lines are exported with the
/// ids of the current span.
#[cfg_attr(not(any(feature = "grpc", feature = "http")), allow(unused_variables))]
fn init_logging(resource: &Resource, otlp: bool) -> LoggerProvider {
    #[allow(unused_mut)]
    let mut builder = LoggerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(ConsoleLogExporter::default());
    #[cfg(any(feature = "grpc", feature = "http"))]
    if otlp {
        use otlp_sdk::export::otlp::OtlpLogExporter;
        if let Some(exporter) = configured(OtlpLogExporter::builder().build()) {
            builder = builder.with_batch_exporter(exporter);
        }
    }
    let provider = builder.build();
    global::set_logger_provider(provider.clone());
    if let Err(e) = LogBridge::new(&provider).install(log::LevelFilter::Info) {
        eprintln!("log bridge: {e}");
    }
    provider
}

/// Guide, "Creating a Span".
fn do_work() {
    let tracer = global::tracer("my.tracer.name");
    let _span = tracer.start_as_current_span("span.name");
    println!("doing some work...");
}

/// Guide, "Creating nested Spans".
fn do_nested_work() {
    let tracer = global::tracer("my.tracer.name");
    let _parent = tracer.start_as_current_span("parent");
    println!("doing some work...");
    let _child = tracer.start_as_current_span("child");
    println!("doing some nested work...");
}

/// Guide, "Creating Spans with decorators", with "Attributes", "Semantic Attributes" and
/// "Events" inside.
#[traced("span", tracer = "my.tracer.name")]
fn do_decorated_work() {
    let span = get_current_span();
    span.set_attribute("operation.value", 1);
    span.set_attribute("operation.name", "Saying hello!");
    span.set_attribute("operation.other-stuff", vec![1i64, 2, 3]);
    span.set_attribute(HTTP_METHOD, "GET");
    span.set_attribute(HTTP_URL, "https://base14.io/");
    span.add_event("Starting some work", []);
    println!("doing some work...");
    span.add_event("Finished working", []);
}

#[derive(Debug)]
struct WorkError;

impl std::fmt::Display for WorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for WorkError {}

fn something_that_might_fail() -> Result<(), WorkError> {
    Err(WorkError)
}

/// Guide, "Setting a Span Status" and recording the exception.
fn do_failing_work() {
    let tracer = global::tracer("my.tracer.name");
    let span = tracer.start_as_current_span("error.operation");
    if let Err(exception) = something_that_might_fail() {
        span.set_status(Status::error(""));
        span.record_exception(&exception);
    }
}

/// Guide, "Creating a Synchronous Counter".
fn do_counted_work(work_counter: &Counter<u64>, work_type: &'static str) {
    work_counter.add(1, &[KeyValue::new("work.type", work_type)]);
    println!("doing some work...");
}

/// Guide, "Creating Asynchronous Counter": the callback reports three observations.
fn pf_callback(observer: &Observer<'_, u64>) {
    observer.observe(8, &[KeyValue::new("pid", 0), KeyValue::new("bitness", 64)]);
    observer.observe(
        37741921,
        &[KeyValue::new("pid", 4), KeyValue::new("bitness", 64)],
    );
    observer.observe(
        10465,
        &[KeyValue::new("pid", 880), KeyValue::new("bitness", 32)],
    );
}

/// Guide, "Counter", "Creating Asynchronous Counter" and "Histogram".
fn record_metrics() {
    // Creates a meter from the global meter provider
    let meter = global::meter("my.meter.name");
    let work_counter = meter
        .u64_counter("work.counter")
        .with_unit("1")
        .with_description("Counts the amount of work done")
        .build();
    for _ in 0..3 {
        do_counted_work(&work_counter, "a");
    }
    meter
        .u64_observable_counter("PF")
        .with_unit("1")
        .with_description("process page faults")
        .with_callback(pf_callback)
        .build();
    let http_server_duration = meter
        .f64_histogram("http.server.duration")
        .with_unit("ms")
        .with_description("measures the duration of the inbound HTTP request")
        .build();
    http_server_duration.record(
        50.0,
        &[
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.scheme", "https"),
        ],
    );
    http_server_duration.record(
        100.0,
        &[
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.scheme", "http"),
        ],
    );
}

/// Guide, "Extracting Trace and Span IDs".
fn get_trace_span_ids() -> Option<(String, String)> {
    let current_span = get_current_span();
    if current_span.is_recording() {
        let cx = current_span.span_context();
        let (trace_id, span_id) = (cx.trace_id().to_string(), cx.span_id().to_string());
        println!("ids trace_id={trace_id} span_id={span_id}");
        Some((trace_id, span_id))
    } else {
        println!("No active span found");
        None
    }
}

fn traced_function() {
    let tracer = global::tracer("my.tracer.name");
    let _span = tracer.start_as_current_span("my-operation");
    if let Some((trace_id, span_id)) = get_trace_span_ids() {
        println!("Processing operation with trace: {trace_id}, span: {span_id}");
        // Through the `log` bridge: the record carries this span's trace and span ids.
        log::info!("Processing operation with trace: {trace_id}, span: {span_id}");
    }
}

fn main() {
    let otlp = otlp_wanted();
    let resource = Resource::new([KeyValue::new(SERVICE_NAME, "my.service.name")]);
    let tracer_provider = init_tracing(&resource, otlp);
    let meter_provider = init_metrics(&resource, otlp);
    let logger_provider = init_logging(&resource, otlp);

    do_work();
    do_nested_work();
    do_decorated_work();
    do_failing_work();
    traced_function();
    record_metrics();

    if let Err(e) = tracer_provider.shutdown() {
        eprintln!("tracer provider shutdown: {e}");
    }
    if let Err(e) = meter_provider.shutdown() {
        eprintln!("meter provider shutdown: {e}");
    }
    if let Err(e) = logger_provider.shutdown() {
        eprintln!("logger provider shutdown: {e}");
    }
}
