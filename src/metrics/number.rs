//! The number types instruments record (`u64`, `i64`, `f64`) and their atomic operations.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::data::Number;

/// A number type an instrument can record: `u64`, `i64` or `f64`. Sealed.
pub trait MetricNumber: sealed::Num {}

impl MetricNumber for u64 {}
impl MetricNumber for i64 {}
impl MetricNumber for f64 {}

#[allow(unreachable_pub)]
pub(crate) mod sealed {
    use super::*;

    /// The operations the aggregators need; every value is stored as `u64` bits in an
    /// [`AtomicU64`].
    pub trait Num: Copy + Send + Sync + PartialOrd + std::fmt::Debug + 'static {
        /// The largest value (the initial `min`).
        const MAX: Self;
        /// The smallest value (the initial `max`).
        const MIN: Self;
        /// The value's bits.
        fn to_bits(self) -> u64;
        /// The value from its bits.
        fn from_bits(b: u64) -> Self;
        /// `*a += v` atomically.
        fn atomic_add(a: &AtomicU64, v: Self);
        /// As `f64`.
        fn to_f64(self) -> f64;
        /// As an exported [`Number`].
        fn number(self) -> Number;
        /// Not NaN and not infinite.
        fn is_finite(self) -> bool;
        /// Zero or more (and not NaN).
        fn is_non_negative(self) -> bool;
        /// `self + other` (wrapping for integers).
        fn add(self, other: Self) -> Self;
        /// `self - other` (wrapping for integers).
        fn sub(self, other: Self) -> Self;
        /// Zero.
        fn zero() -> Self;
    }

    impl Num for u64 {
        const MAX: Self = u64::MAX;
        const MIN: Self = 0;
        #[inline]
        fn to_bits(self) -> u64 {
            self
        }
        #[inline]
        fn from_bits(b: u64) -> Self {
            b
        }
        #[inline]
        fn atomic_add(a: &AtomicU64, v: Self) {
            a.fetch_add(v, Ordering::Relaxed);
        }
        fn to_f64(self) -> f64 {
            self as f64
        }
        fn number(self) -> Number {
            Number::U64(self)
        }
        #[inline]
        fn is_finite(self) -> bool {
            true
        }
        #[inline]
        fn is_non_negative(self) -> bool {
            true
        }
        fn add(self, o: Self) -> Self {
            self.wrapping_add(o)
        }
        fn sub(self, o: Self) -> Self {
            self.wrapping_sub(o)
        }
        fn zero() -> Self {
            0
        }
    }

    impl Num for i64 {
        const MAX: Self = i64::MAX;
        const MIN: Self = i64::MIN;
        #[inline]
        fn to_bits(self) -> u64 {
            self as u64
        }
        #[inline]
        fn from_bits(b: u64) -> Self {
            b as i64
        }
        #[inline]
        fn atomic_add(a: &AtomicU64, v: Self) {
            // Two's complement: adding the bits is adding the numbers (wrapping).
            a.fetch_add(v as u64, Ordering::Relaxed);
        }
        fn to_f64(self) -> f64 {
            self as f64
        }
        fn number(self) -> Number {
            Number::I64(self)
        }
        #[inline]
        fn is_finite(self) -> bool {
            true
        }
        #[inline]
        fn is_non_negative(self) -> bool {
            self >= 0
        }
        fn add(self, o: Self) -> Self {
            self.wrapping_add(o)
        }
        fn sub(self, o: Self) -> Self {
            self.wrapping_sub(o)
        }
        fn zero() -> Self {
            0
        }
    }

    impl Num for f64 {
        const MAX: Self = f64::INFINITY;
        const MIN: Self = f64::NEG_INFINITY;
        #[inline]
        fn to_bits(self) -> u64 {
            f64::to_bits(self)
        }
        #[inline]
        fn from_bits(b: u64) -> Self {
            f64::from_bits(b)
        }
        #[inline]
        fn atomic_add(a: &AtomicU64, v: Self) {
            let mut cur = a.load(Ordering::Relaxed);
            loop {
                let next = (f64::from_bits(cur) + v).to_bits();
                match a.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(actual) => cur = actual,
                }
            }
        }
        fn to_f64(self) -> f64 {
            self
        }
        fn number(self) -> Number {
            Number::F64(self)
        }
        #[inline]
        fn is_finite(self) -> bool {
            f64::is_finite(self)
        }
        #[inline]
        fn is_non_negative(self) -> bool {
            self >= 0.0
        }
        fn add(self, o: Self) -> Self {
            self + o
        }
        fn sub(self, o: Self) -> Self {
            self - o
        }
        fn zero() -> Self {
            0.0
        }
    }
}

/// Atomically lowers `a` to `v` when `v` is smaller (min tracking).
#[inline]
pub(crate) fn atomic_min<T: sealed::Num>(a: &AtomicU64, v: T) {
    let mut cur = a.load(Ordering::Relaxed);
    while v < T::from_bits(cur) {
        match a.compare_exchange_weak(cur, v.to_bits(), Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

/// Atomically raises `a` to `v` when `v` is larger (max tracking).
#[inline]
pub(crate) fn atomic_max<T: sealed::Num>(a: &AtomicU64, v: T) {
    let mut cur = a.load(Ordering::Relaxed);
    while v > T::from_bits(cur) {
        match a.compare_exchange_weak(cur, v.to_bits(), Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}
