//! The log record data model: [`LogRecord`], its [`SeverityNumber`] and [`AnyValue`] body and
//! attributes, and [`LogData`], the emitted record handed to processors and exporters.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::attributes::{ArraySlice, Key, StringValue, Value};
use crate::scope::InstrumentationScope;
use crate::time::to_unix_nanos;
use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId};

/// The severity of a log record, as the OpenTelemetry logs data model numbers it: four steps
/// in each of six ranges (`TRACE` 1-4, `DEBUG` 5-8, `INFO` 9-12, `WARN` 13-16, `ERROR` 17-20,
/// `FATAL` 21-24); a larger number is more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // the variants are the data model's short names
#[repr(i32)]
pub enum SeverityNumber {
    Trace = 1,
    Trace2 = 2,
    Trace3 = 3,
    Trace4 = 4,
    Debug = 5,
    Debug2 = 6,
    Debug3 = 7,
    Debug4 = 8,
    Info = 9,
    Info2 = 10,
    Info3 = 11,
    Info4 = 12,
    Warn = 13,
    Warn2 = 14,
    Warn3 = 15,
    Warn4 = 16,
    Error = 17,
    Error2 = 18,
    Error3 = 19,
    Error4 = 20,
    Fatal = 21,
    Fatal2 = 22,
    Fatal3 = 23,
    Fatal4 = 24,
}

impl SeverityNumber {
    const ALL: [SeverityNumber; 24] = [
        Self::Trace,
        Self::Trace2,
        Self::Trace3,
        Self::Trace4,
        Self::Debug,
        Self::Debug2,
        Self::Debug3,
        Self::Debug4,
        Self::Info,
        Self::Info2,
        Self::Info3,
        Self::Info4,
        Self::Warn,
        Self::Warn2,
        Self::Warn3,
        Self::Warn4,
        Self::Error,
        Self::Error2,
        Self::Error3,
        Self::Error4,
        Self::Fatal,
        Self::Fatal2,
        Self::Fatal3,
        Self::Fatal4,
    ];

    /// The number (1..=24), as OTLP carries it.
    pub const fn as_i32(self) -> i32 {
        self as i32
    }

    /// The severity for a number in 1..=24.
    pub fn from_i32(n: i32) -> Option<Self> {
        usize::try_from(n.checked_sub(1)?)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// The data model's short name: `TRACE`, `TRACE2` ... `FATAL4`.
    pub const fn name(self) -> &'static str {
        const NAMES: [&str; 24] = [
            "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO",
            "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2",
            "ERROR3", "ERROR4", "FATAL", "FATAL2", "FATAL3", "FATAL4",
        ];
        NAMES[(self as i32 - 1) as usize]
    }
}

impl fmt::Display for SeverityNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A log body or log attribute value: any OTLP `AnyValue`, including bytes, heterogeneous
/// arrays and nested maps (span attributes use the narrower [`Value`]).
///
/// ```
/// use otlp_sdk::logs::AnyValue;
/// let v = AnyValue::map([("user", AnyValue::from("ann")), ("tries", 3.into())]);
/// assert_eq!(v.to_string(), r#"{"user":"ann","tries":3}"#);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AnyValue {
    /// A string.
    String(StringValue),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An array of values (of any kinds).
    Array(Vec<AnyValue>),
    /// Key-value pairs, in order.
    Map(Vec<(Key, AnyValue)>),
}

impl AnyValue {
    /// A map value from pairs.
    pub fn map<K: Into<Key>, V: Into<AnyValue>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        // Keys are unique (OTLP requires it): a repeated key keeps its last value, at its
        // first position.
        let mut out: Vec<(Key, AnyValue)> = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            match out.iter_mut().find(|(ok, _)| *ok == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        AnyValue::Map(out)
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Applies an attribute value length limit: strings are cut to `max` characters and byte
    /// arrays to `max` bytes, also inside arrays and maps. Returns `true` if anything was cut.
    pub(crate) fn truncate(&mut self, max: usize) -> bool {
        match self {
            AnyValue::String(s) => s.truncate_chars(max),
            AnyValue::Bytes(b) if b.len() > max => {
                b.truncate(max);
                true
            }
            AnyValue::Array(v) => v.iter_mut().fold(false, |cut, x| x.truncate(max) | cut),
            AnyValue::Map(m) => m
                .iter_mut()
                .fold(false, |cut, (_, x)| x.truncate(max) | cut),
            _ => false,
        }
    }
}

impl fmt::Display for AnyValue {
    /// Strings as they are at the top level; nested values in a JSON-like form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn nested(f: &mut fmt::Formatter<'_>, v: &AnyValue) -> fmt::Result {
            match v {
                AnyValue::String(s) => write!(f, "{:?}", s.as_str()),
                other => write!(f, "{other}"),
            }
        }
        match self {
            AnyValue::String(s) => f.write_str(s),
            AnyValue::Int(i) => write!(f, "{i}"),
            AnyValue::Double(d) => write!(f, "{d}"),
            AnyValue::Bool(b) => write!(f, "{b}"),
            AnyValue::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
            AnyValue::Array(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    nested(f, x)?;
                }
                f.write_str("]")
            }
            AnyValue::Map(m) => {
                f.write_str("{")?;
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{:?}:", k.as_str())?;
                    nested(f, x)?;
                }
                f.write_str("}")
            }
        }
    }
}

macro_rules! any_value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for AnyValue {
            #[inline]
            fn from($v: $t) -> Self { $e }
        })*
    };
}

any_value_from! {
    bool => |v| AnyValue::Bool(v),
    i64 => |v| AnyValue::Int(v),
    i32 => |v| AnyValue::Int(v.into()),
    u32 => |v| AnyValue::Int(v.into()),
    f64 => |v| AnyValue::Double(v),
    f32 => |v| AnyValue::Double(v.into()),
    &'static str => |v| AnyValue::String(v.into()),
    String => |v| AnyValue::String(v.into()),
    StringValue => |v| AnyValue::String(v),
    Arc<str> => |v| AnyValue::String(v.into()),
    Cow<'static, str> => |v| AnyValue::String(v.into()),
    Vec<u8> => |v| AnyValue::Bytes(v),
    Vec<AnyValue> => |v| AnyValue::Array(v),
}

impl From<Value> for AnyValue {
    fn from(v: Value) -> Self {
        fn arr<T: Clone>(v: &[T], f: impl Fn(T) -> AnyValue) -> AnyValue {
            AnyValue::Array(v.iter().cloned().map(f).collect())
        }
        match v {
            Value::Bool(b) => AnyValue::Bool(b),
            Value::I64(i) => AnyValue::Int(i),
            Value::F64(x) => AnyValue::Double(x),
            Value::String(s) => AnyValue::String(s),
            Value::Array(a) => match a.as_slice() {
                ArraySlice::Bool(a) => arr(a, AnyValue::Bool),
                ArraySlice::I64(a) => arr(a, AnyValue::Int),
                ArraySlice::F64(a) => arr(a, AnyValue::Double),
                ArraySlice::String(a) => arr(a, AnyValue::String),
            },
        }
    }
}

/// A log record, as the OpenTelemetry logs data model defines it. Build one with the
/// `with_*` methods and hand it to [`Logger::emit`](crate::logs::Logger::emit), which fills in
/// the observed timestamp and the current span's ids, and applies the provider's limits.
///
/// ```
/// use otlp_sdk::logs::{LogRecord, SeverityNumber};
/// let record = LogRecord::new()
///     .with_severity(SeverityNumber::Warn)
///     .with_body("disk almost full")
///     .with_attribute("disk.free_bytes", 1024);
/// assert_eq!(record.attribute("disk.free_bytes").unwrap().to_string(), "1024");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRecord {
    /// When the event happened, in nanoseconds since the Unix epoch (0 when unknown).
    pub time_unix_nano: u64,
    /// When the SDK saw the record (set at emit when 0).
    pub observed_time_unix_nano: u64,
    /// The severity number.
    pub severity_number: Option<SeverityNumber>,
    /// The severity as the source wrote it (e.g. `WARN`, `warning`).
    pub severity_text: Option<StringValue>,
    /// The body: usually a message string, possibly structured.
    pub body: Option<AnyValue>,
    /// The attributes (unique keys once emitted).
    pub attributes: Vec<(Key, AnyValue)>,
    /// Attributes dropped by the count limit.
    pub dropped_attributes_count: u32,
    /// The event name, for records that are events.
    pub event_name: Option<StringValue>,
    /// The trace id of the span the record belongs to ([`TraceId::INVALID`] if none).
    pub trace_id: TraceId,
    /// The span id of the span the record belongs to ([`SpanId::INVALID`] if none).
    pub span_id: SpanId,
    /// The trace flags of that span.
    pub trace_flags: TraceFlags,
}

impl LogRecord {
    /// An empty record.
    pub fn new() -> Self {
        LogRecord::default()
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<AnyValue>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the severity number (the severity text is left as set, if at all).
    pub fn with_severity(mut self, severity: SeverityNumber) -> Self {
        self.severity_number = Some(severity);
        self
    }

    /// Sets the severity text.
    pub fn with_severity_text(mut self, text: impl Into<StringValue>) -> Self {
        self.severity_text = Some(text.into());
        self
    }

    /// Sets the time of the event.
    pub fn with_timestamp(mut self, t: SystemTime) -> Self {
        self.time_unix_nano = to_unix_nanos(t);
        self
    }

    /// Sets the observed time (otherwise the time of emit).
    pub fn with_observed_timestamp(mut self, t: SystemTime) -> Self {
        self.observed_time_unix_nano = to_unix_nanos(t);
        self
    }

    /// Sets the event name.
    pub fn with_event_name(mut self, name: impl Into<StringValue>) -> Self {
        self.event_name = Some(name.into());
        self
    }

    /// Adds an attribute (a later value for the same key replaces the earlier one at emit).
    pub fn with_attribute(mut self, key: impl Into<Key>, value: impl Into<AnyValue>) -> Self {
        self.add_attribute(key, value);
        self
    }

    /// Adds several attributes.
    pub fn with_attributes<K: Into<Key>, V: Into<AnyValue>>(
        mut self,
        attributes: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.attributes
            .extend(attributes.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds an attribute in place.
    pub fn add_attribute(&mut self, key: impl Into<Key>, value: impl Into<AnyValue>) {
        self.attributes.push((key.into(), value.into()));
    }

    /// Ties the record to a span explicitly (otherwise emit uses the current span).
    pub fn with_span_context(mut self, cx: &SpanContext) -> Self {
        self.trace_id = cx.trace_id();
        self.span_id = cx.span_id();
        self.trace_flags = cx.trace_flags();
        self
    }

    /// The last value of the attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&AnyValue> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }
}

/// An emitted log record with the instrumentation scope of the logger that emitted it: what
/// log processors and exporters receive.
#[derive(Clone, Debug, PartialEq)]
pub struct LogData {
    /// The record.
    pub record: LogRecord,
    /// The scope of the logger.
    pub scope: InstrumentationScope,
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_map_keeps_the_last_value_of_a_repeated_key() {
        let m = AnyValue::map([("a", 1i64), ("b", 0), ("a", 2)]);
        assert_eq!(
            m,
            AnyValue::Map(vec![
                ("a".into(), AnyValue::Int(2)),
                ("b".into(), AnyValue::Int(0))
            ])
        );
    }

    use super::*;

    #[test]
    fn severity_numbers_and_names() {
        assert_eq!(SeverityNumber::from_i32(0), None);
        assert_eq!(SeverityNumber::from_i32(25), None);
        for n in 1..=24 {
            assert_eq!(SeverityNumber::from_i32(n).unwrap().as_i32(), n);
        }
        assert_eq!(SeverityNumber::Error.as_i32(), 17);
        assert_eq!(SeverityNumber::Info4.name(), "INFO4");
        assert_eq!(SeverityNumber::Fatal4.name(), "FATAL4");
        assert!(SeverityNumber::Warn < SeverityNumber::Error);
    }

    #[test]
    fn truncation_reaches_nested_values() {
        let mut v = AnyValue::Array(vec![
            "héllo".into(),
            AnyValue::map([("k", AnyValue::from(vec![1u8, 2, 3, 4]))]),
            7.into(),
        ]);
        assert!(v.truncate(2));
        assert_eq!(
            v,
            AnyValue::Array(vec![
                "hé".into(),
                AnyValue::map([("k", AnyValue::from(vec![1u8, 2]))]),
                7.into()
            ])
        );
        assert!(!v.truncate(2));
    }

    #[test]
    fn from_attribute_values() {
        assert_eq!(
            AnyValue::from(Value::from(vec![1i64, 2])),
            AnyValue::Array(vec![1.into(), 2.into()])
        );
        assert_eq!(AnyValue::from(Value::from("x")), AnyValue::from("x"));
        assert_eq!(AnyValue::from(vec![0xabu8]).to_string(), "0xab");
    }
}
