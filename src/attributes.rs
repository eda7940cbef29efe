//! Attribute keys and values: the `key = value` pairs carried by resources, spans, events,
//! links, metric points and log records.
//!
//! Strings are stored without copying when they are `&'static str` (the usual case for keys
//! and for many values), and in a shared `Arc<str>` otherwise, so cloning an attribute never
//! copies its text.
//!
//! ```
//! use otlp_sdk::{KeyValue, Value};
//! let kv = KeyValue::new("operation.value", 1);
//! assert_eq!(kv.value, Value::I64(1));
//! let arr = KeyValue::new("operation.other-stuff", vec![1i64, 2, 3]);
//! assert_eq!(arr.value.to_string(), "[1,2,3]");
//! ```

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

mod array;

pub use array::{Array, ArraySlice};

/// An immutable string that is either borrowed for `'static` or shared behind an `Arc`.
///
/// Cloning is cheap in both cases.
#[derive(Clone)]
pub struct StringValue(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl StringValue {
    /// A string borrowed for the whole program (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        StringValue(Repr::Static(s))
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// Whether dropping it has work to do: a shared string releases its reference count,
    /// a static one nothing.
    #[inline]
    pub(crate) fn needs_drop(&self) -> bool {
        matches!(self.0, Repr::Shared(_))
    }

    /// Takes the string out, leaving an empty one; a static string is copied and stays (it
    /// owns nothing). Reading a static one by its fields keeps each load the width of the
    /// store that wrote it: moving the whole value out reads it in a 16-byte block, which
    /// the CPU cannot forward from two narrower stores made a moment before (the caller's
    /// builder), so it waits for them to reach the cache.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> StringValue {
        match self.0 {
            Repr::Static(s) => StringValue(Repr::Static(s)),
            Repr::Shared(_) => std::mem::take(self),
        }
    }

    /// Truncates to at most `max_chars` characters (Unicode scalar values), as attribute
    /// length limits require. Returns `true` when something was cut.
    pub(crate) fn truncate_chars(&mut self, max_chars: usize) -> bool {
        let s = self.as_str();
        if s.len() <= max_chars {
            return false; // byte length bounds char count
        }
        match s.char_indices().nth(max_chars) {
            Some((idx, _)) => {
                let cut = &s[..idx];
                *self = match &self.0 {
                    Repr::Static(st) => StringValue(Repr::Static(&st[..idx])),
                    Repr::Shared(_) => StringValue(Repr::Shared(Arc::from(cut))),
                };
                true
            }
            None => false,
        }
    }
}

impl Default for StringValue {
    fn default() -> Self {
        StringValue::from_static("")
    }
}

impl std::ops::Deref for StringValue {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for StringValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for StringValue {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for StringValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for StringValue {}

impl PartialOrd for StringValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for StringValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for StringValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for StringValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for StringValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for StringValue {
    fn from(s: &'static str) -> Self {
        StringValue(Repr::Static(s))
    }
}

impl From<String> for StringValue {
    fn from(s: String) -> Self {
        StringValue(Repr::Shared(Arc::from(s)))
    }
}

impl From<Arc<str>> for StringValue {
    fn from(s: Arc<str>) -> Self {
        StringValue(Repr::Shared(s))
    }
}

impl From<Cow<'static, str>> for StringValue {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(b) => b.into(),
            Cow::Owned(o) => o.into(),
        }
    }
}

impl From<&String> for StringValue {
    fn from(s: &String) -> Self {
        s.clone().into()
    }
}

/// An attribute key, such as `http.request.method`.
pub type Key = StringValue;

/// An attribute value: one of the OTLP `AnyValue` kinds that attributes may hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A string.
    String(StringValue),
    /// A homogeneous array.
    Array(Array),
}

impl Value {
    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Whether dropping it has work to do (a shared string, or an array in a `Vec`).
    #[inline]
    pub(crate) fn needs_drop(&self) -> bool {
        match self {
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => false,
            Value::String(s) => s.needs_drop(),
            Value::Array(a) => a.needs_drop(),
        }
    }

    /// Applies an attribute value length limit: strings, and each string of a string array,
    /// are cut to `max` characters. Returns `true` if anything was cut.
    pub(crate) fn truncate(&mut self, max: usize) -> bool {
        match self {
            Value::String(s) => s.truncate_chars(max),
            Value::Array(a) => a.truncate(max),
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            v: &[T],
            each: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            f.write_str("[")?;
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                each(f, x)?;
            }
            f.write_str("]")
        }
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::I64(i) => write!(f, "{i}"),
            Value::F64(x) => write!(f, "{x}"),
            Value::String(s) => f.write_str(s),
            Value::Array(a) => match a.as_slice() {
                ArraySlice::Bool(v) => list(f, v, |f, x| write!(f, "{x}")),
                ArraySlice::I64(v) => list(f, v, |f, x| write!(f, "{x}")),
                ArraySlice::F64(v) => list(f, v, |f, x| write!(f, "{x}")),
                ArraySlice::String(v) => list(f, v, |f, x| write!(f, "{x:?}")),
            },
        }
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            #[inline]
            fn from($v: $t) -> Self { $e }
        })*
    };
}

value_from! {
    bool => |v| Value::Bool(v),
    i64 => |v| Value::I64(v),
    i32 => |v| Value::I64(v.into()),
    u32 => |v| Value::I64(v.into()),
    f64 => |v| Value::F64(v),
    f32 => |v| Value::F64(v.into()),
    &'static str => |v| Value::String(v.into()),
    String => |v| Value::String(v.into()),
    StringValue => |v| Value::String(v),
    Arc<str> => |v| Value::String(v.into()),
    Cow<'static, str> => |v| Value::String(v.into()),
    Array => |v| Value::Array(v),
    Vec<bool> => |v| Value::Array(v.into()),
    Vec<i64> => |v| Value::Array(v.into()),
    Vec<f64> => |v| Value::Array(v.into()),
    Vec<StringValue> => |v| Value::Array(v.into()),
    Vec<&'static str> => |v| Value::Array(v.into()),
    Vec<String> => |v| Value::Array(v.into()),
}

// Through `Array`, which keeps arrays of up to three numbers inline.
impl<const N: usize> From<[i64; N]> for Value {
    #[inline]
    fn from(v: [i64; N]) -> Self {
        Value::Array(v.into())
    }
}
impl<const N: usize> From<[f64; N]> for Value {
    #[inline]
    fn from(v: [f64; N]) -> Self {
        Value::Array(v.into())
    }
}
impl<const N: usize> From<[bool; N]> for Value {
    #[inline]
    fn from(v: [bool; N]) -> Self {
        Value::Array(v.into())
    }
}
impl<const N: usize> From<[&'static str; N]> for Value {
    fn from(v: [&'static str; N]) -> Self {
        Value::Array(v.into())
    }
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// Whether dropping the pair has work to do (see [`Value::needs_drop`]).
    #[inline]
    pub(crate) fn needs_drop(&self) -> bool {
        self.key.needs_drop() || self.value.needs_drop()
    }

    /// A new pair; both sides accept anything convertible (`&'static str`, `String`, numbers,
    /// `Vec`s and arrays of them).
    #[inline]
    pub fn new(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl<K: Into<Key>, V: Into<Value>> From<(K, V)> for KeyValue {
    fn from((k, v): (K, V)) -> Self {
        KeyValue::new(k, v)
    }
}

/// Limits on attribute collections, shared by spans, events, links and log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttributeLimits {
    pub(crate) max_count: usize,
    pub(crate) max_value_len: Option<usize>,
}

/// What [`upsert_with`] did with a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upsert {
    /// Refused: the collection is full or the key is empty.
    Refused,
    /// Stored, as a new attribute or replacing the value of an existing key; `owns` when
    /// dropping the pair has work to do (see [`KeyValue::needs_drop`]).
    Stored { owns: bool },
}

impl Upsert {
    /// Whether the pair was stored.
    #[inline]
    pub(crate) fn stored(self) -> bool {
        self != Upsert::Refused
    }
}

/// Inserts or replaces `kv` in `attrs` under `limits`. Returns `false` when the attribute
/// was dropped because the collection is full or the key is empty (a replacement of an
/// existing key is never dropped, as the specification requires).
#[inline(always)]
pub(crate) fn upsert(attrs: &mut Vec<KeyValue>, kv: KeyValue, limits: AttributeLimits) -> bool {
    upsert_with(attrs, kv.key, kv.value, limits).stored()
}

/// Like [`upsert`], taking anything convertible to a key and a value. The pair is
/// converted straight into the vector's next free slot and checked there: a `KeyValue`
/// built in a local first and then pushed is copied in 16-byte blocks, which the processor
/// cannot forward from the 8-byte stores that just wrote it, a stall on every attribute set.
/// So a full vector grows by one slot even for a pair that turns out to be refused or to
/// replace an existing one (at most once past the count limit).
#[inline(always)]
pub(crate) fn upsert_with(
    attrs: &mut Vec<KeyValue>,
    key: impl Into<Key>,
    value: impl Into<Value>,
    limits: AttributeLimits,
) -> Upsert {
    if attrs.len() == attrs.capacity() {
        attrs.reserve(1);
    }
    let len = attrs.len();
    let base = attrs.as_mut_ptr();
    // SAFETY: `reserve` left room for one more element, so slot `len` is allocated and
    // unused (beyond the vector's length). The slot is fully written here (should the
    // value's conversion panic, the key already written is leaked, never read or dropped,
    // as the length does not cover the slot); below, it is either dropped in place (or its
    // value moved out and its key dropped) or taken into the vector with `set_len`, and
    // nothing between can panic, so it is never dropped twice. `existing` is built from the
    // same raw pointer as `slot` and covers only the `len` elements before it, so the two
    // never overlap.
    unsafe {
        let slot = base.add(len);
        std::ptr::addr_of_mut!((*slot).key).write(key.into());
        std::ptr::addr_of_mut!((*slot).value).write(value.into());
        let new = &mut *slot;
        if new.key.is_empty() {
            // The specification requires non-empty keys.
            std::ptr::drop_in_place(slot);
            return Upsert::Refused;
        }
        if let Some(max) = limits.max_value_len {
            new.value.truncate(max);
        }
        // Read back from what was just written, where the compiler usually knows the
        // variants (a static key, a number): then this costs nothing.
        let owns = new.needs_drop();
        let existing = std::slice::from_raw_parts_mut(base, len);
        if let Some(e) = existing.iter_mut().find(|e| e.key == new.key) {
            e.value = std::ptr::read(&new.value);
            std::ptr::drop_in_place(&mut new.key);
            return Upsert::Stored { owns };
        }
        if len >= limits.max_count {
            std::ptr::drop_in_place(slot);
            return Upsert::Refused;
        }
        attrs.set_len(len + 1);
        Upsert::Stored { owns }
    }
}

/// Builds a de-duplicated (last value wins) attribute list under `limits`; returns the list
/// and the number of attributes dropped by the count limit.
pub(crate) fn collect_limited(
    kvs: impl IntoIterator<Item = KeyValue>,
    limits: AttributeLimits,
) -> (Vec<KeyValue>, u32) {
    let mut out = Vec::new();
    let mut dropped = 0u32;
    for kv in kvs {
        if !upsert(&mut out, kv, limits) {
            dropped = dropped.saturating_add(1);
        }
    }
    (out, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_strings_are_not_copied() {
        let s: StringValue = "abc".into();
        assert!(matches!(s.0, Repr::Static(_)));
        let o: StringValue = String::from("abc").into();
        assert_eq!(s, o);
    }

    #[test]
    fn truncation_counts_chars_not_bytes() {
        let mut v = Value::from("héllo wörld");
        assert!(v.truncate(4));
        assert_eq!(v.as_str(), Some("héll"));
        let mut short = Value::from("ab");
        assert!(!short.truncate(4));
        let mut arr = Value::from(vec!["abcdef", "x"]);
        assert!(arr.truncate(3));
        assert_eq!(arr, Value::from(vec!["abc", "x"]));
    }

    #[test]
    fn upsert_replaces_and_limits() {
        let lim = AttributeLimits {
            max_count: 2,
            max_value_len: None,
        };
        let (attrs, dropped) = collect_limited(
            [
                KeyValue::new("a", 1),
                KeyValue::new("b", 2),
                KeyValue::new("c", 3),
                KeyValue::new("a", 9),
            ],
            lim,
        );
        assert_eq!(dropped, 1);
        assert_eq!(attrs, vec![KeyValue::new("a", 9), KeyValue::new("b", 2)]);
    }

    #[test]
    fn upsert_with_writes_replaces_and_refuses_in_place() {
        let lim = AttributeLimits {
            max_count: 3,
            max_value_len: Some(4),
        };
        let owning = Upsert::Stored { owns: true };
        // Shared keys and heap values, so that every path that drops a pair frees
        // something (Miri reports a leak or a double free otherwise).
        let mut attrs = Vec::new();
        let r = upsert_with(&mut attrs, String::from("a"), "abcdef".to_string(), lim);
        assert_eq!(r, owning);
        let r = upsert_with(&mut attrs, String::from("b"), vec![1i64, 2], lim);
        assert_eq!(r, owning);
        let r = upsert_with(&mut attrs, String::new(), "x".to_string(), lim);
        assert_eq!(r, Upsert::Refused);
        let r = upsert_with(&mut attrs, String::from("a"), vec!["q"; 3], lim);
        assert_eq!(r, owning);
        let r = upsert_with(&mut attrs, "c", 3i64, lim);
        assert_eq!(
            r,
            Upsert::Stored { owns: false },
            "a static key and a number"
        );
        let r = upsert_with(&mut attrs, String::from("d"), vec![true], lim);
        assert_eq!(r, Upsert::Refused);
        // A replacement is never refused, even when the list is full.
        let r = upsert_with(&mut attrs, String::from("c"), "longer".to_string(), lim);
        assert_eq!(r, owning);
        assert_eq!(
            attrs,
            vec![
                KeyValue::new("a", vec!["q"; 3]),
                KeyValue::new("b", vec![1i64, 2]),
                KeyValue::new("c", "long"),
            ]
        );
        // From a full vector: the slot is reserved first.
        let mut attrs = Vec::with_capacity(1);
        for i in 0..5i64 {
            let r = upsert_with(&mut attrs, format!("k{i}"), i, lim);
            assert_eq!(r.stored(), i < 3);
        }
        assert_eq!(attrs.len(), 3);
    }

    #[test]
    fn what_needs_dropping() {
        use std::sync::Arc;
        let shared: Arc<str> = Arc::from("s");
        let owns = |k: Key, v: Value| KeyValue { key: k, value: v }.needs_drop();
        assert!(!owns("k".into(), 1i64.into()));
        assert!(!owns("k".into(), 0.5.into()));
        assert!(!owns("k".into(), true.into()));
        assert!(!owns("k".into(), "static".into()));
        assert!(!owns("k".into(), [1i64, 2, 3].into()));
        assert!(!owns("k".into(), [0.5, 1.5].into()));
        assert!(!owns("k".into(), [true; 16].into()));
        assert!(owns(shared.clone().into(), 1i64.into()), "a shared key");
        assert!(owns("k".into(), shared.clone().into()), "a shared string");
        assert!(
            owns("k".into(), String::from("s").into()),
            "an owned string"
        );
        assert!(owns("k".into(), [1i64, 2, 3, 4].into()), "a long array");
        assert!(owns("k".into(), vec![1i64].into()), "an array from a Vec");
        assert!(owns("k".into(), ["a"].into()), "a string array");
    }

    #[test]
    fn display_of_arrays() {
        assert_eq!(Value::from([1i64, 2, 3]).to_string(), "[1,2,3]");
        assert_eq!(Value::from(vec!["a", "b"]).to_string(), "[\"a\",\"b\"]");
        assert_eq!(Value::from(true).to_string(), "true");
    }
}
