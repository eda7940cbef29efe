//! W3C Trace Context: the `traceparent` and `tracestate` headers.
//!
//! `traceparent` is `version-traceid-parentid-flags` in lowercase hex:
//! `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`. Extraction follows the W3C
//! rules: version `00` must be exactly 55 characters; a later version is parsed by its first
//! four fields and may continue after a `-`; version `ff`, uppercase hex, all-zero ids and
//! malformed fields make the header invalid, and then nothing is extracted. Surrounding spaces
//! and tabs are ignored; two `traceparent` headers are invalid. Only the known flags
//! (`sampled` 0x01 and `random` 0x02) are kept.
//!
//! `tracestate` is a list of at most 32 `key=value` members; several headers are joined in
//! order. An invalid or over-long list is dropped as a whole (the span context is still
//! extracted).

use crate::context::Context;
use crate::propagation::{Extractor, Injector, TextMapPropagator};
use crate::trace::id::{valid_key, valid_value};
use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// Flags this implementation knows and propagates: sampled and random.
const KNOWN_FLAGS: u8 = 0x03;
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The W3C Trace Context propagator.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        TraceContextPropagator::default()
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let sc = cx.span_context();
        if !sc.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT,
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8() & KNOWN_FLAGS
            ),
        );
        let state = sc.trace_state();
        if !state.is_empty() {
            injector.set(TRACESTATE, state.header());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extract_span_context(extractor) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> Vec<String> {
        vec![TRACEPARENT.to_string(), TRACESTATE.to_string()]
    }
}

/// The remote span context in the carrier's headers, if they are valid.
fn extract_span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
    let parents = extractor.get_all(TRACEPARENT);
    let [header] = parents.as_slice() else {
        return None; // absent, or repeated
    };
    let (trace_id, span_id, flags) = parse_traceparent(header)?;
    let state = parse_tracestate(&extractor.get_all(TRACESTATE)).unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

/// Parses a `traceparent` value; `None` when it is invalid.
pub(crate) fn parse_traceparent(header: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = header.trim_matches([' ', '\t']).as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = lower_hex(&b[0..2])? as u8;
    match version {
        0xff => return None,
        0 if b.len() != 55 => return None,
        _ if b.len() > 55 && b[55] != b'-' => return None,
        _ => {}
    }
    let trace_id = TraceId::from_u128(lower_hex(&b[3..35])?);
    let span_id = SpanId::from_u64(lower_hex(&b[36..52])? as u64);
    let flags = lower_hex(&b[53..55])? as u8;
    if !trace_id.is_valid() || !span_id.is_valid() {
        return None;
    }
    Some((trace_id, span_id, TraceFlags::new(flags & KNOWN_FLAGS)))
}

/// Lowercase hex digits (at most 32) as a number; `None` on any other character.
fn lower_hex(b: &[u8]) -> Option<u128> {
    b.iter().try_fold(0u128, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(d))
    })
}

/// Parses the `tracestate` headers (joined in order); `None` when invalid: a member that is
/// not `key=value` with a valid key and value, a repeated key, or more than 32 members.
/// Empty members (`a=1,,b=2`) are allowed and skipped.
pub(crate) fn parse_tracestate(headers: &[&str]) -> Option<TraceState> {
    let mut entries: Vec<(&str, &str)> = Vec::new();
    for member in headers.iter().flat_map(|h| h.split(',')) {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        if !valid_key(k) || !valid_value(v) || entries.iter().any(|(ek, _)| *ek == k) {
            return None;
        }
        entries.push((k, v));
        if entries.len() > MAX_TRACESTATE_MEMBERS {
            return None;
        }
    }
    TraceState::from_entries(entries).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_rejects_uppercase_and_junk() {
        assert_eq!(lower_hex(b"0a"), Some(10));
        assert_eq!(lower_hex(b"0A"), None);
        assert_eq!(lower_hex(b"0-"), None);
    }

    #[test]
    fn tracestate_parsing() {
        let ts = parse_tracestate(&["a=1 , ,b@c=2", "d=3"]).unwrap();
        assert_eq!(ts.header(), "a=1,b@c=2,d=3");
        assert!(parse_tracestate(&["a=1,a=2"]).is_none());
        assert!(parse_tracestate(&["A=1"]).is_none());
        assert!(parse_tracestate(&["a"]).is_none());
        assert!(parse_tracestate(&[]).unwrap().is_empty());
    }
}
