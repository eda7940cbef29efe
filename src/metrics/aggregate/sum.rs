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
    fn update(&self, cell: &AtomicU64, value: T) {
        T::atomic_add(cell, value);
    }

    fn stripes(&self) -> usize {
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
