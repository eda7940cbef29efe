//! The finished span record handed to processors and exporters, and its parts.

use std::borrow::Cow;

use crate::attributes::{upsert_with, AttributeLimits, Key, KeyValue, StringValue, Upsert, Value};
use crate::scope::InstrumentationScope;
use crate::trace::id::{SpanContext, SpanId};

/// The role of a span in a trace (OTLP `SpanKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// An internal operation (the default).
    #[default]
    Internal,
    /// The server side of a synchronous request.
    Server,
    /// The client side of a synchronous request.
    Client,
    /// The sender of an asynchronous message.
    Producer,
    /// The receiver of an asynchronous message.
    Consumer,
}

impl SpanKind {
    /// The OTLP enum value (`SPAN_KIND_INTERNAL` = 1 ... `SPAN_KIND_CONSUMER` = 5).
    pub fn to_otlp(self) -> i32 {
        match self {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
}

/// The status of a span. `Unset` by default; `Ok` is final once set; only `Error` carries a
/// description.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// No status was set: the operation completed without a known error.
    #[default]
    Unset,
    /// Explicitly marked successful. A later `set_status` is ignored.
    Ok,
    /// The operation failed.
    Error {
        /// A human-readable description (may be empty).
        description: Cow<'static, str>,
    },
}

impl Status {
    /// An `Error` status with a description.
    pub fn error(description: impl Into<Cow<'static, str>>) -> Self {
        Status::Error {
            description: description.into(),
        }
    }

    /// The OTLP status code (0 unset, 1 ok, 2 error).
    pub fn code(&self) -> i32 {
        match self {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error { .. } => 2,
        }
    }

    /// The description (empty unless `Error`).
    pub fn description(&self) -> &str {
        match self {
            Status::Error { description } => description,
            _ => "",
        }
    }

    /// Spec ordering: `Ok` > `Error` > `Unset`; setting `Unset` is ignored; `Ok` is final.
    pub(crate) fn should_replace(&self, new: &Status) -> bool {
        !matches!(self, Status::Ok) && !matches!(new, Status::Unset)
    }
}

/// An event: a named, timestamped annotation on a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: StringValue,
    /// When it happened, in nanoseconds since the Unix epoch.
    pub timestamp_unix_nano: u64,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-event limit.
    pub dropped_attributes_count: u32,
}

impl Event {
    /// Whether dropping it has work to do: a shared name, or an attribute vector with a
    /// buffer.
    #[inline]
    pub(crate) fn needs_drop(&self) -> bool {
        self.name.needs_drop() || self.attributes.capacity() != 0
    }
}

/// A link from a span to another span (of this trace or another one).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span.
    pub span_context: SpanContext,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-link limit.
    pub dropped_attributes_count: u32,
}

impl Link {
    /// A link to `span_context` with attributes.
    pub fn new(span_context: SpanContext, attributes: Vec<KeyValue>) -> Self {
        Link {
            span_context,
            attributes,
            dropped_attributes_count: 0,
        }
    }
}

/// Everything recorded about one span. While the span is live this is its state; when it
/// ends it is moved to the span processor (with several processors, each but the last gets
/// a copy).
#[derive(Clone, Debug, PartialEq)]
pub struct SpanData {
    /// The span's own identity.
    pub span_context: SpanContext,
    /// The parent span id ([`SpanId::INVALID`] for a root span).
    pub parent_span_id: SpanId,
    /// `true` when the parent came from another process.
    pub parent_is_remote: bool,
    /// The span kind.
    pub kind: SpanKind,
    /// The span name.
    pub name: StringValue,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch (0 while the span is live).
    pub end_time_unix_nano: u64,
    /// Attributes, one per key.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the limits.
    pub dropped_attributes_count: u32,
    /// Events, oldest first.
    pub events: Vec<Event>,
    /// Events dropped by the limits.
    pub dropped_events_count: u32,
    /// Links.
    pub links: Vec<Link>,
    /// Links dropped by the limits.
    pub dropped_links_count: u32,
    /// The status.
    pub status: Status,
    /// The scope of the tracer that created the span.
    pub scope: InstrumentationScope,
    /// The provider that created the span (not part of the span's data).
    pub(crate) owner: crate::trace::provider::Owner,
    /// What recycling the record may skip (not part of the span's data).
    pub(crate) reuse: crate::trace::pool::Reuse,
}

impl SpanData {
    /// Sets `key` to `value` under `limits` (replacing a previous value for the key); an
    /// attribute the limits refuse is counted in `dropped_attributes_count`.
    #[inline(always)]
    pub(crate) fn set_attribute(
        &mut self,
        key: impl Into<Key>,
        value: impl Into<Value>,
        limits: AttributeLimits,
    ) {
        match upsert_with(&mut self.attributes, key, value, limits) {
            Upsert::Refused => self.dropped_attributes_count += 1,
            Upsert::Stored { owns } => self.reuse.attribute_stored(owns),
        }
    }

    /// Sets `kv` under `limits`, like [`SpanData::set_attribute`].
    #[inline]
    pub(crate) fn upsert_attribute(&mut self, kv: KeyValue, limits: AttributeLimits) {
        self.set_attribute(kv.key, kv.value, limits);
    }
}
