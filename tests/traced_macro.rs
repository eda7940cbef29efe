//! `#[traced]` as Python's decorator: a function that fails (returns `Err`, or panics)
//! leaves an `exception` event and the status `Error` on its span; an async function's span
//! ends when the function does; `impl Trait` returns work.
//!
//! The macro's spans come from the global provider: one test, alone in its binary.

use std::fmt;
use std::sync::{Arc, Mutex};

use otlp_sdk::context::{Context, FutureExt};
use otlp_sdk::export::InMemorySpanExporter;
use otlp_sdk::trace::{SpanData, Status, TracerProvider};
use otlp_sdk::Value;

#[otlp_sdk::traced]
fn io_failure() -> std::io::Result<u8> {
    let n: u8 = "7".parse().map_err(std::io::Error::other)?;
    std::fs::read("/no/such/file/otlp-sdk-test")?;
    Ok(n)
}

#[otlp_sdk::traced]
fn early_return(fail: bool) -> Result<u8, String> {
    if fail {
        return Err("asked to fail".into());
    }
    Ok(1)
}

/// An error type with no trait at all.
struct Opaque;

#[otlp_sdk::traced]
fn opaque_failure() -> Result<(), Opaque> {
    Err(Opaque)
}

#[derive(Debug)]
struct DebugOnly(#[allow(dead_code)] u8);

#[otlp_sdk::traced]
fn debug_failure() -> Result<(), DebugOnly> {
    Err(DebugOnly(3))
}

#[otlp_sdk::traced]
fn panics() {
    panic!("boom")
}

#[otlp_sdk::traced]
async fn shows() -> impl fmt::Display {
    42
}

/// Keeps a clone of its context (as code that hands the context to a task does).
#[otlp_sdk::traced]
async fn keeps_its_context(store: Arc<Mutex<Option<Context>>>) -> u8 {
    *store.lock().unwrap() = Some(Context::current());
    1
}

struct Store {
    v: Vec<i32>,
}

impl Store {
    /// A borrow in the result: the body cannot run in a closure.
    #[otlp_sdk::traced]
    fn first_mut(&mut self) -> Result<&mut i32, String> {
        self.v.first_mut().ok_or_else(|| "empty".to_string())
    }
}

#[otlp_sdk::traced]
fn opaque_ok() -> Result<impl fmt::Display, String> {
    let x: u8 = "1".parse().map_err(|_| "bad".to_string())?;
    Ok(x)
}

#[otlp_sdk::traced]
async fn async_question_mark(s: &'static str) -> Result<u8, std::num::ParseIntError> {
    let n: u8 = s.parse()?;
    Ok(n)
}

#[derive(Debug)]
struct Inner;
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inner cause")
    }
}
impl std::error::Error for Inner {}

#[derive(Debug)]
struct Outer(Inner);
impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outer")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[otlp_sdk::traced]
fn boxed_failure() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(Outer(Inner)))
}

/// Ends a traced span while the thread unwinds from an unrelated panic.
struct CloseOnDrop;
impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        close_cleanly();
    }
}

#[otlp_sdk::traced]
fn close_cleanly() {}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name.as_str() == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// The `exception` event's type and message.
fn exception(s: &SpanData) -> (String, String) {
    let e = s
        .events
        .iter()
        .find(|e| e.name.as_str() == "exception")
        .unwrap_or_else(|| panic!("{}: no exception event", s.name));
    let get = |k: &str| match e.attributes.iter().find(|kv| kv.key.as_str() == k) {
        Some(kv) => match &kv.value {
            Value::String(s) => s.to_string(),
            other => panic!("{other:?}"),
        },
        None => panic!("no {k}"),
    };
    (get("exception.type"), get("exception.message"))
}

fn is_error(s: &SpanData) -> bool {
    matches!(s.status, Status::Error { .. })
}

#[test]
fn failures_are_recorded_and_async_spans_end_with_their_function() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    otlp_sdk::global::set_tracer_provider(provider.clone());

    assert!(io_failure().is_err());
    assert_eq!(early_return(false), Ok(1));
    assert!(early_return(true).is_err());
    assert!(opaque_failure().is_err());
    assert!(debug_failure().is_err());
    let mut store = Store { v: vec![1] };
    *store.first_mut().unwrap() += 1;
    assert_eq!(store.v, [2]);
    assert!(Store { v: vec![] }.first_mut().is_err());
    assert_eq!(opaque_ok().unwrap().to_string(), "1");
    assert!(boxed_failure().is_err());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(panics).is_err());
    assert!(std::panic::catch_unwind(|| {
        let _c = CloseOnDrop;
        panic!("unrelated")
    })
    .is_err());
    std::panic::set_hook(hook);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(shows()).to_string(), "42");
    assert!(rt.block_on(async_question_mark("x")).is_err());
    assert_eq!(rt.block_on(async_question_mark("7")), Ok(7));
    let store = Arc::new(Mutex::new(None));
    assert_eq!(
        rt.block_on(keeps_its_context(store.clone()).with_current_context()),
        1
    );

    let spans = exporter.finished_spans();
    // The function returned: its span ended, though a clone of its context lives on.
    assert!(store.lock().unwrap().is_some());
    let kept = span(&spans, "keeps_its_context");
    assert!(!is_error(kept));
    assert!(kept.end_time_unix_nano > 0);
    assert!(spans.iter().any(|s| s.name.as_str() == "shows"));

    let io = span(&spans, "io_failure");
    assert!(is_error(io));
    let (ty, msg) = exception(io);
    assert!(ty.contains("io::error::Error"), "{ty}");
    assert!(msg.contains("No such file"), "{msg}");

    let ok = spans
        .iter()
        .filter(|s| s.name.as_str() == "early_return")
        .collect::<Vec<_>>();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok.iter().filter(|s| is_error(s)).count(), 1, "only the Err");
    let failed = ok.iter().find(|s| is_error(s)).unwrap();
    assert_eq!(exception(failed).1, "asked to fail");
    assert_eq!(failed.status, Status::error("asked to fail"));

    let (ty, msg) = exception(span(&spans, "opaque_failure"));
    assert!(
        ty.ends_with("Opaque") && msg.ends_with("Opaque"),
        "{ty} {msg}"
    );
    assert_eq!(exception(span(&spans, "debug_failure")).1, "DebugOnly(3)");

    let p = span(&spans, "panics");
    assert!(is_error(p));
    assert_eq!(exception(p).0, "panic");
    // Made and ended while unwinding from another panic: not a failure of its own.
    assert!(!is_error(span(&spans, "close_cleanly")));
    // A `?` in an async body is seen too.
    let q: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_str() == "async_question_mark")
        .collect();
    assert_eq!(q.iter().filter(|s| is_error(s)).count(), 1);
    // A boxed error is described by the error it holds, with its sources.
    let (_, msg) = exception(span(&spans, "boxed_failure"));
    assert_eq!(msg, "outer: inner cause");
    let first: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_str() == "first_mut")
        .collect();
    assert_eq!(
        first.iter().filter(|s| is_error(s)).count(),
        1,
        "the empty store's"
    );
    otlp_sdk::global::take_tracer_provider();
}
