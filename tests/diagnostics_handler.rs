//! The diagnostics handler may use the SDK: emit spans through the provider whose failure it
//! reports, or replace itself, without a deadlock; a diagnostic raised while it runs goes to
//! the default handler instead of calling it again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use otlp_sdk::diagnostics;
use otlp_sdk::trace::{SpanData, SpanExporter, TracerProvider};
use otlp_sdk::{SdkError, SdkResult};

/// Runs `f` on another thread; fails if it does not return within 5 s.
fn returns(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "{what}: deadlock"
    );
}

#[derive(Debug)]
struct Failing;

impl SpanExporter for Failing {
    fn export(&mut self, _batch: &[Box<SpanData>]) -> SdkResult {
        Err(SdkError::failed("collector down"))
    }
}

// One test: the handler is process-wide.
#[test]
fn a_handler_can_use_the_sdk_and_replace_itself() {
    // A handler that records each diagnostic as a span, through the provider whose
    // simple processor reports the failed export while it ends a span.
    let provider = TracerProvider::builder()
        .with_simple_exporter(Failing)
        .build();
    let calls = Arc::new(AtomicUsize::new(0));
    {
        let (provider, calls) = (provider.clone(), Arc::clone(&calls));
        diagnostics::set_error_handler(move |_msg| {
            calls.fetch_add(1, Ordering::SeqCst);
            provider.tracer("diag").in_span("otel.diagnostic", |_| {});
        });
    }
    let p = provider.clone();
    returns("a handler ending a span", move || {
        drop(p.tracer("app").start_span("work"));
    });
    // The span, then the handler's span failed to export: the second failure was raised
    // inside the handler, so it went to stderr instead of calling the handler again.
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // A handler that replaces the handler.
    diagnostics::set_error_handler(|_msg| diagnostics::reset_error_handler());
    returns("a handler resetting the handler", || {
        diagnostics::report("x")
    });
    diagnostics::reset_error_handler();
}
