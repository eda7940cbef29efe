//! Sums (counters and up-down counters): one atomic word per series and stripe, added up at
//! collection.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use super::stripe::{self, Stripes};
use super::{Aggregator, Point, PointCommon};
use crate::metrics::data::{MetricData, NumberDataPoint, SumData};
use crate::metrics::number::sealed::Num;
use crate::metrics::Temporality;

/// Sum aggregation; `monotonic` for counters.
pub(crate) struct SumAgg<T> {
    monotonic: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> SumAgg<T> {
    pub(crate) fn new(monotonic: bool) -> Self {
        SumAgg {
            monotonic,
            _t: PhantomData,
        }
    }
}

impl<T: Num> Aggregator<T> for SumAgg<T> {
    type Cell = AtomicU64;

    fn new_cell(&self) -> AtomicU64 {
        AtomicU64::new(T::zero().to_bits())
    }

    #[inline(always)]
    fn update(&self, cell: &AtomicU64, value: T, exclusive: bool) {
        if exclusive {
            let cur = T::from_bits(cell.load(Ordering::Relaxed));
            cell.store(cur.add(value).to_bits(), Ordering::Relaxed);
        } else {
            T::atomic_add(cell, value);
        }
    }

    fn exclusive_stripes(&self) -> usize {
        stripe::count()
    }

    fn point(&self, cells: &Stripes<AtomicU64>, reset: bool, c: PointCommon) -> Point {
        // Each stripe is taken whole (swapped when resetting), so every increment lands in
        // exactly one collection.
        let total = cells.iter().fold(T::zero(), |acc, cell| {
            let bits = if reset {
                cell.swap(T::zero().to_bits(), Ordering::Relaxed)
            } else {
                cell.load(Ordering::Relaxed)
            };
            acc.add(T::from_bits(bits))
        });
        Point::Number(NumberDataPoint {
            attributes: c.attributes,
            start_time_unix_nano: c.start,
            time_unix_nano: c.time,
            value: total.number(),
            exemplars: c.exemplars,
        })
    }

    fn data(&self, points: Vec<Point>, temporality: Temporality) -> MetricData {
        MetricData::Sum(SumData {
            data_points: number_points(points),
            temporality,
            is_monotonic: self.monotonic,
        })
    }
}

pub(crate) fn number_points(points: Vec<Point>) -> Vec<NumberDataPoint> {
    points
        .into_iter()
        .filter_map(|p| match p {
            Point::Number(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::data::Number;

    fn value(p: Point) -> Number {
        match p {
            Point::Number(n) => n.value,
            _ => panic!("not a number point"),
        }
    }

    #[test]
    fn stripes_add_up_and_a_reset_empties_every_stripe() {
        let agg = SumAgg::<i64>::new(false);
        let new = || Aggregator::<i64>::new_cell(&agg);
        let cells = Stripes::new(3, new);
        agg.update(cells.get(0, new).0, 5, false);
        agg.update(cells.get(1, new).0, -7, true);
        agg.update(cells.get(3, new).0, 100, true);
        assert_eq!(
            value(agg.point(&cells, false, PointCommon::bare())),
            Number::I64(98)
        );
        assert_eq!(
            value(agg.point(&cells, true, PointCommon::bare())),
            Number::I64(98)
        );
        assert_eq!(
            value(agg.point(&cells, true, PointCommon::bare())),
            Number::I64(0)
        );
        agg.update(cells.get(2, new).0, 3, false);
        assert_eq!(
            value(agg.point(&cells, false, PointCommon::bare())),
            Number::I64(3)
        );
    }

    #[test]
    fn threads_on_shared_stripes_sum_exactly_with_a_concurrent_delta_collector() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        const THREADS: u64 = 4;
        const ADDS: u64 = 100_000;
        let agg = Arc::new(SumAgg::<u64>::new(true));
        let n = stripe::count().max(2);
        let cells = Arc::new(Stripes::new(n, || Aggregator::<u64>::new_cell(&*agg)));
        let done = Arc::new(AtomicBool::new(false));
        let collector = {
            let (agg, cells, done) = (agg.clone(), cells.clone(), done.clone());
            std::thread::spawn(move || {
                let mut taken = 0u64;
                while !done.load(Ordering::Acquire) {
                    if let Number::U64(v) = value(agg.point(&cells, true, PointCommon::bare())) {
                        taken += v;
                    }
                    std::thread::yield_now();
                }
                taken
            })
        };
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (agg, cells) = (agg.clone(), cells.clone());
                std::thread::spawn(move || {
                    // A delta collector resets the cells: updates are atomic (not exclusive),
                    // on the shared stripe and on stripes several threads use.
                    for i in 0..ADDS {
                        let s = if i % 2 == 0 { 0 } else { 1 + t as usize % n };
                        let (cell, _) = cells.get(s, || Aggregator::<u64>::new_cell(&*agg));
                        agg.update(cell, 1, false);
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, Ordering::Release);
        let taken = collector.join().unwrap();
        let rest = match value(agg.point(&cells, true, PointCommon::bare())) {
            Number::U64(v) => v,
            _ => unreachable!(),
        };
        assert_eq!(taken + rest, THREADS * ADDS);
    }
}
