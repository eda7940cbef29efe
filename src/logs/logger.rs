//! The [`Logger`]: emits log records.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::context::Context;
use crate::diagnostics;
use crate::logs::limits::LogLimits;
use crate::logs::provider::ProviderInner;
use crate::logs::record::LogRecord;
use crate::scope::InstrumentationScope;
use crate::time::now_unix_nanos;

/// Emits log records for one instrumentation scope. Cheap to clone.
///
/// Most applications do not call it directly: they log through the `log` crate
/// ([`LogBridge`](crate::logs::LogBridge)) or `tracing` (the `tracing` feature's layer), whose
/// bridges use a logger.
#[derive(Clone)]
pub struct Logger {
    provider: Arc<ProviderInner>,
    scope: InstrumentationScope,
}

impl Logger {
    pub(crate) fn new(provider: Arc<ProviderInner>, scope: InstrumentationScope) -> Self {
        Logger { provider, scope }
    }

    /// The instrumentation scope.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// `false` when emitting would do nothing (no processor, or the provider is shut down),
    /// so a caller can skip building a record.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.provider.has_processors() && !self.provider.is_shut_down()
    }

    /// Emits `record` in the current context: see [`Logger::emit_with_context`].
    pub fn emit(&self, record: LogRecord) {
        if !self.provider.has_processors() && !self.provider.is_shut_down() {
            return;
        }
        let cx = Context::current();
        self.emit_with_context(record, &cx);
    }

    /// Emits `record` in context `cx`: fills in the observed timestamp (when unset) and, unless
    /// the record names a span already, the trace id, span id and flags of `cx`'s span; applies
    /// the provider's limits; and hands the record to the processors.
    ///
    /// Never panics, and never blocks with a batch processor (a simple processor exports on
    /// the calling thread). After the provider's shutdown the record is dropped and counted. Records emitted on the SDK's own export threads, or from inside an export
    /// (e.g. a library logging while the SDK exports), are dropped so that exporting never
    /// feeds itself.
    pub fn emit_with_context(&self, mut record: LogRecord, cx: &Context) {
        let p = &*self.provider;
        if p.is_shut_down() {
            p.count_dropped_after_shutdown();
            return;
        }
        if !p.has_processors() {
            return;
        }
        let Some(_guard) = EmitGuard::enter() else {
            return;
        };
        if record.observed_time_unix_nano == 0 {
            record.observed_time_unix_nano = now_unix_nanos();
        }
        if !record.trace_id.is_valid() {
            let sc = cx.span_context();
            if sc.is_valid() {
                record.trace_id = sc.trace_id();
                record.span_id = sc.span_id();
                record.trace_flags = sc.trace_flags();
            }
        }
        apply_limits(&mut record, p.limits);
        p.on_emit(crate::logs::pool::boxed(record, &self.scope), cx);
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("scope", &self.scope)
            .finish()
    }
}

/// De-duplicates attributes (the last value of a key wins, at the key's first position),
/// drops and counts those past the count limit, and truncates long values. In place: the
/// usual record (distinct keys, within the limits) is only read.
pub(crate) fn apply_limits(record: &mut LogRecord, limits: LogLimits) {
    let max = limits.max_attributes_per_record as usize;
    if let Some(m) = limits.max_attribute_value_length {
        for (_, v) in &mut record.attributes {
            v.truncate(m as usize);
        }
    }
    let attrs = &mut record.attributes;
    let distinct = || (1..attrs.len()).all(|i| !attrs[..i].iter().any(|(k, _)| *k == attrs[i].0));
    if attrs.len() <= max && distinct() {
        return;
    }
    // `kept` attributes with distinct keys are at the front; the rest is examined in order.
    let mut kept = 0;
    let mut dropped = 0u32;
    for i in 0..attrs.len() {
        if let Some(j) = attrs[..kept].iter().position(|(k, _)| *k == attrs[i].0) {
            attrs.swap(j, i);
        } else if kept < max {
            attrs.swap(kept, i);
            kept += 1;
        } else {
            dropped = dropped.saturating_add(1);
        }
    }
    attrs.truncate(kept);
    record.dropped_attributes_count = record.dropped_attributes_count.saturating_add(dropped);
    if dropped > 0 {
        report_dropped_once();
    }
}

#[cold]
fn report_dropped_once() {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        diagnostics::report(
            "log record attributes dropped by the count limit (OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT); \
             see dropped_attributes_count",
        );
    }
}

thread_local! {
    static IN_EMIT: Cell<bool> = const { Cell::new(false) };
    /// 0: not yet known, 1: an application thread, 2: one of the SDK's export threads.
    static SDK_THREAD: Cell<u8> = const { Cell::new(0) };
}

/// Marks this thread as emitting; refuses when it already is (a record emitted from inside
/// an export) or when it is one of the SDK's own threads.
struct EmitGuard;

impl EmitGuard {
    #[inline]
    fn enter() -> Option<EmitGuard> {
        if is_sdk_thread() {
            return None;
        }
        IN_EMIT
            .try_with(|f| (!f.replace(true)).then_some(EmitGuard))
            .ok()
            .flatten()
    }
}

impl Drop for EmitGuard {
    fn drop(&mut self) {
        let _ = IN_EMIT.try_with(|f| f.set(false));
    }
}

/// `true` on the SDK's export threads (named `otlp-sdk-*`).
pub(crate) fn is_sdk_thread() -> bool {
    SDK_THREAD
        .try_with(|c| {
            if c.get() == 0 {
                let sdk = std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("otlp-sdk"));
                c.set(if sdk { 2 } else { 1 });
            }
            c.get() == 2
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::AnyValue;

    #[test]
    fn limits_dedupe_count_and_truncate() {
        let mut r = LogRecord::new()
            .with_attribute("a", "long value")
            .with_attribute("b", 2)
            .with_attribute("c", 3)
            .with_attribute("a", "replaced")
            .with_attribute("d", 4);
        apply_limits(
            &mut r,
            LogLimits {
                max_attributes_per_record: 2,
                max_attribute_value_length: Some(4),
            },
        );
        assert_eq!(
            r.attributes,
            vec![("a".into(), "repl".into()), ("b".into(), 2.into())]
        );
        assert_eq!(r.dropped_attributes_count, 2);

        // Within the limit: duplicates collapse in place, the others keep their order.
        let mut r = LogRecord::new()
            .with_attribute("x", 1)
            .with_attribute("y", 2)
            .with_attribute("x", 3)
            .with_attribute("z", 4)
            .with_attribute("y", 5);
        let unlimited = LogLimits {
            max_attributes_per_record: 128,
            max_attribute_value_length: None,
        };
        apply_limits(&mut r, unlimited);
        fn expect(pairs: &[(&'static str, i64)]) -> Vec<(crate::Key, AnyValue)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        }
        assert_eq!(r.attributes, expect(&[("x", 3), ("y", 5), ("z", 4)]));
        assert_eq!(r.dropped_attributes_count, 0);
        apply_limits(&mut r, unlimited);
        assert_eq!(r.attributes, expect(&[("x", 3), ("y", 5), ("z", 4)]));
    }

    #[test]
    fn nested_emit_is_refused() {
        let g = EmitGuard::enter();
        assert!(g.is_some());
        assert!(EmitGuard::enter().is_none());
        drop(g);
        assert!(EmitGuard::enter().is_some());
    }
}
