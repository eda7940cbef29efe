//! Telemetry made while an exporter runs on the calling thread (a simple processor's
//! export): an exporter that logs through a bridged `log` or `tracing`, or starts spans,
//! would otherwise feed its own output back into the processor it runs under, and wait on
//! the lock that processor already holds.

use std::cell::RefCell;

thread_local! {
    /// The processors exporting on this thread, innermost last (by address).
    static EXPORTING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` as an export by the processor at `key` (its address) on this thread; `None`
/// (and `f` not run) when this thread is already inside an export of that processor: the
/// item came from its exporter itself. Another processor's export may nest (an exporter
/// instrumented through another provider).
pub(crate) fn exporting<R>(key: *const (), f: impl FnOnce() -> R) -> Option<R> {
    let key = key as usize;
    let entered = EXPORTING
        .try_with(|e| {
            let mut e = e.try_borrow_mut().ok()?;
            (!e.contains(&key)).then(|| e.push(key))
        })
        .ok()
        .flatten();
    entered?;
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let _ = EXPORTING.try_with(|e| e.try_borrow_mut().map(|mut e| e.pop()));
        }
    }
    let _leave = Leave;
    Some(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_export_of_the_same_processor_on_the_same_thread_is_refused() {
        let (a, b) = (
            std::ptr::without_provenance::<()>(1),
            std::ptr::without_provenance::<()>(2),
        );
        let got = exporting(a, || {
            assert_eq!(exporting(a, || 1), None, "nested, same processor");
            assert_eq!(
                exporting(b, || exporting(a, || 0)),
                Some(None),
                "under another"
            );
            assert_eq!(exporting(b, || 5), Some(5), "another processor");
            let a = a as usize;
            std::thread::spawn(move || exporting(std::ptr::without_provenance(a), || 2))
                .join()
                .unwrap()
        });
        assert_eq!(got, Some(Some(2)), "another thread may export");
        assert_eq!(exporting(a, || 3), Some(3), "left afterwards");
        let _ = std::panic::catch_unwind(|| exporting(a, || panic!("in the exporter")));
        assert_eq!(exporting(a, || 4), Some(4), "left after a panic too");
    }
}
