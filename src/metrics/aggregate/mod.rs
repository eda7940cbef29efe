//! Aggregation: attribute sets mapped to series cells (the hot path), and the collection of
//! those cells into exportable points. See the design notes in [`crate::metrics`].

mod attrs;
mod exponential;
mod histogram;
mod last_value;
mod map;
mod observable;
mod stripe;
mod sum;

pub(crate) use attrs::AttrFilter;
pub(crate) use exponential::ExponentialAgg;
pub(crate) use histogram::{HistogramAgg, DEFAULT_BOUNDARIES};
pub(crate) use last_value::LastValueAgg;
pub(crate) use observable::{ObservableKind, ObservableStream};
pub(crate) use sum::SumAgg;

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use crate::attributes::{KeyValue, StringValue};
use crate::metrics::data::{Exemplar, Metric, MetricData};
use crate::metrics::exemplar::{ExemplarFilter, Reservoir, ReservoirKind};
use crate::metrics::number::sealed::Num;
use crate::metrics::Temporality;
use crate::time::now_unix_nanos;

use map::{cached, Cached, Series, Slot, ValueMap};
use stripe::Stripes;

/// Name, description and unit of a metric stream.
#[derive(Clone, Debug)]
pub(crate) struct StreamMeta {
    pub(crate) name: StringValue,
    pub(crate) description: StringValue,
    pub(crate) unit: StringValue,
}

/// Everything a stream needs besides its aggregation.
#[derive(Clone, Debug)]
pub(crate) struct StreamConfig {
    pub(crate) meta: StreamMeta,
    pub(crate) temporality: Temporality,
    pub(crate) filter: Option<Arc<AttrFilter>>,
    pub(crate) cardinality_limit: usize,
    pub(crate) exemplar_filter: ExemplarFilter,
}

/// The recording side of a synchronous stream.
pub(crate) trait SyncMeasure<T>: Send + Sync {
    fn measure(&self, value: T, attrs: &[KeyValue]);
    /// A recorder pre-bound to one attribate set.
    fn bind(self: Arc<Self>, attrs: &[KeyValue]) -> Box<dyn Fn(T) + Send + Sync>;
}

/// The collection side of any stream.
pub(crate) trait Collect: Send + Sync {
    /// The stream's points at `now`; `None` when there is none.
    fn collect(&self, now: u64) -> Option<Metric>;
}

/// One point as an aggregator produces it, before being grouped into [`MetricData`].
pub(crate) enum Point {
    Number(crate::metrics::data::NumberDataPoint),
    Histogram(crate::metrics::data::HistogramDataPoint),
    Exponential(crate::metrics::data::ExponentialHistogramDataPoint),
}

/// Attributes, period and exemplars of a point being produced.
pub(crate) struct PointCommon {
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) start: u64,
    pub(crate) time: u64,
    pub(crate) exemplars: Vec<Exemplar>,
}

#[cfg(test)]
impl PointCommon {
    /// No attributes or exemplars, period [0, 1]: for the aggregations' unit tests.
    pub(crate) fn bare() -> Self {
        PointCommon {
            attributes: Vec::new(),
            start: 0,
            time: 1,
            exemplars: Vec::new(),
        }
    }
}

/// A cell type of an aggregation: its striped series have their own thread-local alias cache
/// (see [`Cached`]). Implemented with `cached!(CellCache, stripes_cache, T, Stripes<T>)`.
pub(crate) trait CellCache: Send + Sync + Sized + 'static {
    fn stripes_cache(
    ) -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Slot<Stripes<Self>>>>>;
}

impl<X: CellCache> Cached for Stripes<X> {
    #[inline(always)]
    fn cache() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Slot<Self>>>> {
        X::stripes_cache()
    }
}

cached!(
    CellCache,
    stripes_cache,
    std::sync::atomic::AtomicU64,
    Stripes<std::sync::atomic::AtomicU64>
);

/// An aggregation over values of type `T`: the cell it keeps per series and how a cell
/// becomes a point.
pub(crate) trait Aggregator<T: Num>: Send + Sync + 'static {
    type Cell: CellCache;
    fn new_cell(&self) -> Self::Cell;
    /// Adds `value` to `cell`. With `exclusive`, the caller is the cell's only writer and
    /// nothing else writes it meanwhile (not even a collection: cumulative streams only read),
    /// so read-modify-write steps may be a plain load and store.
    fn update(&self, cell: &Self::Cell, value: T, exclusive: bool);
    /// Exclusive stripes per series (see [`stripe`]): none, or [`stripe::count`] for
    /// aggregations whose cells merge exactly.
    fn exclusive_stripes(&self) -> usize {
        0
    }
    /// The point of a series' cells (merged); with `reset`, the cells are emptied (delta).
    fn point(&self, cells: &Stripes<Self::Cell>, reset: bool, common: PointCommon) -> Point;
    /// Groups points into the metric's data.
    fn data(&self, points: Vec<Point>, temporality: Temporality) -> MetricData;
    fn reservoir(&self) -> ReservoirKind {
        ReservoirKind::Simple(1)
    }
}

/// A synchronous metric stream: one instrument seen through one view by one reader.
pub(crate) struct SyncStream<T, A: Aggregator<T>>
where
    T: Num,
{
    config: StreamConfig,
    delta: bool,
    agg: A,
    map: ValueMap<Stripes<A::Cell>>,
    start: u64,
    last_collect: Mutex<u64>,
    _t: PhantomData<fn(T)>,
}

impl<T: Num, A: Aggregator<T>> SyncStream<T, A> {
    pub(crate) fn new(config: StreamConfig, agg: A, start: u64) -> Self {
        let delta = config.temporality == Temporality::Delta;
        SyncStream {
            map: ValueMap::new(config.cardinality_limit, config.filter.clone(), delta),
            delta,
            agg,
            config,
            start,
            last_collect: Mutex::new(start),
            _t: PhantomData,
        }
    }

    fn new_series(&self) -> (Stripes<A::Cell>, Option<Mutex<Reservoir>>) {
        let reservoir = (self.config.exemplar_filter != ExemplarFilter::AlwaysOff)
            .then(|| Mutex::new(Reservoir::new(self.agg.reservoir())));
        let cells = Stripes::new(self.agg.exclusive_stripes(), || self.agg.new_cell());
        (cells, reservoir)
    }

    #[inline]
    fn record_on(&self, series: &Series<Stripes<A::Cell>>, value: T, attrs: &[KeyValue]) {
        let (cell, exclusive) = series.cell.get(stripe::current(), || self.agg.new_cell());
        if self.delta {
            if !series.begin_update() {
                // A delta collection reclaimed the series: record on the live one.
                self.measure(value, attrs);
                return;
            }
            // Delta collections reset the cells: always atomic read-modify-write.
            self.agg.update(cell, value, false);
            series.end_update();
        } else {
            self.agg.update(cell, value, exclusive);
            series.touch();
        }
        if let Some(reservoir) = &series.exemplars {
            self.offer_exemplar(reservoir, value, attrs, series.is_overflow());
        }
    }

    #[cold]
    fn offer_exemplar_slow(
        &self,
        reservoir: &Mutex<Reservoir>,
        value: T,
        attrs: &[KeyValue],
        overflow: bool,
        ids: (Option<crate::trace::TraceId>, Option<crate::trace::SpanId>),
    ) {
        if let Ok(mut r) = reservoir.lock() {
            let filter = self.config.filter.as_deref();
            r.offer(
                value.number(),
                ids,
                // The exemplar keeps the attributes its point does not show: those the
                // view filters out, or all of them on the overflow point.
                || match filter {
                    _ if overflow => attrs.to_vec(),
                    Some(f) => attrs
                        .iter()
                        .filter(|kv| !f.keeps(&kv.key))
                        .cloned()
                        .collect(),
                    None => Vec::new(),
                },
                now_unix_nanos(),
            );
        }
    }

    #[inline]
    fn offer_exemplar(
        &self,
        reservoir: &Mutex<Reservoir>,
        value: T,
        attrs: &[KeyValue],
        overflow: bool,
    ) {
        if let Some(ids) = self.config.exemplar_filter.sample() {
            self.offer_exemplar_slow(reservoir, value, attrs, overflow, ids);
        }
    }
}

impl<T: Num, A: Aggregator<T>> SyncMeasure<T> for SyncStream<T, A> {
    #[inline]
    fn measure(&self, value: T, attrs: &[KeyValue]) {
        self.map.with_series(
            attrs,
            || self.new_series(),
            |series| self.record_on(series, value, attrs),
        );
    }

    fn bind(self: Arc<Self>, attrs: &[KeyValue]) -> Box<dyn Fn(T) + Send + Sync> {
        let alias = self.map.resolve(attrs, &|| self.new_series());
        Box::new(move |value: T| {
            if self.map.is_current(&alias) {
                self.record_on(&alias.series, value, &alias.raw);
            } else {
                self.measure(value, &alias.raw);
            }
        })
    }
}

impl<T: Num, A: Aggregator<T>> Collect for SyncStream<T, A> {
    fn collect(&self, now: u64) -> Option<Metric> {
        let start = if self.delta {
            let mut last = self.last_collect.lock().ok()?;
            std::mem::replace(&mut *last, now)
        } else {
            self.start
        };
        let points = self.map.collect(|series, reset| {
            let exemplars = series
                .exemplars
                .as_ref()
                .and_then(|r| r.lock().ok().map(|mut r| r.collect()))
                .unwrap_or_default();
            self.agg.point(
                &series.cell,
                reset,
                PointCommon {
                    attributes: series.attrs.clone(),
                    start,
                    time: now,
                    exemplars,
                },
            )
        });
        if points.is_empty() {
            return None;
        }
        Some(Metric {
            name: self.config.meta.name.clone(),
            description: self.config.meta.description.clone(),
            unit: self.config.meta.unit.clone(),
            data: self.agg.data(points, self.config.temporality),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::data::Number;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn config(temporality: Temporality) -> StreamConfig {
        StreamConfig {
            meta: StreamMeta {
                name: "s".into(),
                description: StringValue::default(),
                unit: StringValue::default(),
            },
            temporality,
            filter: None,
            cardinality_limit: 100,
            exemplar_filter: ExemplarFilter::AlwaysOff,
        }
    }

    /// (counter total, histogram count, histogram sum) over every point.
    fn totals(c: &dyn Collect, h: &dyn Collect) -> (u64, u64, f64) {
        let mut out = (0, 0, 0.0);
        if let Some(MetricData::Sum(s)) = c.collect(1).map(|m| m.data) {
            for p in s.data_points {
                let Number::U64(v) = p.value else {
                    panic!("u64 counter")
                };
                out.0 += v;
            }
        }
        if let Some(MetricData::Histogram(d)) = h.collect(1).map(|m| m.data) {
            for p in d.data_points {
                out.1 += p.count;
                out.2 += p.sum.expect("a u64 histogram keeps its sum");
            }
        }
        out
    }

    /// More recording threads than stripes (some share the shared stripe, the others write
    /// their own one with plain stores) while a collector reads: nothing is lost, counted
    /// twice, or seen going backwards (cumulative), and delta points add up to the total.
    fn many_threads_with_a_concurrent_collector(temporality: Temporality) {
        let threads = stripe::count() + 4;
        const PER_THREAD: u64 = 20_000;
        let counter = Arc::new(SyncStream::new(
            config(temporality),
            SumAgg::<u64>::new(true),
            0,
        ));
        let hist = Arc::new(SyncStream::new(
            config(temporality),
            HistogramAgg::<u64, true>::new(DEFAULT_BOUNDARIES.to_vec(), true),
            0,
        ));
        let sets: Arc<Vec<[KeyValue; 2]>> = Arc::new(
            (0..5i64)
                .map(|k| [KeyValue::new("k", k), KeyValue::new("s", "x")])
                .collect(),
        );
        let done = Arc::new(AtomicBool::new(false));
        let collector = {
            let (c, h, done) = (counter.clone(), hist.clone(), done.clone());
            std::thread::spawn(move || {
                let mut acc = (0, 0, 0.0);
                while !done.load(Ordering::Acquire) {
                    let t = totals(&*c, &*h);
                    if temporality == Temporality::Delta {
                        acc = (acc.0 + t.0, acc.1 + t.1, acc.2 + t.2);
                    } else {
                        assert!(t.0 >= acc.0 && t.1 >= acc.1, "cumulative went back");
                        acc = t;
                    }
                    std::thread::yield_now();
                }
                acc
            })
        };
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (c, h, sets) = (counter.clone(), hist.clone(), sets.clone());
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        let attrs = &sets[(i as usize + t) % sets.len()];
                        c.measure(1, attrs);
                        h.measure(i % 100, attrs);
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, Ordering::Release);
        let seen = collector.join().unwrap();
        let last = totals(&*counter, &*hist);
        let got = if temporality == Temporality::Delta {
            (seen.0 + last.0, seen.1 + last.1, seen.2 + last.2)
        } else {
            last
        };
        let n = threads as u64 * PER_THREAD;
        let sum_per_thread = (0..PER_THREAD).map(|i| i % 100).sum::<u64>();
        assert_eq!(got.0, n, "counter total");
        assert_eq!(got.1, n, "histogram count");
        assert_eq!(
            got.2,
            (threads as u64 * sum_per_thread) as f64,
            "histogram sum"
        );
    }

    #[test]
    fn striped_cumulative_streams_stay_exact_under_many_threads() {
        many_threads_with_a_concurrent_collector(Temporality::Cumulative);
    }

    #[test]
    fn striped_delta_streams_stay_exact_under_many_threads() {
        many_threads_with_a_concurrent_collector(Temporality::Delta);
    }
}
