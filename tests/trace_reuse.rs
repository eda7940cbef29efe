//! Span records are reused after export, and when the SDK knows that none of a record's
//! attributes and events owns anything, they are forgotten rather than dropped. This checks
//! the knowing: spans are filled with shared strings through every way there is to fill one
//! (the span's methods, the builder, the sampler, a processor's `on_start`, a processor that
//! changes a span before handing it to the batch processor), their records are then all
//! reused, and every reference to the string must have been released. A record that said
//! "plain" while holding the string would keep its reference forever.
//!
//! One test, alone in its binary: records are pooled process-wide.

use std::sync::Arc;
use std::time::Duration;

use otlp_sdk::context::Context;
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::pipeline::BatchConfig;
use otlp_sdk::trace::{
    BatchSpanProcessor, Link, Sampler, SamplingDecision, SamplingResult, ShouldSample, Span,
    SpanData, SpanKind, SpanProcessor, TraceId, Tracer, TracerProvider,
};
use otlp_sdk::{KeyValue, SdkResult, StringValue, Value};

/// Spans per round: several batches, all alive at once when the records are reused.
const SPANS: usize = 600;

fn batch_processor(exporter: &InMemorySpanExporter) -> BatchSpanProcessor {
    BatchSpanProcessor::with_config(
        exporter.clone(),
        BatchConfig {
            max_queue_size: 4 * SPANS,
            max_export_batch_size: 64,
            scheduled_delay: Duration::from_secs(3600),
            export_timeout: Duration::from_secs(30),
        },
    )
}

/// Adds an attribute with the shared string when a span starts.
#[derive(Debug)]
struct AddOnStart(Arc<str>);

impl SpanProcessor for AddOnStart {
    fn on_start(&self, span: &mut SpanData, _: &Context) {
        span.attributes
            .push(KeyValue::new("on_start", Value::from(self.0.clone())));
    }
    fn on_end(&self, _: Box<SpanData>) {}
    fn force_flush(&self) -> SdkResult {
        Ok(())
    }
    fn shutdown(&self) -> SdkResult {
        Ok(())
    }
}

/// Adds an attribute and an event with the shared string to each ended span, then hands it
/// to a batch processor.
#[derive(Debug)]
struct ChangeThenBatch(Arc<str>, BatchSpanProcessor);

impl SpanProcessor for ChangeThenBatch {
    fn on_end(&self, mut span: Box<SpanData>) {
        span.attributes
            .push(KeyValue::new("on_end", Value::from(self.0.clone())));
        span.events.push(otlp_sdk::trace::Event {
            name: StringValue::from(self.0.clone()),
            timestamp_unix_nano: 1,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        });
        self.1.on_end(span)
    }
    fn force_flush(&self) -> SdkResult {
        self.1.force_flush()
    }
    fn shutdown(&self) -> SdkResult {
        self.1.shutdown()
    }
}

/// Samples everything, adding an attribute with the shared string.
#[derive(Debug)]
struct SampleWith(Arc<str>);

impl ShouldSample for SampleWith {
    fn should_sample(
        &self,
        _: &Context,
        _: TraceId,
        _: &str,
        _: SpanKind,
        _: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: vec![KeyValue::new("sampler", Value::from(self.0.clone()))],
            trace_state: Default::default(),
        }
    }
}

/// Where spans are reused: a provider with nothing but a batch processor.
struct Plain {
    provider: TracerProvider,
    exported: InMemorySpanExporter,
}

impl Plain {
    fn new() -> Self {
        let exported = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_span_processor(batch_processor(&exported))
            .build();
        Plain { provider, exported }
    }

    /// Takes every pooled record back: `2 * SPANS` spans alive at once (so none is returned
    /// meanwhile), then ended and exported.
    fn reuse_all(&self) {
        let tracer = self.provider.tracer("plain");
        let live: Vec<Span> = (0..2 * SPANS).map(|_| tracer.start("plain")).collect();
        for mut span in live {
            span.end();
        }
        self.provider.force_flush().unwrap();
        self.exported.reset();
    }
}

/// Ends `SPANS` spans made by `make` with a provider built from `builder` (which adds a
/// batch processor), exports them, and drops the provider.
fn round(builder: otlp_sdk::trace::TracerProviderBuilder, make: impl Fn(&Tracer) -> Span) {
    let exported = InMemorySpanExporter::default();
    let provider = builder
        .with_span_processor(batch_processor(&exported))
        .build();
    let tracer = provider.tracer("reuse");
    for _ in 0..SPANS {
        make(&tracer).end();
    }
    provider.shutdown().unwrap();
    exported.reset();
}

fn filled_by_the_span(tracer: &Tracer, shared: &Arc<str>) -> Span {
    let mut span = tracer.start("span");
    span.set_attribute("static", 1i64);
    span.set_attribute("value", Value::from(shared.clone()));
    span.set_attribute(StringValue::from(shared.clone()), 2i64);
    span.set_attribute("long-array", vec![1i64, 2, 3, 4]);
    span.set_attributes([KeyValue::new("set_attributes", Value::from(shared.clone()))]);
    span.add_event(StringValue::from(shared.clone()), []);
    span.add_event("with attributes", [KeyValue::new("k", 1i64)]);
    span.add_event(
        "with a shared attribute",
        [KeyValue::new("k", Value::from(shared.clone()))],
    );
    span.record_exception(&std::io::Error::other("boom"));
    span
}

#[test]
fn every_reference_a_span_took_is_released_when_its_record_is_reused() {
    let shared: Arc<str> = Arc::from("shared");
    let plain = Plain::new();
    let check = |what: &str| {
        plain.reuse_all();
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "{what}: a reused record kept a reference"
        );
    };

    // The SDK's own paths, with the batch processor alone (which trusts the record).
    round(TracerProvider::builder(), |t| {
        filled_by_the_span(t, &shared)
    });
    check("the span's own methods");
    round(TracerProvider::builder(), |t| {
        t.span_builder("built")
            .with_attributes([KeyValue::new("builder", Value::from(shared.clone()))])
            .start(t)
    });
    check("the builder's attributes");
    round(
        TracerProvider::builder()
            .with_sampler(Sampler::Custom(Arc::new(SampleWith(shared.clone())))),
        |t| t.start("sampled"),
    );
    check("the sampler's attributes");
    // An event whose attribute iterator panics after giving a shared value: the event holds
    // it, and must not be forgotten on reuse. (The test is alone in its binary, so the
    // silent panic hook disturbs no other test.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    round(TracerProvider::builder(), |t| {
        let mut span = t.start("panicking iterator");
        let shared = shared.clone();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            span.add_event(
                "event",
                (0..2).map(|i| match i {
                    0 => KeyValue::new("k", Value::from(shared.clone())),
                    _ => panic!("the iterator fails"),
                }),
            );
        }));
        span
    });
    std::panic::set_hook(hook);
    check("an event whose attribute iterator panicked");

    // Other code's changes: a processor's `on_start` (before the batch processor), and a
    // processor that changes ended spans and hands them to a batch processor of its own.
    round(
        TracerProvider::builder().with_span_processor(AddOnStart(shared.clone())),
        |t| t.start("started"),
    );
    check("a processor's on_start");
    let exported = InMemorySpanExporter::default();
    round(
        TracerProvider::builder()
            .with_span_processor(ChangeThenBatch(shared.clone(), batch_processor(&exported))),
        |t| t.start("changed"),
    );
    exported.reset();
    check("a processor that changes ended spans");
}
