//! The SDK's own diagnostics: one hook that receives every internal problem (a dropped span,
//! a failed export, a bad environment variable...), so that telemetry never panics and never
//! fails silently.
//!
//! By default, messages go to stderr, rate limited: the same message at most once a second
//! with a count of the repeats it stood for. Install your own handler with
//! [`set_error_handler`].
//!
//! ```
//! otlp_sdk::diagnostics::set_error_handler(|msg| eprintln!("[otel] {msg}"));
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

type Handler = Arc<dyn Fn(&str) + Send + Sync>;

fn handler() -> &'static RwLock<Option<Handler>> {
    static H: OnceLock<RwLock<Option<Handler>>> = OnceLock::new();
    H.get_or_init(|| RwLock::new(None))
}

/// Replaces the handler that receives the SDK's internal diagnostics. The handler may use
/// the SDK (emit a span or a log record, even replace itself); a diagnostic raised while it
/// runs on the same thread goes to the default handler instead of calling it again.
pub fn set_error_handler(f: impl Fn(&str) + Send + Sync + 'static) {
    if let Ok(mut h) = handler().write() {
        *h = Some(Arc::new(f));
    }
}

/// Restores the default handler (rate-limited lines on stderr).
pub fn reset_error_handler() {
    if let Ok(mut h) = handler().write() {
        *h = None;
    }
}

thread_local! {
    /// The installed handler is running on this thread.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// Reports one diagnostic message through the installed handler.
pub fn report(msg: &str) {
    // The handler is called without any lock held, so that it can use the SDK (and set
    // another handler) freely.
    let installed = handler().read().ok().and_then(|h| h.clone());
    let reentered = IN_HANDLER.try_with(Cell::get).unwrap_or(true);
    match installed {
        Some(h) if !reentered => {
            let _ = IN_HANDLER.try_with(|f| f.set(true));
            // A user handler that panics must not take the application down.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(msg)));
            let _ = IN_HANDLER.try_with(|f| f.set(false));
        }
        _ => default_handler(msg),
    }
}

const WINDOW: Duration = Duration::from_secs(1);

fn default_handler(msg: &str) {
    static SEEN: OnceLock<Mutex<HashMap<String, (Instant, u64)>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    let Ok(mut seen) = seen.lock() else {
        return;
    };
    let now = Instant::now();
    if seen.len() > 1024 {
        seen.retain(|_, (t, _)| now.duration_since(*t) < WINDOW);
    }
    match seen.get_mut(msg) {
        Some((last, suppressed)) if now.duration_since(*last) < WINDOW => {
            *suppressed += 1;
        }
        Some((last, suppressed)) => {
            if *suppressed > 0 {
                eprintln!("otlp-sdk: {msg} (and {suppressed} more like it)");
            } else {
                eprintln!("otlp-sdk: {msg}");
            }
            *last = now;
            *suppressed = 0;
        }
        None => {
            eprintln!("otlp-sdk: {msg}");
            seen.insert(msg.to_string(), (now, 0));
        }
    }
}
