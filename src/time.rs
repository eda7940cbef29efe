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

#[cfg(not(miri))]
thread_local! {
    /// (raw counter at anchor, unix nanos at anchor); raw 0 means "not anchored yet".
    static ANCHOR: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Now, in nanoseconds since the Unix epoch. (Under Miri, which cannot run the time-stamp
/// counter's instruction, straight from the system clock.)
#[cfg(miri)]
pub(crate) fn now_unix_nanos() -> u64 {
    to_unix_nanos(SystemTime::now())
}

/// Now, in nanoseconds since the Unix epoch.
#[cfg(not(miri))]
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    let c = clock();
    let raw = c.raw();
    ANCHOR
        .try_with(|a| {
            let (raw0, unix0) = a.get();
            if raw0 != 0 && raw >= raw0 {
                let d = c.delta_as_nanos(raw0, raw);
                if d < ANCHOR_EVERY_NS {
                    return unix0 + d;
                }
            }
            let unix = to_unix_nanos(SystemTime::now());
            a.set((c.raw(), unix));
            unix
        })
        .unwrap_or_else(|_| to_unix_nanos(SystemTime::now()))
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
}
