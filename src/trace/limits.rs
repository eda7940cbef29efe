//! Span limits: how many attributes, events and links a span keeps, and how long attribute
//! values may be. Defaults follow the specification (128 each, no length limit) and the
//! `OTEL_SPAN_*_LIMIT` / `OTEL_ATTRIBUTE_*_LIMIT` environment variables.

use crate::attributes::AttributeLimits;
use crate::env::u64_or_report;

/// Limits applied to every span of a provider. Items past a limit are dropped and counted
/// (`dropped_*_count` in the exported span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Maximum attributes per span (default 128).
    pub max_attributes_per_span: u32,
    /// Maximum events per span (default 128).
    pub max_events_per_span: u32,
    /// Maximum links per span (default 128).
    pub max_links_per_span: u32,
    /// Maximum attributes per event (default 128).
    pub max_attributes_per_event: u32,
    /// Maximum attributes per link (default 128).
    pub max_attributes_per_link: u32,
    /// Maximum length, in characters, of string attribute values (default: unlimited).
    pub max_attribute_value_length: Option<u32>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
        }
    }
}

impl SpanLimits {
    /// The defaults, overridden by the environment. A bad value is reported through
    /// diagnostics and the default kept.
    pub fn from_env() -> Self {
        let d = SpanLimits::default();
        let get = |specific: &'static str, general: Option<&'static str>, dflt: u32| -> u32 {
            u64_or_report(specific)
                .or_else(|| general.and_then(u64_or_report))
                .map(|v| v.min(u32::MAX as u64) as u32)
                .unwrap_or(dflt)
        };
        let count = get(
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            Some("OTEL_ATTRIBUTE_COUNT_LIMIT"),
            d.max_attributes_per_span,
        );
        let len = u64_or_report("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
            .or_else(|| u64_or_report("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"))
            .map(|v| v.min(u32::MAX as u64) as u32);
        SpanLimits {
            max_attributes_per_span: count,
            max_events_per_span: get("OTEL_SPAN_EVENT_COUNT_LIMIT", None, d.max_events_per_span),
            max_links_per_span: get("OTEL_SPAN_LINK_COUNT_LIMIT", None, d.max_links_per_span),
            max_attributes_per_event: get(
                "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                Some("OTEL_ATTRIBUTE_COUNT_LIMIT"),
                d.max_attributes_per_event,
            ),
            max_attributes_per_link: get(
                "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                Some("OTEL_ATTRIBUTE_COUNT_LIMIT"),
                d.max_attributes_per_link,
            ),
            max_attribute_value_length: len,
        }
    }

    pub(crate) fn span_attrs(&self) -> AttributeLimits {
        self.attrs(self.max_attributes_per_span)
    }
    pub(crate) fn event_attrs(&self) -> AttributeLimits {
        self.attrs(self.max_attributes_per_event)
    }
    pub(crate) fn link_attrs(&self) -> AttributeLimits {
        self.attrs(self.max_attributes_per_link)
    }
    fn attrs(&self, count: u32) -> AttributeLimits {
        AttributeLimits {
            max_count: count as usize,
            max_value_len: self.max_attribute_value_length.map(|v| v as usize),
        }
    }
}
