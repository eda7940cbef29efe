//! The bridge from [`tracing`]: a `tracing-subscriber` layer that turns `tracing` events into
//! log records and (with a tracer) `tracing` spans into otlp-sdk spans.

use std::cell::RefCell;
use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::attributes::{Key, KeyValue, StringValue, Value};
use crate::context::{Context, ContextGuard};
use crate::logs::bridge_log::TargetLoggers;
use crate::logs::logger::is_sdk_thread;
use crate::logs::provider::LoggerProvider;
use crate::logs::record::{AnyValue, LogRecord, SeverityNumber};
use crate::semconv;
use crate::time::now_unix_nanos;
use crate::trace::{SpanId, SpanKind, Status, Tracer};

/// A [`Layer`] that sends `tracing` telemetry through otlp-sdk.
///
/// - Every event becomes a log record: the `message` field is the body, the other fields are
///   attributes, the level gives the severity (`ERROR` 17, `WARN` 13, `INFO` 9, `DEBUG` 5,
///   `TRACE` 1), the target is the instrumentation scope, and module path, file and line
///   become `code.namespace`, `code.file.path` and `code.line.number`.
/// - With [`TracingLayer::with_tracer`], every `tracing` span becomes an otlp-sdk span (its
///   fields are attributes, `follows_from` becomes a link). A `tracing` span's parent is its
///   `tracing` parent, or else the otlp-sdk span current when it was created; while it is
///   entered, its otlp-sdk span is current, so spans and log records made inside it (through
///   any API) are its children and carry its ids. The fields `otel.name`, `otel.kind`
///   (`server`, `client`, `producer`, `consumer`, `internal`), `otel.status_code` (`ok`,
///   `error`) and `otel.status_description` set the span's name, kind and status.
/// - An event carries the ids of its `tracing` span (its explicit parent, or the current
///   `tracing` span), or else of the current otlp-sdk span; an explicit root event
///   (`parent: None`) carries none.
///
/// ```
/// use otlp_sdk::logs::{InMemoryLogExporter, LoggerProvider, TracingLayer};
/// use otlp_sdk::trace::TracerProvider;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let logs = InMemoryLogExporter::default();
/// let logger_provider = LoggerProvider::builder().with_simple_exporter(logs.clone()).build();
/// let tracer = TracerProvider::default().tracer("my.tracer.name");
/// let subscriber = tracing_subscriber::registry()
///     .with(TracingLayer::new(&logger_provider).with_tracer(tracer));
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("my-operation").entered();
///     tracing::info!(user = "ann", "doing some work");
/// });
/// let record = &logs.emitted_logs()[0].record;
/// assert_eq!(record.body.as_ref().unwrap().as_str(), Some("doing some work"));
/// assert!(record.trace_id.is_valid());
/// ```
pub struct TracingLayer {
    loggers: TargetLoggers,
    tracer: Option<Tracer>,
}

impl TracingLayer {
    /// A layer emitting log records through `provider`'s loggers; `tracing` spans are not
    /// exported (events still carry the current otlp-sdk span's ids).
    pub fn new(provider: &LoggerProvider) -> Self {
        TracingLayer {
            loggers: TargetLoggers::new(provider, "tracing"),
            tracer: None,
        }
    }

    /// Also turns `tracing` spans into spans of `tracer`.
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }
}

impl fmt::Debug for TracingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingLayer")
            .field("tracer", &self.tracer)
            .finish()
    }
}

/// What the layer keeps in a `tracing` span's extensions: the context whose active span is
/// the span's otlp-sdk span.
struct OtelSpan {
    cx: Context,
    /// `otel.status_code` and `otel.status_description` as recorded so far (they may arrive
    /// in separate `record` calls).
    status_code: Option<String>,
    status_description: Option<String>,
}

thread_local! {
    /// Contexts attached by `on_enter`, detached by `on_exit` (enter and exit of a span happen
    /// on one thread), with the otlp-sdk span id: `tracing` ids are numbered per subscriber,
    /// so two subscribers' spans may share one.
    static ENTERED: RefCell<Vec<(Id, SpanId, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

fn severity_of(level: &Level) -> SeverityNumber {
    if *level == Level::ERROR {
        SeverityNumber::Error
    } else if *level == Level::WARN {
        SeverityNumber::Warn
    } else if *level == Level::INFO {
        SeverityNumber::Info
    } else if *level == Level::DEBUG {
        SeverityNumber::Debug
    } else {
        SeverityNumber::Trace
    }
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(tracer) = &self.tracer else { return };
        // Spans created while the SDK exports (e.g. by the HTTP stack) must not feed the
        // pipeline that exports them.
        if is_sdk_thread() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<OtelSpan>().map(|o| o.cx.clone()));
        let parent = match parent {
            Some(cx) => cx,
            None if attrs.is_root() => Context::new(),
            None => Context::current(),
        };
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let name = fields
            .name
            .take()
            .unwrap_or_else(|| StringValue::from_static(attrs.metadata().name()));
        let mut otel = tracer
            .span_builder(name)
            .with_kind(fields.kind.unwrap_or_default())
            .with_attributes(std::mem::take(&mut fields.attributes))
            .with_parent(parent.clone())
            .start(tracer);
        if let Some(status) = status_of(&fields.status_code, &fields.status_description) {
            otel.set_status(status);
        }
        let cx = parent.with_span(otel);
        span.extensions_mut().insert(OtelSpan {
            cx,
            status_code: fields.status_code,
            status_description: fields.status_description,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(o) = ext.get_mut::<OtelSpan>() {
            let mut fields = SpanFields::default();
            values.record(&mut fields);
            let handle = o.cx.span();
            if let Some(name) = fields.name.take() {
                handle.update_name(name);
            }
            let status_changed =
                fields.status_code.is_some() || fields.status_description.is_some();
            if fields.status_code.is_some() {
                o.status_code = fields.status_code.take();
            }
            if fields.status_description.is_some() {
                o.status_description = fields.status_description.take();
            }
            if status_changed {
                if let Some(status) = status_of(&o.status_code, &o.status_description) {
                    handle.set_status(status);
                }
            }
            handle.set_attributes(std::mem::take(&mut fields.attributes));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let (Some(span), Some(other)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let other_cx = other
            .extensions()
            .get::<OtelSpan>()
            .map(|o| o.cx.span_context().clone());
        let Some(sc) = other_cx else { return };
        let ext = span.extensions();
        if let Some(o) = ext.get::<OtelSpan>() {
            o.cx.span().add_link(sc, []);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let cx = span.extensions().get::<OtelSpan>().map(|o| o.cx.clone());
        if let Some(cx) = cx {
            let sid = cx.span_context().span_id();
            let guard = cx.attach();
            let _ = ENTERED.try_with(|e| {
                if let Ok(mut e) = e.try_borrow_mut() {
                    e.push((id.clone(), sid, guard));
                }
            });
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(sid) = ctx.span(id).and_then(|s| {
            s.extensions()
                .get::<OtelSpan>()
                .map(|o| o.cx.span_context().span_id())
        }) else {
            return;
        };
        let guard = ENTERED
            .try_with(|e| {
                let mut e = e.try_borrow_mut().ok()?;
                let i = e
                    .iter()
                    .rposition(|(eid, esid, _)| eid == id && *esid == sid)?;
                Some(e.remove(i).2)
            })
            .ok()
            .flatten();
        // Dropped outside the borrow: detaching may end a span, which reads the context.
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let otel = span.extensions_mut().remove::<OtelSpan>();
        if let Some(o) = otel {
            o.cx.span().end();
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if !self.loggers.enabled() {
            return;
        }
        let meta = event.metadata();
        let mut fields = EventFields {
            body: None,
            attributes: Vec::new(),
        };
        event.record(&mut fields);
        let mut record = LogRecord {
            time_unix_nano: now_unix_nanos(),
            severity_number: Some(severity_of(meta.level())),
            severity_text: Some(meta.level().as_str().into()),
            body: fields.body,
            attributes: fields.attributes,
            ..LogRecord::default()
        };
        if let Some(m) = meta.module_path() {
            record.add_attribute(semconv::legacy::CODE_NAMESPACE, m);
        }
        if let Some(f) = meta.file() {
            record.add_attribute(semconv::CODE_FILE_PATH, f);
        }
        if let Some(l) = meta.line() {
            record.add_attribute(semconv::CODE_LINE_NUMBER, l);
        }
        // The event's span's context: the explicit parent's, or the current span's; none for
        // an explicit root (`parent: None`).
        let span_cx = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<OtelSpan>().map(|o| o.cx.clone()));
        let logger = self.loggers.get(meta.target());
        match span_cx {
            Some(cx) => logger.emit_with_context(record, &cx),
            None if event.is_root() => logger.emit_with_context(record, &Context::new()),
            None => logger.emit(record),
        }
    }
}

/// Collects span fields: the special `otel.name`, `otel.kind`, `otel.status_code` and
/// `otel.status_description` fields set the span's name, kind and status; the others are
/// attributes.
#[derive(Default)]
struct SpanFields {
    attributes: Vec<KeyValue>,
    name: Option<StringValue>,
    kind: Option<SpanKind>,
    status_code: Option<String>,
    status_description: Option<String>,
}

/// The status that `otel.status_code` and `otel.status_description` describe.
fn status_of(code: &Option<String>, description: &Option<String>) -> Option<Status> {
    let code = code.as_deref()?;
    if code.eq_ignore_ascii_case("ok") {
        Some(Status::Ok)
    } else if code.eq_ignore_ascii_case("error") {
        Some(Status::error(description.clone().unwrap_or_default()))
    } else {
        None
    }
}

impl SpanFields {
    fn put(&mut self, field: &Field, value: Value) {
        let text = || match &value {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        };
        match field.name() {
            "otel.name" => self.name = Some(text().into()),
            "otel.kind" => {
                self.kind = match text().to_ascii_lowercase().as_str() {
                    "server" => Some(SpanKind::Server),
                    "client" => Some(SpanKind::Client),
                    "producer" => Some(SpanKind::Producer),
                    "consumer" => Some(SpanKind::Consumer),
                    "internal" => Some(SpanKind::Internal),
                    _ => None,
                }
            }
            semconv::OTEL_STATUS_CODE => self.status_code = Some(text()),
            semconv::OTEL_STATUS_DESCRIPTION => self.status_description = Some(text()),
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }
}

impl Visit for SpanFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.put(field, v);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// Collects event fields: `message` is the body, the rest are attributes.
struct EventFields {
    body: Option<AnyValue>,
    attributes: Vec<(Key, AnyValue)>,
}

impl EventFields {
    fn put(&mut self, field: &Field, value: AnyValue) {
        if field.name() == "message" {
            self.body = Some(value);
        } else {
            self.attributes
                .push((StringValue::from_static(field.name()), value));
        }
    }
}

impl Visit for EventFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).map_or_else(|_| value.to_string().into(), AnyValue::Int);
        self.put(field, v);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string().into());
    }
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.put(field, value.to_vec().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}
