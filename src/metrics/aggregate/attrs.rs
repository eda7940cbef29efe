//! Attribute sets on the hot path: an order-independent hash that reads a bounded number of
//! bytes per string, equality that ignores order, and the canonical (sorted, de-duplicated,
//! filtered) form a series is keyed by.

use crate::attributes::{Array, ArraySlice, Key, KeyValue, Value};

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// Folded 64x64->128 multiply: a fast, well-mixing combination of two words.
#[inline(always)]
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let m = u128::from(a ^ K1).wrapping_mul(u128::from(b ^ K2));
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline(always)]
fn read8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn read4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Hashes the length, the first, middle and last bytes of `s`: O(1) per string. Equal
/// strings hash equally; collisions are resolved by full comparison.
#[inline(always)]
fn hash_str(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    let (x, y) = if n >= 8 {
        let mid = if n > 16 { read8(b, n / 2 - 4) } else { 0 };
        (read8(b, 0) ^ mid.rotate_left(32), read8(b, n - 8))
    } else if n >= 4 {
        (read4(b, 0), read4(b, n - 4))
    } else if n > 0 {
        (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        )
    } else {
        (0, 0)
    };
    mix(x ^ (n as u64), y)
}

#[inline(always)]
fn hash_value(v: &Value) -> u64 {
    match v {
        Value::String(s) => hash_str(s.as_str()) ^ 4,
        Value::I64(i) => mix(2, *i as u64),
        Value::Bool(b) => mix(1, u64::from(*b)),
        Value::F64(f) => mix(3, f.to_bits()),
        Value::Array(a) => hash_array(a),
    }
}

#[cold]
fn hash_array(a: &Array) -> u64 {
    let mut h = mix(5, a.len() as u64);
    match a.as_slice() {
        ArraySlice::Bool(v) => v.iter().for_each(|x| h = mix(h, u64::from(*x))),
        ArraySlice::I64(v) => v.iter().for_each(|x| h = mix(h, *x as u64)),
        ArraySlice::F64(v) => v.iter().for_each(|x| h = mix(h, x.to_bits())),
        ArraySlice::String(v) => v.iter().for_each(|x| h = mix(h, hash_str(x))),
    }
    h
}

/// An order-independent hash of an attribute slice: per-pair hashes combined by addition.
#[inline]
pub(crate) fn hash_attrs(attrs: &[KeyValue]) -> u64 {
    let mut sum = 0u64;
    for kv in attrs {
        sum = sum.wrapping_add(mix(hash_str(kv.key.as_str()), hash_value(&kv.value)));
    }
    mix(sum, attrs.len() as u64)
}

#[inline(always)]
fn f64_eq(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// String equality with a shortcut for the usual hit: both sides share their bytes
/// (`&'static str`, or clones of one `Arc<str>`), so no byte comparison is needed.
#[inline(always)]
fn str_eq(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Value equality where floats compare by bits (NaN equals NaN; series must be findable).
#[inline]
pub(crate) fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => str_eq(x.as_str(), y.as_str()),
        (Value::I64(x), Value::I64(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::F64(x), Value::F64(y)) => f64_eq(*x, *y),
        (Value::Array(x), Value::Array(y)) => array_eq(x, y),
        _ => false,
    }
}

#[cold]
fn array_eq(a: &Array, b: &Array) -> bool {
    match (a.as_slice(), b.as_slice()) {
        (ArraySlice::F64(x), ArraySlice::F64(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| f64_eq(*p, *q))
        }
        _ => a == b,
    }
}

#[inline(always)]
pub(crate) fn kv_eq(a: &KeyValue, b: &KeyValue) -> bool {
    str_eq(a.key.as_str(), b.key.as_str()) && value_eq(&a.value, &b.value)
}

/// Same pairs in the same order.
#[inline]
pub(crate) fn eq_in_order(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| kv_eq(x, y))
}

/// The identity of one pair as four words: the key's address and length, then the value's
/// payload and a kind word. Equal words imply equal pairs: strings are immutable and an alias
/// keeps a clone of each (so its text stays alive at that address); string lengths are below
/// `isize::MAX`, so they never equal a kind word (`u64::MAX - kind`). Arrays have no identity
/// words (`None`).
pub(crate) type PairWords = [u64; 4];

const KIND_BOOL: u64 = u64::MAX;
const KIND_I64: u64 = u64::MAX - 1;
const KIND_F64: u64 = u64::MAX - 2;
const KIND_ARRAY: u64 = u64::MAX - 3;

#[inline(always)]
fn pair_words(kv: &KeyValue) -> PairWords {
    let k = kv.key.as_str();
    let (p, q) = match &kv.value {
        Value::String(s) => {
            let s = s.as_str();
            (s.as_ptr() as usize as u64, s.len() as u64)
        }
        Value::I64(i) => (*i as u64, KIND_I64),
        Value::F64(f) => (f.to_bits(), KIND_F64),
        Value::Bool(b) => (u64::from(*b), KIND_BOOL),
        Value::Array(_) => (0, KIND_ARRAY),
    };
    [k.as_ptr() as usize as u64, k.len() as u64, p, q]
}

/// The identity words of `attrs`, when none of its values is an array.
pub(crate) fn identity_words(attrs: &[KeyValue]) -> Option<Box<[PairWords]>> {
    attrs
        .iter()
        .map(|kv| (!matches!(kv.value, Value::Array(_))).then(|| pair_words(kv)))
        .collect()
}

/// `true` when `attrs` has exactly these identity words (then it equals, in order, the set
/// the words were taken from). `false` proves nothing: compare with [`eq_in_order`].
/// Branch-free over the pairs: the usual hit (the same strings) costs a few loads and XORs.
#[inline(always)]
pub(crate) fn same_identity(words: &[PairWords], attrs: &[KeyValue]) -> bool {
    if words.len() != attrs.len() {
        return false;
    }
    let mut diff = 0u64;
    for (w, kv) in words.iter().zip(attrs) {
        let x = pair_words(kv);
        diff |= (w[0] ^ x[0]) | (w[1] ^ x[1]) | (w[2] ^ x[2]) | (w[3] ^ x[3]);
    }
    diff == 0
}

/// Same set of pairs in any order. `stored_unique` says whether `stored` has no duplicate
/// key; when it has, only the same order counts as equal (duplicates resolve by order).
#[inline]
pub(crate) fn eq_any_order(stored: &[KeyValue], stored_unique: bool, input: &[KeyValue]) -> bool {
    if stored.len() != input.len() {
        return false;
    }
    if eq_in_order(stored, input) {
        return true;
    }
    if !stored_unique || stored.len() > 64 {
        return false;
    }
    let mut used = 0u64;
    'outer: for kv in input {
        for (i, s) in stored.iter().enumerate() {
            if used & (1 << i) == 0 && kv_eq(s, kv) {
                used |= 1 << i;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// `true` when no key appears twice.
pub(crate) fn unique_keys(attrs: &[KeyValue]) -> bool {
    attrs
        .iter()
        .enumerate()
        .all(|(i, a)| attrs[i + 1..].iter().all(|b| a.key != b.key))
}

/// A view's attribute key filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AttrFilter {
    /// Keep only these keys.
    Allow(Vec<Key>),
    /// Drop these keys.
    Deny(Vec<Key>),
}

impl AttrFilter {
    pub(crate) fn keeps(&self, key: &Key) -> bool {
        match self {
            AttrFilter::Allow(keys) => keys.contains(key),
            AttrFilter::Deny(keys) => !keys.contains(key),
        }
    }
}

/// The canonical form of an attribute set: sorted by key, each key once (the last value
/// given wins), filtered.
pub(crate) fn canonicalize(attrs: &[KeyValue], filter: Option<&AttrFilter>) -> Vec<KeyValue> {
    let mut v: Vec<KeyValue> = attrs
        .iter()
        .filter(|kv| filter.is_none_or(|f| f.keeps(&kv.key)))
        .cloned()
        .collect();
    // Stable: equal keys keep their input order, so the last of each run is the last given.
    v.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out: Vec<KeyValue> = Vec::with_capacity(v.len());
    for kv in v {
        match out.last_mut() {
            Some(last) if last.key == kv.key => *last = kv,
            _ => out.push(kv),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
        KeyValue::new(k, v)
    }

    #[test]
    fn hash_ignores_order_and_equality_checks_contents() {
        let a = [kv("a", 1), kv("b", "x"), kv("c", true)];
        let b = [kv("c", true), kv("a", 1), kv("b", "x")];
        assert_eq!(hash_attrs(&a), hash_attrs(&b));
        assert!(eq_any_order(&a, true, &b));
        assert!(!eq_in_order(&a, &b));
        let c = [kv("c", true), kv("a", 2), kv("b", "x")];
        assert!(!eq_any_order(&a, true, &c));
        // same multiset of keys but one repeated: not equal to a set with distinct pairs
        let d = [kv("a", 1), kv("a", 1), kv("b", "x")];
        assert!(!eq_any_order(&a, true, &d));
    }

    #[test]
    fn long_strings_differing_in_the_middle_still_compare_unequal() {
        let x = "prefix-prefix-AAAA-suffix-suffix".to_string();
        let y = "prefix-prefix-BBBB-suffix-suffix".to_string();
        assert!(!kv_eq(&kv("k", x), &kv("k", y)));
    }

    #[test]
    fn canonical_form_sorts_dedups_last_wins_and_filters() {
        let attrs = [kv("b", 1), kv("a", 1), kv("b", 2), kv("secret", "x")];
        let f = AttrFilter::Deny(vec!["secret".into()]);
        let c = canonicalize(&attrs, Some(&f));
        assert_eq!(c, vec![kv("a", 1), kv("b", 2)]);
        assert!(!unique_keys(&attrs));
        assert!(unique_keys(&c));
    }

    #[test]
    fn identity_words_match_only_the_same_pairs_in_order() {
        let a = vec![
            kv("k", "v".to_string()),
            kv("n", 3),
            kv("f", 1.5),
            kv("b", true),
        ];
        let w = identity_words(&a).expect("no array");
        assert!(same_identity(&w, &a.clone()), "clones share their strings");
        // equal contents in new allocations: not proven here (the full comparison decides)
        let fresh = vec![
            kv("k", "v".to_string()),
            kv("n", 3),
            kv("f", 1.5),
            kv("b", true),
        ];
        assert!(!same_identity(&w, &fresh));
        assert!(eq_in_order(&a, &fresh));
        let mut other = a.clone();
        for (i, v) in [Value::I64(4), Value::F64(1.5), Value::Bool(false)]
            .into_iter()
            .enumerate()
        {
            other[1] = KeyValue::new("n", v);
            assert!(!same_identity(&w, &other), "case {i}");
        }
        let mut swapped = a.clone();
        swapped.swap(0, 1);
        assert!(!same_identity(&w, &swapped));
        assert!(!same_identity(&w, &a[..3]));
        // kinds never collide: an integer equal to a string's address is not that string
        let s = kv("k", "abc");
        let Value::String(text) = &s.value else {
            unreachable!()
        };
        let addr = text.as_str().as_ptr() as usize as i64;
        let ws = identity_words(std::slice::from_ref(&s)).unwrap();
        assert!(!same_identity(&ws, &[kv("k", addr)]));
        assert!(identity_words(&[kv("a", vec![1i64, 2])]).is_none());
        let wb = identity_words(&[kv("a", true)]).unwrap();
        assert!(!same_identity(&wb, &[kv("a", vec![true])]));
    }

    #[test]
    fn nan_attribute_values_are_equal_to_themselves() {
        assert!(kv_eq(&kv("x", f64::NAN), &kv("x", f64::NAN)));
    }
}
