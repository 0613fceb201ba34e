//! Exact coverage of the crawled networks: the union of their ranges (overlaps counted once),
//! its share of all IPv4 and of the space outside the IANA special-purpose registry, the union
//! as a minimal CIDR list, per registry, per /8, and the largest holders.

use rdapfleet_ranges::{Range, special, union};
use serde::Serialize;

use super::map::{self, Class};
use crate::Result;

/// Addresses in IPv4.
pub const ALL_IPV4: u64 = 1 << 32;

/// One registry's share.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegistryCoverage {
    /// arin, ripencc, apnic, lacnic, afrinic (or "unknown").
    pub registry: String,
    /// Distinct networks answered by it.
    pub networks: u64,
    /// Addresses in the union of its networks.
    pub addresses: u64,
}

/// One /8's coverage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slash8 {
    /// First octet.
    pub octet: u8,
    /// Covered addresses in it.
    pub addresses: u64,
    /// Share of the /8 covered.
    pub share: f64,
}

/// One holder's networks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Holder {
    /// Registrant organisation (or network name).
    pub holder: String,
    /// Networks held.
    pub networks: u64,
    /// Addresses in the union of its networks.
    pub addresses: u64,
}

/// The whole report (`coverage --json` prints it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CoverageReport {
    /// Distinct networks found.
    pub networks: u64,
    /// Addresses in their union.
    pub addresses: u64,
    /// Union ÷ 2^32.
    pub share_of_ipv4: f64,
    /// Addresses outside special-purpose space.
    pub non_special_addresses: u64,
    /// Covered addresses outside special-purpose space.
    pub covered_non_special: u64,
    /// covered_non_special ÷ non_special_addresses.
    pub share_of_non_special: f64,
    /// Size of the minimal CIDR list equal to the union.
    pub union_cidrs: u64,
    /// Per registry.
    pub registries: Vec<RegistryCoverage>,
    /// Per /8 with any coverage.
    pub slash8: Vec<Slash8>,
    /// The largest holders by addresses.
    pub top_holders: Vec<Holder>,
}

/// The crawled networks in compact form: ranges with an interned registry and holder, in the
/// order they were found (about 12 bytes a network plus each distinct holder name once).
#[derive(Debug, Default, Clone)]
pub struct Networks {
    nets: Vec<Net>,
    registries: Vec<String>,
    holders: Vec<String>,
    /// Rows skipped because their range was impossible (a damaged file).
    pub damaged: u64,
}

#[derive(Debug, Clone, Copy)]
struct Net {
    range: Range,
    registry: u16,
    holder: u32,
}

const NO_HOLDER: u32 = u32::MAX;

impl Networks {
    /// Distinct networks held.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Add one network (registry and holder as stored; `None`: unknown).
    pub fn push(&mut self, range: Range, registry: Option<&str>, holder: Option<&str>) {
        let reg = registry.filter(|r| !r.is_empty()).unwrap_or("unknown");
        let registry = match self.registries.iter().position(|r| r == reg) {
            Some(i) => i as u16,
            None => {
                self.registries.push(reg.to_string());
                (self.registries.len() - 1) as u16
            }
        };
        let holder = match holder {
            Some(h) => self.intern_holder(h),
            None => NO_HOLDER,
        };
        self.nets.push(Net {
            range,
            registry,
            holder,
        });
    }

    fn intern_holder(&mut self, h: &str) -> u32 {
        // Holders repeat in runs (found in address order); a small cache of the last few keeps
        // this cheap without a hash map of every name.
        if let Some(i) = self.holders.iter().rev().take(8).position(|x| x == h) {
            return (self.holders.len() - 1 - i) as u32;
        }
        self.holders.push(h.to_string());
        (self.holders.len() - 1) as u32
    }
}

/// Load the networks table (read-only).
pub fn load(db: &super::ReportDb) -> Result<Networks> {
    let mut out = Networks::default();
    out.damaged = super::for_each_network(db, |range, s| {
        out.push(range, s.registry.as_deref(), s.holder());
    })?;
    Ok(out)
}

/// Number of CIDR blocks in the minimal CIDR list equal to `start..=end`.
pub fn cidr_count(start: u32, end: u32) -> u64 {
    let (mut s, e) = (u64::from(start), u64::from(end));
    let mut n = 0;
    while s <= e {
        let mut size = if s == 0 {
            1u64 << 32
        } else {
            1u64 << s.trailing_zeros()
        };
        while s + size - 1 > e {
            size >>= 1;
        }
        s += size;
        n += 1;
    }
    n
}

/// Merge sorted-or-not ranges into their union and return (addresses, merged ranges).
fn union_of(ranges: Vec<Range>) -> (u64, Vec<Range>) {
    let merged = union::merge(ranges);
    (merged.iter().map(Range::size).sum(), merged)
}

/// Compute the report; the `top` largest holders are listed.
pub fn compute(networks: &Networks, top: usize) -> CoverageReport {
    let (addresses, merged) = union_of(networks.nets.iter().map(|n| n.range).collect());
    let specials = special::excluded().to_vec();
    let special_size: u64 = specials.iter().map(Range::size).sum();
    let covered_non_special: u64 = union::subtract(merged.clone(), specials)
        .iter()
        .map(Range::size)
        .sum();
    let non_special = ALL_IPV4 - special_size;
    let union_cidrs = merged.iter().map(|r| cidr_count(r.start, r.end)).sum();

    // Per registry and per holder: group by key, then the union of each group.
    let groups = |key: &dyn Fn(&Net) -> u32| -> Vec<(u32, u64, u64)> {
        let mut v: Vec<(u32, Range)> = networks
            .nets
            .iter()
            .filter_map(|n| {
                let k = key(n);
                (k != NO_HOLDER).then_some((k, n.range))
            })
            .collect();
        v.sort_unstable_by_key(|&(k, r)| (k, r.start, r.end));
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let k = v[i].0;
            let (mut count, mut size) = (0u64, 0u64);
            let mut cur: Option<Range> = None;
            while i < v.len() && v[i].0 == k {
                let r = v[i].1;
                count += 1;
                match &mut cur {
                    Some(c) if u64::from(r.start) <= u64::from(c.end) + 1 => {
                        c.end = c.end.max(r.end);
                    }
                    _ => {
                        if let Some(c) = cur {
                            size += c.size();
                        }
                        cur = Some(r);
                    }
                }
                i += 1;
            }
            if let Some(c) = cur {
                size += c.size();
            }
            out.push((k, count, size));
        }
        out
    };
    let mut registries: Vec<RegistryCoverage> = groups(&|n: &Net| u32::from(n.registry))
        .into_iter()
        .map(|(k, n, a)| RegistryCoverage {
            registry: networks.registries[k as usize].clone(),
            networks: n,
            addresses: a,
        })
        .collect();
    registries.sort_by(|a, b| {
        b.addresses
            .cmp(&a.addresses)
            .then(a.registry.cmp(&b.registry))
    });
    // Holders are interned per run of equal names; fold ids that share a name first.
    let mut by_name: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let canonical: Vec<u32> = networks
        .holders
        .iter()
        .enumerate()
        .map(|(i, h)| *by_name.entry(h.as_str()).or_insert(i as u32))
        .collect();
    let mut top_holders: Vec<Holder> = groups(&|n: &Net| {
        if n.holder == NO_HOLDER {
            NO_HOLDER
        } else {
            canonical[n.holder as usize]
        }
    })
    .into_iter()
    .map(|(k, n, a)| Holder {
        holder: networks.holders[k as usize].clone(),
        networks: n,
        addresses: a,
    })
    .collect();
    top_holders.sort_by(|a, b| b.addresses.cmp(&a.addresses).then(a.holder.cmp(&b.holder)));
    top_holders.truncate(top);

    let mut per8 = [0u64; 256];
    for r in &merged {
        let (mut s, e) = (u64::from(r.start), u64::from(r.end));
        while s <= e {
            let octet = (s >> 24) as usize;
            let block_end = ((octet as u64 + 1) << 24) - 1;
            let stop = block_end.min(e);
            per8[octet] += stop - s + 1;
            s = stop + 1;
        }
    }
    let slash8 = per8
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(o, &n)| Slash8 {
            octet: o as u8,
            addresses: n,
            share: n as f64 / (1u64 << 24) as f64,
        })
        .collect();
    CoverageReport {
        networks: networks.nets.len() as u64,
        addresses,
        share_of_ipv4: addresses as f64 / ALL_IPV4 as f64,
        non_special_addresses: non_special,
        covered_non_special,
        share_of_non_special: covered_non_special as f64 / non_special as f64,
        union_cidrs,
        registries,
        slash8,
        top_holders,
    }
}

/// What to paint on the map: special-purpose space, then every network by its registry
/// (larger networks first, so more specific ones are drawn over them).
pub fn map_layers(networks: &Networks) -> Vec<(Range, Class)> {
    let mut layers: Vec<(Range, Class)> = special::blocks()
        .iter()
        .map(|b| (b.range, map::SPECIAL))
        .collect();
    let classes: Vec<Class> = networks
        .registries
        .iter()
        .map(|r| map::class_of_registry(r))
        .collect();
    let mut nets: Vec<(Range, Class)> = networks
        .nets
        .iter()
        .map(|n| (n.range, classes[n.registry as usize]))
        .collect();
    nets.sort_by_key(|n| std::cmp::Reverse(n.0.size()));
    layers.extend(nets);
    layers
}

/// The report as text for a terminal.
pub fn render_text(r: &CoverageReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "networks:            {}", r.networks);
    let _ = writeln!(
        s,
        "addresses covered:   {} ({:.2} % of IPv4)",
        r.addresses,
        100.0 * r.share_of_ipv4
    );
    let _ = writeln!(
        s,
        "non-special covered: {} of {} ({:.2} %)",
        r.covered_non_special,
        r.non_special_addresses,
        100.0 * r.share_of_non_special
    );
    let _ = writeln!(s, "union as CIDRs:      {}", r.union_cidrs);
    let _ = writeln!(s, "\nper registry:");
    for g in &r.registries {
        let _ = writeln!(
            s,
            "  {:<8} {:>9} networks {:>12} addresses",
            g.registry, g.networks, g.addresses
        );
    }
    let _ = writeln!(s, "\nper /8 (covered share):");
    for c in r.slash8.chunks(6) {
        let line: Vec<String> = c
            .iter()
            .map(|e| format!("{:>3}/8 {:>6.2}%", e.octet, 100.0 * e.share))
            .collect();
        let _ = writeln!(s, "  {}", line.join("  "));
    }
    let _ = writeln!(s, "\nlargest holders:");
    for h in &r.top_holders {
        let _ = writeln!(
            s,
            "  {:>12} addresses {:>6} networks  {}",
            h.addresses, h.networks, h.holder
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nets(list: &[(u32, u32, &str, &str)]) -> Networks {
        let mut n = Networks::default();
        for &(start, end, registry, holder) in list {
            n.push(Range { start, end }, Some(registry), Some(holder));
        }
        n
    }

    #[test]
    fn counts_overlaps_once_and_splits_by_slash8() {
        let nets = nets(&[
            (0x0100_0000, 0x01FF_FFFF, "apnic", "A"),   // 1/8
            (0x0101_0000, 0x0101_00FF, "apnic", "B"),   // inside it
            (0x0800_0000, 0x0800_00FF, "arin", "C"),    // separates A's runs
            (0x02FF_FF00, 0x0300_00FF, "ripencc", "A"), // straddles 2/8 and 3/8
            (0x0A00_0000, 0x0A00_00FF, "arin", "C"),    // special (10/8)
        ]);
        let r = compute(&nets, 10);
        assert_eq!(r.networks, 5);
        assert_eq!(r.addresses, (1 << 24) + 512 + 256 + 256);
        assert_eq!(r.covered_non_special, (1 << 24) + 512 + 256);
        assert_eq!(
            r.slash8
                .iter()
                .map(|s| (s.octet, s.addresses))
                .collect::<Vec<_>>(),
            vec![(1, 1 << 24), (2, 256), (3, 256), (8, 256), (10, 256)]
        );
        assert_eq!(
            r.top_holders[0],
            Holder {
                holder: "A".into(),
                networks: 2,
                addresses: (1 << 24) + 512
            }
        );
        assert_eq!(r.registries[0].registry, "apnic");
        assert_eq!(r.registries[0].addresses, 1 << 24);
        assert_eq!(r.top_holders[1].holder, "C");
        assert_eq!(r.top_holders[1].networks, 2);
        // 1/8, 2.255.255.0/24, 3.0.0.0/24, 8.0.0.0/24, 10.0.0.0/24
        assert_eq!(r.union_cidrs, 5);
    }

    proptest! {
        #[test]
        fn union_matches_a_naive_count(raw in proptest::collection::vec((0u32..5000, 0u32..700), 0..40)) {
            let list: Vec<_> = raw.iter().map(|&(s, l)| (0x2000_0000 + s, 0x2000_0000 + s + l, "arin", "x")).collect();
            let naive: std::collections::BTreeSet<u32> = list.iter().flat_map(|&(s, e, _, _)| s..=e).collect();
            let r = compute(&nets(&list), 5);
            prop_assert_eq!(r.addresses, naive.len() as u64);
            prop_assert_eq!(r.covered_non_special, naive.len() as u64);
            let cidrs: usize = union::merge(list.iter().map(|&(s, e, _, _)| Range { start: s, end: e }).collect())
                .iter().map(|r| r.cidrs().len()).sum();
            prop_assert_eq!(r.union_cidrs, cidrs as u64);
        }

        #[test]
        fn cidr_counts_match_the_cidr_list(start in any::<u32>(), len in any::<u32>()) {
            let end = start.saturating_add(len);
            prop_assert_eq!(cidr_count(start, end), Range { start, end }.cidrs().len() as u64);
        }
    }
}
