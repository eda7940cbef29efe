//! Boxes of log records, reused on the shared [`pool`](crate::pipeline::pool).
//!
//! A record travels boxed from emit to export, so the pipeline moves a pointer instead of
//! the ~180-byte record. Once it is exported, an emitting thread reuses its box for a new
//! record: assigning the new record drops the old one there, so a record's heap blocks are
//! freed by an application thread rather than the export thread.

use crate::logs::record::{LogData, LogRecord};
use crate::pipeline::pool::{self, pooled};
use crate::scope::InstrumentationScope;

pooled!(LogData);

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

/// The export thread is done with `batch`: its boxes go back for reuse.
pub(crate) fn give(batch: &mut Vec<Box<LogData>>) {
    pool::recycle(batch)
}

/// Keeps the box of a record the queue refused for this thread's next record.
pub(crate) fn give_back(data: Box<LogData>) {
    pool::give_back(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64) -> LogRecord {
        LogRecord::new()
            .with_attribute("i", i)
            .with_body(format!("m{i}"))
    }

    #[test]
    fn a_reused_box_holds_the_new_record_and_scope() {
        std::thread::spawn(|| {
            let scope = InstrumentationScope::builder("s").build();
            let mut batch: Vec<Box<LogData>> = (0..4).map(|i| boxed(record(i), &scope)).collect();
            let addrs: Vec<*const LogData> = batch.iter().map(|b| &**b as *const _).collect();
            give(&mut batch);
            let again = boxed(record(9), &scope);
            assert!(
                addrs.contains(&(&*again as *const _)),
                "a returned box is reused"
            );
            assert_eq!(again.record, record(9));
            assert!(again.scope.ptr_eq(&scope));
            let other = InstrumentationScope::builder("other").build();
            let b = boxed(record(1), &other);
            assert!(addrs.contains(&(&*b as *const _)));
            assert!(
                b.scope.ptr_eq(&other),
                "the scope is replaced when it differs"
            );
        })
        .join()
        .unwrap();
    }
}
