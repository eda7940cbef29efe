//! Generation of trace and span ids.

use std::cell::RefCell;
use std::fmt;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::trace::id::{SpanId, TraceId};

/// Generates new trace and span ids. The default ([`RandomIdGenerator`]) uses a fast
/// thread-local generator seeded from the operating system.
pub trait IdGenerator: Send + Sync + fmt::Debug {
    /// A new, valid (non-zero) trace id.
    fn new_trace_id(&self) -> TraceId;
    /// A new, valid (non-zero) span id.
    fn new_span_id(&self) -> SpanId;
}

/// Random ids from a per-thread `SmallRng` seeded from the OS.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIdGenerator;

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

#[inline]
fn with_rng<T>(f: impl FnOnce(&mut SmallRng) -> T) -> T {
    RNG.with_borrow_mut(f)
}

pub(crate) fn random_trace_id() -> TraceId {
    loop {
        let v: u128 = with_rng(|r| r.random());
        if v != 0 {
            return TraceId::from_u128(v);
        }
    }
}

pub(crate) fn random_span_id() -> SpanId {
    loop {
        let v: u64 = with_rng(|r| r.random());
        if v != 0 {
            return SpanId::from_u64(v);
        }
    }
}

/// A new trace id and span id from one borrow of the thread's generator.
#[inline]
pub(crate) fn random_ids() -> (TraceId, SpanId) {
    let (t, s): (u128, u64) = with_rng(|r| (r.random(), r.random()));
    if t != 0 && s != 0 {
        (TraceId::from_u128(t), SpanId::from_u64(s))
    } else {
        (random_trace_id(), random_span_id())
    }
}

impl IdGenerator for RandomIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        random_trace_id()
    }
    fn new_span_id(&self) -> SpanId {
        random_span_id()
    }
}
