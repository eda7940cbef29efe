//! Telemetry made while an exporter runs on the calling thread (a simple processor's
//! export): an exporter that logs through a bridged `log` or `tracing`, or starts spans,
//! would otherwise feed its own output back into the processor it runs under, and wait on
//! the lock that processor already holds.

use std::cell::Cell;

thread_local! {
    static EXPORTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as an export on this thread; `None` (and `f` not run) when this thread is
/// already inside one: the item that would be exported came from the exporter itself.
pub(crate) fn exporting<R>(f: impl FnOnce() -> R) -> Option<R> {
    if EXPORTING.try_with(|e| e.replace(true)).unwrap_or(true) {
        return None;
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = EXPORTING.try_with(|e| e.set(false));
        }
    }
    let _reset = Reset;
    Some(f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_export_on_the_same_thread_is_refused() {
        let got = exporting(|| {
            assert_eq!(exporting(|| 1), None, "nested");
            std::thread::spawn(|| exporting(|| 2)).join().unwrap()
        });
        assert_eq!(got, Some(Some(2)), "another thread may export");
        assert_eq!(exporting(|| 3), Some(3), "reset afterwards");
        let _ = std::panic::catch_unwind(|| exporting(|| panic!("in the exporter")));
        assert_eq!(exporting(|| 4), Some(4), "reset after a panic too");
    }
}
