//! Rules of the trace specification about what is recorded, sampled and passed on: record-only
//! spans reach processors but not exporters, a sampled span is always recording, the API
//! without an SDK passes the parent's context on unchanged, and links to invalid contexts
//! are kept when they carry something.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use otlp_sdk::context::Context;
use otlp_sdk::propagation::{TextMapPropagator, TraceContextPropagator};
use otlp_sdk::trace::{
    Link, Sampler, SamplingDecision, SamplingResult, ShouldSample, SpanContext, SpanData,
    SpanExporter, SpanKind, SpanProcessor, TraceId, TracerProvider,
};
use otlp_sdk::{KeyValue, SdkResult};

#[derive(Debug)]
struct RecordOnly;

impl ShouldSample for RecordOnly {
    fn should_sample(
        &self,
        _parent: &Context,
        _trace_id: TraceId,
        _name: &str,
        _kind: SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordOnly,
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

/// Counts the spans it sees end, and how many of them were sampled.
#[derive(Debug, Clone, Default)]
struct Ends(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl SpanProcessor for Ends {
    fn on_end(&self, span: Box<SpanData>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        if span.span_context.is_sampled() {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn force_flush(&self) -> SdkResult {
        Ok(())
    }
    fn shutdown(&self) -> SdkResult {
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<String>>>);

impl SpanExporter for Collect {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        let mut names = self.0.lock().unwrap();
        names.extend(batch.iter().map(|s| s.name.to_string()));
        Ok(())
    }
}

#[test]
fn record_only_spans_reach_processors_but_not_exporters() {
    let ends = Ends::default();
    let (simple, batch) = (Collect::default(), Collect::default());
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::Custom(Arc::new(RecordOnly)))
        .with_span_processor(ends.clone())
        .with_simple_exporter(simple.clone())
        .with_batch_exporter(batch.clone())
        .build();
    let mut span = provider.tracer("t").start("record-only");
    assert!(span.is_recording() && !span.span_context().is_sampled());
    span.end();
    provider.force_flush().unwrap();
    assert_eq!(ends.0.load(Ordering::SeqCst), 1, "on_end saw the span");
    assert_eq!(ends.1.load(Ordering::SeqCst), 0);
    assert!(simple.0.lock().unwrap().is_empty(), "not exported");
    assert!(batch.0.lock().unwrap().is_empty(), "not exported");
    provider.shutdown().unwrap();
}

#[test]
fn a_sampled_span_is_recording_even_without_processors() {
    let provider = TracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .build();
    let span = provider.tracer("t").start("s");
    assert!(span.span_context().is_sampled());
    assert!(span.is_recording(), "sampled implies recording");
}

fn traceparent(cx: &Context) -> Option<String> {
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier.get("traceparent").cloned()
}

#[test]
fn without_an_sdk_the_parent_context_passes_through_unchanged() {
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let carrier: HashMap<String, String> =
        [("traceparent".to_string(), incoming.to_string())].into();
    let parent = TraceContextPropagator::new().extract_with_context(&Context::new(), &carrier);
    // No provider was set: the global one is the API's no-op.
    let span = otlp_sdk::global::tracer("t").start_with_context("s", &parent);
    assert!(!span.is_recording());
    assert_eq!(span.span_context(), parent.span_context());
    let cx = parent.with_span(span);
    assert_eq!(traceparent(&cx).as_deref(), Some(incoming));
    // At the root: an invalid context, so nothing is injected.
    let root = otlp_sdk::global::tracer("t").start("root");
    assert!(!root.span_context().is_valid());
}

#[test]
fn a_shut_down_provider_passes_the_parent_context_on() {
    let provider = TracerProvider::builder().build();
    let tracer = provider.tracer("t");
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        otlp_sdk::trace::SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        otlp_sdk::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    ));
    provider.shutdown().unwrap();
    let span = tracer.start_with_context("late", &parent);
    assert!(!span.is_recording());
    assert_eq!(span.span_context(), parent.span_context());
}

#[test]
fn a_link_to_an_invalid_context_is_kept_when_it_carries_attributes() {
    let exporter = Collect::default();
    #[derive(Debug, Clone, Default)]
    struct Links(Arc<Mutex<Vec<usize>>>);
    impl SpanExporter for Links {
        fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
            self.0
                .lock()
                .unwrap()
                .extend(batch.iter().map(|s| s.links.len()));
            Ok(())
        }
    }
    let links = Links::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(links.clone())
        .with_simple_exporter(exporter)
        .build();
    let mut span = provider.tracer("t").start("s");
    span.add_link(SpanContext::INVALID, []); // carries nothing: dropped
    span.add_link(SpanContext::INVALID, [KeyValue::new("why", "lost parent")]);
    span.end();
    assert_eq!(*links.0.lock().unwrap(), vec![1]);
}

#[test]
fn an_exporter_instrumented_through_another_provider_gets_its_spans_exported() {
    // The re-entry guard drops only what a processor's own exporter makes through that same
    // processor; spans an exporter makes through another provider are that provider's.
    #[derive(Debug)]
    struct Instrumented(otlp_sdk::trace::Tracer);
    impl SpanExporter for Instrumented {
        fn export(&mut self, _batch: &[Box<SpanData>]) -> SdkResult {
            self.0.start("exporting").end();
            Ok(())
        }
    }
    let own = otlp_sdk::export::InMemorySpanExporter::default();
    let other = TracerProvider::builder()
        .with_simple_exporter(own.clone())
        .build();
    let provider = TracerProvider::builder()
        .with_simple_exporter(Instrumented(other.tracer("exporter")))
        .build();
    provider.tracer("app").start("work").end();
    let names: Vec<_> = own
        .finished_spans()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["exporting"]);
}
