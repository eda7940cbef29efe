//! Boxes of exported log records go back to the threads that emit records, for reuse.
//!
//! A record travels boxed from emit to export, so the pipeline moves a pointer instead of the
//! ~180-byte record. Once exported, the export thread hands the batch of boxes back,
//! untouched, and an emitting thread reuses one for each new record: overwriting the old
//! record drops it there. So heap blocks of a record (its attribute vector, owned strings)
//! are freed by an emitting thread, not by the export thread: with glibc's malloc, blocks
//! freed by another thread never return to the allocating thread's cache, and every
//! allocation of a steadily logging thread then takes the slow path (`log_emit` ran 3-4x
//! slower). Memory stays bounded: at most `MAX_BATCHES` batches wait (the export thread
//! frees any beyond), and a thread keeps at most one batch, or `MAX_LOCAL` refused boxes.

use std::cell::RefCell;
use std::sync::Mutex;

use crate::logs::record::{LogData, LogRecord};
use crate::scope::InstrumentationScope;

/// Exported batches waiting to be reused.
static RETURNED: Mutex<Vec<Vec<Box<LogData>>>> = Mutex::new(Vec::new());

/// Most batches waiting; beyond, the export thread frees the batch itself.
const MAX_BATCHES: usize = 8;

/// Most boxes a thread keeps.
const MAX_LOCAL: usize = 4096;

thread_local! {
    /// Boxes this thread took (a returned batch) or kept (records refused by a full queue).
    static LOCAL: RefCell<Vec<Box<LogData>>> = const { RefCell::new(Vec::new()) };
}

/// `record` of `scope`, boxed: in a reused box when one is available.
#[inline]
pub(crate) fn boxed(record: LogRecord, scope: &InstrumentationScope) -> Box<LogData> {
    match pop() {
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

fn pop() -> Option<Box<LogData>> {
    LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            if let Some(b) = l.pop() {
                return Some(b);
            }
            let mut batch = RETURNED.lock().ok()?.pop()?;
            let b = batch.pop();
            *l = batch;
            b
        })
        .ok()
        .flatten()
}

/// The export thread is done with `batch`: its boxes go back for reuse, leaving `batch`
/// empty with room for the next batch.
pub(crate) fn give(batch: &mut Vec<Box<LogData>>) {
    if batch.is_empty() {
        return;
    }
    let full = std::mem::replace(batch, Vec::with_capacity(batch.capacity()));
    if let Ok(mut returned) = RETURNED.lock() {
        if returned.len() < MAX_BATCHES {
            returned.push(full);
        }
    }
    // Otherwise `full` is freed here, on the export thread.
}

/// Keeps the box of a record the queue refused for this thread's next record.
pub(crate) fn give_back(data: Box<LogData>) {
    let _ = LOCAL.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            if l.len() < MAX_LOCAL {
                l.push(data);
            }
        }
    });
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
    fn exported_boxes_are_reused_with_the_new_record_and_stay_bounded() {
        std::thread::spawn(|| {
            let scope = InstrumentationScope::builder("s").build();
            let mut batch: Vec<Box<LogData>> = (0..4).map(|i| boxed(record(i), &scope)).collect();
            let addrs: Vec<*const LogData> = batch.iter().map(|b| &**b as *const _).collect();
            give(&mut batch);
            assert!(batch.is_empty() && batch.capacity() >= 4);
            let again = boxed(record(9), &scope);
            assert!(
                addrs.contains(&(&*again as *const _)),
                "a returned box is reused"
            );
            assert_eq!(again.record, record(9), "holding the new record");
            assert!(again.scope.ptr_eq(&scope));
            let other = InstrumentationScope::builder("other").build();
            assert!(boxed(record(1), &other).scope.ptr_eq(&other));
            for _ in 0..MAX_BATCHES + 3 {
                let mut b: Vec<Box<LogData>> = (0..2).map(|i| boxed(record(i), &scope)).collect();
                give(&mut b);
            }
            assert!(RETURNED.lock().unwrap().len() <= MAX_BATCHES);
            for i in 0..MAX_LOCAL + 10 {
                give_back(Box::new(LogData {
                    record: record(i as i64),
                    scope: scope.clone(),
                }));
            }
            assert!(LOCAL.with(|l| l.borrow().len()) <= MAX_LOCAL);
        })
        .join()
        .unwrap();
    }
}
