//! Homogeneous array attribute values.
//!
//! Small arrays of numbers or booleans, the common case (`[1i64, 2, 3]`), are stored inline
//! in the value itself, so setting one allocates nothing and recycling a span record frees
//! nothing. Longer arrays, and arrays of strings, live in a `Vec`, moved in without copying.

use std::fmt;

use super::StringValue;

/// Most `i64` or `f64` elements stored inline: three 8-byte elements fit in the 24 bytes a
/// `Vec` takes, so an inline array makes neither `Array` nor `Value` any larger.
const INLINE_NUMBERS: usize = 3;
/// Most booleans stored inline.
const INLINE_BOOLS: usize = 16;

/// A homogeneous array attribute value (booleans, integers, floats or strings).
///
/// Build one with `From`, from a `Vec` or an array of any of the four element types; read it
/// with [`Array::as_slice`]. Arrays of up to three numbers, or sixteen booleans, built from a
/// Rust array (`[1i64, 2, 3]`) are stored inline, without allocating.
///
/// ```
/// use otlp_sdk::{Array, ArraySlice};
/// let a = Array::from([1i64, 2, 3]);
/// assert_eq!(a.as_slice(), ArraySlice::I64(&[1, 2, 3]));
/// assert_eq!(a, Array::from(vec![1i64, 2, 3]));
/// assert_eq!(Array::from(vec!["a", "b"]).len(), 2);
/// ```
#[derive(Clone)]
pub struct Array(Repr);

#[derive(Clone)]
enum Repr {
    Bool(Vec<bool>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    String(Vec<StringValue>),
    // Struct variants rather than a shared inline type, so the length shares the tag's
    // word and the elements fill the other three.
    InlineBool {
        len: u8,
        items: [bool; INLINE_BOOLS],
    },
    InlineI64 {
        len: u8,
        items: [i64; INLINE_NUMBERS],
    },
    InlineF64 {
        len: u8,
        items: [f64; INLINE_NUMBERS],
    },
}

/// An [`Array`]'s elements, as a slice of their type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArraySlice<'a> {
    /// Booleans.
    Bool(&'a [bool]),
    /// Signed 64-bit integers.
    I64(&'a [i64]),
    /// 64-bit floats.
    F64(&'a [f64]),
    /// Strings.
    String(&'a [StringValue]),
}

impl Array {
    /// Whether dropping it has work to do: only inline arrays own nothing.
    #[inline]
    pub(crate) fn needs_drop(&self) -> bool {
        !matches!(
            self.0,
            Repr::InlineBool { .. } | Repr::InlineI64 { .. } | Repr::InlineF64 { .. }
        )
    }

    /// The elements.
    #[inline]
    pub fn as_slice(&self) -> ArraySlice<'_> {
        match &self.0 {
            Repr::Bool(v) => ArraySlice::Bool(v),
            Repr::I64(v) => ArraySlice::I64(v),
            Repr::F64(v) => ArraySlice::F64(v),
            Repr::String(v) => ArraySlice::String(v),
            Repr::InlineBool { len, items } => ArraySlice::Bool(&items[..usize::from(*len)]),
            Repr::InlineI64 { len, items } => ArraySlice::I64(&items[..usize::from(*len)]),
            Repr::InlineF64 { len, items } => ArraySlice::F64(&items[..usize::from(*len)]),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self.as_slice() {
            ArraySlice::Bool(v) => v.len(),
            ArraySlice::I64(v) => v.len(),
            ArraySlice::F64(v) => v.len(),
            ArraySlice::String(v) => v.len(),
        }
    }

    /// `true` when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cuts each string of a string array to `max` characters. Returns `true` if anything
    /// was cut.
    pub(crate) fn truncate(&mut self, max: usize) -> bool {
        match &mut self.0 {
            Repr::String(v) => v
                .iter_mut()
                .fold(false, |cut, s| s.truncate_chars(max) | cut),
            _ => false,
        }
    }

    /// `true` when the elements are stored inline (tests only).
    #[cfg(test)]
    fn is_inline(&self) -> bool {
        matches!(
            self.0,
            Repr::InlineBool { .. } | Repr::InlineI64 { .. } | Repr::InlineF64 { .. }
        )
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_slice() {
            ArraySlice::Bool(v) => f.debug_tuple("Bool").field(&v).finish(),
            ArraySlice::I64(v) => f.debug_tuple("I64").field(&v).finish(),
            ArraySlice::F64(v) => f.debug_tuple("F64").field(&v).finish(),
            ArraySlice::String(v) => f.debug_tuple("String").field(&v).finish(),
        }
    }
}

macro_rules! from_vec {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<Vec<$t>> for Array {
            fn from(v: Vec<$t>) -> Self {
                Array(Repr::$variant(v))
            }
        })*
    };
}

from_vec! {
    bool => Bool,
    i64 => I64,
    f64 => F64,
    StringValue => String,
}

impl From<Vec<&'static str>> for Array {
    fn from(v: Vec<&'static str>) -> Self {
        Array(Repr::String(v.into_iter().map(Into::into).collect()))
    }
}
impl From<Vec<String>> for Array {
    fn from(v: Vec<String>) -> Self {
        Array(Repr::String(v.into_iter().map(Into::into).collect()))
    }
}

/// Copies `v` into the front of `items` when it fits (`N` is known at compile time, so only
/// one branch remains).
#[inline(always)]
fn inline<T: Copy + Default, const N: usize, const CAP: usize>(
    v: [T; N],
) -> Option<(u8, [T; CAP])> {
    if N > CAP {
        return None;
    }
    let mut items = [T::default(); CAP];
    items[..N].copy_from_slice(&v);
    // `N <= CAP <= 16` here, so the length fits a byte.
    Some((N as u8, items))
}

macro_rules! from_array {
    ($($t:ty => $inline:ident, $heap:ident),* $(,)?) => {
        $(impl<const N: usize> From<[$t; N]> for Array {
            #[inline]
            fn from(v: [$t; N]) -> Self {
                match inline(v) {
                    Some((len, items)) => Array(Repr::$inline { len, items }),
                    None => Array(Repr::$heap(v.to_vec())),
                }
            }
        })*
    };
}

from_array! {
    i64 => InlineI64, I64,
    f64 => InlineF64, F64,
    bool => InlineBool, Bool,
}

impl<const N: usize> From<[&'static str; N]> for Array {
    fn from(v: [&'static str; N]) -> Self {
        Array(Repr::String(v.iter().map(|s| (*s).into()).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn small_number_arrays_are_inline_and_keep_values_small() {
        assert!(Array::from([1i64, 2, 3]).is_inline());
        assert!(Array::from([0.5f64]).is_inline());
        assert!(Array::from([true; 16]).is_inline());
        assert!(Array::from([0i64; 0]).is_inline());
        assert!(!Array::from([1i64, 2, 3, 4]).is_inline());
        assert!(!Array::from([true; 17]).is_inline());
        assert!(!Array::from(vec![1i64]).is_inline(), "a Vec is moved in");
        assert_eq!(std::mem::size_of::<Array>(), 32);
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn inline_and_heap_arrays_compare_by_elements() {
        let cases: [(Array, Array, usize); 4] = [
            ([1i64, 2, 3].into(), vec![1i64, 2, 3].into(), 3),
            ([1.5f64, -0.0].into(), vec![1.5f64, -0.0].into(), 2),
            ([true, false].into(), vec![true, false].into(), 2),
            ([0i64; 0].into(), Vec::<i64>::new().into(), 0),
        ];
        for (inline, heap, len) in cases {
            assert_eq!(inline, heap);
            assert_eq!(inline.len(), len);
            assert_eq!(inline.is_empty(), len == 0);
            assert_eq!(format!("{inline:?}"), format!("{heap:?}"));
        }
        assert_ne!(Array::from([1i64, 2]), Array::from([1i64, 2, 3]));
        assert_ne!(Array::from([1i64]), Array::from([1.0f64]));
        let big: Array = [7i64; 5].into();
        assert_eq!(big.as_slice(), ArraySlice::I64(&[7; 5]));
        assert_eq!(
            Array::from(["a", "b"]).as_slice(),
            ArraySlice::String(&["a".into(), "b".into()])
        );
    }

    #[test]
    fn only_string_arrays_are_truncated() {
        let mut s = Array::from(vec!["abcdef".to_string(), "x".to_string()]);
        assert!(s.truncate(3));
        assert_eq!(s, Array::from(vec!["abc", "x"]));
        let mut n = Array::from([123456i64]);
        assert!(!n.truncate(1));
    }
}
