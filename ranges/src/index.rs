//! [`RangeIndex`]: arbitrary (overlapping, nested, adjacent) IPv4 ranges with a payload each,
//! answering "which is the most specific range that contains this address?" in O(log n).
//!
//! RDAP networks nest (an allocation holds assignments), so the index keeps a *painted map*: the
//! address space cut into disjoint segments, each labelled with the smallest range that covers
//! it (ties go to the range inserted first). Two levels keep inserts cheap and lookups fast:
//! `base`, a sorted `Vec` searched with `partition_point`, and `delta`, a `BTreeMap` painted by
//! recent inserts. When `delta` grows past a fraction of the index the two are merged in one
//! linear pass (painted maps combine pointwise by "more specific wins"). A lookup asks both.
//!
//! Memory: 12 bytes per segment (at most two per range) plus `8 + size_of::<P>()` per range,
//! plus about 10 bytes per range in the duplicate-detection set.

use std::collections::{BTreeMap, HashSet};

use crate::range::Range;

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

/// A set of IPv4 ranges with payloads; see the module documentation.
#[derive(Debug, Clone)]
pub struct RangeIndex<P> {
    entries: Vec<Entry<P>>,
    base: Vec<Seg>,
    delta: BTreeMap<u32, Seg>,
    delta_inserts: usize,
    /// `start << 32 | end` of every range, for exact duplicate detection.
    keys: HashSet<u64>,
}

impl<P> Default for RangeIndex<P> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            base: Vec::new(),
            delta: BTreeMap::new(),
            delta_inserts: 0,
            keys: HashSet::new(),
        }
    }
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
            + self.base.capacity() * std::mem::size_of::<Seg>()
            + self.delta.len() * (std::mem::size_of::<Seg>() + 8) * 2
            + self.keys.capacity() * 9
    }

    /// Insert a range; returns false (and changes nothing) when the same range is already in.
    pub fn insert(&mut self, range: Range, payload: P) -> bool {
        if !self
            .keys
            .insert(u64::from(range.start) << 32 | u64::from(range.end))
        {
            return false;
        }
        let idx = u32::try_from(self.entries.len()).expect("fewer than 2^32 ranges");
        self.entries.push(Entry { range, payload });
        self.paint_delta(range, idx);
        self.delta_inserts += 1;
        if self.delta_inserts > (self.entries.len() / 16).max(4096) {
            self.compact();
        }
        true
    }

    /// The most specific range containing `ip`, with its payload.
    pub fn get(&self, ip: u32) -> Option<(Range, &P)> {
        let a = self.base_owner(ip);
        let b = if self.delta.is_empty() {
            None
        } else {
            self.delta
                .range(..=ip)
                .next_back()
                .filter(|(_, s)| s.end >= ip)
                .map(|(_, s)| s.owner)
        };
        let owner = match (a, b) {
            (Some(a), Some(b)) => self.better(a, b),
            (a, b) => a.or(b)?,
        };
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
            i += self.base[i..].partition_point(|s| s.end < ip);
            let a = self.base.get(i).filter(|s| s.start <= ip).map(|s| s.owner);
            let b = if self.delta.is_empty() {
                None
            } else {
                self.delta
                    .range(..=ip)
                    .next_back()
                    .filter(|(_, s)| s.end >= ip)
                    .map(|(_, s)| s.owner)
            };
            let owner = match (a, b) {
                (Some(a), Some(b)) => Some(self.better(a, b)),
                (a, b) => a.or(b),
            };
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
    /// and for callers that finished a bulk load).
    pub fn compact(&mut self) {
        if self.delta.is_empty() {
            self.delta_inserts = 0;
            return;
        }
        let delta: Vec<Seg> = std::mem::take(&mut self.delta).into_values().collect();
        let base = std::mem::take(&mut self.base);
        self.base = self.merge_painted(&base, &delta);
        self.delta_inserts = 0;
    }

    fn base_owner(&self, ip: u32) -> Option<u32> {
        let i = self.base.partition_point(|s| s.start <= ip);
        if i == 0 {
            return None;
        }
        let s = self.base[i - 1];
        (s.end >= ip).then_some(s.owner)
    }

    /// The more specific of two ranges (smaller; on a tie the one inserted first).
    fn better(&self, a: u32, b: u32) -> u32 {
        let (sa, sb) = (
            self.entries[a as usize].range.size(),
            self.entries[b as usize].range.size(),
        );
        if sa < sb || (sa == sb && a < b) { a } else { b }
    }

    fn paint_delta(&mut self, range: Range, idx: u32) {
        let mut affected: Vec<Seg> = Vec::new();
        if let Some((_, s)) = self.delta.range(..range.start).next_back() {
            if s.end >= range.start {
                affected.push(*s);
            }
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

    /// Pointwise "more specific wins" combination of two sorted disjoint segment lists.
    fn merge_painted(&self, a: &[Seg], b: &[Seg]) -> Vec<Seg> {
        let mut out: Vec<Seg> = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0usize, 0usize);
        let mut pos: u64 = 0;
        loop {
            while i < a.len() && u64::from(a[i].end) < pos {
                i += 1;
            }
            while j < b.len() && u64::from(b[j].end) < pos {
                j += 1;
            }
            if i == a.len() && j == b.len() {
                break;
            }
            let sa = a.get(i).map_or(u64::MAX, |s| u64::from(s.start).max(pos));
            let sb = b.get(j).map_or(u64::MAX, |s| u64::from(s.start).max(pos));
            let start = sa.min(sb);
            let act_a = sa == start;
            let act_b = sb == start;
            let mut end = u64::MAX;
            for (active, seg) in [(act_a, a.get(i)), (act_b, b.get(j))] {
                if let Some(s) = seg {
                    end = end.min(if active {
                        u64::from(s.end)
                    } else {
                        u64::from(s.start) - 1
                    });
                }
            }
            let owner = match (act_a, act_b) {
                (true, true) => self.better(a[i].owner, b[j].owner),
                (true, false) => a[i].owner,
                _ => b[j].owner,
            };
            let (start, end) = (start as u32, end as u32);
            match out.last_mut() {
                Some(last)
                    if last.owner == owner && u64::from(last.end) + 1 == u64::from(start) =>
                {
                    last.end = end;
                }
                _ => out.push(Seg { start, end, owner }),
            }
            pos = u64::from(end) + 1;
        }
        out
    }
}

impl<P> FromIterator<(Range, P)> for RangeIndex<P> {
    fn from_iter<I: IntoIterator<Item = (Range, P)>>(iter: I) -> Self {
        let mut idx = Self::new();
        for (r, p) in iter {
            idx.insert(r, p);
        }
        idx.compact();
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
