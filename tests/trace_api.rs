//! The trace API of the Python guide, section by section, checked on exported spans.

use std::error::Error;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use otlp_sdk::context::{Context, FutureExt};
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::resource::{Resource, SERVICE_NAME};
use otlp_sdk::trace::{
    get_current_span, Link, Sampler, SpanContext, SpanData, SpanId, SpanKind, SpanLimits, Status,
    TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use otlp_sdk::{semconv, InstrumentationScope, KeyValue, SdkError, Value};

fn setup() -> (TracerProvider, InMemorySpanExporter, Tracer) {
    setup_with(TracerProvider::builder())
}

fn setup_with(
    b: otlp_sdk::trace::TracerProviderBuilder,
) -> (TracerProvider, InMemorySpanExporter, Tracer) {
    let exporter = InMemorySpanExporter::default();
    let provider = b
        .with_resource(Resource::new([KeyValue::new(
            SERVICE_NAME,
            "my.service.name",
        )]))
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("my.tracer.name");
    (provider, exporter, tracer)
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name.as_str() == name)
        .unwrap_or_else(|| panic!("no span named {name}"))
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[test]
fn creating_a_span_exports_one_root_internal_span() {
    let (provider, exporter, tracer) = setup();
    {
        let span = tracer.start_as_current_span("span.name");
        assert!(span.is_recording());
        assert!(get_current_span().span_context().is_valid());
    }
    assert!(
        !get_current_span().span_context().is_valid(),
        "context restored"
    );
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(s.name.as_str(), "span.name");
    assert_eq!(s.kind, SpanKind::Internal);
    assert_eq!(s.status, Status::Unset);
    assert!(!s.parent_span_id.is_valid());
    assert_eq!(s.scope.name(), "my.tracer.name");
    assert_eq!(s.scope.version(), None);
    assert!(s.start_time_unix_nano > 0 && s.end_time_unix_nano >= s.start_time_unix_nano);
    assert!(s.span_context.is_sampled());
    let r = exporter.resource().unwrap();
    assert_eq!(
        r.get(SERVICE_NAME).and_then(Value::as_str),
        Some("my.service.name")
    );
    assert_eq!(
        r.get("telemetry.sdk.language").and_then(Value::as_str),
        Some("rust")
    );
    assert_eq!(
        r.get("telemetry.sdk.name").and_then(Value::as_str),
        Some("otlp-sdk")
    );
    assert!(r.get("telemetry.sdk.version").is_some());
    provider.shutdown().unwrap();
}

#[test]
fn nested_guards_nest_and_restore() {
    let (_p, exporter, tracer) = setup();
    {
        let parent = tracer.start_as_current_span("parent");
        {
            let child = tracer.start_as_current_span("child");
            assert_eq!(get_current_span().span_context(), child.span_context());
        }
        assert_eq!(get_current_span().span_context(), parent.span_context());
    }
    let spans = exporter.finished_spans();
    let (p, c) = (by_name(&spans, "parent"), by_name(&spans, "child"));
    assert_eq!(c.span_context.trace_id(), p.span_context.trace_id());
    assert_eq!(c.parent_span_id, p.span_context.span_id());
    assert!(!c.parent_is_remote);
    assert_ne!(c.span_context.span_id(), p.span_context.span_id());
    // The child ends first.
    assert_eq!(spans[0].name.as_str(), "child");
}

#[test]
fn span_guards_dropped_out_of_order_end_once_and_restore_the_context() {
    let (_p, exporter, tracer) = setup();
    // Fields drop in declaration order: the parent's guard goes before the child's.
    struct Scopes {
        _parent: otlp_sdk::trace::SpanGuard,
        _child: otlp_sdk::trace::SpanGuard,
    }
    let parent = tracer.start_as_current_span("parent");
    let child = tracer.start_as_current_span("child");
    let child_cx = child.span_context().clone();
    let scopes = Scopes {
        _parent: parent,
        _child: child,
    };
    {
        let Scopes { _parent, _child } = scopes;
        drop(_parent);
        // The child's guard is alive: its span is still current, and a span started now is
        // its child.
        assert_eq!(get_current_span().span_context(), &child_cx);
        tracer.start_span("grandchild").end();
        drop(_child);
    }
    assert!(!get_current_span().span_context().is_valid());
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 3, "each span ended exactly once");
    let (p, c, g) = (
        by_name(&spans, "parent"),
        by_name(&spans, "child"),
        by_name(&spans, "grandchild"),
    );
    assert_eq!(c.parent_span_id, p.span_context.span_id());
    assert_eq!(g.parent_span_id, c.span_context.span_id());
    // The parent ended first, when its guard dropped.
    assert_eq!(spans[0].name.as_str(), "parent");
}

#[test]
fn start_span_is_not_current_and_in_span_is() {
    let (_p, exporter, tracer) = setup();
    let mut s = tracer.start_span("detached");
    assert!(!get_current_span().span_context().is_valid());
    let inner_trace = tracer.in_span("closure", |span| {
        assert_eq!(get_current_span().span_context(), span.span_context());
        span.span_context().trace_id()
    });
    s.end();
    let spans = exporter.finished_spans();
    assert_eq!(
        by_name(&spans, "closure").span_context.trace_id(),
        inner_trace
    );
    assert_ne!(
        by_name(&spans, "detached").span_context.trace_id(),
        inner_trace
    );
}

#[test]
fn in_span_ends_the_span_on_panic() {
    let (_p, exporter, tracer) = setup();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tracer.in_span("panics", |_| panic!("inside"))
    }));
    assert!(r.is_err());
    assert_eq!(exporter.finished_spans().len(), 1);
    assert!(!get_current_span().span_context().is_valid());
}

#[test]
fn in_span_and_guards_end_their_span_even_when_a_handle_is_kept() {
    let (_p, exporter, tracer) = setup();
    // The closure keeps a handle, and the current span is fetched as another handle: the
    // span still ends when in_span returns (the shared span is then locked to end it).
    let kept = tracer.in_span("kept", |span| {
        let also = get_current_span();
        assert!(also.is_recording());
        span.clone()
    });
    assert!(!kept.is_recording(), "ended when in_span returned");
    assert_eq!(exporter.finished_spans().len(), 1);
    kept.set_attribute("late", 1); // ignored: the span has ended
    let kept = {
        let guard = tracer.start_as_current_span("guarded");
        guard.span()
    };
    assert!(!kept.is_recording());
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.attributes.is_empty()));
    assert!(!get_current_span().span_context().is_valid());
}

#[test]
fn in_span_copes_with_a_context_left_attached_inside_it() {
    let (_p, exporter, tracer) = setup();
    // A context attached inside the closure whose guard escapes it: in_span detaches
    // whatever is current when it ends, like a guard would, and its own span still ends.
    let escaped = tracer.in_span("outer", |_| {
        let other = tracer.start_span("other");
        otlp_sdk::context::Context::current()
            .with_span(other)
            .attach()
    });
    drop(escaped);
    let names: Vec<String> = exporter
        .finished_spans()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert!(names.contains(&"outer".to_string()), "{names:?}");
    assert!(names.contains(&"other".to_string()), "{names:?}");
}

#[test]
fn dropping_the_last_provider_and_tracer_flushes_the_batch_processor() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("t");
    drop(provider);
    tracer.in_span("a", |_| {});
    assert!(
        exporter.finished_spans().is_empty(),
        "batched, not yet exported"
    );
    drop(tracer);
    assert_eq!(
        exporter.finished_spans().len(),
        1,
        "flushed on the last drop"
    );
}

#[test]
fn attributes_of_every_type() {
    let (_p, exporter, tracer) = setup();
    let mut s = tracer.start_span("attrs");
    s.set_attribute("b", true);
    s.set_attribute("i", 1);
    s.set_attribute("f", 1.5);
    s.set_attribute("s", "Saying hello!");
    s.set_attribute("owned", String::from("x"));
    s.set_attribute("ba", vec![true, false]);
    s.set_attribute("ia", vec![1i64, 2, 3]);
    s.set_attribute("fa", vec![0.5f64]);
    s.set_attribute("sa", vec!["a", "b"]);
    s.set_attributes([KeyValue::new("m1", 1), KeyValue::new("i", 2)]);
    s.end();
    let spans = exporter.finished_spans();
    let a = &spans[0].attributes;
    assert_eq!(attr(a, "b"), Some(&Value::Bool(true)));
    assert_eq!(attr(a, "i"), Some(&Value::I64(2)), "later value replaces");
    assert_eq!(attr(a, "f"), Some(&Value::F64(1.5)));
    assert_eq!(attr(a, "s").and_then(Value::as_str), Some("Saying hello!"));
    assert_eq!(attr(a, "ia"), Some(&Value::from(vec![1i64, 2, 3])));
    assert_eq!(attr(a, "ba"), Some(&Value::from(vec![true, false])));
    assert_eq!(attr(a, "fa"), Some(&Value::from(vec![0.5f64])));
    assert_eq!(attr(a, "sa"), Some(&Value::from(vec!["a", "b"])));
    assert_eq!(a.len(), 10);
}

#[test]
fn semantic_attributes_use_the_guide_names() {
    assert_eq!(semconv::HTTP_METHOD, "http.method");
    assert_eq!(semconv::HTTP_URL, "http.url");
    assert_eq!(semconv::URL_FULL, "url.full");
    assert_eq!(semconv::EXCEPTION_STACKTRACE, "exception.stacktrace");
    assert_eq!(semconv::DB_SYSTEM_NAME, "db.system.name");
}

#[test]
fn events_with_attributes_and_timestamps() {
    let (_p, exporter, tracer) = setup();
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    {
        let span = tracer.start_as_current_span("events");
        span.add_event("Starting some work", []);
        span.add_event_with_timestamp("at", t, [KeyValue::new("k", "v")]);
        span.add_event("Finished working", vec![]);
    }
    let spans = exporter.finished_spans();
    let ev = &spans[0].events;
    assert_eq!(
        ev.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["Starting some work", "at", "Finished working"]
    );
    assert_eq!(ev[1].timestamp_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(
        attr(&ev[1].attributes, "k").and_then(Value::as_str),
        Some("v")
    );
    assert!(ev[0].timestamp_unix_nano >= spans[0].start_time_unix_nano);
}

#[test]
fn status_rules_of_the_spec() {
    let (_p, exporter, tracer) = setup();
    let mut a = tracer.start_span("unset-ignored");
    a.set_status(Status::error("first"));
    a.set_status(Status::Unset);
    a.end();
    let mut b = tracer.start_span("ok-is-final");
    b.set_status(Status::Ok);
    b.set_status(Status::error("late"));
    b.end();
    let mut c = tracer.start_span("error-replaces-error");
    c.set_status(Status::error("one"));
    c.set_status(Status::error("two"));
    c.end();
    let mut d = tracer.start_span("error-then-ok");
    d.set_status(Status::error("x"));
    d.set_status(Status::Ok);
    d.end();
    let spans = exporter.finished_spans();
    assert_eq!(
        by_name(&spans, "unset-ignored").status,
        Status::error("first")
    );
    assert_eq!(by_name(&spans, "ok-is-final").status, Status::Ok);
    assert_eq!(
        by_name(&spans, "error-replaces-error").status.description(),
        "two"
    );
    assert_eq!(by_name(&spans, "error-then-ok").status, Status::Ok);
    assert_eq!(
        Status::Ok.description(),
        "",
        "only Error carries a description"
    );
}

#[derive(Debug)]
struct Inner;
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk full")
    }
}
impl Error for Inner {}

#[derive(Debug)]
struct Boom(Inner);
impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("boom")
    }
}
impl Error for Boom {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn record_exception_adds_the_exception_event() {
    let (_p, exporter, tracer) = setup();
    {
        let span = tracer.start_as_current_span("error.operation");
        span.set_status(Status::error(""));
        span.record_exception(&Boom(Inner));
        let dyn_err: Box<dyn Error> = Box::new(Boom(Inner));
        span.record_exception(dyn_err.as_ref());
    }
    let spans = exporter.finished_spans();
    let s = &spans[0];
    assert_eq!(s.status, Status::error(""));
    assert_eq!(s.events.len(), 2);
    for e in &s.events {
        assert_eq!(e.name.as_str(), "exception");
        let ty = attr(&e.attributes, "exception.type")
            .and_then(Value::as_str)
            .unwrap();
        assert!(ty.ends_with("Boom"), "type {ty}");
        assert_eq!(
            attr(&e.attributes, "exception.message").and_then(Value::as_str),
            Some("boom")
        );
        assert_eq!(
            attr(&e.attributes, "exception.stacktrace").and_then(Value::as_str),
            Some("boom\ncaused by: disk full")
        );
    }
}

#[test]
fn update_name_end_with_timestamp_kind_start_time_links() {
    let (_p, exporter, tracer) = setup();
    let start = UNIX_EPOCH + Duration::from_secs(100);
    let end = UNIX_EPOCH + Duration::from_secs(101);
    let other = SpanContext::new(
        TraceId::from_u128(7),
        SpanId::from_u64(9),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let mut s = tracer
        .span_builder("old")
        .with_kind(SpanKind::Server)
        .with_start_time(start)
        .with_attributes([KeyValue::new("at.start", 1)])
        .with_links([Link::new(other.clone(), vec![KeyValue::new("l", 1)])])
        .start(&tracer);
    s.update_name("new");
    s.add_link(other.clone(), []);
    s.end_with_timestamp(end);
    assert!(!s.is_recording());
    s.end(); // a second end does nothing
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 1);
    let d = &spans[0];
    assert_eq!(d.name.as_str(), "new");
    assert_eq!(d.kind, SpanKind::Server);
    assert_eq!(d.start_time_unix_nano, 100_000_000_000);
    assert_eq!(d.end_time_unix_nano, 101_000_000_000);
    assert_eq!(attr(&d.attributes, "at.start"), Some(&Value::I64(1)));
    assert_eq!(d.links.len(), 2);
    assert_eq!(d.links[0].span_context, other);
}

#[test]
fn span_limits_drop_and_count() {
    let limits = SpanLimits {
        max_attributes_per_span: 2,
        max_events_per_span: 1,
        max_links_per_span: 1,
        max_attributes_per_event: 1,
        max_attributes_per_link: 1,
        max_attribute_value_length: Some(3),
    };
    let (_p, exporter, tracer) = setup_with(TracerProvider::builder().with_span_limits(limits));
    let link = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(1),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let mut s = tracer.start_span("limited");
    s.set_attribute("a", "abcdef");
    s.set_attribute("b", vec!["xyzw", "q"]);
    s.set_attribute("c", 3);
    s.set_attribute("a", "zz"); // replacing an existing key is never dropped
    s.add_event("e1", [KeyValue::new("x", 1), KeyValue::new("y", 2)]);
    s.add_event("e2", []);
    s.add_link(link.clone(), [KeyValue::new("x", 1), KeyValue::new("y", 2)]);
    s.add_link(link, []);
    s.end();
    let d = &exporter.finished_spans()[0];
    assert_eq!(d.attributes.len(), 2);
    assert_eq!(attr(&d.attributes, "a").and_then(Value::as_str), Some("zz"));
    assert_eq!(
        attr(&d.attributes, "b"),
        Some(&Value::from(vec!["xyz", "q"]))
    );
    assert_eq!(d.dropped_attributes_count, 1);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.dropped_events_count, 1);
    assert_eq!(d.events[0].dropped_attributes_count, 1);
    assert_eq!(d.links.len(), 1);
    assert_eq!(d.dropped_links_count, 1);
    assert_eq!(d.links[0].dropped_attributes_count, 1);
}

#[test]
fn always_off_records_nothing_but_keeps_ids() {
    let (_p, exporter, tracer) =
        setup_with(TracerProvider::builder().with_sampler(Sampler::AlwaysOff));
    {
        let span = tracer.start_as_current_span("dropped");
        assert!(!span.is_recording());
        assert!(span.span_context().is_valid());
        assert!(!span.span_context().is_sampled());
        span.set_attribute("ignored", 1);
        let child = tracer.start_span("child");
        assert_eq!(
            child.span_context().trace_id(),
            span.span_context().trace_id()
        );
    }
    assert!(exporter.finished_spans().is_empty());
}

#[test]
fn parent_based_follows_a_remote_parent() {
    let (_p, exporter, tracer) = setup();
    let remote = |sampled: bool| {
        SpanContext::new(
            TraceId::from_u128(0xabc),
            SpanId::from_u64(0xdef),
            TraceFlags::default().with_sampled(sampled),
            true,
            TraceState::from_entries([("vendor", "v1")]).unwrap(),
        )
    };
    let cx = Context::new().with_remote_span_context(remote(true));
    let mut s = tracer.start_with_context("from.remote", &cx);
    assert!(s.is_recording());
    s.end();
    let cx = Context::new().with_remote_span_context(remote(false));
    let s2 = tracer.start_with_context("not.sampled", &cx);
    assert!(!s2.is_recording());
    let spans = exporter.finished_spans();
    assert_eq!(spans.len(), 1);
    let d = &spans[0];
    assert_eq!(d.span_context.trace_id(), TraceId::from_u128(0xabc));
    assert_eq!(d.parent_span_id, SpanId::from_u64(0xdef));
    assert!(d.parent_is_remote);
    assert_eq!(d.span_context.trace_state().get("vendor"), Some("v1"));
}

#[test]
fn ratio_sampler_in_a_provider_is_deterministic_per_trace() {
    let (_p, exporter, tracer) = setup_with(
        TracerProvider::builder()
            .with_sampler(Sampler::parent_based(Sampler::TraceIdRatioBased(0.5))),
    );
    let mut sampled_roots = 0;
    for _ in 0..2000 {
        let root = tracer.start_as_current_span("root");
        let child = tracer.start_span("child");
        assert_eq!(
            child.is_recording(),
            root.is_recording(),
            "children follow the root"
        );
        if root.is_recording() {
            sampled_roots += 1;
        }
    }
    assert!((800..1200).contains(&sampled_roots), "{sampled_roots}");
    assert_eq!(exporter.finished_spans().len(), sampled_roots * 2);
}

#[test]
fn shutdown_is_idempotent_and_later_spans_are_dropped() {
    let (provider, exporter, tracer) = setup();
    let mut live = tracer.start_span("ends.after.shutdown");
    tracer.start_span("before").end();
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    assert_eq!(provider.shutdown(), Err(SdkError::AlreadyShutdown));
    assert_eq!(provider.force_flush(), Err(SdkError::AlreadyShutdown));
    live.end();
    let after = tracer.start_span("after");
    assert!(!after.is_recording());
    drop(after);
    assert_eq!(exporter.finished_spans().len(), 1);
    assert_eq!(provider.dropped_after_shutdown(), 1);
}

#[test]
fn tracer_scope_version_schema_and_attributes() {
    let (provider, exporter, _) = setup();
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("lib")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
            .with_attributes([KeyValue::new("k", "v")])
            .build(),
    );
    tracer.start_span("s").end();
    let d = &exporter.finished_spans()[0];
    assert_eq!(d.scope.name(), "lib");
    assert_eq!(d.scope.version(), Some("1.2.3"));
    assert_eq!(
        d.scope.schema_url(),
        Some("https://opentelemetry.io/schemas/1.26.0")
    );
    assert_eq!(d.scope.attributes(), &[KeyValue::new("k", "v")]);
}

#[test]
fn trace_and_span_ids_format_as_lowercase_hex() {
    let (_p, _e, tracer) = setup();
    let _g = tracer.start_as_current_span("my-operation");
    let cx = get_current_span().span_context().clone();
    let (t, s) = (cx.trace_id().to_string(), cx.span_id().to_string());
    assert_eq!(t.len(), 32);
    assert_eq!(s.len(), 16);
    assert!(t
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert!(s
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert!(cx.is_valid() && cx.is_sampled() && !cx.is_remote());
    assert_eq!(format!("{:x}", cx.trace_id()), t);
}

#[test]
fn multiple_processors_all_receive_the_span() {
    let a = InMemorySpanExporter::default();
    let b = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(a.clone())
        .with_batch_exporter(b.clone())
        .build();
    provider.tracer("t").start_span("both").end();
    provider.force_flush().unwrap();
    assert_eq!(a.finished_spans().len(), 1);
    assert_eq!(b.finished_spans().len(), 1);
    assert_eq!(a.finished_spans(), b.finished_spans());
}

#[test]
fn dropping_a_span_ends_it() {
    let (_p, exporter, tracer) = setup();
    {
        let _s = tracer.start_span("dropped");
    }
    assert_eq!(exporter.finished_spans().len(), 1);
}

#[otlp_sdk::traced("decorated", tracer = "decorator.scope")]
fn decorated(x: i32) -> i32 {
    get_current_span().set_attribute("x", x as i64);
    x * 2
}

#[otlp_sdk::traced]
async fn decorated_async(v: u64) -> Result<u64, String> {
    tokio::task::yield_now().await;
    get_current_span().set_attribute("v", v as i64);
    if v == 0 {
        return Err("zero".into());
    }
    Ok(v)
}

#[test]
fn traced_macro_on_sync_and_async_fns() {
    let (provider, exporter, tracer) = setup();
    otlp_sdk::global::set_tracer_provider(provider.clone());
    let parent = tracer.start_as_current_span("outer");
    assert_eq!(decorated(21), 42);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(decorated_async(5).with_current_context()),
        Ok(5)
    );
    assert_eq!(
        rt.block_on(decorated_async(0).with_current_context()),
        Err("zero".into())
    );
    drop(parent);
    let spans = exporter.finished_spans();
    let outer = by_name(&spans, "outer");
    let d = by_name(&spans, "decorated");
    assert_eq!(d.scope.name(), "decorator.scope");
    assert_eq!(attr(&d.attributes, "x"), Some(&Value::I64(21)));
    assert_eq!(d.parent_span_id, outer.span_context.span_id());
    let asyncs: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_str() == "decorated_async")
        .collect();
    assert_eq!(asyncs.len(), 2);
    for a in asyncs {
        assert_eq!(a.parent_span_id, outer.span_context.span_id());
        assert!(attr(&a.attributes, "v").is_some());
    }
    otlp_sdk::global::take_tracer_provider();
}

#[test]
fn context_follows_futures_across_await_and_spawn_without_leaking() {
    let (_p, exporter, tracer) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let parent = tracer.start_span("task.parent");
        let parent_cx = parent.span_context().clone();
        let cx = Context::new().with_span(parent);
        let t2 = tracer.clone();
        let task = tokio::spawn(
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let me = get_current_span().span_context().clone();
                let mut child = t2.start_span("task.child");
                tokio::task::yield_now().await;
                child.end();
                me
            }
            .with_context(cx),
        );
        // Another task without the context sees no span.
        let other = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            get_current_span().span_context().is_valid()
        });
        let seen = task.await.unwrap();
        assert_eq!(seen, parent_cx);
        assert!(!other.await.unwrap(), "context leaked into another task");
        assert!(!get_current_span().span_context().is_valid());
    });
    let spans = exporter.finished_spans();
    let p = by_name(&spans, "task.parent");
    let c = by_name(&spans, "task.child");
    assert_eq!(c.parent_span_id, p.span_context.span_id());
    assert_eq!(c.span_context.trace_id(), p.span_context.trace_id());
}

#[test]
fn console_exporter_prints_one_block_per_span() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let provider = TracerProvider::builder()
        .with_resource(Resource::new([KeyValue::new(
            SERVICE_NAME,
            "my.service.name",
        )]))
        .with_simple_exporter(otlp_sdk::export::ConsoleSpanExporter::with_writer(
            buf.clone(),
        ))
        .build();
    let tracer = provider.tracer("my.tracer.name");
    {
        let s = tracer.start_as_current_span("span.name");
        s.set_attribute("operation.value", 1);
    }
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["name"], "span.name");
    assert_eq!(v["kind"], "SpanKind.INTERNAL");
    assert_eq!(v["attributes"]["operation.value"], 1);
    assert_eq!(
        v["resource"]["attributes"]["service.name"],
        "my.service.name"
    );
    assert_eq!(v["context"]["trace_id"].as_str().unwrap().len(), 34);
}

/// Every way of starting a span drops what its builder still holds afterwards: the name and
/// attributes when the sampler drops the span (a build takes them only for a recorded one),
/// the parent context and the link vector's buffer always. (The SDK drops a builder by hand,
/// only when it owns something; this checks that it never leaks, and under Miri that it
/// never drops twice.)
#[test]
fn starting_a_span_drops_what_its_builder_still_holds() {
    use std::sync::Arc;

    for sampler in [Sampler::AlwaysOn, Sampler::AlwaysOff] {
        let recorded = matches!(sampler, Sampler::AlwaysOn);
        let (p, exporter, tracer) = setup_with(TracerProvider::builder().with_sampler(sampler));
        let name: Arc<str> = Arc::from(format!("shared-{recorded}"));
        let value: Arc<str> = Arc::from("a shared value");
        let marker = Arc::new(());
        let parent = Context::new().with_value(Arc::clone(&marker));
        let link = Link::new(SpanContext::INVALID, Vec::new());
        // References to `a` besides the test's own (a recorded span's record keeps its name
        // and attributes until the exporter is reset).
        let held = |a: &Arc<str>| Arc::strong_count(a) - 1;

        tracer.start_span(Arc::clone(&name)).end();
        assert_eq!(held(&name), usize::from(recorded), "start_span");
        exporter.reset();
        assert_eq!(held(&name), 0);

        drop(tracer.start_as_current_span(Arc::clone(&name)));
        tracer.in_span(Arc::clone(&name), |_| ());
        exporter.reset();
        assert_eq!(held(&name), 0, "start_as_current_span, in_span");

        let builder = || {
            tracer
                .span_builder(Arc::clone(&name))
                .with_attributes([KeyValue::new("k", Value::String(Arc::clone(&value).into()))])
                .with_links([link.clone()])
                .with_parent(parent.clone())
        };
        builder().start(&tracer).end();
        drop(builder().start_as_current(&tracer));
        assert_eq!(Arc::strong_count(&marker), 2, "the parent was dropped");
        // Without a link the vector never allocated.
        let no_links = tracer
            .span_builder(Arc::clone(&name))
            .with_parent(parent.clone());
        no_links.start(&tracer).end();
        assert_eq!(Arc::strong_count(&marker), 2);
        let spans = exporter.finished_spans();
        assert_eq!(spans.len(), if recorded { 3 } else { 0 });
        assert!(spans.iter().all(|s| s.name.as_str() == &*name));
        drop(spans);
        let kept = if recorded { 2 } else { 0 };
        assert_eq!(
            held(&value),
            kept,
            "the recorded spans with attributes keep them"
        );
        exporter.reset();
        assert_eq!(held(&name), 0, "builder paths");
        assert_eq!(held(&value), 0);
        drop(p);
    }
}
