//! Context propagation: carrying the trace context and baggage across process boundaries in
//! text headers (HTTP headers, message metadata).
//!
//! - [`TextMapPropagator`]: injects a [`Context`] into a carrier and extracts one from it.
//! - [`TraceContextPropagator`]: W3C Trace Context (`traceparent`, `tracestate`).
//! - [`BaggagePropagator`]: W3C Baggage (`baggage`).
//! - [`TextMapCompositePropagator`]: several propagators as one; [`propagators_from_env`]
//!   builds it from `OTEL_PROPAGATORS`.
//! - Carriers: [`Injector`] / [`Extractor`], implemented for `HashMap<String, String>` and
//!   [`http::HeaderMap`].
//!
//! The global propagator ([`global::get_text_map_propagator`](crate::global::get_text_map_propagator))
//! is the one `OTEL_PROPAGATORS` names (`tracecontext,baggage` when unset) until one is set.
//!
//! A client injects the current context; a server extracts it and starts its span in the
//! extracted context, so the span becomes the remote span's child:
//!
//! ```
//! use std::collections::HashMap;
//! use otlp_sdk::propagation::{TextMapPropagator, TraceContextPropagator};
//! use otlp_sdk::trace::TracerProvider;
//!
//! let tracer = TracerProvider::default().tracer("example");
//! let propagator = TraceContextPropagator::new();
//!
//! let mut headers = HashMap::new();
//! let client = tracer.start_as_current_span("client");
//! propagator.inject(&mut headers);
//! drop(client);
//!
//! let parent = propagator.extract(&headers);
//! let server = tracer.start_with_context("server", &parent);
//! assert_eq!(server.span_context().trace_id(), parent.span_context().trace_id());
//! ```

mod baggage;
mod composite;
mod trace_context;

pub use self::baggage::BaggagePropagator;
pub use composite::{propagators_from_env, NoopPropagator, TextMapCompositePropagator};
pub use trace_context::TraceContextPropagator;

use std::collections::HashMap;
use std::fmt;

use crate::context::Context;

/// Where a propagator writes headers (an outgoing request's headers, say).
pub trait Injector {
    /// Sets `key` (a lowercase header name) to `value`, replacing any previous value.
    fn set(&mut self, key: &str, value: String);
}

/// Where a propagator reads headers from (an incoming request's headers, say). Lookups are
/// case-insensitive, as HTTP header names are.
pub trait Extractor {
    /// The value of `key` (the first one, if the carrier has several).
    fn get(&self, key: &str) -> Option<&str>;
    /// Every key of the carrier.
    fn keys(&self) -> Vec<&str>;
    /// Every value of `key`, in order (HTTP allows a header to repeat). The default returns
    /// the value of [`Extractor::get`].
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }
}

/// Injects context into, and extracts it from, text carriers.
pub trait TextMapPropagator: Send + Sync + fmt::Debug {
    /// Writes the parts of `cx` this propagator handles into `injector`.
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector);

    /// Reads `extractor` and returns `cx` with what it found added (`cx` unchanged when the
    /// headers are absent or invalid).
    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context;

    /// The header names this propagator writes.
    fn fields(&self) -> Vec<String>;

    /// Writes the current context into `injector`.
    fn inject(&self, injector: &mut dyn Injector) {
        Context::map_current(|cx| self.inject_context(cx, injector))
    }

    /// The current context with what `extractor` holds added.
    fn extract(&self, extractor: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::current(), extractor)
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_ascii_lowercase(), value);
    }
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        match HashMap::get(self, key) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }
    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        // Keys differing only in case count as one header repeated.
        let mut v: Vec<&str> = self
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        if v.len() > 1 {
            v.sort_unstable(); // deterministic order (a map has none)
        }
        v
    }
}

impl Injector for http::HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        let name = http::header::HeaderName::from_bytes(key.as_bytes());
        let value = http::header::HeaderValue::from_str(&value);
        if let (Ok(name), Ok(value)) = (name, value) {
            self.insert(name, value);
        }
    }
}

impl Extractor for http::HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        http::HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        http::HeaderMap::keys(self).map(|k| k.as_str()).collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        http::HeaderMap::get_all(self, key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmap_carrier_is_case_insensitive() {
        let mut m: HashMap<String, String> = HashMap::new();
        Injector::set(&mut m, "TraceParent", "x".into());
        assert_eq!(Extractor::get(&m, "traceparent"), Some("x"));
        m.insert("Other".into(), "y".into());
        assert_eq!(Extractor::get(&m, "other"), Some("y"));
        assert_eq!(Extractor::get(&m, "missing"), None);
        let mut keys = Extractor::keys(&m);
        keys.sort();
        assert_eq!(keys, ["Other", "traceparent"]);
    }

    #[test]
    fn header_map_carrier_keeps_repeats() {
        let mut h = http::HeaderMap::new();
        Injector::set(&mut h, "tracestate", "a=1".into());
        h.append("tracestate", http::HeaderValue::from_static("b=2"));
        assert_eq!(Extractor::get(&h, "TraceState"), Some("a=1"));
        assert_eq!(Extractor::get_all(&h, "tracestate"), ["a=1", "b=2"]);
        assert_eq!(Extractor::keys(&h), ["tracestate"]);
        // Values that are not valid header values are not written.
        Injector::set(&mut h, "bad", "line\nbreak".into());
        assert!(Extractor::get(&h, "bad").is_none());
    }
}
