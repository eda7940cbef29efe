//! The series map of one stream: attribute slices to cache-line-aligned cells, with a
//! per-thread cache in front so that recording on a known series locks nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::LocalKey;

use super::attrs::{
    canonicalize, eq_any_order, eq_in_order, hash_attrs, identity_words, mix, same_identity,
    unique_keys, AttrFilter, PairWords,
};
use crate::attributes::KeyValue;
use crate::metrics::exemplar::Reservoir;

/// The attribute of the series that takes measurements beyond the cardinality limit.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

// The series' state word:
// - bits 0..20: recorders currently updating the cell (delta streams; one per thread at
//   most, so a million threads on one series would be needed to overflow it);
// - IDLE (delta): not updated during the last interval;
// - DEAD (delta): removed from the map; recorders must go through the map again;
// - TOUCHED (cumulative): recorded at least once;
// - bits 24..64: updates completed (delta, wrapping), compared by the collector with the
//   count it saw at the previous collection. Forty bits: the count would have to grow by
//   an exact multiple of 2^40 (about 10^12) in one interval for the collector to take a
//   series with updates for an idle one, hours of updates to one series at the fastest.
const INFLIGHT_ONE: u64 = 1;
const INFLIGHT_MASK: u64 = (1 << 20) - 1;
const IDLE: u64 = 1 << 20;
const DEAD: u64 = 1 << 21;
const TOUCHED: u64 = 1 << 22;
const COMPLETED_SHIFT: u32 = 24;
const COMPLETED_ONE: u64 = 1 << COMPLETED_SHIFT;

/// One series: its cell, canonical attributes and exemplars. Aligned to a cache line so
/// that two series never share one (no false sharing between threads recording to
/// different series).
#[repr(align(64))]
pub(crate) struct Series<C> {
    pub(crate) cell: C,
    word: AtomicU64,
    /// Delta: the completed-update count seen by the previous collection (collector only).
    seen: AtomicU64,
    overflow: bool,
    pub(crate) attrs: Vec<KeyValue>,
    pub(crate) exemplars: Option<Mutex<Reservoir>>,
}

impl<C> Series<C> {
    /// Whether this is the series of measurements beyond the cardinality limit.
    #[inline]
    pub(crate) fn is_overflow(&self) -> bool {
        self.overflow
    }

    /// Cumulative: marks the series as recorded (a plain load once marked).
    #[inline(always)]
    pub(crate) fn touch(&self) {
        if self.word.load(Ordering::Relaxed) & TOUCHED == 0 {
            self.word.fetch_or(TOUCHED, Ordering::Release);
        }
    }

    /// Delta: announces an update of the cell. `false` when the series was reclaimed: the
    /// caller must record through the map instead. Pair with [`Series::end_update`].
    ///
    /// The collector only reclaims a series with no update in flight and none completed
    /// during two intervals, with a compare-and-swap on this same word, so an update is
    /// either seen by a collection or refused here: never lost, never counted twice.
    #[inline(always)]
    pub(crate) fn begin_update(&self) -> bool {
        let prev = self.word.fetch_add(INFLIGHT_ONE, Ordering::Acquire);
        if prev & DEAD != 0 {
            self.word.fetch_sub(INFLIGHT_ONE, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Delta: the update announced by [`Series::begin_update`] is done.
    #[inline(always)]
    pub(crate) fn end_update(&self) {
        // one more completed, one less in flight (in flight >= 1: no borrow)
        self.word
            .fetch_add(COMPLETED_ONE - INFLIGHT_ONE, Ordering::Release);
    }
}

/// One attribute slice, as given by the application, resolved to its series.
pub(crate) struct Alias<C> {
    pub(crate) raw: Box<[KeyValue]>,
    /// `raw`'s identity words (see [`same_identity`]); `None` when it holds an array.
    words: Option<Box<[PairWords]>>,
    unique: bool,
    /// The map's overflow generation when this alias was made (see `overflow_gen`).
    gen: u64,
    pub(crate) series: Arc<Series<C>>,
}

impl<C> Alias<C> {
    /// `true` when `attrs` is this alias's slice, pair by pair in the same order.
    #[inline(always)]
    fn same_in_order(&self, attrs: &[KeyValue]) -> bool {
        self.words
            .as_deref()
            .is_some_and(|w| same_identity(w, attrs))
            || eq_in_order(&self.raw, attrs)
    }
}

/// Identity hasher for maps keyed by our own 64-bit hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Prehash = BuildHasherDefault<Prehashed>;

struct Inner<C> {
    aliases: HashMap<u64, Vec<Arc<Alias<C>>>, Prehash>,
    alias_count: usize,
    series: HashMap<u64, Vec<Arc<Series<C>>>, Prehash>,
    /// Live series in creation order (overflow excluded).
    order: Vec<Arc<Series<C>>>,
    overflow: Option<Arc<Series<C>>>,
}

/// The series of one stream.
pub(crate) struct ValueMap<C> {
    id: u64,
    /// Bumped when a delta collection frees room under the cardinality limit: aliases to the
    /// overflow series made before are then re-resolved, so new sets can get their own series.
    overflow_gen: AtomicU64,
    inner: Mutex<Inner<C>>,
    limit: usize,
    filter: Option<Arc<AttrFilter>>,
    delta: bool,
}

const SLOTS: usize = 1024;
const HASH_SALT: u64 = 0x5555_5555_5555_5555;

/// One entry of a thread's alias cache.
pub(crate) struct Slot<C> {
    map: u64,
    key: u64,
    by_ptr: bool,
    alias: Option<Arc<Alias<C>>>,
}

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Slot {
            map: 0,
            key: 0,
            by_ptr: false,
            alias: None,
        }
    }
}

impl<C> Slot<C> {
    #[inline(always)]
    fn get(&self, map: u64, key: u64, by_ptr: bool) -> Option<&Alias<C>> {
        if self.map == map && self.key == key && self.by_ptr == by_ptr {
            self.alias.as_deref()
        } else {
            None
        }
    }
}

/// The thread's alias cache of every map whose cells are `Self`s: one thread-local per cell
/// type, so that entries are typed (no dynamic type check on the hot path). Maps sharing a
/// cell type share the cache; entries carry their map's id.
pub(crate) trait Cached: Send + Sync + Sized + 'static {
    fn cache() -> &'static LocalKey<RefCell<Vec<Slot<Self>>>>;
}

/// Implements a cache-giving trait (`Cached::cache`, `CellCache::stripes_cache`) for a
/// concrete type: `cached!(Trait, method, ForType, CachedCellType)`.
macro_rules! cached {
    ($tr:path, $f:ident, $t:ty, $c:ty) => {
        impl $tr for $t {
            fn $f() -> &'static ::std::thread::LocalKey<
                ::std::cell::RefCell<Vec<$crate::metrics::aggregate::map::Slot<$c>>>,
            > {
                thread_local! {
                    static CACHE: ::std::cell::RefCell<
                        Vec<$crate::metrics::aggregate::map::Slot<$c>>,
                    > = const { ::std::cell::RefCell::new(Vec::new()) };
                }
                &CACHE
            }
        }
    };
}
pub(crate) use cached;

#[inline(always)]
fn slot_index(map: u64, key: u64) -> usize {
    (mix(map, key) as usize) & (SLOTS - 1)
}

fn next_map_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<C: Cached> ValueMap<C> {
    pub(crate) fn new(limit: usize, filter: Option<Arc<AttrFilter>>, delta: bool) -> Self {
        ValueMap {
            id: next_map_id(),
            overflow_gen: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                aliases: HashMap::default(),
                alias_count: 0,
                series: HashMap::default(),
                order: Vec::new(),
                overflow: None,
            }),
            limit: limit.max(1),
            filter,
            delta,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<C>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `true` while a recorder may use `alias`'s series directly.
    #[inline(always)]
    pub(crate) fn is_current(&self, alias: &Alias<C>) -> bool {
        alias.series.word.load(Ordering::Relaxed) & DEAD == 0
            && (!alias.series.overflow || alias.gen == self.overflow_gen.load(Ordering::Relaxed))
    }

    /// Runs `f` on the series of `attrs`, creating it if needed (with `make`).
    #[inline]
    pub(crate) fn with_series(
        &self,
        attrs: &[KeyValue],
        make: impl Fn() -> (C, Option<Mutex<Reservoir>>),
        f: impl Fn(&Series<C>),
    ) {
        let done = C::cache()
            .try_with(|cache| {
                let Ok(mut slots) = cache.try_borrow_mut() else {
                    return false;
                };
                if slots.is_empty() {
                    slots.resize_with(SLOTS, Slot::default);
                }
                let ptr = attrs.as_ptr() as usize as u64;
                let pi = slot_index(self.id, ptr);
                // Two-way set: `pi` and its neighbour.
                for i in [pi, pi ^ 1] {
                    if let Some(a) = slots[i].get(self.id, ptr, true) {
                        if a.same_in_order(attrs) && self.is_current(a) {
                            f(&a.series);
                            return true;
                        }
                    }
                }
                self.lookup_by_hash(&mut slots, pi, ptr, attrs, &make, &f);
                true
            })
            .unwrap_or(false);
        if !done {
            // No thread-local cache (thread teardown or re-entrancy): the shared map.
            let alias = self.resolve(attrs, &make);
            f(&alias.series);
        }
    }

    /// A slot of the pair at `i` that can take a new entry without evicting a live one:
    /// empty, or holding a stale entry of this map.
    fn free_way(&self, slots: &[Slot<C>], i: usize) -> Option<usize> {
        [i, i ^ 1].into_iter().find(|&j| {
            let s = &slots[j];
            s.map == 0
                || (s.map == self.id && s.alias.as_deref().is_none_or(|a| !self.is_current(a)))
        })
    }

    #[inline(never)]
    fn lookup_by_hash(
        &self,
        slots: &mut [Slot<C>],
        pi: usize,
        ptr: u64,
        attrs: &[KeyValue],
        make: &dyn Fn() -> (C, Option<Mutex<Reservoir>>),
        f: &dyn Fn(&Series<C>),
    ) {
        let h = hash_attrs(attrs);
        let hi = slot_index(self.id, h ^ HASH_SALT);
        for i in [hi, hi ^ 1] {
            let Some(a) = slots[i].get(self.id, h, false) else {
                continue;
            };
            if !(eq_any_order(&a.raw, a.unique, attrs) && self.is_current(a)) {
                continue;
            }
            f(&a.series);
            // Also cache by address when the order matches and a way is free (never evict
            // a live entry here: two sets sharing an address would otherwise thrash).
            if eq_in_order(&a.raw, attrs) {
                if let Some(p) = self.free_way(slots, pi) {
                    let alias = slots[i].alias.clone();
                    slots[p] = Slot {
                        map: self.id,
                        key: ptr,
                        by_ptr: true,
                        alias,
                    };
                }
            }
            return;
        }
        let alias = self.resolve_hashed(attrs, h, make);
        f(&alias.series);
        let in_order = eq_in_order(&alias.raw, attrs);
        if in_order {
            let p = self.free_way(slots, pi).unwrap_or(pi);
            slots[p] = Slot {
                map: self.id,
                key: ptr,
                by_ptr: true,
                alias: Some(Arc::clone(&alias)),
            };
        }
        let q = self.free_way(slots, hi).unwrap_or(hi);
        slots[q] = Slot {
            map: self.id,
            key: h,
            by_ptr: false,
            alias: Some(alias),
        };
    }

    /// The alias of `attrs`, through the shared map (locks the stream's mutex).
    pub(crate) fn resolve(
        &self,
        attrs: &[KeyValue],
        make: &dyn Fn() -> (C, Option<Mutex<Reservoir>>),
    ) -> Arc<Alias<C>> {
        self.resolve_hashed(attrs, hash_attrs(attrs), make)
    }

    #[cold]
    fn resolve_hashed(
        &self,
        attrs: &[KeyValue],
        h: u64,
        make: &dyn Fn() -> (C, Option<Mutex<Reservoir>>),
    ) -> Arc<Alias<C>> {
        let mut g = self.lock();
        // Read under the lock: collections bump it under the lock too.
        let gen = self.overflow_gen.load(Ordering::Relaxed);
        if let Some(list) = g.aliases.get(&h) {
            if let Some(a) = list.iter().find(|a| {
                eq_any_order(&a.raw, a.unique, attrs) && (!a.series.overflow || a.gen == gen)
            }) {
                return Arc::clone(a);
            }
        }
        let canon = canonicalize(attrs, self.filter.as_deref());
        let ch = hash_attrs(&canon);
        let found = g
            .series
            .get(&ch)
            .and_then(|l| l.iter().find(|s| eq_in_order(&s.attrs, &canon)).cloned());
        let series = match found {
            Some(s) => s,
            None if g.order.len() < self.limit - 1 => {
                let (cell, exemplars) = make();
                let s = Arc::new(new_series(cell, canon, exemplars, false));
                g.series.entry(ch).or_default().push(Arc::clone(&s));
                g.order.push(Arc::clone(&s));
                s
            }
            None => match &g.overflow {
                Some(o) => Arc::clone(o),
                None => {
                    let (cell, exemplars) = make();
                    let attrs = vec![KeyValue::new(OVERFLOW_KEY, true)];
                    let s = Arc::new(new_series(cell, attrs, exemplars, true));
                    g.overflow = Some(Arc::clone(&s));
                    s
                }
            },
        };
        let raw: Box<[KeyValue]> = attrs.into();
        let alias = Arc::new(Alias {
            words: identity_words(&raw),
            raw,
            unique: unique_keys(attrs),
            gen,
            series,
        });
        let cap = self.limit.saturating_mul(4).max(1024);
        if g.alias_count < cap {
            g.aliases.entry(h).or_default().push(Arc::clone(&alias));
            g.alias_count += 1;
        }
        alias
    }

    /// Produces one point per series with something to report, in creation order (the
    /// overflow series last). Delta maps reset what they report and reclaim series unused
    /// for a whole interval (see the module docs).
    pub(crate) fn collect<P>(&self, mut point: impl FnMut(&Series<C>, bool) -> P) -> Vec<P> {
        let mut g = self.lock();
        let mut out = Vec::new();
        if !self.delta {
            for s in g.order.iter().chain(g.overflow.iter()) {
                if s.word.load(Ordering::Acquire) & TOUCHED != 0 {
                    out.push(point(s, false));
                }
            }
            return out;
        }
        // Returns whether the series stays.
        let mut step = |s: &Series<C>| -> bool {
            let w = s.word.load(Ordering::Acquire);
            let completed = w >> COMPLETED_SHIFT;
            let seen = s.seen.swap(completed, Ordering::Relaxed);
            if completed != seen || w & INFLIGHT_MASK != 0 {
                if w & IDLE != 0 {
                    s.word.fetch_and(!IDLE, Ordering::Relaxed);
                }
                if completed != seen {
                    out.push(point(s, true));
                }
                true
            } else if w & IDLE == 0 {
                s.word.fetch_or(IDLE, Ordering::Relaxed);
                true
            } else {
                // Idle for a whole interval, nothing in flight: reclaim, unless a recorder
                // started meanwhile (the exchange then fails; collected next time).
                s.word
                    .compare_exchange(w, w | DEAD, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            }
        };
        let before = g.order.len();
        g.order.retain(|s| step(s));
        let mut removed = g.order.len() != before;
        if let Some(o) = g.overflow.clone() {
            if !step(&o) {
                g.overflow = None;
                removed = true;
            }
        }
        if removed {
            g.series.retain(|_, l| {
                l.retain(|s| s.word.load(Ordering::Relaxed) & DEAD == 0);
                !l.is_empty()
            });
            self.overflow_gen.fetch_add(1, Ordering::Relaxed);
            g.aliases.retain(|_, l| {
                l.retain(|a| {
                    a.series.word.load(Ordering::Relaxed) & DEAD == 0 && !a.series.overflow
                });
                !l.is_empty()
            });
            g.alias_count = g.aliases.values().map(Vec::len).sum();
        }
        out
    }

    #[cfg(test)]
    fn alias_count(&self) -> usize {
        self.lock().alias_count
    }

    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        let g = self.lock();
        g.order.len() + usize::from(g.overflow.is_some())
    }
}

fn new_series<C>(
    cell: C,
    attrs: Vec<KeyValue>,
    exemplars: Option<Mutex<Reservoir>>,
    overflow: bool,
) -> Series<C> {
    Series {
        cell,
        word: AtomicU64::new(0),
        seen: AtomicU64::new(0),
        overflow,
        attrs,
        exemplars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    cached!(Cached, cache, AtomicU64, AtomicU64);

    fn map(limit: usize, delta: bool) -> ValueMap<AtomicU64> {
        ValueMap::new(limit, None, delta)
    }

    fn add(m: &ValueMap<AtomicU64>, attrs: &[KeyValue], v: u64) {
        m.with_series(
            attrs,
            || (AtomicU64::new(0), None),
            |s| {
                if m.delta {
                    assert!(s.begin_update(), "single-threaded: never dead");
                    s.cell.fetch_add(v, Ordering::Relaxed);
                    s.end_update();
                } else {
                    s.cell.fetch_add(v, Ordering::Relaxed);
                    s.touch();
                }
            },
        );
    }

    fn read(m: &ValueMap<AtomicU64>) -> Vec<(Vec<KeyValue>, u64)> {
        m.collect(|s, reset| {
            let v = if reset {
                s.cell.swap(0, Ordering::Relaxed)
            } else {
                s.cell.load(Ordering::Relaxed)
            };
            (s.attrs.clone(), v)
        })
    }

    #[test]
    fn same_set_in_any_order_and_via_any_path_is_one_series() {
        let m = map(100, false);
        let a = [KeyValue::new("a", 1), KeyValue::new("b", 2)];
        let b = [KeyValue::new("b", 2), KeyValue::new("a", 1)];
        for _ in 0..3 {
            add(&m, &a, 1);
            add(&m, &b, 1);
            add(&m, &[KeyValue::new("b", 2), KeyValue::new("a", 1)], 1);
        }
        let pts = read(&m);
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].1, 9);
        assert_eq!(pts[0].0, a.to_vec());
    }

    #[test]
    fn a_reused_slice_with_new_contents_is_not_confused() {
        let m = map(100, false);
        let mut v = vec![KeyValue::new("k", "one")];
        add(&m, &v, 1);
        v[0] = KeyValue::new("k", "two"); // same address, new contents
        add(&m, &v, 10);
        let mut pts = read(&m);
        pts.sort_by_key(|p| p.1);
        assert_eq!(pts.len(), 2);
        assert_eq!((pts[0].1, pts[1].1), (1, 10));
    }

    #[test]
    fn cardinality_limit_sends_extra_sets_to_the_overflow_series() {
        let m = map(4, false);
        for i in 0..10i64 {
            add(&m, &[KeyValue::new("i", i)], 1);
        }
        let pts = read(&m);
        assert_eq!(pts.len(), 4, "limit counts the overflow series");
        assert_eq!(pts[3].0, vec![KeyValue::new(OVERFLOW_KEY, true)]);
        assert_eq!(pts[3].1, 7);
        assert_eq!(pts.iter().map(|p| p.1).sum::<u64>(), 10);
    }

    #[test]
    fn delta_reclaims_series_unused_for_a_whole_interval() {
        let m = map(3, true);
        add(&m, &[KeyValue::new("i", 1)], 1);
        add(&m, &[KeyValue::new("i", 2)], 1);
        add(&m, &[KeyValue::new("i", 3)], 1); // overflow
        assert_eq!(read(&m).len(), 3);
        assert_eq!(m.series_count(), 3);
        add(&m, &[KeyValue::new("i", 1)], 5);
        assert_eq!(read(&m), vec![(vec![KeyValue::new("i", 1)], 5)]);
        // i=2 and overflow were idle for one interval: gone after the next collection.
        assert!(read(&m).is_empty());
        assert_eq!(m.series_count(), 1, "i=1 is idle, not yet removed");
        // room again: i=3 now gets its own series (its cached overflow alias is stale).
        add(&m, &[KeyValue::new("i", 3)], 2);
        assert_eq!(read(&m), vec![(vec![KeyValue::new("i", 3)], 2)]);
        assert_eq!(m.series_count(), 1, "i=1 removed, i=3 live");
    }

    #[test]
    fn idle_series_touched_again_keeps_its_measurements() {
        let m = map(10, true);
        let attrs = [KeyValue::new("k", 1)];
        add(&m, &attrs, 1);
        assert_eq!(read(&m).len(), 1);
        assert!(read(&m).is_empty()); // now idle
        add(&m, &attrs, 4); // the cached alias is still valid while idle
        assert_eq!(read(&m), vec![(attrs.to_vec(), 4)]);
        assert_eq!(m.series_count(), 1);
    }

    #[test]
    fn aliases_are_reused_after_a_reclaim() {
        let m = map(10, true);
        let a = [KeyValue::new("k", "a")];
        add(&m, &a, 1);
        add(&m, &[KeyValue::new("k", "b")], 1);
        read(&m);
        add(&m, &a, 1);
        read(&m); // b idle
        add(&m, &a, 1);
        read(&m); // b removed: the overflow generation moves on
        let before = m.alias_count();
        for _ in 0..5 {
            let alias = m.resolve(&a, &|| (AtomicU64::new(0), None));
            assert_eq!(&*alias.raw, &a);
        }
        assert_eq!(m.alias_count(), before);
        assert_eq!(before, 1);
    }

    #[test]
    fn more_sets_than_cache_slots_and_stack_built_sets_stay_exact() {
        let m = map(5000, false);
        for round in 0..2u64 {
            for i in 0..3000i64 {
                add(&m, &[KeyValue::new("i", i)], round + 1);
            }
        }
        for i in 0..700u64 {
            // same stack address, changing contents
            let attrs = [KeyValue::new("j", (i % 7) as i64)];
            add(&m, &attrs, 1);
        }
        let pts = read(&m);
        assert_eq!(pts.len(), 3007);
        assert!(pts[..3000].iter().all(|p| p.1 == 3));
        assert!(pts[3000..].iter().all(|p| p.1 == 100));
    }
}
