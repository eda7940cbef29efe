//! Trace and span identifiers, trace flags, trace state and the span context that bundles them.

use std::fmt;
use std::sync::Arc;

/// A 16-byte trace identifier. Formats as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(u128);

impl TraceId {
    /// The invalid, all-zero trace id.
    pub const INVALID: TraceId = TraceId(0);

    /// From the big-endian bytes of the id.
    pub const fn from_bytes(b: [u8; 16]) -> Self {
        TraceId(u128::from_be_bytes(b))
    }
    /// The big-endian bytes of the id (the order OTLP and W3C use).
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
    /// From the id as an integer.
    pub const fn from_u128(v: u128) -> Self {
        TraceId(v)
    }
    /// The id as an integer.
    pub const fn to_u128(self) -> u128 {
        self.0
    }
    /// Parses 32 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        (s.len() == 32)
            .then(|| u128::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|_| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(TraceId)
    }
    /// `true` unless all zero.
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

/// An 8-byte span identifier. Formats as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(u64);

impl SpanId {
    /// The invalid, all-zero span id.
    pub const INVALID: SpanId = SpanId(0);

    /// From the big-endian bytes of the id.
    pub const fn from_bytes(b: [u8; 8]) -> Self {
        SpanId(u64::from_be_bytes(b))
    }
    /// The big-endian bytes of the id.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
    /// From the id as an integer.
    pub const fn from_u64(v: u64) -> Self {
        SpanId(v)
    }
    /// The id as an integer.
    pub const fn to_u64(self) -> u64 {
        self.0
    }
    /// Parses 16 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|_| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(SpanId)
    }
    /// `true` unless all zero.
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

impl fmt::LowerHex for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}
impl fmt::LowerHex for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

/// W3C trace flags (one byte; bit 0 is `sampled`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NOT_SAMPLED: TraceFlags = TraceFlags(0);
    /// The sampled flag.
    pub const SAMPLED: TraceFlags = TraceFlags(1);

    /// From the raw byte.
    pub const fn new(b: u8) -> Self {
        TraceFlags(b)
    }
    /// The raw byte.
    pub const fn to_u8(self) -> u8 {
        self.0
    }
    /// `true` when the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 1 == 1
    }
    /// A copy with the sampled bit set or cleared.
    pub const fn with_sampled(self, sampled: bool) -> Self {
        TraceFlags(if sampled { self.0 | 1 } else { self.0 & !1 })
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// W3C `tracestate`: an ordered list of vendor `key=value` entries (at most 32).
///
/// Cheap to clone (shared). Mutating operations return a new value, newest entry first, as the
/// W3C specification orders them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState(Option<Arc<[(String, String)]>>);

/// Why a `tracestate` entry was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStateError(pub(crate) &'static str);

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tracestate: {}", self.0)
    }
}
impl std::error::Error for TraceStateError {}

impl TraceState {
    /// The empty trace state.
    pub const NONE: TraceState = TraceState(None);

    /// Builds a trace state from entries in order, validating every key and value.
    pub fn from_entries<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, TraceStateError> {
        let mut v: Vec<(String, String)> = Vec::new();
        for (k, val) in entries {
            let (k, val) = (k.into(), val.into());
            if !valid_key(&k) {
                return Err(TraceStateError("bad key"));
            }
            if !valid_value(&val) {
                return Err(TraceStateError("bad value"));
            }
            if v.iter().any(|(ek, _)| *ek == k) {
                return Err(TraceStateError("duplicate key"));
            }
            v.push((k, val));
        }
        if v.len() > 32 {
            return Err(TraceStateError("more than 32 entries"));
        }
        Ok(TraceState(if v.is_empty() { None } else { Some(v.into()) }))
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[(String, String)] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A copy with `key=value` moved (or added) to the front.
    pub fn insert(&self, key: &str, value: &str) -> Result<Self, TraceStateError> {
        if !valid_key(key) || !valid_value(value) {
            return Err(TraceStateError("bad key or value"));
        }
        let mut v = vec![(key.to_string(), value.to_string())];
        v.extend(self.entries().iter().filter(|(k, _)| k != key).cloned());
        v.truncate(32);
        Ok(TraceState(Some(v.into())))
    }

    /// A copy without `key`.
    pub fn delete(&self, key: &str) -> Self {
        let v: Vec<_> = self
            .entries()
            .iter()
            .filter(|(k, _)| k != key)
            .cloned()
            .collect();
        TraceState(if v.is_empty() { None } else { Some(v.into()) })
    }

    /// `true` with no entry.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// The header form: `k1=v1,k2=v2`.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.entries().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// W3C key: `simple-key` or `tenant@system`; lowercase letters, digits, `_-*/`, at most 256
/// chars, starting with a letter (or digit for tenant ids).
pub(crate) fn valid_key(k: &str) -> bool {
    fn part(p: &str, max: usize, first_digit_ok: bool) -> bool {
        let b = p.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && (b[0].is_ascii_lowercase() || (first_digit_ok && b[0].is_ascii_digit()))
            && b.iter().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    }
    match k.split_once('@') {
        None => part(k, 256, false),
        Some((tenant, system)) => part(tenant, 241, true) && part(system, 14, false),
    }
}

/// W3C value: printable ASCII without `,` and `=`, at most 256 chars, not ending in a space.
pub(crate) fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// The identity of a span that can cross process boundaries: trace id, span id, flags, state
/// and whether it came from a remote parent.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    remote: bool,
    state: TraceState,
}

impl SpanContext {
    /// The invalid (empty) span context.
    pub const INVALID: SpanContext = SpanContext {
        trace_id: TraceId::INVALID,
        span_id: SpanId::INVALID,
        flags: TraceFlags::NOT_SAMPLED,
        remote: false,
        state: TraceState::NONE,
    };

    /// A span context from its parts.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        remote: bool,
        state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            flags,
            remote,
            state,
        }
    }
    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }
    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }
    /// The trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.flags
    }
    /// The W3C trace state.
    pub fn trace_state(&self) -> &TraceState {
        &self.state
    }
    /// `true` when both ids are non-zero.
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }
    /// `true` when the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }
    /// `true` when this context was propagated from another process.
    pub fn is_remote(&self) -> bool {
        self.remote
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("flags", &self.flags)
            .field("remote", &self.remote)
            .field("state", &self.state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_formatting_and_parsing() {
        let t = TraceId::from_u128(0xab);
        assert_eq!(t.to_string(), "000000000000000000000000000000ab");
        assert_eq!(TraceId::from_hex(&t.to_string()), Some(t));
        assert_eq!(SpanId::from_u64(1).to_string(), "0000000000000001");
        assert_eq!(TraceId::from_hex("+0000000000000000000000000000001"), None);
        assert_eq!(SpanId::from_hex("00000000000000g1"), None);
        assert_eq!(
            SpanId::from_hex("ABCDEF0123456789").map(|s| s.to_u64()),
            Some(0xabcdef0123456789)
        );
    }

    #[test]
    fn trace_state_rules() {
        let ts = TraceState::from_entries([("a", "1"), ("b@c", "2")]).unwrap();
        assert_eq!(ts.header(), "a=1,b@c=2");
        let ts2 = ts.insert("b@c", "3").unwrap();
        assert_eq!(ts2.header(), "b@c=3,a=1");
        assert_eq!(ts2.delete("a").header(), "b@c=3");
        assert!(TraceState::from_entries([("A", "1")]).is_err());
        assert!(TraceState::from_entries([("a", "x=y")]).is_err());
        assert!(TraceState::from_entries([("a", "1"), ("a", "2")]).is_err());
    }
}
