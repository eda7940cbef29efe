//! The SDK's wall clock, in nanoseconds since the Unix epoch (the unit OTLP uses).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the Unix epoch.
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    to_unix_nanos(SystemTime::now())
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
