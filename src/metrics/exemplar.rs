//! Exemplars: sampled measurements, with the trace and span that were current, attached to
//! metric points.
//!
//! The [`ExemplarFilter`] decides which measurements are offered (by default those recorded
//! inside a sampled span); each series has a reservoir chosen as the specification says:
//! one slot per bucket for explicit-bucket histograms (the last measurement of each bucket),
//! a uniformly sampled fixed-size reservoir otherwise (size 1, or `min(20, max_size)` for
//! exponential histograms). Reservoirs are emptied at every collection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::attributes::KeyValue;
use crate::context::Context;
use crate::diagnostics;
use crate::metrics::data::{Exemplar, Number};
use crate::trace::{SpanId, TraceId};

/// The environment variable read by [`ExemplarFilter::from_env`].
pub const EXEMPLAR_FILTER_ENV: &str = "OTEL_METRICS_EXEMPLAR_FILTER";

/// Which measurements may become exemplars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExemplarFilter {
    /// Every measurement is offered to the reservoir.
    AlwaysOn,
    /// No exemplar is ever taken (the cheapest).
    AlwaysOff,
    /// Measurements recorded while a sampled span is current (the default).
    #[default]
    TraceBased,
}

impl ExemplarFilter {
    /// The filter from `OTEL_METRICS_EXEMPLAR_FILTER` (`always_on`, `always_off`,
    /// `trace_based`); `trace_based` when unset, and when the value is unknown (reported).
    pub fn from_env() -> Self {
        match crate::env::var(EXEMPLAR_FILTER_ENV) {
            None => ExemplarFilter::TraceBased,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "always_on" => ExemplarFilter::AlwaysOn,
                "always_off" => ExemplarFilter::AlwaysOff,
                "trace_based" => ExemplarFilter::TraceBased,
                _ => {
                    diagnostics::report(&format!(
                        "invalid {EXEMPLAR_FILTER_ENV} value {v:?}; using trace_based"
                    ));
                    ExemplarFilter::TraceBased
                }
            },
        }
    }

    /// The trace and span ids to attach when this measurement should be offered: `None` when
    /// it should not; `Some((None, None))` for an offered measurement without a valid span.
    #[inline]
    pub(crate) fn sample(self) -> Option<(Option<TraceId>, Option<SpanId>)> {
        match self {
            ExemplarFilter::AlwaysOff => None,
            ExemplarFilter::TraceBased => Context::map_current(|cx| {
                if cx.has_active_span() {
                    let sc = cx.span_context();
                    sc.is_sampled()
                        .then(|| (Some(sc.trace_id()), Some(sc.span_id())))
                } else {
                    None
                }
            }),
            ExemplarFilter::AlwaysOn => Some(Context::map_current(|cx| {
                let sc = cx.span_context();
                if sc.is_valid() {
                    (Some(sc.trace_id()), Some(sc.span_id()))
                } else {
                    (None, None)
                }
            })),
        }
    }
}

/// The reservoir a series uses.
#[derive(Clone, Debug)]
pub(crate) enum ReservoirKind {
    /// `SimpleFixedSizeExemplarReservoir` of this size.
    Simple(usize),
    /// `AlignedHistogramBucketExemplarReservoir` for these bucket bounds.
    Aligned(Arc<[f64]>),
}

/// The exemplars of one series.
#[derive(Debug)]
pub(crate) struct Reservoir {
    kind: ReservoirKind,
    slots: Vec<Option<Exemplar>>,
    seen: u64,
    rng: u64,
}

fn seed() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0x2545_F491_4F6C_DD1D);
    NEXT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1
}

impl Reservoir {
    pub(crate) fn new(kind: ReservoirKind) -> Self {
        let n = match &kind {
            ReservoirKind::Simple(n) => (*n).max(1),
            ReservoirKind::Aligned(b) => b.len() + 1,
        };
        Reservoir {
            kind,
            slots: vec![None; n],
            seen: 0,
            rng: seed(),
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Offers one measurement.
    pub(crate) fn offer(
        &mut self,
        value: Number,
        ids: (Option<TraceId>, Option<SpanId>),
        filtered_attributes: impl FnOnce() -> Vec<KeyValue>,
        now: u64,
    ) {
        let slot = match &self.kind {
            ReservoirKind::Aligned(bounds) => {
                let v = value.as_f64();
                bounds.partition_point(|b| *b < v)
            }
            ReservoirKind::Simple(_) => {
                let n = self.slots.len() as u64;
                self.seen += 1;
                if self.seen <= n {
                    (self.seen - 1) as usize
                } else {
                    let j = self.next_random() % self.seen;
                    if j >= n {
                        return;
                    }
                    j as usize
                }
            }
        };
        self.slots[slot] = Some(Exemplar {
            filtered_attributes: filtered_attributes(),
            time_unix_nano: now,
            value,
            trace_id: ids.0,
            span_id: ids.1,
        });
    }

    /// The exemplars taken since the last collection; empties the reservoir.
    pub(crate) fn collect(&mut self) -> Vec<Exemplar> {
        self.seen = 0;
        self.slots.iter_mut().filter_map(Option::take).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_reservoir_keeps_at_most_its_size_and_resets() {
        let mut r = Reservoir::new(ReservoirKind::Simple(2));
        for i in 0..100u64 {
            r.offer(Number::U64(i), (None, None), Vec::new, i);
        }
        let ex = r.collect();
        assert_eq!(ex.len(), 2);
        assert!(r.collect().is_empty());
        r.offer(Number::U64(7), (None, None), Vec::new, 1);
        assert_eq!(r.collect()[0].value, Number::U64(7));
    }

    #[test]
    fn aligned_reservoir_keeps_the_last_measurement_per_bucket() {
        let mut r = Reservoir::new(ReservoirKind::Aligned(Arc::from(vec![10.0, 20.0])));
        for v in [1.0, 5.0, 15.0, 25.0, 30.0] {
            r.offer(Number::F64(v), (None, None), Vec::new, 0);
        }
        let vals: Vec<f64> = r.collect().iter().map(|e| e.value.as_f64()).collect();
        assert_eq!(vals, vec![5.0, 15.0, 30.0]);
    }
}
