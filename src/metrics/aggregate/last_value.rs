//! Last value (gauges): one atomic word per series, overwritten by each measurement.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use super::stripe::Stripes;
use super::sum::number_points;
use super::{Aggregator, Point, PointCommon};
use crate::metrics::data::{GaugeData, MetricData, NumberDataPoint};
use crate::metrics::number::sealed::Num;
use crate::metrics::Temporality;

/// Last-value aggregation.
pub(crate) struct LastValueAgg<T>(PhantomData<fn(T)>);

impl<T> LastValueAgg<T> {
    pub(crate) fn new() -> Self {
        LastValueAgg(PhantomData)
    }
}

impl<T: Num> Aggregator<T> for LastValueAgg<T> {
    type Cell = AtomicU64;

    fn new_cell(&self) -> AtomicU64 {
        AtomicU64::new(T::zero().to_bits())
    }

    #[inline(always)]
    fn update(&self, cell: &AtomicU64, value: T, _exclusive: bool) {
        cell.store(value.to_bits(), Ordering::Relaxed);
    }

    fn point(&self, cells: &Stripes<AtomicU64>, _reset: bool, c: PointCommon) -> Point {
        // Unstriped: the last value is the one cell's.
        let cell = cells.first();
        // A delta gauge reports only series updated during the interval (the map skips the
        // others); the value itself is not reset.
        Point::Number(NumberDataPoint {
            attributes: c.attributes,
            start_time_unix_nano: c.start,
            time_unix_nano: c.time,
            value: T::from_bits(cell.load(Ordering::Relaxed)).number(),
            exemplars: c.exemplars,
        })
    }

    fn data(&self, points: Vec<Point>, _temporality: Temporality) -> MetricData {
        MetricData::Gauge(GaugeData {
            data_points: number_points(points),
        })
    }
}
