//! Exact unions of possibly overlapping ranges: no double counting.

use ipnet::Ipv4Net;

use crate::range::{Range, to_cidrs};

/// Merge ranges into the sorted list of disjoint, non-adjacent ranges with the same union.
pub fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort_unstable();
    let mut out: Vec<Range> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if u64::from(r.start) <= u64::from(last.end) + 1 => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Number of addresses in the union of `ranges`.
pub fn union_size(ranges: Vec<Range>) -> u64 {
    merge(ranges).iter().map(Range::size).sum()
}

/// The union as a minimal list of CIDRs.
pub fn union_cidrs(ranges: Vec<Range>) -> Vec<Ipv4Net> {
    merge(ranges)
        .iter()
        .flat_map(|r| to_cidrs(r.start, r.end))
        .collect()
}

/// Addresses of `a` that are not in `b` (both as arbitrary lists).
pub fn subtract(a: Vec<Range>, b: Vec<Range>) -> Vec<Range> {
    let a = merge(a);
    let b = merge(b);
    let mut out = Vec::new();
    let mut j = 0;
    for r in a {
        let mut cur = u64::from(r.start);
        let end = u64::from(r.end);
        while j < b.len() && u64::from(b[j].end) < cur {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && u64::from(b[k].start) <= end {
            let (bs, be) = (u64::from(b[k].start), u64::from(b[k].end));
            if bs > cur {
                out.push(Range {
                    start: cur as u32,
                    end: (bs - 1) as u32,
                });
            }
            cur = cur.max(be + 1);
            k += 1;
        }
        if cur <= end {
            out.push(Range {
                start: cur as u32,
                end: end as u32,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_members(ranges: &[Range]) -> std::collections::BTreeSet<u32> {
        ranges.iter().flat_map(|r| r.start..=r.end).collect()
    }

    fn small_ranges() -> impl Strategy<Value = Vec<Range>> {
        proptest::collection::vec((0u32..2000, 0u32..300), 0..30).prop_map(|v| {
            v.into_iter()
                .map(|(s, l)| Range {
                    start: s,
                    end: s + l,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn union_matches_naive(rs in small_ranges()) {
            let naive = naive_members(&rs);
            prop_assert_eq!(union_size(rs.clone()), naive.len() as u64);
            let merged = merge(rs.clone());
            prop_assert_eq!(naive_members(&merged), naive.clone());
            for w in merged.windows(2) { prop_assert!(w[0].end + 1 < w[1].start); }
            let from_cidrs: std::collections::BTreeSet<u32> = union_cidrs(rs).iter().flat_map(|n| { let r = Range::from_net(*n); r.start..=r.end }).collect();
            prop_assert_eq!(from_cidrs, naive);
        }

        #[test]
        fn subtract_matches_naive(a in small_ranges(), b in small_ranges()) {
            let want: std::collections::BTreeSet<u32> = naive_members(&a).difference(&naive_members(&b)).copied().collect();
            prop_assert_eq!(naive_members(&subtract(a, b)), want);
        }
    }

    #[test]
    fn handles_the_top_of_the_space() {
        let all = vec![
            Range {
                start: 0,
                end: u32::MAX,
            },
            Range { start: 5, end: 9 },
        ];
        assert_eq!(union_size(all.clone()), 1 << 32);
        assert!(
            subtract(
                all,
                vec![Range {
                    start: 0,
                    end: u32::MAX
                }]
            )
            .is_empty()
        );
    }
}
