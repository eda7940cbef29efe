//! Base-2 exponential histograms, as the specification defines them: bucket `i` at scale `s`
//! holds `(2^(i/2^s), 2^((i+1)/2^s)]`; the scale starts at `max_scale` and is lowered just
//! enough to keep each of the positive and negative ranges within `max_size` buckets.
//!
//! Rescaling touches every bucket, so each series keeps its state under a small mutex.

use std::marker::PhantomData;
use std::sync::Mutex;

use super::map::cached;
use super::stripe::Stripes;
use super::{Aggregator, CellCache, Point, PointCommon};
use crate::metrics::data::{
    ExponentialBuckets, ExponentialHistogramData, ExponentialHistogramDataPoint, MetricData,
};
use crate::metrics::exemplar::ReservoirKind;
use crate::metrics::number::sealed::Num;
use crate::metrics::Temporality;

/// The smallest scale the specification allows.
const MIN_SCALE: i32 = -10;

/// The bucket index of `v` (> 0, finite) at `scale`.
pub(crate) fn map_to_index(v: f64, scale: i32) -> i32 {
    let bits = v.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1u64 << 52) - 1);
    if scale <= 0 {
        let (exp, pow2) = if exp_bits == 0 {
            // subnormal: value = mantissa * 2^-1074
            let top = 63 - mantissa.leading_zeros() as i32;
            (top - 1074, mantissa.is_power_of_two())
        } else {
            (exp_bits - 1023, mantissa == 0)
        };
        // An exact power of two is the inclusive upper bound of the bucket below.
        let e = if pow2 { exp - 1 } else { exp };
        return e >> -scale;
    }
    if exp_bits != 0 && mantissa == 0 {
        return ((exp_bits - 1023) << scale) - 1;
    }
    let factor = std::f64::consts::LOG2_E * f64::powi(2.0, scale);
    (v.ln() * factor).ceil() as i32 - 1
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Buckets {
    offset: i32,
    counts: Vec<u64>,
}

impl Buckets {
    fn range_with(&self, idx: i32) -> (i32, i32) {
        if self.counts.is_empty() {
            (idx, idx)
        } else {
            let hi = self.offset + self.counts.len() as i32 - 1;
            (self.offset.min(idx), hi.max(idx))
        }
    }

    fn increment(&mut self, idx: i32) {
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(1);
            return;
        }
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = idx;
        }
        let at = (idx - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += 1;
    }

    fn downscale(&mut self, by: i32) {
        if by <= 0 || self.counts.is_empty() {
            return;
        }
        let new_offset = self.offset >> by;
        let last = (self.offset + self.counts.len() as i32 - 1) >> by;
        let mut out = vec![0u64; (last - new_offset + 1) as usize];
        for (i, c) in self.counts.iter().enumerate() {
            let j = ((self.offset + i as i32) >> by) - new_offset;
            out[j as usize] += c;
        }
        self.offset = new_offset;
        self.counts = out;
    }

    fn export(&self) -> ExponentialBuckets {
        ExponentialBuckets {
            offset: self.offset,
            counts: self.counts.clone(),
        }
    }
}

/// The state of one series.
#[derive(Clone, Debug)]
pub(crate) struct ExpoState {
    scale: i32,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    zero_count: u64,
    positive: Buckets,
    negative: Buckets,
}

impl ExpoState {
    fn new(max_scale: i32) -> Self {
        ExpoState {
            scale: max_scale,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            zero_count: 0,
            positive: Buckets::default(),
            negative: Buckets::default(),
        }
    }

    fn record(&mut self, v: f64, max_size: usize) {
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v == 0.0 {
            self.zero_count += 1;
            return;
        }
        let abs = v.abs();
        let mut idx = map_to_index(abs, self.scale);
        let (lo, hi) = if v > 0.0 {
            self.positive.range_with(idx)
        } else {
            self.negative.range_with(idx)
        };
        // In 64 bits: at the largest scales the indexes of a subnormal and of a huge value
        // are more than `i32::MAX` apart.
        let (lo, hi) = (i64::from(lo), i64::from(hi));
        let mut change = 0;
        while (hi >> change) - (lo >> change) + 1 > max_size as i64
            && self.scale - change > MIN_SCALE
        {
            change += 1;
        }
        if change > 0 {
            self.positive.downscale(change);
            self.negative.downscale(change);
            self.scale -= change;
            idx = map_to_index(abs, self.scale);
        }
        if v > 0.0 {
            self.positive.increment(idx);
        } else {
            self.negative.increment(idx);
        }
    }
}

/// Base-2 exponential histogram aggregation.
pub(crate) struct ExponentialAgg<T> {
    max_size: usize,
    max_scale: i32,
    record_min_max: bool,
    /// Whether points carry the sum (not for instruments that can record negative values).
    /// The series state adds it up regardless: under its lock that costs nothing worth a
    /// second code path.
    export_sum: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> ExponentialAgg<T> {
    pub(crate) fn new(
        max_size: u32,
        max_scale: i8,
        record_min_max: bool,
        export_sum: bool,
    ) -> Self {
        ExponentialAgg {
            max_size: (max_size as usize).max(2),
            max_scale: i32::from(max_scale).clamp(MIN_SCALE, 20),
            record_min_max,
            export_sum,
            _t: PhantomData,
        }
    }
}

cached!(
    CellCache,
    stripes_cache,
    Mutex<ExpoState>,
    Stripes<Mutex<ExpoState>>
);

impl<T: Num> Aggregator<T> for ExponentialAgg<T> {
    type Cell = Mutex<ExpoState>;

    fn new_cell(&self) -> Mutex<ExpoState> {
        Mutex::new(ExpoState::new(self.max_scale))
    }

    fn update(&self, cell: &Mutex<ExpoState>, value: T, _exclusive: bool) {
        let mut s = cell.lock().unwrap_or_else(|p| p.into_inner());
        s.record(value.to_f64(), self.max_size);
    }

    fn point(&self, cells: &Stripes<Mutex<ExpoState>>, reset: bool, c: PointCommon) -> Point {
        // Unstriped (scales would have to be reconciled): the one cell.
        let mut guard = cells.first().lock().unwrap_or_else(|p| p.into_inner());
        let s = if reset {
            std::mem::replace(&mut *guard, ExpoState::new(self.max_scale))
        } else {
            guard.clone()
        };
        drop(guard);
        let has = self.record_min_max && s.count > 0;
        Point::Exponential(ExponentialHistogramDataPoint {
            attributes: c.attributes,
            start_time_unix_nano: c.start,
            time_unix_nano: c.time,
            count: s.count,
            sum: self.export_sum.then_some(s.sum),
            min: has.then_some(s.min),
            max: has.then_some(s.max),
            scale: s.scale,
            zero_count: s.zero_count,
            zero_threshold: 0.0,
            positive: s.positive.export(),
            negative: s.negative.export(),
            exemplars: c.exemplars,
        })
    }

    fn data(&self, points: Vec<Point>, temporality: Temporality) -> MetricData {
        MetricData::ExponentialHistogram(ExponentialHistogramData {
            data_points: points
                .into_iter()
                .filter_map(|p| match p {
                    Point::Exponential(e) => Some(e),
                    _ => None,
                })
                .collect(),
            temporality,
        })
    }

    fn reservoir(&self) -> ReservoirKind {
        ReservoirKind::Simple(self.max_size.min(20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_mapping_follows_the_specification() {
        // scale 0: bucket i = (2^i, 2^(i+1)]
        assert_eq!(map_to_index(1.0, 0), -1);
        assert_eq!(map_to_index(1.5, 0), 0);
        assert_eq!(map_to_index(2.0, 0), 0);
        assert_eq!(map_to_index(3.0, 0), 1);
        assert_eq!(map_to_index(4.0, 0), 1);
        // scale -1: base 4
        assert_eq!(map_to_index(4.0, -1), 0);
        assert_eq!(map_to_index(5.0, -1), 1);
        // scale 1: base sqrt(2)
        assert_eq!(map_to_index(2.0, 1), 1);
        assert_eq!(map_to_index(1.5, 1), 1); // sqrt2 < 1.5 <= 2
        assert_eq!(map_to_index(1.3, 1), 0);
        // scale 20, exact powers of two
        assert_eq!(map_to_index(1.0, 20), -1);
        assert_eq!(map_to_index(2.0, 20), (1 << 20) - 1);
        // subnormals
        assert_eq!(map_to_index(f64::MIN_POSITIVE / 2.0, 0), -1024);
    }

    #[test]
    fn rescales_to_fit_max_size() {
        let mut s = ExpoState::new(20);
        for v in [1.0, 2.0, 4.0] {
            s.record(v, 4);
        }
        assert_eq!(s.scale, 0);
        assert_eq!(s.positive.offset, -1);
        assert_eq!(s.positive.counts, vec![1, 1, 1]);

        let mut s = ExpoState::new(20);
        for v in [1.0, 2.0, 4.0] {
            s.record(v, 160);
        }
        assert_eq!(s.scale, 6);
        assert_eq!(s.positive.offset, -1);
        assert_eq!(s.positive.counts.len(), 129);
        let nonzero: Vec<(usize, u64)> = s
            .positive
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i, *c))
            .collect();
        assert_eq!(nonzero, vec![(0, 1), (64, 1), (128, 1)]);
    }

    #[test]
    fn negative_and_zero_values_have_their_own_buckets() {
        let mut s = ExpoState::new(0);
        for v in [-1.0, -3.0, 0.0, 0.0, 3.0] {
            s.record(v, 160);
        }
        assert_eq!(s.zero_count, 2);
        assert_eq!(s.negative.offset, -1);
        assert_eq!(s.negative.counts, vec![1, 0, 1]);
        assert_eq!(s.positive.offset, 1);
        assert_eq!(s.positive.counts, vec![1]);
        assert_eq!((s.count, s.sum, s.min, s.max), (5, -1.0, -3.0, 3.0));
    }
}
