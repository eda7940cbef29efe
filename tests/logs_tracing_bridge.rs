//! The `tracing` bridge: events become log records, spans become otlp-sdk spans, and both
//! are correlated. Needs `--features tracing`.
#![cfg(feature = "tracing")]

use std::sync::mpsc;
use std::time::Duration;

use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::logs::{AnyValue, InMemoryLogExporter, LoggerProvider, SeverityNumber, TracingLayer};
use otlp_sdk::semconv;
use otlp_sdk::trace::{SpanData, SpanExporter, TracerProvider};
use tracing_subscriber::layer::SubscriberExt;

struct Setup {
    logs: InMemoryLogExporter,
    spans: InMemorySpanExporter,
    logger_provider: LoggerProvider,
    tracer_provider: TracerProvider,
}

fn setup() -> Setup {
    let logs = InMemoryLogExporter::default();
    let spans = InMemorySpanExporter::default();
    Setup {
        logger_provider: LoggerProvider::builder()
            .with_simple_exporter(logs.clone())
            .build(),
        tracer_provider: TracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build(),
        logs,
        spans,
    }
}

fn with_layer(s: &Setup, with_tracer: bool, f: impl FnOnce()) {
    let mut layer = TracingLayer::new(&s.logger_provider);
    if with_tracer {
        layer = layer.with_tracer(s.tracer_provider.tracer("tracing-bridge"));
    }
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, f);
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name.as_str() == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn events_become_log_records() {
    let s = setup();
    with_layer(&s, false, || {
        tracing::error!(target: "my_app::db", "e");
        tracing::warn!("w");
        tracing::info!(user = "ann", tries = 3, ok = true, ratio = 0.5, big = u64::MAX, dbg = ?vec![1, 2], "logged in");
        tracing::debug!("d");
        tracing::trace!("t");
    });
    let logs = s.logs.emitted_logs();
    assert_eq!(logs.len(), 5);
    let sev: Vec<_> = logs
        .iter()
        .map(|d| d.record.severity_number.unwrap())
        .collect();
    assert_eq!(
        sev,
        [
            SeverityNumber::Error,
            SeverityNumber::Warn,
            SeverityNumber::Info,
            SeverityNumber::Debug,
            SeverityNumber::Trace
        ]
    );
    assert_eq!(logs[0].scope.name(), "my_app::db");
    assert_eq!(logs[1].scope.name(), module_path!());
    let r = &logs[2].record;
    assert_eq!(r.severity_text.as_deref(), Some("INFO"));
    assert_eq!(r.body, Some(AnyValue::from("logged in")));
    assert_eq!(r.attribute("user"), Some(&AnyValue::from("ann")));
    assert_eq!(r.attribute("tries"), Some(&AnyValue::Int(3)));
    assert_eq!(r.attribute("ok"), Some(&AnyValue::Bool(true)));
    assert_eq!(r.attribute("ratio"), Some(&AnyValue::Double(0.5)));
    assert_eq!(
        r.attribute("big"),
        Some(&AnyValue::from(u64::MAX.to_string()))
    );
    assert_eq!(r.attribute("dbg"), Some(&AnyValue::from("[1, 2]")));
    assert!(r.attribute("message").is_none());
    assert_eq!(
        r.attribute(semconv::CODE_FILE_PATH),
        Some(&AnyValue::from(file!()))
    );
    assert!(matches!(
        r.attribute(semconv::CODE_LINE_NUMBER),
        Some(AnyValue::Int(_))
    ));
    assert_eq!(
        r.attribute(semconv::legacy::CODE_NAMESPACE),
        Some(&AnyValue::from(module_path!()))
    );
}

#[test]
fn spans_become_otlp_spans_and_events_are_correlated() {
    let s = setup();
    let native = s.tracer_provider.tracer("native");
    with_layer(&s, true, || {
        let outer = tracing::info_span!("outer", user = "ann", later = tracing::field::Empty);
        let _o = outer.enter();
        outer.record("later", 7);
        tracing::info!("in outer");
        {
            let _inner = tracing::info_span!("inner").entered();
            tracing::info!("in inner");
            // A span started with the otlp-sdk API inside a tracing span is its child.
            let _n = native.start_as_current_span("native-child");
        }
        // An event with an explicit parent is tied to that span, entered or not.
        let detached = tracing::info_span!(parent: None, "detached");
        tracing::info!(parent: &detached, "to detached");
    });
    s.tracer_provider.force_flush().unwrap();
    let spans = s.spans.finished_spans();
    let (outer, inner, child, detached) = (
        span(&spans, "outer"),
        span(&spans, "inner"),
        span(&spans, "native-child"),
        span(&spans, "detached"),
    );
    assert!(!outer.parent_span_id.is_valid());
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
    assert_eq!(child.parent_span_id, inner.span_context.span_id());
    assert_ne!(
        detached.span_context.trace_id(),
        outer.span_context.trace_id()
    );
    let attr = |s: &SpanData, k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(attr(outer, "user"), Some("ann".into()));
    assert_eq!(attr(outer, "later"), Some(7i64.into()));

    let logs = s.logs.emitted_logs();
    let by_body = |b: &str| {
        logs.iter()
            .find(|d| d.record.body.as_ref().and_then(|x| x.as_str()) == Some(b))
            .map(|d| (d.record.trace_id, d.record.span_id))
            .unwrap()
    };
    let ids = |s: &SpanData| (s.span_context.trace_id(), s.span_context.span_id());
    assert_eq!(by_body("in outer"), ids(outer));
    assert_eq!(by_body("in inner"), ids(inner));
    assert_eq!(by_body("to detached"), ids(detached));
}

#[test]
fn tracing_span_inside_an_otlp_span_is_its_child() {
    let s = setup();
    let native = s.tracer_provider.tracer("native");
    let parent_sc = {
        let parent = native.start_as_current_span("native-parent");
        with_layer(&s, true, || {
            let _t = tracing::info_span!("tracing-child").entered();
        });
        parent.span_context().clone()
    };
    let spans = s.spans.finished_spans();
    let child = span(&spans, "tracing-child");
    assert_eq!(child.parent_span_id, parent_sc.span_id());
    assert_eq!(child.span_context.trace_id(), parent_sc.trace_id());
}

#[test]
fn follows_from_becomes_a_link() {
    let s = setup();
    with_layer(&s, true, || {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        b.follows_from(&a);
    });
    let spans = s.spans.finished_spans();
    let (a, b) = (span(&spans, "a"), span(&spans, "b"));
    assert_eq!(b.links.len(), 1);
    assert_eq!(b.links[0].span_context, a.span_context);
}

#[test]
fn without_a_tracer_events_use_the_current_otlp_span() {
    let s = setup();
    let native = s.tracer_provider.tracer("native");
    let sc = {
        let op = native.start_as_current_span("op");
        with_layer(&s, false, || {
            let _t = tracing::info_span!("not exported").entered();
            tracing::info!("hello");
        });
        op.span_context().clone()
    };
    let spans = s.spans.finished_spans();
    assert_eq!(
        spans.len(),
        1,
        "tracing spans are not exported without a tracer"
    );
    let r = &s.logs.emitted_logs()[0].record;
    assert_eq!((r.trace_id, r.span_id), (sc.trace_id(), sc.span_id()));
}

#[test]
fn special_otel_fields_set_name_kind_and_status() {
    use otlp_sdk::trace::{SpanKind, Status};
    let s = setup();
    with_layer(&s, true, || {
        let span = tracing::info_span!(
            "generic",
            otel.name = "GET /orders",
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
            http.method = "GET",
        );
        span.record("otel.status_description", "db down");
        span.record("otel.status_code", "error");
    });
    let spans = s.spans.finished_spans();
    let sp = span(&spans, "GET /orders");
    assert_eq!(sp.kind, SpanKind::Server);
    assert_eq!(sp.status, Status::error("db down"));
    assert_eq!(sp.attributes.len(), 1);
    assert_eq!(sp.attributes[0].key.as_str(), "http.method");
}

/// A span exporter whose code (like any library) uses `tracing` while exporting.
#[derive(Debug)]
struct TracingUsingExporter;
impl SpanExporter for TracingUsingExporter {
    fn export(&mut self, _batch: &[Box<SpanData>]) -> Result<(), otlp_sdk::SdkError> {
        let _s = tracing::debug_span!("encode").entered();
        Ok(())
    }
}

#[test]
fn a_span_exporter_that_uses_tracing_does_not_deadlock() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let logs = LoggerProvider::builder()
            .with_simple_exporter(InMemoryLogExporter::default())
            .build();
        let tp = TracerProvider::builder()
            .with_simple_exporter(TracingUsingExporter)
            .build();
        let sub = tracing_subscriber::registry()
            .with(TracingLayer::new(&logs).with_tracer(tp.tracer("t")));
        tracing::subscriber::with_default(sub, || {
            let _s = tracing::info_span!("request").entered();
        });
        tx.send(()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "deadlock: the span ended during the export re-enters SimpleSpanProcessor's exporter lock"
    );
}

#[test]
fn an_explicit_root_event_is_not_tied_to_the_entered_span() {
    let logs = InMemoryLogExporter::default();
    let lp = LoggerProvider::builder()
        .with_simple_exporter(logs.clone())
        .build();
    let tp = TracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let sub =
        tracing_subscriber::registry().with(TracingLayer::new(&lp).with_tracer(tp.tracer("t")));
    tracing::subscriber::with_default(sub, || {
        let _s = tracing::info_span!("outer").entered();
        tracing::info!(parent: None, "explicit root event");
    });
    let r = &logs.emitted_logs()[0].record;
    assert!(
        !r.trace_id.is_valid(),
        "root event got trace id {:?}",
        r.trace_id
    );
}

#[test]
fn severity_numbers_out_of_range_are_none() {
    for n in [i32::MIN, -1, 0, 25, i32::MAX] {
        assert_eq!(SeverityNumber::from_i32(n), None, "{n}");
    }
    assert_eq!(SeverityNumber::from_i32(9), Some(SeverityNumber::Info));
}

/// Two subscribers, each with a TracingLayer: their span ids collide in the shared
/// thread-local ENTERED stack.
#[test]
fn two_subscribers_spans_with_the_same_id_restore_their_own_context() {
    use tracing::dispatcher::{self, Dispatch};
    let lp = LoggerProvider::builder()
        .with_simple_exporter(InMemoryLogExporter::default())
        .build();
    let tp = TracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let gd = Dispatch::new(
        tracing_subscriber::registry().with(TracingLayer::new(&lp).with_tracer(tp.tracer("g"))),
    );
    let sd = Dispatch::new(
        tracing_subscriber::registry().with(TracingLayer::new(&lp).with_tracer(tp.tracer("s"))),
    );
    let a = dispatcher::with_default(&gd, || tracing::info_span!("a"));
    let b = dispatcher::with_default(&sd, || tracing::info_span!("b"));
    assert_eq!(a.id(), b.id(), "ids collide across subscribers");
    let ea = a.enter();
    let b_cx = {
        let _eb = b.enter();
        otlp_sdk::context::Context::current()
            .span_context()
            .span_id()
    };
    let eb = b.enter();
    drop(ea); // a exits first (out of order): b is still entered
    let now = otlp_sdk::context::Context::current()
        .span_context()
        .span_id();
    assert_eq!(
        now, b_cx,
        "b is entered but the current otlp-sdk span is not b's"
    );
    drop(eb);
}
