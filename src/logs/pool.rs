//! Boxes of log records, reused on the shared [`pool`].
//!
//! A record travels boxed from emit to export, so the pipeline moves a pointer instead of
//! the ~180-byte record. Once it is exported, an emitting thread reuses its box for a new
//! record: assigning the new record drops the old one there, so a record's heap blocks are
//! freed by an application thread rather than the export thread.

use crate::logs::record::{LogData, LogRecord};
use crate::pipeline::pool::{self, pooled};
use crate::scope::InstrumentationScope;

// A record keeps its body and attributes until its box is reused, and bodies can be large,
// so the stack keeps far fewer records than the span pool: 16 batches of the default 512.
// Past the bound the export thread frees records itself, which is what the pool avoids; at
// full rate that happens for the surplus left by refused records, whose boxes are reused
// first. (log_emit: 59.0-59.9 ns with this bound, 58.3-60.7 ns with 2048 or with none, 2-3
// alternating runs each.)
pooled!(LogData, max_free = 16 * 512);

/// `record` of `scope`, boxed: in a reused box when one is available.
#[inline]
pub(crate) fn boxed(record: LogRecord, scope: &InstrumentationScope) -> Box<LogData> {
    match pool::pop::<LogData>() {
        Some(mut b) => {
            // Drops the old record here, on an emitting thread.
            b.record = record;
            if !b.scope.ptr_eq(scope) {
                b.scope = scope.clone();
            }
            b
        }
        None => Box::new(LogData {
            record,
            scope: scope.clone(),
        }),
    }
}

/// Keeps the box of a record the queue refused for this thread's next record. The record
/// is dropped now (this is the thread that emitted it), so that a thread under overload does
/// not keep thousands of refused bodies alive.
pub(crate) fn give_back(mut data: Box<LogData>) {
    data.record = LogRecord::default();
    pool::give_back(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::pool::Pooled;

    fn record(i: i64) -> LogRecord {
        LogRecord::new()
            .with_attribute("i", i)
            .with_body(format!("m{i}"))
    }

    #[test]
    fn a_reused_box_holds_the_new_record_and_scope() {
        // Through this thread's cache, so that no other test's boxes come first (the free
        // stack is shared by the whole process; its own behaviour is tested in
        // `pipeline::pool`).
        std::thread::spawn(|| {
            let scope = InstrumentationScope::builder("s").build();
            let b = boxed(record(1), &scope);
            let addr = &*b as *const LogData;
            // A refused record is dropped at once; its box is kept.
            give_back(b);
            LogData::with_local(|l| {
                let last = l.last().expect("kept");
                assert_eq!(&**last as *const LogData, addr);
                assert_eq!(last.record, LogRecord::default());
            });
            let again = boxed(record(9), &scope);
            assert_eq!(&*again as *const LogData, addr, "the box is reused");
            assert_eq!(again.record, record(9));
            assert!(again.scope.ptr_eq(&scope));
            give_back(again);
            let other = InstrumentationScope::builder("other").build();
            let b = boxed(record(2), &other);
            assert_eq!(&*b as *const LogData, addr);
            assert!(
                b.scope.ptr_eq(&other),
                "the scope is replaced when it differs"
            );
        })
        .join()
        .unwrap();
    }
}
