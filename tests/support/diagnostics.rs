//! Capturing the SDK's diagnostics in tests; usable without the OTLP features (tests that
//! need nothing else include this file alone).
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

/// Diagnostics reported by the SDK, captured for the whole test binary (the handler is
/// installed on first use).
pub fn diagnostics() -> Arc<Mutex<Vec<String>>> {
    static D: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    D.get_or_init(|| {
        let d = Arc::new(Mutex::new(Vec::new()));
        let sink = d.clone();
        otlp_sdk::diagnostics::set_error_handler(move |m| sink.lock().unwrap().push(m.to_string()));
        d
    })
    .clone()
}
