//! Several propagators as one, the no-op propagator, and `OTEL_PROPAGATORS`.

use crate::context::Context;
use crate::env;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::propagation::{
    BaggagePropagator, Extractor, Injector, TextMapPropagator, TraceContextPropagator,
};

/// Runs several propagators in order: each injects its headers; extraction passes each one
/// the context the previous one returned.
#[derive(Debug, Default)]
pub struct TextMapCompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator>>,
}

impl TextMapCompositePropagator {
    /// A composite of `propagators`, run in order.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator>>) -> Self {
        TextMapCompositePropagator { propagators }
    }

    /// W3C Trace Context then W3C Baggage: the specification's default.
    pub fn w3c() -> Self {
        Self::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    /// The number of propagators.
    pub fn len(&self) -> usize {
        self.propagators.len()
    }

    /// `true` with no propagator (then it injects and extracts nothing).
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }
}

impl TextMapPropagator for TextMapCompositePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        for p in &self.propagators {
            p.inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.propagators
            .iter()
            .fold(cx.clone(), |cx, p| p.extract_with_context(&cx, extractor))
    }

    fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in self.propagators.iter().flat_map(|p| p.fields()) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }
}

/// Injects nothing and extracts nothing (`OTEL_PROPAGATORS=none`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopPropagator {
    _private: (),
}

impl NoopPropagator {
    /// A new no-op propagator.
    pub fn new() -> Self {
        NoopPropagator::default()
    }
}

impl TextMapPropagator for NoopPropagator {
    fn inject_context(&self, _cx: &Context, _injector: &mut dyn Injector) {}
    fn extract_with_context(&self, cx: &Context, _extractor: &dyn Extractor) -> Context {
        cx.clone()
    }
    fn fields(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The propagators `OTEL_PROPAGATORS` names, in order: a comma-separated list of
/// `tracecontext`, `baggage` and `none` (which adds nothing). Unset or empty means
/// `tracecontext,baggage`.
///
/// Errors: a known propagator this SDK does not implement (`b3`, `b3multi`, `jaeger`, `xray`,
/// `ottrace`) gives [`ConfigErrorKind::Unsupported`], any other name
/// [`ConfigErrorKind::Invalid`]. The global propagator, when not set in code, falls back to
/// `tracecontext,baggage` on such an error and reports it through
/// [`diagnostics`](crate::diagnostics).
pub fn propagators_from_env() -> Result<TextMapCompositePropagator, ConfigError> {
    match env::var("OTEL_PROPAGATORS") {
        None => Ok(TextMapCompositePropagator::w3c()),
        Some(v) => parse_propagators(&v),
    }
}

pub(crate) fn parse_propagators(list: &str) -> Result<TextMapCompositePropagator, ConfigError> {
    const VAR: &str = "OTEL_PROPAGATORS";
    // A list of nothing (",", " , ") is an empty value: the default.
    if list.split(',').all(|n| n.trim().is_empty()) {
        return Ok(TextMapCompositePropagator::w3c());
    }
    let mut out: Vec<Box<dyn TextMapPropagator>> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for name in list.split(',').map(|n| n.trim().to_ascii_lowercase()) {
        if name.is_empty() || seen.contains(&name) {
            continue;
        }
        match name.as_str() {
            "tracecontext" => out.push(Box::new(TraceContextPropagator::new())),
            "baggage" => out.push(Box::new(BaggagePropagator::new())),
            "none" => {}
            "b3" | "b3multi" | "jaeger" | "xray" | "ottrace" => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Unsupported,
                    VAR,
                    list,
                    format!(
                    "the {name} propagator is not implemented; use tracecontext, baggage or none"
                ),
                ))
            }
            _ => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Invalid,
                    VAR,
                    list,
                    format!("unknown propagator {name:?}; expected tracecontext, baggage or none"),
                ))
            }
        }
        seen.push(name);
    }
    Ok(TextMapCompositePropagator::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_propagator_list() {
        let p = parse_propagators("tracecontext, baggage").unwrap();
        assert_eq!(p.fields(), ["traceparent", "tracestate", "baggage"]);
        let p = parse_propagators("baggage,baggage").unwrap();
        assert_eq!(p.len(), 1);
        // Nothing listed: the default, as for an empty value.
        for empty in [",", " , ", ""] {
            assert_eq!(parse_propagators(empty).unwrap().len(), 2, "{empty:?}");
        }
        assert_eq!(parse_propagators("none").unwrap().len(), 0);
        assert!(parse_propagators("none").unwrap().is_empty());
        let e = parse_propagators("tracecontext,b3").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Unsupported);
        let e = parse_propagators("zipkin").unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::Invalid);
        assert_eq!(e.setting(), "OTEL_PROPAGATORS");
    }
}
