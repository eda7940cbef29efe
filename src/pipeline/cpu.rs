//! Which CPU the calling thread is running on, so that a producer can tell whether the export
//! thread shares its CPU.

/// The CPU the calling thread runs on now, or `-1` where the platform does not say.
#[cfg(all(target_os = "linux", not(miri)))]
#[inline]
pub(super) fn current() -> i32 {
    // SAFETY: `sched_getcpu` takes no argument and touches no memory of ours; it returns
    // the CPU number or -1 on failure.
    unsafe { libc::sched_getcpu() }
}

/// The CPU the calling thread runs on now, or `-1` where the platform does not say.
#[cfg(not(all(target_os = "linux", not(miri))))]
#[inline]
pub(super) fn current() -> i32 {
    -1
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn names_one_of_this_machines_cpus() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = super::current();
        // The affinity mask may exclude CPUs, but the number is never negative on Linux and
        // stays below the number of CPUs the kernel knows.
        assert!(cpu >= 0, "sched_getcpu failed");
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
        let max = online
            .trim()
            .rsplit(['-', ','])
            .next()
            .and_then(|n| n.parse::<i32>().ok())
            .unwrap_or(cpus as i32 - 1);
        assert!(cpu <= max, "cpu {cpu} beyond the online CPUs {online:?}");
    }
}
