//! Software prefetch: asking the CPU to start loading memory the thread will soon write.
//!
//! A reused box was last written one full trip through the queue ago (thousands of items,
//! megabytes of records), so its lines have often left this CPU's caches, and with two
//! producers or a busy neighbour on the host they come from memory. The thread's next boxes
//! are known in advance (its cache of recycled boxes is a stack), so the pool asks for them
//! a few items ahead and the loads overlap with the work on the current item.

const LINE: usize = 64;

/// Asks the CPU to start loading, with the intent to write, the `LINES` cache lines from the
/// one holding `p`. Only a hint: any address is fine, nothing is read or written, and it
/// does nothing where no prefetch instruction is available (other architectures, and Miri).
#[inline(always)]
pub(crate) fn for_write<const LINES: usize>(p: *const u8) {
    for i in 0..LINES {
        hint(p.wrapping_add(i * LINE));
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse", not(miri)))]
#[inline(always)]
fn hint(line: *const u8) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
    // SAFETY: `_mm_prefetch` needs SSE, which the cfg above requires (every x86_64 CPU has
    // it). PREFETCHW is a hint that never faults, whatever the address, and changes no value
    // the program can read, so any pointer may be passed.
    unsafe { _mm_prefetch::<_MM_HINT_ET0>(line.cast()) }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse", not(miri))))]
#[inline(always)]
fn hint(_line: *const u8) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_address_is_fine_and_nothing_changes() {
        let v: Vec<u8> = (0..=255).collect();
        for offset in [0, 1, 63, 64, 200, 255] {
            for_write::<4>(v[offset..].as_ptr());
        }
        for_write::<4>(std::ptr::null());
        for_write::<4>(std::ptr::without_provenance::<u8>(usize::MAX));
        for_write::<1>(std::ptr::NonNull::<u64>::dangling().as_ptr().cast());
        let freed = Box::into_raw(Box::new([7u8; 256]));
        // SAFETY: `freed` came from `Box::into_raw` just above and is dropped once.
        drop(unsafe { Box::from_raw(freed) });
        for_write::<4>(freed.cast::<u8>());
        assert_eq!(v, (0..=255).collect::<Vec<u8>>());
    }
}
