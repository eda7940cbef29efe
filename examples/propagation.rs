//! Context propagation over HTTP headers, in one process: a "client" injects the current
//! trace context and baggage into an `http::HeaderMap`; a "server" extracts them and starts
//! its span as a child of the client's span.
//!
//! `cargo run --example propagation`

use otlp_sdk::baggage;
use otlp_sdk::context::Context;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::global;
use otlp_sdk::propagation::TextMapCompositePropagator;
use otlp_sdk::trace::{SpanKind, TracerProvider};

/// The client: starts a span, puts baggage in the context and injects both into the
/// outgoing request's headers.
fn client_request() -> http::HeaderMap {
    let tracer = global::tracer("client");
    let span = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Client)
        .start_as_current(&tracer);
    let cx = baggage::set_baggage("user.id", "42", &Context::current());
    let _cx = cx.attach();

    let mut headers = http::HeaderMap::new();
    global::get_text_map_propagator().inject(&mut headers);
    println!(
        "client: trace_id={} span_id={}",
        span.span_context().trace_id(),
        span.span_context().span_id()
    );
    for (name, value) in &headers {
        println!("client: header {name}: {}", value.to_str().unwrap_or("?"));
    }
    headers
}

/// The server: extracts the incoming headers and handles the request in that context.
fn handle_request(headers: &http::HeaderMap) {
    let parent = global::get_text_map_propagator().extract(headers);
    let _cx = parent.attach();
    let tracer = global::tracer("server");
    let span = tracer
        .span_builder("handle /orders")
        .with_kind(SpanKind::Server)
        .start_as_current(&tracer);
    let user = baggage::get_baggage("user.id", &Context::current());
    println!(
        "server: trace_id={} span_id={} user.id={}",
        span.span_context().trace_id(),
        span.span_context().span_id(),
        user.as_deref().unwrap_or("-")
    );
}

fn main() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    global::set_tracer_provider(provider.clone());
    global::set_text_map_propagator(TextMapCompositePropagator::w3c());

    let headers = client_request();
    handle_request(&headers);

    if let Err(e) = provider.shutdown() {
        eprintln!("tracer provider shutdown: {e}");
    }
    let spans = exporter.finished_spans();
    let client = spans.iter().find(|s| s.name.as_str() == "GET /orders");
    let server = spans.iter().find(|s| s.name.as_str() == "handle /orders");
    if let (Some(c), Some(s)) = (client, server) {
        let same_trace = c.span_context.trace_id() == s.span_context.trace_id();
        let is_child = s.parent_span_id == c.span_context.span_id() && s.parent_is_remote;
        println!(
            "same trace: {same_trace}; server span is the client span's remote child: {is_child}"
        );
    }
}
