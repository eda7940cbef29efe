//! OTLP/JSON: the protobuf JSON mapping with OTLP's exceptions, for every message of the
//! three export requests and their responses.
//!
//! - field names in lowerCamelCase (decoding also accepts the original snake_case names);
//! - `traceId`, `spanId` and `parentSpanId` as hex strings (other bytes as base64);
//! - enum values as integers;
//! - 64-bit integers as decimal strings (decoding also accepts numbers);
//! - default values omitted, unknown fields ignored when decoding;
//! - non-finite doubles as `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! The mapping is written by hand (a table per message, expanded by a macro) rather than
//! generated: the id fields need a different bytes encoding than the generic mapping, and
//! writing straight into one `String` avoids an intermediate tree.
//!
//! ```
//! use otlp_sdk::export::otlp::json::OtlpJson;
//! use otlp_sdk::proto::collector::trace::v1::ExportTraceServiceRequest;
//! let req = ExportTraceServiceRequest::default();
//! let text = req.to_otlp_json();
//! assert_eq!(text, "{}");
//! assert_eq!(ExportTraceServiceRequest::from_otlp_json(&text).unwrap(), req);
//! ```

use std::fmt::{self, Write as _};

use serde_json::{Map, Value as Json};

use crate::proto::collector::logs::v1 as cl;
use crate::proto::collector::metrics::v1 as cm;
use crate::proto::collector::trace::v1 as ct;
use crate::proto::common::v1 as pc;
use crate::proto::logs::v1 as pl;
use crate::proto::metrics::v1 as pm;
use crate::proto::resource::v1 as pr;
use crate::proto::trace::v1 as pt;

/// A message with an OTLP/JSON form: every OTLP protobuf message type.
pub trait OtlpJson: Sized {
    /// Appends the JSON object to `out`.
    fn write_json(&self, out: &mut String);
    /// Reads the message from a JSON object.
    fn read_json(obj: &Map<String, Json>) -> Result<Self, JsonError>;

    /// The OTLP/JSON text of the message.
    fn to_otlp_json(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_json(&mut out);
        out
    }

    /// Parses OTLP/JSON text.
    fn from_otlp_json(text: &str) -> Result<Self, JsonError> {
        Self::from_otlp_json_slice(text.as_bytes())
    }

    /// Parses OTLP/JSON bytes.
    fn from_otlp_json_slice(bytes: &[u8]) -> Result<Self, JsonError> {
        let v: Json = serde_json::from_slice(bytes).map_err(|e| JsonError::new(e.to_string()))?;
        match &v {
            Json::Object(m) => Self::read_json(m),
            _ => Err(JsonError::new("expected a JSON object")),
        }
    }
}

/// Why OTLP/JSON could not be decoded: the field path and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    path: Vec<&'static str>,
    msg: String,
}

impl JsonError {
    fn new(msg: impl Into<String>) -> Self {
        JsonError {
            path: Vec::new(),
            msg: msg.into(),
        }
    }
    fn at(mut self, field: &'static str) -> Self {
        self.path.push(field);
        self
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return write!(f, "OTLP/JSON: {}", self.msg);
        }
        f.write_str("OTLP/JSON: at ")?;
        for (i, p) in self.path.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(p)?;
        }
        write!(f, ": {}", self.msg)
    }
}

impl std::error::Error for JsonError {}

// ---------------------------------------------------------------------------------------
// Field codecs: how one field's Rust type maps to JSON.

trait Codec<T> {
    fn is_default(v: &T) -> bool;
    fn write(v: &T, out: &mut String);
    fn read(v: &Json) -> Result<T, JsonError>;
}

struct Str;
struct Bool;
struct U32;
struct I32;
struct U64;
struct I64;
struct F64;
struct OptF64;
struct Hex;
struct B64;
struct Msg;
struct Elem;
struct Rep<C>(std::marker::PhantomData<C>);

fn type_err(expected: &str, got: &Json) -> JsonError {
    let kind = match got {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    };
    JsonError::new(format!("expected {expected}, found {kind}"))
}

fn write_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl Codec<String> for Str {
    fn is_default(v: &String) -> bool {
        v.is_empty()
    }
    fn write(v: &String, out: &mut String) {
        write_str(v, out)
    }
    fn read(v: &Json) -> Result<String, JsonError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| type_err("a string", v))
    }
}

impl Codec<bool> for Bool {
    fn is_default(v: &bool) -> bool {
        !*v
    }
    fn write(v: &bool, out: &mut String) {
        out.push_str(if *v { "true" } else { "false" })
    }
    fn read(v: &Json) -> Result<bool, JsonError> {
        v.as_bool().ok_or_else(|| type_err("a boolean", v))
    }
}

/// An integer given as a JSON number or a decimal string.
fn int_of<T: TryFrom<i128> + std::str::FromStr>(v: &Json) -> Result<T, JsonError> {
    let wide: Option<i128> = match v {
        Json::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                // An integral float such as 1e3.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1.8e19)
                    .map(|f| f as i128)
            }),
        Json::String(s) => s.trim().parse::<i128>().ok(),
        _ => return Err(type_err("an integer", v)),
    };
    wide.and_then(|w| T::try_from(w).ok())
        .ok_or_else(|| JsonError::new(format!("{v} is not an integer in range")))
}

macro_rules! number_codec {
    ($codec:ident, $t:ty, quoted = $quoted:literal) => {
        impl Codec<$t> for $codec {
            fn is_default(v: &$t) -> bool {
                *v == 0
            }
            fn write(v: &$t, out: &mut String) {
                if $quoted {
                    let _ = write!(out, "\"{v}\"");
                } else {
                    let _ = write!(out, "{v}");
                }
            }
            fn read(v: &Json) -> Result<$t, JsonError> {
                int_of(v)
            }
        }
    };
}

number_codec!(U32, u32, quoted = false);
number_codec!(I32, i32, quoted = false);
number_codec!(U64, u64, quoted = true);
number_codec!(I64, i64, quoted = true);

fn write_f64(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        // `Debug` prints the shortest representation that reads back to the same value,
        // in a form JSON accepts (`1.0`, `1e-7`, `-0.0`).
        let _ = write!(out, "{v:?}");
    }
}

fn read_f64(v: &Json) -> Result<f64, JsonError> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| type_err("a double", v)),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse::<f64>()
                .map_err(|_| JsonError::new(format!("{other:?} is not a double"))),
        },
        _ => Err(type_err("a double", v)),
    }
}

impl Codec<f64> for F64 {
    fn is_default(v: &f64) -> bool {
        // -0.0 is not the default: keep its sign.
        v.to_bits() == 0
    }
    fn write(v: &f64, out: &mut String) {
        write_f64(*v, out)
    }
    fn read(v: &Json) -> Result<f64, JsonError> {
        read_f64(v)
    }
}

impl Codec<Option<f64>> for OptF64 {
    fn is_default(v: &Option<f64>) -> bool {
        v.is_none()
    }
    fn write(v: &Option<f64>, out: &mut String) {
        write_f64(v.unwrap_or_default(), out)
    }
    fn read(v: &Json) -> Result<Option<f64>, JsonError> {
        read_f64(v).map(Some)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Codec<Vec<u8>> for Hex {
    fn is_default(v: &Vec<u8>) -> bool {
        v.is_empty()
    }
    fn write(v: &Vec<u8>, out: &mut String) {
        out.reserve(v.len() * 2 + 2);
        out.push('"');
        for b in v {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        out.push('"');
    }
    fn read(v: &Json) -> Result<Vec<u8>, JsonError> {
        let s = v.as_str().ok_or_else(|| type_err("a hex string", v))?;
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if s.len() % 2 != 0 {
            return Err(JsonError::new(format!("{s:?} is not hex (odd length)")));
        }
        s.as_bytes()
            .chunks(2)
            .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| JsonError::new(format!("{s:?} is not hex")))
    }
}

const B64_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Codec<Vec<u8>> for B64 {
    fn is_default(v: &Vec<u8>) -> bool {
        v.is_empty()
    }
    fn write(v: &Vec<u8>, out: &mut String) {
        out.push('"');
        for chunk in v.chunks(3) {
            let n = chunk.len();
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let w = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= n {
                    out.push(B64_CHARS[(w >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out.push('"');
    }
    fn read(v: &Json) -> Result<Vec<u8>, JsonError> {
        let s = v.as_str().ok_or_else(|| type_err("a base64 string", v))?;
        let bad = || JsonError::new(format!("{s:?} is not base64"));
        let val = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                _ => return None,
            } as u32)
        };
        let data = s.trim_end_matches('=').as_bytes();
        let mut out = Vec::with_capacity(data.len() * 3 / 4);
        for chunk in data.chunks(4) {
            if chunk.len() == 1 {
                return Err(bad());
            }
            let mut w = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                w |= val(*c).ok_or_else(bad)? << (18 - 6 * i);
            }
            out.push((w >> 16) as u8);
            if chunk.len() > 2 {
                out.push((w >> 8) as u8);
            }
            if chunk.len() > 3 {
                out.push(w as u8);
            }
        }
        Ok(out)
    }
}

fn object(v: &Json) -> Result<&Map<String, Json>, JsonError> {
    v.as_object().ok_or_else(|| type_err("an object", v))
}

impl<M: OtlpJson> Codec<Option<M>> for Msg {
    fn is_default(v: &Option<M>) -> bool {
        v.is_none()
    }
    fn write(v: &Option<M>, out: &mut String) {
        if let Some(m) = v {
            m.write_json(out)
        }
    }
    fn read(v: &Json) -> Result<Option<M>, JsonError> {
        M::read_json(object(v)?).map(Some)
    }
}

impl<M: OtlpJson> Codec<M> for Elem {
    fn is_default(_: &M) -> bool {
        false
    }
    fn write(v: &M, out: &mut String) {
        v.write_json(out)
    }
    fn read(v: &Json) -> Result<M, JsonError> {
        M::read_json(object(v)?)
    }
}

impl<T, C: Codec<T>> Codec<Vec<T>> for Rep<C> {
    fn is_default(v: &Vec<T>) -> bool {
        v.is_empty()
    }
    fn write(v: &Vec<T>, out: &mut String) {
        out.push('[');
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            C::write(x, out);
        }
        out.push(']');
    }
    fn read(v: &Json) -> Result<Vec<T>, JsonError> {
        match v {
            Json::Array(a) => a.iter().map(C::read).collect(),
            _ => Err(type_err("an array", v)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Messages.

fn key(out: &mut String, first: &mut bool, name: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

/// The value of a field by its JSON name or its proto name; `null` counts as absent.
fn field<'a>(m: &'a Map<String, Json>, json: &str, proto: &str) -> Option<&'a Json> {
    m.get(json)
        .or_else(|| m.get(proto.trim_start_matches("r#")))
        .filter(|v| !v.is_null())
}

/// `fooBar` -> `foo_bar` (oneof members' proto names).
fn snake(camel: &str) -> String {
    let mut s = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// A oneof: writes the set member's field and reads whichever member is present.
trait Oneof: Sized {
    fn write_fields(v: &Option<Self>, out: &mut String, first: &mut bool);
    fn read_fields(m: &Map<String, Json>) -> Result<Option<Self>, JsonError>;
}

macro_rules! message {
    ($ty:ty { $($f:ident : $name:literal => $codec:ty),* $(,)? } $(oneof $of:ident : $ofty:ty)?) => {
        impl OtlpJson for $ty {
            fn write_json(&self, out: &mut String) {
                out.push('{');
                #[allow(unused_mut, unused_variables)]
                let mut first = true;
                $(
                    if !<$codec as Codec<_>>::is_default(&self.$f) {
                        key(out, &mut first, $name);
                        <$codec as Codec<_>>::write(&self.$f, out);
                    }
                )*
                $( <$ofty as Oneof>::write_fields(&self.$of, out, &mut first); )?
                out.push('}');
            }
            #[allow(unused_variables)]
            fn read_json(m: &Map<String, Json>) -> Result<Self, JsonError> {
                Ok(Self {
                    $(
                        $f: match field(m, $name, stringify!($f)) {
                            Some(v) => <$codec as Codec<_>>::read(v).map_err(|e| e.at($name))?,
                            None => Default::default(),
                        },
                    )*
                    $( $of: <$ofty as Oneof>::read_fields(m)?, )?
                })
            }
        }
    };
}

macro_rules! oneof {
    ($ty:ty { $($var:ident : $name:literal => $codec:ty),* $(,)? }) => {
        impl Oneof for $ty {
            fn write_fields(v: &Option<Self>, out: &mut String, first: &mut bool) {
                match v {
                    $( Some(Self::$var(x)) => {
                        key(out, first, $name);
                        <$codec as Codec<_>>::write(x, out);
                    } )*
                    None => {}
                }
            }
            fn read_fields(m: &Map<String, Json>) -> Result<Option<Self>, JsonError> {
                $(
                    if let Some(v) = field(m, $name, &snake($name)) {
                        let x = <$codec as Codec<_>>::read(v).map_err(|e| e.at($name))?;
                        return Ok(Some(Self::$var(x)));
                    }
                )*
                Ok(None)
            }
        }
    };
}

// common / resource
message!(pc::AnyValue {} oneof value: pc::any_value::Value);
oneof!(pc::any_value::Value {
    StringValue: "stringValue" => Str,
    BoolValue: "boolValue" => Bool,
    IntValue: "intValue" => I64,
    DoubleValue: "doubleValue" => F64,
    ArrayValue: "arrayValue" => Elem,
    KvlistValue: "kvlistValue" => Elem,
    BytesValue: "bytesValue" => B64,
    StringValueStrindex: "stringValueStrindex" => I32,
});
message!(pc::ArrayValue { values: "values" => Rep<Elem> });
message!(pc::KeyValueList { values: "values" => Rep<Elem> });
message!(pc::KeyValue {
    key: "key" => Str,
    value: "value" => Msg,
    key_strindex: "keyStrindex" => I32,
});
message!(pc::InstrumentationScope {
    name: "name" => Str,
    version: "version" => Str,
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
});
message!(pc::EntityRef {
    schema_url: "schemaUrl" => Str,
    r#type: "type" => Str,
    id_keys: "idKeys" => Rep<Str>,
    description_keys: "descriptionKeys" => Rep<Str>,
});
message!(pr::Resource {
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
    entity_refs: "entityRefs" => Rep<Elem>,
});

// traces
message!(ct::ExportTraceServiceRequest { resource_spans: "resourceSpans" => Rep<Elem> });
message!(ct::ExportTraceServiceResponse { partial_success: "partialSuccess" => Msg });
message!(ct::ExportTracePartialSuccess {
    rejected_spans: "rejectedSpans" => I64,
    error_message: "errorMessage" => Str,
});
message!(pt::ResourceSpans {
    resource: "resource" => Msg,
    scope_spans: "scopeSpans" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pt::ScopeSpans {
    scope: "scope" => Msg,
    spans: "spans" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pt::Span {
    trace_id: "traceId" => Hex,
    span_id: "spanId" => Hex,
    trace_state: "traceState" => Str,
    parent_span_id: "parentSpanId" => Hex,
    flags: "flags" => U32,
    name: "name" => Str,
    kind: "kind" => I32,
    start_time_unix_nano: "startTimeUnixNano" => U64,
    end_time_unix_nano: "endTimeUnixNano" => U64,
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
    events: "events" => Rep<Elem>,
    dropped_events_count: "droppedEventsCount" => U32,
    links: "links" => Rep<Elem>,
    dropped_links_count: "droppedLinksCount" => U32,
    status: "status" => Msg,
});
message!(pt::span::Event {
    time_unix_nano: "timeUnixNano" => U64,
    name: "name" => Str,
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
});
message!(pt::span::Link {
    trace_id: "traceId" => Hex,
    span_id: "spanId" => Hex,
    trace_state: "traceState" => Str,
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
    flags: "flags" => U32,
});
message!(pt::Status {
    message: "message" => Str,
    code: "code" => I32,
});

// metrics
message!(cm::ExportMetricsServiceRequest { resource_metrics: "resourceMetrics" => Rep<Elem> });
message!(cm::ExportMetricsServiceResponse { partial_success: "partialSuccess" => Msg });
message!(cm::ExportMetricsPartialSuccess {
    rejected_data_points: "rejectedDataPoints" => I64,
    error_message: "errorMessage" => Str,
});
message!(pm::ResourceMetrics {
    resource: "resource" => Msg,
    scope_metrics: "scopeMetrics" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pm::ScopeMetrics {
    scope: "scope" => Msg,
    metrics: "metrics" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pm::Metric {
    name: "name" => Str,
    description: "description" => Str,
    unit: "unit" => Str,
    metadata: "metadata" => Rep<Elem>,
} oneof data: pm::metric::Data);
oneof!(pm::metric::Data {
    Gauge: "gauge" => Elem,
    Sum: "sum" => Elem,
    Histogram: "histogram" => Elem,
    ExponentialHistogram: "exponentialHistogram" => Elem,
    Summary: "summary" => Elem,
});
message!(pm::Gauge { data_points: "dataPoints" => Rep<Elem> });
message!(pm::Sum {
    data_points: "dataPoints" => Rep<Elem>,
    aggregation_temporality: "aggregationTemporality" => I32,
    is_monotonic: "isMonotonic" => Bool,
});
message!(pm::Histogram {
    data_points: "dataPoints" => Rep<Elem>,
    aggregation_temporality: "aggregationTemporality" => I32,
});
message!(pm::ExponentialHistogram {
    data_points: "dataPoints" => Rep<Elem>,
    aggregation_temporality: "aggregationTemporality" => I32,
});
message!(pm::Summary { data_points: "dataPoints" => Rep<Elem> });
message!(pm::NumberDataPoint {
    attributes: "attributes" => Rep<Elem>,
    start_time_unix_nano: "startTimeUnixNano" => U64,
    time_unix_nano: "timeUnixNano" => U64,
    exemplars: "exemplars" => Rep<Elem>,
    flags: "flags" => U32,
} oneof value: pm::number_data_point::Value);
oneof!(pm::number_data_point::Value {
    AsDouble: "asDouble" => F64,
    AsInt: "asInt" => I64,
});
message!(pm::HistogramDataPoint {
    attributes: "attributes" => Rep<Elem>,
    start_time_unix_nano: "startTimeUnixNano" => U64,
    time_unix_nano: "timeUnixNano" => U64,
    count: "count" => U64,
    sum: "sum" => OptF64,
    bucket_counts: "bucketCounts" => Rep<U64>,
    explicit_bounds: "explicitBounds" => Rep<F64>,
    exemplars: "exemplars" => Rep<Elem>,
    flags: "flags" => U32,
    min: "min" => OptF64,
    max: "max" => OptF64,
});
message!(pm::ExponentialHistogramDataPoint {
    attributes: "attributes" => Rep<Elem>,
    start_time_unix_nano: "startTimeUnixNano" => U64,
    time_unix_nano: "timeUnixNano" => U64,
    count: "count" => U64,
    sum: "sum" => OptF64,
    scale: "scale" => I32,
    zero_count: "zeroCount" => U64,
    positive: "positive" => Msg,
    negative: "negative" => Msg,
    flags: "flags" => U32,
    exemplars: "exemplars" => Rep<Elem>,
    min: "min" => OptF64,
    max: "max" => OptF64,
    zero_threshold: "zeroThreshold" => F64,
});
message!(pm::exponential_histogram_data_point::Buckets {
    offset: "offset" => I32,
    bucket_counts: "bucketCounts" => Rep<U64>,
});
message!(pm::SummaryDataPoint {
    attributes: "attributes" => Rep<Elem>,
    start_time_unix_nano: "startTimeUnixNano" => U64,
    time_unix_nano: "timeUnixNano" => U64,
    count: "count" => U64,
    sum: "sum" => F64,
    quantile_values: "quantileValues" => Rep<Elem>,
    flags: "flags" => U32,
});
message!(pm::summary_data_point::ValueAtQuantile {
    quantile: "quantile" => F64,
    value: "value" => F64,
});
message!(pm::Exemplar {
    filtered_attributes: "filteredAttributes" => Rep<Elem>,
    time_unix_nano: "timeUnixNano" => U64,
    span_id: "spanId" => Hex,
    trace_id: "traceId" => Hex,
} oneof value: pm::exemplar::Value);
oneof!(pm::exemplar::Value {
    AsDouble: "asDouble" => F64,
    AsInt: "asInt" => I64,
});

// logs
message!(cl::ExportLogsServiceRequest { resource_logs: "resourceLogs" => Rep<Elem> });
message!(cl::ExportLogsServiceResponse { partial_success: "partialSuccess" => Msg });
message!(cl::ExportLogsPartialSuccess {
    rejected_log_records: "rejectedLogRecords" => I64,
    error_message: "errorMessage" => Str,
});
message!(pl::ResourceLogs {
    resource: "resource" => Msg,
    scope_logs: "scopeLogs" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pl::ScopeLogs {
    scope: "scope" => Msg,
    log_records: "logRecords" => Rep<Elem>,
    schema_url: "schemaUrl" => Str,
});
message!(pl::LogRecord {
    time_unix_nano: "timeUnixNano" => U64,
    observed_time_unix_nano: "observedTimeUnixNano" => U64,
    severity_number: "severityNumber" => I32,
    severity_text: "severityText" => Str,
    body: "body" => Msg,
    attributes: "attributes" => Rep<Elem>,
    dropped_attributes_count: "droppedAttributesCount" => U32,
    flags: "flags" => U32,
    trace_id: "traceId" => Hex,
    span_id: "spanId" => Hex,
    event_name: "eventName" => Str,
});

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<C: Codec<T>, T>(v: &T) -> String {
        let mut s = String::new();
        C::write(v, &mut s);
        s
    }

    #[test]
    fn scalars() {
        assert_eq!(enc::<U64, _>(&u64::MAX), "\"18446744073709551615\"");
        assert_eq!(enc::<I64, _>(&-5i64), "\"-5\"");
        assert_eq!(<U64 as Codec<u64>>::read(&Json::from(7)).unwrap(), 7);
        assert!(<U32 as Codec<u32>>::read(&Json::from(-1)).is_err());
        assert_eq!(
            enc::<Str, _>(&"a\"\\\n\u{1}é".to_string()),
            r#""a\"\\\n\u0001é""#
        );
        assert_eq!(enc::<F64, _>(&f64::NAN), "\"NaN\"");
        assert_eq!(enc::<F64, _>(&1.0), "1.0");
        assert_eq!(enc::<F64, _>(&1e-7), "1e-7");
    }

    #[test]
    fn base64_and_hex() {
        for v in [
            vec![],
            vec![0u8],
            vec![1, 2],
            vec![255, 254, 253],
            (0..=255).collect(),
        ] {
            let s = enc::<B64, _>(&v);
            let j: Json = serde_json::from_str(&s).unwrap();
            assert_eq!(<B64 as Codec<Vec<u8>>>::read(&j).unwrap(), v);
            let h = enc::<Hex, _>(&v);
            let j: Json = serde_json::from_str(&h).unwrap();
            assert_eq!(<Hex as Codec<Vec<u8>>>::read(&j).unwrap(), v);
        }
        assert_eq!(enc::<B64, _>(&b"hello".to_vec()), "\"aGVsbG8=\"");
        assert!(<Hex as Codec<Vec<u8>>>::read(&Json::from("abz0")).is_err());
    }
}
