//! Which CPU the calling thread is running on, so that a producer can tell whether the export
//! thread shares its CPU, and the affinity calls with which a producer moves a stalled
//! export thread to its own CPU (and the export thread then gets its CPUs back).

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

/// A thread's set of allowed CPUs, saved to be restored later.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) struct Affinity(libc::cpu_set_t);

/// A thread's set of allowed CPUs (nothing to save on this platform).
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) struct Affinity;

/// The calling thread's kernel id, or `0` where the platform has none.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) fn thread_id() -> i32 {
    // SAFETY: `gettid` takes no argument, touches no memory and cannot fail.
    unsafe { libc::gettid() }
}

/// The calling thread's kernel id, or `0` where the platform has none.
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) fn thread_id() -> i32 {
    0
}

/// The CPUs thread `tid` of this process (`0`: the calling thread) may run on.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) fn affinity_of(tid: i32) -> Option<Affinity> {
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set (it is a plain bit array).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable `cpu_set_t` of the size passed. A `tid` that names
    // no thread of ours makes the call fail (ESRCH) without writing.
    let rc = unsafe { libc::sched_getaffinity(tid, std::mem::size_of_val(&set), &mut set) };
    (rc == 0).then_some(Affinity(set))
}

/// The CPUs thread `tid` may run on (unknown on this platform).
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) fn affinity_of(_tid: i32) -> Option<Affinity> {
    None
}

/// Whether the calling thread may run on one CPU only (as under `taskset -c N`), so that
/// threads it starts cannot run at the same time as it or one another. `false` where the
/// platform does not say. A CPU quota (a container limited to one CPU's time) does not
/// count: the threads still run in parallel, on different CPUs.
pub(super) fn pinned_to_one() -> bool {
    affinity_of(0).is_some_and(|a| a.count() == 1)
}

impl Affinity {
    /// How many CPUs the set allows.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn count(&self) -> usize {
        // SAFETY: `self.0` is a valid `cpu_set_t`, only read.
        let n = unsafe { libc::CPU_COUNT(&self.0) };
        usize::try_from(n).unwrap_or(0)
    }

    /// How many CPUs the set allows (never called: no set is read on this platform).
    #[cfg(not(all(target_os = "linux", not(miri))))]
    fn count(&self) -> usize {
        0
    }
}

/// Lets the calling thread run on the CPUs of `a` again.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) fn restore(a: &Affinity) {
    // SAFETY: `a.0` is a valid `cpu_set_t` of the size passed, only read; pid 0 is this
    // thread. A failure leaves the mask as it was, which is harmless.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&a.0), &a.0) };
}

/// Lets the calling thread run on the CPUs of `a` again.
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) fn restore(_a: &Affinity) {}

/// Moves thread `tid` of this process to `cpu` and keeps it there (until it restores its
/// affinity). `false` if the kernel refused.
#[cfg(all(target_os = "linux", not(miri)))]
pub(super) fn move_to(tid: i32, cpu: i32) -> bool {
    let Ok(cpu) = usize::try_from(cpu) else {
        return false;
    };
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of_val(&set) {
        return false;
    }
    // SAFETY: `cpu` is within the set's bits (checked above); `set` is a valid `cpu_set_t`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed, only read. The call touches
    // no memory of ours whatever `tid` is; callers pass a live thread of this process (the
    // export thread clears its id, under the lock the mover holds, before it exits).
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) == 0 }
}

/// Moves thread `tid` of this process to `cpu` (not possible on this platform).
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(super) fn move_to(_tid: i32, _cpu: i32) -> bool {
    false
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

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_thread_moved_to_one_cpu_is_pinned_to_one() {
        std::thread::spawn(|| {
            let allowed = super::affinity_of(0).expect("affinity").count();
            assert!(allowed >= 1);
            assert_eq!(super::pinned_to_one(), allowed == 1);
            assert!(
                super::move_to(0, super::current()),
                "sched_setaffinity refused"
            );
            assert_eq!(super::affinity_of(0).expect("affinity").count(), 1);
            assert!(super::pinned_to_one());
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_thread_moved_to_a_cpu_runs_there_and_restores_its_affinity() {
        use std::sync::mpsc;
        let saved = super::affinity_of(0).expect("this thread's affinity");
        let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `c` is below `CPU_SETSIZE`, within the set's bits.
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &saved.0) })
            .collect();
        let target = *allowed.last().expect("a CPU") as i32;
        let (tid_tx, tid_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let moved = std::thread::spawn(move || {
            let before = super::affinity_of(0).expect("affinity");
            tid_tx.send(super::thread_id()).unwrap();
            go_rx.recv().unwrap();
            // Moved while it waited: it runs on the target CPU, and only there.
            let on = super::current();
            let pinned = super::affinity_of(0).expect("affinity");
            super::restore(&before);
            let after = super::affinity_of(0).expect("affinity");
            // SAFETY: both are valid `cpu_set_t`s, only read.
            let same =
                |a: &super::Affinity, b: &super::Affinity| unsafe { libc::CPU_EQUAL(&a.0, &b.0) };
            // SAFETY: a valid `cpu_set_t`, only read.
            let count = unsafe { libc::CPU_COUNT(&pinned.0) };
            (on, count, same(&before, &after))
        });
        let tid = tid_rx.recv().unwrap();
        assert!(tid > 0 && tid != super::thread_id());
        assert!(super::move_to(tid, target), "sched_setaffinity refused");
        assert!(!super::move_to(tid, -1), "no CPU -1");
        assert!(!super::move_to(tid, i32::MAX), "no CPU beyond the set");
        go_tx.send(()).unwrap();
        let (on, count, restored) = moved.join().unwrap();
        assert_eq!(
            on, target,
            "the moved thread runs on the CPU it was moved to"
        );
        assert_eq!(count, 1, "and may run nowhere else");
        assert!(restored, "restoring gives it back the CPUs it had");
    }
}
