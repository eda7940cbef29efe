//! The SDK's wall clock, in nanoseconds since the Unix epoch (the unit OTLP uses).
//!
//! Reading the system clock costs ~25 ns on the machines we measure (a vDSO call), and a span
//! reads the clock at least twice. Instead, each thread anchors the wall clock once a second
//! and adds the time elapsed on the CPU's time-stamp counter (`quanta`, which falls back to
//! the OS monotonic clock where the TSC is unreliable). Times from one thread are therefore
//! monotonic between anchors, and within a second of the system clock's steps.

#[cfg(not(miri))]
use std::cell::Cell;
#[cfg(not(miri))]
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Re-anchor to the system clock this often, to follow NTP adjustments.
#[cfg(not(miri))]
const ANCHOR_EVERY_NS: u64 = 1_000_000_000;

#[cfg(not(miri))]
fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A thread's anchor: where its readings of the counter start from, and how they scale.
#[cfg(not(miri))]
#[derive(Clone, Copy, Debug)]
struct Anchor {
    /// The counter at the anchor.
    raw0: u64,
    /// Nanoseconds since the Unix epoch at the anchor.
    unix0: u64,
    /// Nanoseconds per 2^32 counter ticks.
    mult: u64,
    /// Ticks after `raw0` that the anchor serves: a re-anchor period's worth, and no more
    /// than keeps `ticks * mult` within 64 bits. 0 before the first anchor.
    limit: u64,
}

#[cfg(not(miri))]
impl Anchor {
    /// No anchor yet: serves no reading.
    const NONE: Anchor = Anchor {
        raw0: 0,
        unix0: 0,
        mult: 0,
        limit: 0,
    };

    /// An anchor at counter reading `raw0` and Unix time `unix0`, scaled as `c` scales.
    fn new(c: &quanta::Clock, raw0: u64, unix0: u64) -> Anchor {
        // Floored: at most 1 ns short per 2^32 ticks, on top of quanta's own rounding.
        let mult = c.delta_as_nanos(0, 1 << 32).max(1);
        let period = (u128::from(ANCHOR_EVERY_NS) << 32) / u128::from(mult);
        let limit = u64::try_from(period)
            .unwrap_or(u64::MAX)
            .min(u64::MAX / mult);
        Anchor {
            raw0,
            unix0,
            mult,
            limit,
        }
    }

    /// The Unix time of counter reading `raw`, or `None` when this anchor does not serve it:
    /// it is before the anchor (the counter is not synchronised across CPUs everywhere) or
    /// `limit` ticks or more after it.
    #[inline(always)]
    fn at(&self, raw: u64) -> Option<u64> {
        let ticks = raw.wrapping_sub(self.raw0);
        (ticks < self.limit).then(|| self.unix0 + ((ticks * self.mult) >> 32))
    }
}

#[cfg(not(miri))]
thread_local! {
    static ANCHOR: Cell<Anchor> = const { Cell::new(Anchor::NONE) };
}

/// Now, in nanoseconds since the Unix epoch. (Under Miri, which cannot run the time-stamp
/// counter's instruction, straight from the system clock.)
#[cfg(miri)]
pub(crate) fn now_unix_nanos() -> u64 {
    to_unix_nanos(SystemTime::now())
}

/// Now, in nanoseconds since the Unix epoch.
///
/// Ticks since the thread's anchor become nanoseconds with one 64-bit multiply and a fixed
/// shift ([`Anchor::at`]). `quanta`'s own conversion multiplies in 128 bits and shifts by
/// its calibration's amount, read from the clock each time: that cost ~7 % of a span with
/// three readings (span_attrs).
#[cfg(not(miri))]
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    let raw = clock().raw();
    ANCHOR
        .try_with(|a| match a.get().at(raw) {
            Some(unix) => unix,
            None => reanchor(a),
        })
        .unwrap_or_else(|_| to_unix_nanos(SystemTime::now()))
}

/// Anchors this thread to the system clock now; returns the system clock's reading.
#[cfg(not(miri))]
#[cold]
fn reanchor(a: &Cell<Anchor>) -> u64 {
    let c = clock();
    let unix = to_unix_nanos(SystemTime::now());
    a.set(Anchor::new(c, c.raw(), unix));
    unix
}

/// A `SystemTime` as nanoseconds since the Unix epoch (0 before the epoch, saturating far
/// in the future).
pub(crate) fn to_unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Nanoseconds since the Unix epoch as a `SystemTime`.
pub fn from_unix_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_system_clock() {
        for _ in 0..3 {
            let sys = to_unix_nanos(SystemTime::now());
            let ours = now_unix_nanos();
            let diff = ours.abs_diff(sys);
            assert!(diff < 50_000_000, "clock off by {diff} ns");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn is_monotonic_on_one_thread() {
        let mut last = now_unix_nanos();
        for _ in 0..100_000 {
            let t = now_unix_nanos();
            assert!(t >= last);
            last = t;
        }
    }

    /// The clock, a reading of it, and an anchor there at Unix time 1000 ns.
    #[cfg(not(miri))]
    fn anchored_now() -> (&'static quanta::Clock, u64, Anchor) {
        let c = clock();
        let raw0 = c.raw();
        (c, raw0, Anchor::new(c, raw0, 1_000))
    }

    #[cfg(not(miri))]
    #[test]
    fn an_anchor_scales_ticks_as_the_clock_does() {
        let (c, raw0, a) = anchored_now();
        assert!(a.limit > 0 && a.limit.checked_mul(a.mult).is_some());
        // The anchor serves a whole re-anchor period, and no more.
        let period = c.delta_as_nanos(raw0, raw0 + a.limit);
        assert!(
            period.abs_diff(ANCHOR_EVERY_NS) <= 2 || a.limit == u64::MAX / a.mult,
            "period {period} ns"
        );
        for ticks in [0, 1, 7, 1_000, 123_456_789, a.limit / 2, a.limit - 1] {
            let ours = a.at(raw0 + ticks).expect("within the limit") - 1_000;
            let quanta = c.delta_as_nanos(raw0, raw0 + ticks);
            assert!(
                ours.abs_diff(quanta) <= 2,
                "{ticks} ticks: {ours} ns against quanta's {quanta}"
            );
        }
    }

    #[cfg(not(miri))]
    #[test]
    fn readings_the_anchor_does_not_serve_reanchor() {
        let (c, raw0, a) = anchored_now();
        assert_eq!(a.at(raw0 + a.limit), None, "a period later");
        assert_eq!(a.at(raw0 - 1), None, "before the anchor");
        assert_eq!(Anchor::NONE.at(raw0), None, "no anchor yet");
        // A thread whose anchor is stale reads the system clock again.
        ANCHOR.with(|cell| {
            cell.set(Anchor {
                raw0: c.raw() + (1 << 40),
                unix0: 0,
                ..a
            })
        });
        let sys = to_unix_nanos(SystemTime::now());
        let ours = now_unix_nanos();
        assert!(ours.abs_diff(sys) < 50_000_000, "{ours} against {sys}");
        assert!(ANCHOR.with(|cell| cell.get().unix0) > 0, "re-anchored");
    }
}
