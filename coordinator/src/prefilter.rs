//! The coverage pre-filter: before a batch leaves the coordinator, IPs inside networks already
//! known are settled as `skipped` (inferred) so no worker asks about them again.
//!
//! The index is the shared [`RangeIndex`] over the `networks` table, restricted by the skip
//! policy: `covered` indexes every network, `leaf` only networks flagged as assignments. Each
//! skipped IP names the most specific indexed network that contains it.
//!
//! Seam for coverage publication (the Redis change log): every network the coordinator learns
//! is inserted here through [`Prefilter::insert`] and stored in the `networks` table, whose ids
//! only grow, so a publisher can tail that table (`WHERE id > last_published`) and resume after a
//! restart without losing an entry.

use rdapfleet_ranges::{Range, RangeIndex};

use crate::config::SkipPolicy;

/// The pre-filter's index of known networks.
#[derive(Debug, Default)]
pub struct Prefilter {
    policy: SkipPolicy,
    index: RangeIndex<()>,
}

impl Prefilter {
    /// An empty pre-filter for `policy`.
    pub fn new(policy: SkipPolicy) -> Self {
        Self {
            policy,
            index: RangeIndex::new(),
        }
    }

    /// The skip policy in force.
    pub fn policy(&self) -> SkipPolicy {
        self.policy
    }

    /// Learn a network; returns whether it now settles IPs (false for a duplicate, or a
    /// non-leaf network under the `leaf` policy).
    pub fn insert(&mut self, start: u32, end: u32, leaf: bool) -> bool {
        if self.policy == SkipPolicy::Leaf && !leaf {
            return false;
        }
        match Range::new(start, end) {
            Ok(r) => self.index.insert(r, ()),
            Err(_) => false,
        }
    }

    /// Fold pending inserts into the fast level (after a bulk load).
    pub fn compact(&mut self) {
        self.index.compact();
    }

    /// Networks that settle IPs.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no network settles anything yet.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// For each position of the ascending `ips` that lies inside an indexed network, call
    /// `f(position, network)` with the most specific such network.
    pub fn covered(&self, ips: &[u32], mut f: impl FnMut(usize, Range)) {
        if self.index.is_empty() || ips.is_empty() {
            return;
        }
        self.index.for_each_sorted(ips, |pos, hit| {
            if let Some((r, ())) = hit {
                f(pos, r);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(p: &Prefilter, ips: &[u32]) -> Vec<(u32, (u32, u32))> {
        let mut out = Vec::new();
        p.covered(ips, |pos, r| out.push((ips[pos], (r.start, r.end))));
        out
    }

    #[test]
    fn covered_policy_uses_every_network_most_specific_first() {
        let mut p = Prefilter::new(SkipPolicy::Covered);
        assert!(p.insert(100, 199, false));
        assert!(p.insert(120, 129, true));
        assert!(!p.insert(100, 199, false), "duplicate");
        assert_eq!(
            covered(&p, &[99, 100, 125, 199, 200]),
            vec![(100, (100, 199)), (125, (120, 129)), (199, (100, 199))]
        );
    }

    #[test]
    fn leaf_policy_ignores_allocations() {
        let mut p = Prefilter::new(SkipPolicy::Leaf);
        assert!(!p.insert(100, 199, false));
        assert!(p.insert(120, 129, true));
        assert_eq!(covered(&p, &[100, 125, 199]), vec![(125, (120, 129))]);
    }
}
