//! Exact coverage of the crawled networks: the union of their ranges (overlaps counted once),
//! its share of all IPv4 and of the space outside the IANA special-purpose registry, the union
//! as a minimal CIDR list, per registry, per /8, and the largest holders.

use std::collections::HashMap;

use rdapfleet_ranges::{Range, special, union};
use rusqlite::Connection;
use serde::Serialize;

use super::NetworkSummary;
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

/// The networks table as (range, summary), in id order.
pub fn load_networks(conn: &Connection) -> Result<Vec<(Range, NetworkSummary)>> {
    let mut stmt =
        conn.prepare("SELECT start_ip, end_ip, network_json FROM networks ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let (s, e): (i64, i64) = (r.get(0)?, r.get(1)?);
        let json: String = r.get(2)?;
        Ok((s, e, json))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (s, e, json) = row?;
        let (Ok(start), Ok(end)) = (u32::try_from(s), u32::try_from(e)) else {
            continue;
        };
        if end < start {
            continue;
        }
        out.push((Range { start, end }, NetworkSummary::parse(&json)));
    }
    Ok(out)
}

/// Compute the report; `top` holders are listed.
pub fn compute(networks: &[(Range, NetworkSummary)], top: usize) -> CoverageReport {
    let all: Vec<Range> = networks.iter().map(|(r, _)| *r).collect();
    let merged = union::merge(all);
    let addresses: u64 = merged.iter().map(Range::size).sum();
    let specials = special::excluded().to_vec();
    let special_size: u64 = specials.iter().map(Range::size).sum();
    let covered_non_special: u64 = union::subtract(merged.clone(), specials)
        .iter()
        .map(Range::size)
        .sum();
    let non_special = ALL_IPV4 - special_size;
    let union_cidrs = merged.iter().map(|r| r.cidrs().len() as u64).sum();

    let mut by_registry: HashMap<String, (u64, Vec<Range>)> = HashMap::new();
    let mut by_holder: HashMap<String, (u64, Vec<Range>)> = HashMap::new();
    for (r, s) in networks {
        let reg = s.registry.clone().unwrap_or_else(|| "unknown".into());
        let e = by_registry.entry(reg).or_default();
        e.0 += 1;
        e.1.push(*r);
        if let Some(h) = s.holder() {
            let e = by_holder.entry(h.to_string()).or_default();
            e.0 += 1;
            e.1.push(*r);
        }
    }
    let mut registries: Vec<RegistryCoverage> = by_registry
        .into_iter()
        .map(|(registry, (n, rs))| RegistryCoverage {
            registry,
            networks: n,
            addresses: union::union_size(rs),
        })
        .collect();
    registries.sort_by(|a, b| {
        b.addresses
            .cmp(&a.addresses)
            .then(a.registry.cmp(&b.registry))
    });
    let mut top_holders: Vec<Holder> = by_holder
        .into_iter()
        .map(|(holder, (n, rs))| Holder {
            holder,
            networks: n,
            addresses: union::union_size(rs),
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
        networks: networks.len() as u64,
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
pub fn map_layers(networks: &[(Range, NetworkSummary)]) -> Vec<(Range, Class)> {
    let mut layers: Vec<(Range, Class)> = special::blocks()
        .iter()
        .map(|b| (b.range, map::SPECIAL))
        .collect();
    let mut nets: Vec<(Range, Class)> = networks
        .iter()
        .map(|(r, s)| {
            (
                *r,
                map::class_of_registry(s.registry.as_deref().unwrap_or("")),
            )
        })
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

    fn net(start: u32, end: u32, registry: &str, holder: &str) -> (Range, NetworkSummary) {
        (
            Range { start, end },
            NetworkSummary {
                registry: Some(registry.into()),
                registrant: Some(holder.into()),
                ..Default::default()
            },
        )
    }

    #[test]
    fn counts_overlaps_once_and_splits_by_slash8() {
        let nets = vec![
            net(0x0100_0000, 0x01FF_FFFF, "apnic", "A"),   // 1/8
            net(0x0101_0000, 0x0101_00FF, "apnic", "B"),   // inside it
            net(0x02FF_FF00, 0x0300_00FF, "ripencc", "A"), // straddles 2/8 and 3/8
            net(0x0A00_0000, 0x0A00_00FF, "arin", "C"),    // special (10/8)
        ];
        let r = compute(&nets, 10);
        assert_eq!(r.networks, 4);
        assert_eq!(r.addresses, (1 << 24) + 512 + 256);
        assert_eq!(r.covered_non_special, (1 << 24) + 512);
        assert_eq!(
            r.slash8
                .iter()
                .map(|s| (s.octet, s.addresses))
                .collect::<Vec<_>>(),
            vec![(1, 1 << 24), (2, 256), (3, 256), (10, 256)]
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
        // 1/8, 2.255.255.0/24, 3.0.0.0/24, 10.0.0.0/24
        assert_eq!(r.union_cidrs, 4);
    }

    proptest! {
        #[test]
        fn union_matches_a_naive_count(raw in proptest::collection::vec((0u32..5000, 0u32..700), 0..40)) {
            let nets: Vec<_> = raw.iter().map(|&(s, l)| net(0x2000_0000 + s, 0x2000_0000 + s + l, "arin", "x")).collect();
            let naive: std::collections::BTreeSet<u32> = nets.iter().flat_map(|(r, _)| r.start..=r.end).collect();
            let r = compute(&nets, 5);
            prop_assert_eq!(r.addresses, naive.len() as u64);
            prop_assert_eq!(r.covered_non_special, naive.len() as u64);
        }
    }
}
