//! Generation of trace and span ids.
//!
//! [`RandomIdGenerator`] says how the default ids are drawn. Why two wyrand generators: a
//! draw is one addition and one 64x64-bit multiplication, and a root span's three draws do
//! not wait on each other, where `rand`'s `SmallRng` (xoshiro256++ behind a `RefCell`,
//! updating its state between draws) cost span_attrs ~8 % more (benches/PERFORMANCE.md);
//! and two of them, because one wyrand state would leave a trace id only 64 bits of state.

use std::cell::Cell;
use std::fmt;

use fastrand::Rng;

use crate::trace::id::{SpanId, TraceId};

/// Generates new trace and span ids. The default ([`RandomIdGenerator`]) uses a fast
/// thread-local generator seeded from the operating system.
pub trait IdGenerator: Send + Sync + fmt::Debug {
    /// A new, valid (non-zero) trace id.
    fn new_trace_id(&self) -> TraceId;
    /// A new, valid (non-zero) span id.
    fn new_span_id(&self) -> SpanId;
}

/// Random ids from two generators per thread (wyrand, from `fastrand`), seeded from the
/// operating system on the thread's first span. A trace id takes one 64-bit draw from each,
/// so trace ids from two threads or processes repeat only if the states of both generators
/// line up at once; the span id is the first generator's next draw.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIdGenerator;

thread_local! {
    /// The states of the thread's two generators; the first is 0 until they are seeded.
    static STATES: Cell<[u64; 2]> = const { Cell::new([0, 0]) };
}

/// Runs `f` with the thread's two generators, seeding them first if they are not.
#[inline]
fn with_rngs<T>(f: impl FnOnce(&mut Rng, &mut Rng) -> T) -> T {
    let [a, b] = STATES.get();
    let (mut a, mut b) = if a == 0 {
        seeded()
    } else {
        (Rng::with_seed(a), Rng::with_seed(b))
    };
    let out = f(&mut a, &mut b);
    STATES.set([a.get_seed(), b.get_seed()]);
    out
}

/// Two generators seeded from the OS; should it fail (never on Linux, macOS or Windows),
/// from std's per-process random hash keys, the time and the thread.
#[cold]
fn seeded() -> (Rng, Rng) {
    use rand::TryRngCore;
    let mut os = rand::rngs::OsRng;
    let mut draw = |salt: u64| {
        os.try_next_u64().unwrap_or_else(|_| {
            use std::hash::BuildHasher;
            let local = 0u8;
            std::collections::hash_map::RandomState::new().hash_one((
                std::time::SystemTime::now(),
                std::thread::current().id(),
                std::ptr::addr_of!(local) as usize,
                salt,
            ))
        })
    };
    // The first state must not be 0 (the mark of an unseeded thread).
    (Rng::with_seed(draw(0).max(1)), Rng::with_seed(draw(1)))
}

/// A trace id: one draw from each generator.
#[inline]
fn draw_trace_id(a: &mut Rng, b: &mut Rng) -> u128 {
    (u128::from(a.u64(..)) << 64) | u128::from(b.u64(..))
}

pub(crate) fn random_trace_id() -> TraceId {
    loop {
        let v = with_rngs(draw_trace_id);
        if v != 0 {
            return TraceId::from_u128(v);
        }
    }
}

pub(crate) fn random_span_id() -> SpanId {
    loop {
        let v = with_rngs(|a, _| a.u64(..));
        if v != 0 {
            return SpanId::from_u64(v);
        }
    }
}

/// A new trace id and span id from one access to the thread's generators.
#[inline]
pub(crate) fn random_ids() -> (TraceId, SpanId) {
    let (t, s) = with_rngs(|a, b| (draw_trace_id(a, b), a.u64(..)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_valid_and_do_not_repeat() {
        let mut traces = HashSet::new();
        let mut spans = HashSet::new();
        for _ in 0..50_000 {
            let (t, s) = random_ids();
            assert!(t != TraceId::INVALID && s != SpanId::INVALID);
            assert!(traces.insert(t), "trace id {t} repeated");
            assert!(spans.insert(s), "span id {s} repeated");
            assert!(spans.insert(random_span_id()));
            assert!(traces.insert(random_trace_id()));
        }
    }

    #[test]
    fn both_halves_of_a_trace_id_vary_independently() {
        // A trace id's halves come from two generators: neither half is a function of the
        // other, and the span id drawn with it is not one of them.
        let mut highs = HashSet::new();
        let mut lows = HashSet::new();
        for _ in 0..10_000 {
            let (t, s) = random_ids();
            let v = t.to_u128();
            let (hi, lo) = ((v >> 64) as u64, v as u64);
            assert!(hi != lo && hi != s.to_u64() && lo != s.to_u64());
            highs.insert(hi);
            lows.insert(lo);
        }
        assert_eq!((highs.len(), lows.len()), (10_000, 10_000));
        // Exactly: the high half is the first generator's draw, the low half the second's,
        // and the span id the first's next draw.
        std::thread::spawn(|| {
            let (sa, sb) = (0x1234_5678_9abc_def1, 0x0fed_cba9_8765_4321);
            STATES.set([sa, sb]);
            let (t, s) = random_ids();
            let (mut a, mut b) = (Rng::with_seed(sa), Rng::with_seed(sb));
            let hi = a.u64(..);
            assert_eq!(t.to_u128(), (u128::from(hi) << 64) | u128::from(b.u64(..)));
            assert_eq!(s.to_u64(), a.u64(..));
            assert_eq!(STATES.get(), [a.get_seed(), b.get_seed()]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn each_thread_seeds_its_own_generators() {
        // Threads start unseeded and draw from their own OS seeds: their first ids differ
        // (equal seeds would give equal sequences).
        let firsts: Vec<(TraceId, SpanId)> = (0..8)
            .map(|_| std::thread::spawn(random_ids).join().unwrap())
            .collect();
        let traces: HashSet<_> = firsts.iter().map(|(t, _)| *t).collect();
        let spans: HashSet<_> = firsts.iter().map(|(_, s)| *s).collect();
        assert_eq!((traces.len(), spans.len()), (8, 8));
    }

    #[test]
    fn a_thread_whose_first_state_wrapped_to_zero_is_seeded_again() {
        // Two threads left with the same states, the first at 0: both reseed from the OS
        // (had the second generator been kept, their trace ids' low halves would match).
        let draw = || {
            STATES.set([0, 777]);
            let ids = random_ids();
            assert_ne!(STATES.get()[0], 0);
            ids
        };
        let (t1, s1) = std::thread::spawn(draw).join().unwrap();
        let (t2, s2) = std::thread::spawn(draw).join().unwrap();
        assert_ne!(t1.to_u128() as u64, t2.to_u128() as u64);
        assert_ne!(s1, s2);
    }
}
