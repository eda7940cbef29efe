//! Streams of observable (asynchronous) instruments: the callbacks report absolute values
//! during a collection; the stream turns them into points (cumulative sums as reported,
//! delta sums as the difference from the previous collection, gauges as last values).
//!
//! Not on any hot path: a plain mutex and allocations are fine here.

use std::collections::HashMap;
use std::sync::Mutex;

use super::attrs::{canonicalize, eq_in_order, hash_attrs};
use super::map::OVERFLOW_KEY;
use super::{Collect, StreamConfig};
use crate::attributes::KeyValue;
use crate::metrics::data::{GaugeData, Metric, MetricData, NumberDataPoint, SumData};
use crate::metrics::number::sealed::Num;
use crate::metrics::Temporality;

/// What an observable stream produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObservableKind {
    Sum { monotonic: bool },
    Gauge,
}

/// Attribute sets to values, keyed by the canonical attributes.
struct Table<T> {
    index: HashMap<u64, Vec<usize>>,
    rows: Vec<(Vec<KeyValue>, T)>,
}

impl<T: Num> Table<T> {
    fn new() -> Self {
        Table {
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }

    fn find(&self, attrs: &[KeyValue], h: u64) -> Option<usize> {
        self.index
            .get(&h)?
            .iter()
            .copied()
            .find(|i| eq_in_order(&self.rows[*i].0, attrs))
    }

    /// Sets (or with `add`, adds to) the value of `attrs` (canonical).
    fn put(&mut self, attrs: Vec<KeyValue>, v: T, add: bool) {
        let h = hash_attrs(&attrs);
        match self.find(&attrs, h) {
            Some(i) if add => self.rows[i].1 = self.rows[i].1.add(v),
            Some(i) => self.rows[i].1 = v,
            None => {
                self.index.entry(h).or_default().push(self.rows.len());
                self.rows.push((attrs, v));
            }
        }
    }

    fn get(&self, attrs: &[KeyValue]) -> Option<T> {
        self.find(attrs, hash_attrs(attrs)).map(|i| self.rows[i].1)
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

struct State<T> {
    /// This collection's observations, by the attribute set reported (last one wins).
    current: Table<T>,
    /// The previous collection's values, for delta sums.
    previous: Table<T>,
    last_collect: u64,
}

/// One observable instrument seen through one view by one reader.
pub(crate) struct ObservableStream<T> {
    config: StreamConfig,
    kind: ObservableKind,
    start: u64,
    state: Mutex<State<T>>,
}

impl<T: Num> ObservableStream<T> {
    pub(crate) fn new(config: StreamConfig, kind: ObservableKind, start: u64) -> Self {
        ObservableStream {
            config,
            kind,
            start,
            state: Mutex::new(State {
                current: Table::new(),
                previous: Table::new(),
                last_collect: start,
            }),
        }
    }

    /// Records one observation of a callback.
    pub(crate) fn observe(&self, value: T, attrs: &[KeyValue]) {
        let canon = canonicalize(attrs, None);
        if let Ok(mut s) = self.state.lock() {
            s.current.put(canon, value, false);
        }
    }
}

impl<T: Num> Collect for ObservableStream<T> {
    fn collect(&self, now: u64) -> Option<Metric> {
        let mut s = self.state.lock().ok()?;
        let observed = std::mem::replace(&mut s.current, Table::new());
        // Apply the view's attribute filter and the cardinality limit.
        let is_sum = matches!(self.kind, ObservableKind::Sum { .. });
        let limit = self.config.cardinality_limit.max(1);
        let mut folded: Table<T> = Table::new();
        for (attrs, v) in observed.rows {
            let attrs = match &self.config.filter {
                Some(f) => attrs.into_iter().filter(|kv| f.keeps(&kv.key)).collect(),
                None => attrs,
            };
            let h = hash_attrs(&attrs);
            let attrs = if folded.find(&attrs, h).is_none() && folded.len() >= limit - 1 {
                vec![KeyValue::new(OVERFLOW_KEY, true)]
            } else {
                attrs
            };
            folded.put(attrs, v, is_sum);
        }
        let delta = self.config.temporality == Temporality::Delta;
        let monotonic = matches!(self.kind, ObservableKind::Sum { monotonic: true });
        let start = if delta {
            std::mem::replace(&mut s.last_collect, now)
        } else {
            self.start
        };
        let points: Vec<NumberDataPoint> = folded
            .rows
            .iter()
            .map(|(attrs, v)| {
                let value = if delta && is_sum {
                    let previous = s.previous.get(attrs).unwrap_or_else(T::zero);
                    if monotonic && *v < previous {
                        // A monotonic count that went down was reset (the process it
                        // observes restarted, say): what it counts now all came after the
                        // last collection.
                        *v
                    } else {
                        v.sub(previous)
                    }
                } else {
                    *v
                };
                NumberDataPoint {
                    attributes: attrs.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: value.number(),
                    exemplars: Vec::new(),
                }
            })
            .collect();
        if delta {
            s.previous = folded;
        }
        if points.is_empty() {
            return None;
        }
        let data = match self.kind {
            ObservableKind::Sum { monotonic } => MetricData::Sum(SumData {
                data_points: points,
                temporality: self.config.temporality,
                is_monotonic: monotonic,
            }),
            ObservableKind::Gauge => MetricData::Gauge(GaugeData {
                data_points: points,
            }),
        };
        Some(Metric {
            name: self.config.meta.name.clone(),
            description: self.config.meta.description.clone(),
            unit: self.config.meta.unit.clone(),
            data,
        })
    }
}
