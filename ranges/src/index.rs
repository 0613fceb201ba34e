//! [`RangeIndex`]: arbitrary (overlapping, nested, adjacent) IPv4 ranges with a payload each,
//! answering "which is the most specific range that contains this address?" in O(log n).
//!
//! RDAP networks nest (an allocation holds assignments), so the index keeps a *painted map*: the
//! whole address space cut into contiguous segments, each labelled with the smallest range that
//! covers it, or with nothing (ties go to the range inserted first; in a bulk load, to the one
//! with the lower address). Two levels keep inserts cheap and lookups fast:
//! - `base`: segment starts and owners as two sorted arrays (8 bytes a segment), plus a table
//!   giving, for each /16, where its segments begin, so a lookup binary-searches a handful;
//! - `delta`: a `BTreeMap` of segments painted by recent inserts.
//!
//! When `delta` grows past a fraction of the index the two are merged in one linear pass
//! (painted maps combine pointwise: the more specific owner wins). A lookup asks both. A bulk
//! load into an empty index (a worker replaying the coverage log) paints `base` directly with
//! one sweep in O(n log n).
//!
//! Memory: about 8 bytes per segment (at most two segments per range, plus gaps), 8 bytes per
//! range for duplicate detection, and `8 + size_of::<P>()` per range.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};

use crate::range::Range;

/// Owner of a segment that no range covers.
const NONE: u32 = u32::MAX;

/// A segment of the delta level (delta segments need not be contiguous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    start: u32,
    end: u32,
    owner: u32,
}

#[derive(Debug, Clone)]
struct Entry<P> {
    range: Range,
    payload: P,
}

/// The compacted level: when not empty, `starts[0] == 0` and segment `i` runs from `starts[i]`
/// to `starts[i + 1] - 1` (the last one to 255.255.255.255).
#[derive(Debug, Clone, Default)]
struct Base {
    starts: Vec<u32>,
    owners: Vec<u32>,
    /// `buckets[p]` = index of the segment that contains `p << 16` (65,536 entries).
    buckets: Vec<u32>,
}

impl Base {
    fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn end(&self, i: usize) -> u32 {
        self.starts.get(i + 1).map_or(u32::MAX, |s| s - 1)
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.owners.capacity() + self.buckets.capacity()) * 4
    }

    /// Append a segment starting at `x`, coalescing with the previous one when possible.
    fn push(&mut self, x: u32, owner: u32) {
        if self.starts.last() == Some(&x) {
            *self.owners.last_mut().expect("parallel arrays") = owner;
            let n = self.owners.len();
            if n >= 2 && self.owners[n - 2] == owner {
                self.starts.pop();
                self.owners.pop();
            }
            return;
        }
        if self.owners.last() == Some(&owner) {
            return;
        }
        self.starts.push(x);
        self.owners.push(owner);
    }

    fn finish(&mut self) {
        self.starts.shrink_to_fit();
        self.owners.shrink_to_fit();
        self.buckets.clear();
        self.buckets.reserve_exact(65_536);
        let mut i = 0usize;
        for p in 0..65_536u32 {
            let first = p << 16;
            while i + 1 < self.starts.len() && self.starts[i + 1] <= first {
                i += 1;
            }
            self.buckets.push(i as u32);
        }
    }

    /// Index of the segment containing `ip` (the base must not be empty).
    fn locate(&self, ip: u32) -> usize {
        let p = (ip >> 16) as usize;
        let lo = self.buckets[p] as usize;
        let hi = if p + 1 < self.buckets.len() {
            (self.buckets[p + 1] as usize + 1).min(self.starts.len())
        } else {
            self.starts.len()
        };
        lo + self.starts[lo + 1..hi].partition_point(|&s| s <= ip)
    }

    fn owner(&self, ip: u32) -> Option<u32> {
        if self.is_empty() {
            return None;
        }
        let o = self.owners[self.locate(ip)];
        (o != NONE).then_some(o)
    }

    /// The segment containing `ip`, searching forward from segment `from` (which must start at
    /// or before `ip`): a galloping search, cheap when consecutive queries are close.
    fn seek(&self, from: usize, ip: u32) -> usize {
        let s = &self.starts;
        let mut lo = from;
        let mut step = 1usize;
        loop {
            let hi = lo + step;
            if hi >= s.len() || s[hi] > ip {
                let end = hi.min(s.len());
                return lo + s[lo + 1..end].partition_point(|&x| x <= ip);
            }
            lo = hi;
            step *= 2;
        }
    }
}

/// A set of IPv4 ranges with payloads; see the module documentation.
#[derive(Debug, Clone)]
pub struct RangeIndex<P> {
    entries: Vec<Entry<P>>,
    base: Base,
    delta: BTreeMap<u32, Seg>,
    delta_inserts: usize,
    /// `entries[..bulk_len]` came from a bulk load and are sorted by `start << 32 | end`.
    bulk_len: usize,
    /// `start << 32 | end` of the other ranges folded into `base`, sorted.
    base_keys: Vec<u64>,
    /// The same for ranges inserted since the last compaction.
    delta_keys: HashSet<u64>,
}

impl<P> Default for RangeIndex<P> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            base: Base::default(),
            delta: BTreeMap::new(),
            delta_inserts: 0,
            bulk_len: 0,
            base_keys: Vec::new(),
            delta_keys: HashSet::new(),
        }
    }
}

fn key(r: Range) -> u64 {
    u64::from(r.start) << 32 | u64::from(r.end)
}

impl<P> RangeIndex<P> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct ranges inserted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every range with its payload, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (Range, &P)> {
        self.entries.iter().map(|e| (e.range, &e.payload))
    }

    /// Heap bytes held (approximate), for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry<P>>()
            + self.base.heap_bytes()
            + self.delta.len() * (std::mem::size_of::<Seg>() + 8) * 2
            + self.base_keys.capacity() * 8
            + self.delta_keys.capacity() * 9
    }

    /// Whether exactly this range is in the index.
    pub fn contains_range(&self, range: Range) -> bool {
        let k = key(range);
        self.delta_keys.contains(&k)
            || self.base_keys.binary_search(&k).is_ok()
            || self.entries[..self.bulk_len]
                .binary_search_by_key(&k, |e| key(e.range))
                .is_ok()
    }

    /// Insert a range; returns false (and changes nothing) when the same range is already in.
    pub fn insert(&mut self, range: Range, payload: P) -> bool {
        if self.contains_range(range) {
            return false;
        }
        self.delta_keys.insert(key(range));
        let idx = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i != NONE)
            .expect("fewer than 2^32 - 1 ranges");
        self.entries.push(Entry { range, payload });
        self.paint_delta(range, idx);
        self.delta_inserts += 1;
        if self.delta_inserts > (self.entries.len() / 16).max(4096) {
            self.compact();
        }
        true
    }

    /// Insert many ranges; returns how many were new. Into an empty index this paints the
    /// segments with one sweep instead of range by range.
    pub fn extend_bulk<I: IntoIterator<Item = (Range, P)>>(&mut self, iter: I) -> usize {
        if !self.is_empty() {
            return iter
                .into_iter()
                .map(|(r, p)| usize::from(self.insert(r, p)))
                .sum();
        }
        self.entries = iter
            .into_iter()
            .map(|(range, payload)| Entry { range, payload })
            .collect();
        // In place, no side tables: sort by (start, end) (stable, so the first of duplicates
        // stays first), drop duplicates. Entries end up in address order, which is the order
        // ties go by in a bulk load.
        self.entries.sort_by_key(|e| key(e.range));
        self.entries.dedup_by_key(|e| key(e.range));
        self.entries.shrink_to_fit();
        self.bulk_len = self.entries.len();
        assert!(
            self.entries.len() < NONE as usize,
            "fewer than 2^32 - 1 ranges"
        );
        self.base = self.sweep();
        self.entries.len()
    }

    /// The most specific range containing `ip`, with its payload.
    pub fn get(&self, ip: u32) -> Option<(Range, &P)> {
        let owner = self.combine(self.base.owner(ip), self.delta_owner(ip))?;
        let e = &self.entries[owner as usize];
        Some((e.range, &e.payload))
    }

    /// Whether any range contains `ip`.
    pub fn contains(&self, ip: u32) -> bool {
        self.get(ip).is_some()
    }

    /// For each address of an ascending slice, the most specific range containing it: calls
    /// `f(position, Some((range, payload)))` or `f(position, None)`. Walks the segments that
    /// overlap the batch once instead of searching the whole index per address.
    pub fn for_each_sorted<F>(&self, ips: &[u32], mut f: F)
    where
        F: FnMut(usize, Option<(Range, &P)>),
    {
        let mut i = 0usize;
        for (pos, &ip) in ips.iter().enumerate() {
            debug_assert!(
                pos == 0 || ips[pos - 1] <= ip,
                "addresses must be ascending"
            );
            let a = if self.base.is_empty() {
                None
            } else {
                i = self.base.seek(i, ip);
                Some(self.base.owners[i]).filter(|&o| o != NONE)
            };
            let owner = self.combine(a, self.delta_owner(ip));
            f(
                pos,
                owner.map(|o| {
                    let e = &self.entries[o as usize];
                    (e.range, &e.payload)
                }),
            );
        }
    }

    /// Fold the delta level into the base level (done automatically; public for benchmarks
    /// and for callers that finished a burst of inserts).
    pub fn compact(&mut self) {
        self.delta_inserts = 0;
        if self.delta.is_empty() {
            return;
        }
        let delta: Vec<Seg> = std::mem::take(&mut self.delta).into_values().collect();
        self.base = self.merge(&delta);
        let mut new_keys: Vec<u64> = std::mem::take(&mut self.delta_keys).into_iter().collect();
        new_keys.sort_unstable();
        let old = std::mem::take(&mut self.base_keys);
        let mut merged = Vec::with_capacity(old.len() + new_keys.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new_keys.len() {
            if j == new_keys.len() || (i < old.len() && old[i] < new_keys[j]) {
                merged.push(old[i]);
                i += 1;
            } else {
                merged.push(new_keys[j]);
                j += 1;
            }
        }
        self.base_keys = merged;
    }

    fn delta_owner(&self, ip: u32) -> Option<u32> {
        if self.delta.is_empty() {
            return None;
        }
        self.delta
            .range(..=ip)
            .next_back()
            .filter(|(_, s)| s.end >= ip)
            .map(|(_, s)| s.owner)
    }

    fn combine(&self, a: Option<u32>, b: Option<u32>) -> Option<u32> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.better(a, b)),
            (a, b) => a.or(b),
        }
    }

    /// The more specific of two ranges (smaller; on a tie the one inserted first).
    fn better(&self, a: u32, b: u32) -> u32 {
        if a == NONE {
            return b;
        }
        if b == NONE {
            return a;
        }
        let (sa, sb) = (
            self.entries[a as usize].range.size(),
            self.entries[b as usize].range.size(),
        );
        if sa < sb || (sa == sb && a < b) { a } else { b }
    }

    fn paint_delta(&mut self, range: Range, idx: u32) {
        let mut affected: Vec<Seg> = Vec::new();
        if let Some((_, s)) = self.delta.range(..range.start).next_back()
            && s.end >= range.start
        {
            affected.push(*s);
        }
        affected.extend(self.delta.range(range.start..=range.end).map(|(_, s)| *s));
        for s in &affected {
            self.delta.remove(&s.start);
        }
        let mut pieces: Vec<Seg> = Vec::with_capacity(affected.len() * 2 + 2);
        let mut cur = u64::from(range.start);
        for s in &affected {
            if s.start < range.start {
                pieces.push(Seg {
                    start: s.start,
                    end: range.start - 1,
                    owner: s.owner,
                });
            }
            if s.end > range.end {
                pieces.push(Seg {
                    start: range.end + 1,
                    end: s.end,
                    owner: s.owner,
                });
            }
            let (os, oe) = (s.start.max(range.start), s.end.min(range.end));
            if cur < u64::from(os) {
                pieces.push(Seg {
                    start: cur as u32,
                    end: os - 1,
                    owner: idx,
                });
            }
            pieces.push(Seg {
                start: os,
                end: oe,
                owner: self.better(idx, s.owner),
            });
            cur = u64::from(oe) + 1;
        }
        if cur <= u64::from(range.end) {
            pieces.push(Seg {
                start: cur as u32,
                end: range.end,
                owner: idx,
            });
        }
        for p in pieces {
            self.delta.insert(p.start, p);
        }
    }

    /// The base painted over by the (sorted, disjoint) delta segments, more specific winning.
    fn merge(&self, delta: &[Seg]) -> Base {
        let old = &self.base;
        // The old base as a function: segment i -> (owner, end); an empty base is one gap.
        let seg = |i: usize| -> (u32, u32) {
            if old.is_empty() {
                (NONE, u32::MAX)
            } else {
                (old.owners[i], old.end(i))
            }
        };
        let mut out = Base::default();
        out.starts.reserve(old.len() + 2 * delta.len() + 1);
        out.owners.reserve(old.len() + 2 * delta.len() + 1);
        let mut i = 0usize;
        let mut pos: u64 = 0;
        let mut emit_until = |limit: u64, paint: Option<u32>, pos: &mut u64, i: &mut usize| {
            while *pos <= limit {
                let (o, e) = seg(*i);
                let owner = paint.map_or(o, |p| self.better(o, p));
                out.push(*pos as u32, owner);
                let stop = u64::from(e).min(limit);
                if stop == u64::from(e) {
                    *i += 1;
                }
                *pos = stop + 1;
            }
        };
        for d in delta {
            if u64::from(d.start) > 0 {
                emit_until(u64::from(d.start) - 1, None, &mut pos, &mut i);
            }
            emit_until(u64::from(d.end), Some(d.owner), &mut pos, &mut i);
        }
        emit_until(u64::from(u32::MAX), None, &mut pos, &mut i);
        out.finish();
        out
    }

    /// Paint every entry with one sweep over start and end points (for bulk loads).
    fn sweep(&self) -> Base {
        // Entries are sorted by start (see `extend_bulk`); ends are kept as `end + 1` events,
        // with the end of the address space folded away (nothing follows it).
        let mut ends: Vec<u32> = self
            .entries
            .iter()
            .filter(|e| e.range.end != u32::MAX)
            .map(|e| e.range.end + 1)
            .collect();
        ends.sort_unstable();
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
        let mut out = Base::default();
        // At most one segment per start and per end, plus the first.
        out.starts.reserve_exact(2 * self.entries.len() + 1);
        out.owners.reserve_exact(2 * self.entries.len() + 1);
        out.push(0, NONE);
        let (mut j, mut k) = (0usize, 0usize);
        loop {
            let next_start = self
                .entries
                .get(j)
                .map_or(u64::MAX, |e| u64::from(e.range.start));
            let next_end = ends.get(k).map_or(u64::MAX, |&e| u64::from(e));
            let x = next_start.min(next_end);
            if x > u64::from(u32::MAX) {
                break;
            }
            while let Some(e) = self.entries.get(j) {
                if u64::from(e.range.start) != x {
                    break;
                }
                heap.push(Reverse((e.range.size(), j as u32)));
                j += 1;
            }
            while ends.get(k).map(|&e| u64::from(e)) == Some(x) {
                k += 1;
            }
            while let Some(&Reverse((_, i))) = heap.peek() {
                if u64::from(self.entries[i as usize].range.end) < x {
                    heap.pop();
                } else {
                    break;
                }
            }
            let owner = heap.peek().map_or(NONE, |&Reverse((_, i))| i);
            out.push(x as u32, owner);
        }
        out.finish();
        out
    }
}

impl<P> FromIterator<(Range, P)> for RangeIndex<P> {
    fn from_iter<I: IntoIterator<Item = (Range, P)>>(iter: I) -> Self {
        let mut idx = Self::new();
        idx.extend_bulk(iter);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive model: a list of ranges, most specific = smallest, first inserted on ties.
    fn naive_get(model: &[(Range, u32)], ip: u32) -> Option<(Range, u32)> {
        let mut best: Option<(Range, u32)> = None;
        for &(r, p) in model {
            if r.contains(ip) && best.is_none_or(|(b, _)| r.size() < b.size()) {
                best = Some((r, p));
            }
        }
        best
    }

    fn ranges_strategy() -> impl Strategy<Value = Vec<(u32, u32)>> {
        // Small space so that overlaps, nesting, duplicates and adjacency are common.
        proptest::collection::vec((0u32..400, 0u32..120), 0..120)
    }

    fn check(index: &RangeIndex<u32>, model: &[(Range, u32)], probes: impl Iterator<Item = u32>) {
        for ip in probes {
            let want = naive_get(model, ip);
            let got = index.get(ip).map(|(r, p)| (r, *p));
            assert_eq!(got, want, "ip {ip}");
            assert_eq!(index.contains(ip), want.is_some());
        }
    }

    proptest! {
        #[test]
        fn matches_naive_model(raw in ranges_strategy(), compact_every in 1usize..40) {
            let mut index = RangeIndex::new();
            let mut model: Vec<(Range, u32)> = Vec::new();
            for (n, &(s, l)) in raw.iter().enumerate() {
                let r = Range { start: s, end: s + l };
                let dup = model.iter().any(|(m, _)| *m == r);
                prop_assert_eq!(index.insert(r, n as u32), !dup);
                if !dup { model.push((r, n as u32)); }
                if n % compact_every == 0 { index.compact(); }
            }
            prop_assert_eq!(index.len(), model.len());
            check(&index, &model, 0..560);
            index.compact();
            check(&index, &model, 0..560);
            // The batch walk agrees with point lookups.
            let ips: Vec<u32> = (0..560).step_by(3).collect();
            index.for_each_sorted(&ips, |pos, hit| {
                assert_eq!(hit.map(|(r, p)| (r, *p)), naive_get(&model, ips[pos]));
            });
        }
    }

    proptest! {
        #[test]
        fn bulk_load_then_inserts_match_naive_model(first in ranges_strategy(), then in ranges_strategy()) {
            let mut model: Vec<(Range, u32)> = Vec::new();
            let mut input = Vec::new();
            for (n, &(s, l)) in first.iter().enumerate() {
                let r = Range { start: s, end: s + l };
                if !model.iter().any(|(m, _)| *m == r) { model.push((r, n as u32)); }
                input.push((r, n as u32));
            }
            let mut index: RangeIndex<u32> = input.into_iter().collect();
            // A bulk load keeps ranges in address order: ties go by that order.
            model.sort_by_key(|(r, _)| (r.start, r.end));
            prop_assert_eq!(index.len(), model.len());
            check(&index, &model, 0..560);
            for (n, &(s, l)) in then.iter().enumerate() {
                let r = Range { start: s + 100, end: s + 100 + l };
                let id = 1000 + n as u32;
                let dup = model.iter().any(|(m, _)| *m == r);
                prop_assert_eq!(index.insert(r, id), !dup);
                if !dup { model.push((r, id)); }
            }
            check(&index, &model, 0..700);
            index.compact();
            check(&index, &model, 0..700);
        }
    }

    #[test]
    fn extremes_of_the_space() {
        let mut index = RangeIndex::new();
        index.insert(
            Range {
                start: 0,
                end: u32::MAX,
            },
            0u8,
        );
        index.insert(
            Range {
                start: u32::MAX,
                end: u32::MAX,
            },
            1,
        );
        index.insert(Range { start: 0, end: 0 }, 2);
        index.compact();
        index.insert(Range { start: 10, end: 20 }, 3);
        assert_eq!(index.get(u32::MAX).map(|(_, p)| *p), Some(1));
        assert_eq!(index.get(0).map(|(_, p)| *p), Some(2));
        assert_eq!(index.get(15).map(|(_, p)| *p), Some(3));
        assert_eq!(index.get(21).map(|(_, p)| *p), Some(0));
        assert!(!index.insert(Range { start: 10, end: 20 }, 9));
    }

    #[test]
    fn many_inserts_trigger_compaction_and_stay_correct() {
        let mut index = RangeIndex::new();
        for i in 0..20_000u32 {
            index.insert(
                Range {
                    start: i * 256,
                    end: i * 256 + 127,
                },
                i,
            );
        }
        assert!(index.delta.len() < 20_000, "delta was compacted");
        for i in (0..20_000u32).step_by(97) {
            assert_eq!(index.get(i * 256 + 5).map(|(_, p)| *p), Some(i));
            assert!(index.get(i * 256 + 200).is_none());
        }
    }
}
