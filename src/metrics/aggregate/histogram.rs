//! Explicit-bucket histograms: atomic bucket counters, an atomic sum and atomic min/max, per
//! series and stripe, merged at collection.
//!
//! The count is not stored: it is the sum of the bucket counts at collection, so the two
//! always agree. Under concurrent recording, a collection may see a measurement's bucket
//! but not yet its sum (it then appears in the next delta point's sum).
//!
//! Whether the sum is kept is a type parameter (`SUM`), fixed from the instrument kind when
//! the stream is made: for instruments that can record negative values (up-down counters,
//! gauges through a view) the specification says not to collect it, and with `SUM = false`
//! the recording path does not touch it at all, while with `SUM = true` it is the same code
//! as before, with no added branch.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::map::cached;
use super::stripe::{self, Stripes};
use super::{Aggregator, CellCache, Point, PointCommon};
use crate::metrics::data::{HistogramData, HistogramDataPoint, MetricData};
use crate::metrics::exemplar::ReservoirKind;
use crate::metrics::number::sealed::Num;
use crate::metrics::number::{atomic_max, atomic_min};
use crate::metrics::Temporality;

/// The specification's default bucket boundaries.
pub(crate) const DEFAULT_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// Explicit-bucket histogram aggregation; `SUM` says whether the sum is recorded and
/// exported.
pub(crate) struct HistogramAgg<T, const SUM: bool> {
    bounds: Arc<[f64]>,
    record_min_max: bool,
    _t: PhantomData<fn(T)>,
}

impl<T, const SUM: bool> HistogramAgg<T, SUM> {
    pub(crate) fn new(bounds: Vec<f64>, record_min_max: bool) -> Self {
        HistogramAgg {
            bounds: bounds.into(),
            record_min_max,
            _t: PhantomData,
        }
    }
}

/// The bucket of `v`: bucket i holds `(bounds[i-1], bounds[i]]`, so its index is the number
/// of bounds below `v` (the bounds are increasing). Up to 32 bounds this is a branch-free
/// count (no mispredicted jumps when values spread over the buckets); more use a binary search.
#[inline(always)]
fn bucket_index(bounds: &[f64], v: f64) -> usize {
    if bounds.len() <= 32 {
        bounds.iter().map(|b| usize::from(*b < v)).sum()
    } else {
        bounds.partition_point(|b| *b < v)
    }
}

/// Eight bucket counters on one cache line, so that the buckets of two series (separate
/// allocations) never share a line.
#[repr(align(64))]
struct Line([AtomicU64; 8]);

/// Bucket counters in whole cache lines.
struct Buckets {
    lines: Box<[Line]>,
    len: usize,
}

impl Buckets {
    fn new(len: usize) -> Self {
        Buckets {
            lines: (0..len.div_ceil(8))
                .map(|_| Line(Default::default()))
                .collect(),
            len,
        }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> Option<&AtomicU64> {
        if i < self.len {
            self.lines.get(i / 8).map(|l| &l.0[i % 8])
        } else {
            None
        }
    }

    fn iter(&self) -> impl Iterator<Item = &AtomicU64> {
        self.lines.iter().flat_map(|l| l.0.iter()).take(self.len)
    }
}

/// One series of a histogram.
pub(crate) struct HistogramCell {
    buckets: Buckets,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

cached!(
    CellCache,
    stripes_cache,
    HistogramCell,
    Stripes<HistogramCell>
);

impl<T: Num, const SUM: bool> Aggregator<T> for HistogramAgg<T, SUM> {
    type Cell = HistogramCell;

    fn new_cell(&self) -> HistogramCell {
        HistogramCell {
            buckets: Buckets::new(self.bounds.len() + 1),
            sum: AtomicU64::new(T::zero().to_bits()),
            min: AtomicU64::new(T::MAX.to_bits()),
            max: AtomicU64::new(T::MIN.to_bits()),
        }
    }

    #[inline(always)]
    fn update(&self, cell: &HistogramCell, value: T, exclusive: bool) {
        let v = value.to_f64();
        let i = bucket_index(&self.bounds, v);
        if exclusive {
            // The only writer: plain loads and stores (see `Aggregator::update`).
            if let Some(b) = cell.buckets.get(i) {
                b.store(b.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            }
            if SUM {
                let sum = T::from_bits(cell.sum.load(Ordering::Relaxed));
                cell.sum.store(sum.add(value).to_bits(), Ordering::Relaxed);
            }
            if self.record_min_max {
                if value < T::from_bits(cell.min.load(Ordering::Relaxed)) {
                    cell.min.store(value.to_bits(), Ordering::Relaxed);
                }
                if value > T::from_bits(cell.max.load(Ordering::Relaxed)) {
                    cell.max.store(value.to_bits(), Ordering::Relaxed);
                }
            }
            return;
        }
        if let Some(b) = cell.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        if SUM {
            T::atomic_add(&cell.sum, value);
        }
        if self.record_min_max {
            atomic_min(&cell.min, value);
            atomic_max(&cell.max, value);
        }
    }

    fn exclusive_stripes(&self) -> usize {
        stripe::count()
    }

    fn point(&self, cells: &Stripes<HistogramCell>, reset: bool, c: PointCommon) -> Point {
        let take = |a: &AtomicU64, init: u64| {
            if reset {
                a.swap(init, Ordering::Relaxed)
            } else {
                a.load(Ordering::Relaxed)
            }
        };
        let mut bucket_counts = vec![0u64; self.bounds.len() + 1];
        let mut sum = T::zero();
        let (mut min, mut max) = (T::MAX, T::MIN);
        for cell in cells.iter() {
            for (n, b) in bucket_counts.iter_mut().zip(cell.buckets.iter()) {
                *n += take(b, 0);
            }
            if SUM {
                sum = sum.add(T::from_bits(take(&cell.sum, T::zero().to_bits())));
            }
            let (lo, hi) = (
                T::from_bits(take(&cell.min, T::MAX.to_bits())),
                T::from_bits(take(&cell.max, T::MIN.to_bits())),
            );
            if lo < min {
                min = lo;
            }
            if hi > max {
                max = hi;
            }
        }
        let count = bucket_counts.iter().sum::<u64>();
        let sum = SUM.then(|| sum.to_f64());
        let has = self.record_min_max && count > 0 && min <= max;
        Point::Histogram(HistogramDataPoint {
            attributes: c.attributes,
            start_time_unix_nano: c.start,
            time_unix_nano: c.time,
            count,
            sum,
            min: has.then(|| min.to_f64()),
            max: has.then(|| max.to_f64()),
            bounds: self.bounds.to_vec(),
            bucket_counts,
            exemplars: c.exemplars,
        })
    }

    fn data(&self, points: Vec<Point>, temporality: Temporality) -> MetricData {
        MetricData::Histogram(HistogramData {
            data_points: points
                .into_iter()
                .filter_map(|p| match p {
                    Point::Histogram(h) => Some(h),
                    _ => None,
                })
                .collect(),
            temporality,
        })
    }

    fn reservoir(&self) -> ReservoirKind {
        if self.bounds.is_empty() {
            ReservoirKind::Simple(1)
        } else {
            ReservoirKind::Aligned(Arc::clone(&self.bounds))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(p: Point) -> HistogramDataPoint {
        match p {
            Point::Histogram(h) => h,
            _ => panic!("not a histogram point"),
        }
    }

    #[test]
    fn branch_free_bucket_index_agrees_with_a_binary_search() {
        let mut values: Vec<f64> = DEFAULT_BOUNDARIES.to_vec();
        values.extend([-1e300, -0.0, 1e-9, 4.999, 5.0001, 9999.5, 10000.0, 1e300]);
        values.extend((0..3000).map(|i| f64::from(i) * 3.7 - 5.0));
        let long: Vec<f64> = (0..40).map(|i| f64::from(i * i)).collect();
        for v in values {
            for bounds in [&DEFAULT_BOUNDARIES[..], &[][..], &[1.0][..], &long[..]] {
                assert_eq!(
                    bucket_index(bounds, v),
                    bounds.partition_point(|b| *b < v),
                    "v={v} bounds={}",
                    bounds.len()
                );
            }
        }
    }

    #[test]
    fn stripes_merge_into_one_exact_point_and_reset_together() {
        let agg = HistogramAgg::<f64, true>::new(vec![10.0, 20.0], true);
        let new = || Aggregator::<f64>::new_cell(&agg);
        let cells = Stripes::new(3, new);
        // the shared stripe with atomic updates, another one as its only writer
        agg.update(cells.get(0, new).0, 5.0, false);
        agg.update(cells.get(0, new).0, 15.0, false);
        agg.update(cells.get(2, new).0, 25.0, true);
        agg.update(cells.get(2, new).0, -2.0, true);
        // stripe 1 stays empty: its initial min/max must not leak into the point
        let p = hist(agg.point(&cells, false, PointCommon::bare()));
        assert_eq!(p.bucket_counts, vec![2, 1, 1]);
        assert_eq!((p.count, p.sum), (4, Some(43.0)));
        assert_eq!((p.min, p.max), (Some(-2.0), Some(25.0)));

        let p = hist(agg.point(&cells, true, PointCommon::bare()));
        assert_eq!(p.count, 4, "a reset reports what it takes");
        let p = hist(agg.point(&cells, true, PointCommon::bare()));
        assert_eq!((p.count, p.sum, p.min, p.max), (0, Some(0.0), None, None));
        assert_eq!(p.bucket_counts, vec![0, 0, 0]);

        agg.update(cells.get(1, new).0, 12.0, true);
        let p = hist(agg.point(&cells, true, PointCommon::bare()));
        assert_eq!(p.bucket_counts, vec![0, 1, 0]);
        assert_eq!((p.min, p.max), (Some(12.0), Some(12.0)));
    }

    #[test]
    fn without_the_sum_nothing_adds_it_up_and_the_rest_is_unchanged() {
        let agg = HistogramAgg::<i64, false>::new(vec![0.0, 10.0], true);
        let new = || Aggregator::<i64>::new_cell(&agg);
        let cells = Stripes::new(2, new);
        agg.update(cells.get(0, new).0, -5, false);
        agg.update(cells.get(0, new).0, 3, false);
        agg.update(cells.get(1, new).0, 20, true);
        assert!(
            cells.iter().all(|c| c.sum.load(Ordering::Relaxed) == 0),
            "the sum is not recorded"
        );
        let p = hist(agg.point(&cells, true, PointCommon::bare()));
        assert_eq!(p.bucket_counts, vec![1, 1, 1]);
        assert_eq!(
            (p.count, p.sum, p.min, p.max),
            (3, None, Some(-5.0), Some(20.0))
        );
        let p = hist(agg.point(&cells, true, PointCommon::bare()));
        assert_eq!((p.count, p.sum, p.min, p.max), (0, None, None, None));
    }
}
