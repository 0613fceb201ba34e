//! The world: every registered network (delegations and the assignments inside them), which
//! registry holds each, and the most-specific lookup RDAP answers with.
//!
//! Built from [`Tables`]: each delegation becomes a top-level network held by its registry;
//! each routed range is clipped to the delegations it overlaps and becomes a more specific
//! network held by the same registry (a piece equal to its delegation only lends the delegation
//! its organisation and AS number). Networks form a tree inside each delegation (a piece that
//! partially overlaps an earlier one is trimmed to the part after it). Types follow the tree:
//! a top-level network with networks inside is an allocation, one without is a direct
//! assignment when the statistics say `assigned` (else still an allocation); a nested network
//! with networks inside is a sub-allocation, else a (re)assignment, the leaf.
//!
//! Everything is derived from the input only (hashes of ranges, never random numbers), so the
//! same tables always give the same world, handles and dates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdapfleet_ranges::{Range, RangeIndex};
use rdapfleet_rdap::Registry;
use serde::Serialize;

use crate::data::{self, AllocationRow, AssignmentRow, DataSource, Slash8, Tables};
use crate::dates;
use crate::error::Result;

/// "No such index" for parents and organisations.
pub const NONE: u32 = u32::MAX;

/// Index of a network in its [`World`].
pub type NetId = u32;

/// The role of a network in its registry's tree; with the registry it decides the RDAP `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Top level, with networks inside (ARIN `DIRECT ALLOCATION`, RIPE `ALLOCATED PA`...).
    Allocation,
    /// Top level, nothing inside, `assigned` in the statistics (ARIN `DIRECT ASSIGNMENT`...).
    DirectAssignment,
    /// Nested, with networks inside (ARIN `REALLOCATION`, RIPE `SUB-ALLOCATED PA`...).
    SubAllocation,
    /// Nested, nothing inside (ARIN `REASSIGNED`, RIPE `ASSIGNED PA`...).
    Reassignment,
}

impl Kind {
    /// Whether the type marks an assignment (a leaf).
    pub fn is_leaf(self) -> bool {
        matches!(self, Kind::DirectAssignment | Kind::Reassignment)
    }
}

/// One registered network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    /// Its addresses.
    pub range: Range,
    /// The registry that holds it.
    pub registry: Registry,
    /// Its role (see [`Kind`]).
    pub kind: Kind,
    /// The network directly containing it, or [`NONE`].
    pub parent: NetId,
    /// 0 for delegations, 1 for networks inside them, ...
    pub depth: u8,
    /// Country code (`ZZ` when unknown).
    pub cc: [u8; 2],
    /// Origin AS number, 0 when none.
    pub asn: u32,
    /// Organisation (index into the world's names), or [`NONE`].
    pub org: u32,
    /// Registration date, days since 1970-01-01.
    pub registered: i32,
    /// Last-changed date, days since 1970-01-01.
    pub changed: i32,
}

/// Counts per registry, for `world-info`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RegistryInfo {
    /// All networks.
    pub networks: u64,
    /// Top-level networks (delegations).
    pub allocations: u64,
    /// Nested networks.
    pub assignments: u64,
    /// Networks whose type marks a leaf.
    pub leaves: u64,
    /// Addresses delegated (sum of top-level sizes).
    pub addresses: u64,
}

/// What `world-info` prints.
#[derive(Debug, Clone, Serialize)]
pub struct WorldInfo {
    /// Counts per registry name.
    pub registries: std::collections::BTreeMap<String, RegistryInfo>,
    /// Totals.
    pub total: RegistryInfo,
    /// Delegations dropped because they overlap an earlier one.
    pub overlapping_delegations_dropped: u64,
    /// Routed ranges (or parts) outside every delegation, dropped.
    pub assignments_outside_delegations: u64,
    /// Distinct organisation names.
    pub organisations: u64,
    /// `--only` slices (empty: the whole world).
    pub only: Vec<String>,
    /// Time to load and build, milliseconds.
    pub build_ms: u64,
    /// Approximate heap held by the world, bytes.
    pub heap_bytes: u64,
}

/// The world; see the module documentation.
#[derive(Debug)]
pub struct World {
    nets: Vec<Net>,
    index: RangeIndex<NetId>,
    orgs: Vec<Box<str>>,
    slash8: Vec<Slash8>,
    only: Vec<Range>,
    build_time: Duration,
    overlapping_dropped: u64,
    outside_dropped: u64,
}

/// Deterministic 64-bit mix (splitmix64 finaliser).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn range_hash(r: Range, salt: u64) -> u64 {
    mix((u64::from(r.start) << 32 | u64::from(r.end)) ^ salt.wrapping_mul(0xA24B_AED4_963E_E407))
}

impl World {
    /// Load tables from `source` restricted to `only` and build the world.
    pub fn load(source: &DataSource, only: &[Range]) -> Result<World> {
        let t0 = Instant::now();
        let tables = data::load(source, only)?;
        let mut w = World::build(tables, only);
        w.build_time = t0.elapsed();
        Ok(w)
    }

    /// Build from tables already loaded (already restricted to `only`, which is recorded).
    pub fn build(tables: Tables, only: &[Range]) -> World {
        let t0 = Instant::now();
        let Tables {
            slash8,
            mut allocations,
            mut assignments,
        } = tables;
        allocations.sort_by_key(|a| (a.range.start, std::cmp::Reverse(a.range.end)));
        // Delegations are disjoint in the real data; drop any that overlaps an earlier one.
        let mut overlapping_dropped = 0u64;
        let mut kept: Vec<AllocationRow> = Vec::with_capacity(allocations.len());
        for a in allocations {
            if kept.last().is_some_and(|p| p.range.end >= a.range.start) {
                overlapping_dropped += 1;
                continue;
            }
            kept.push(a);
        }
        let allocations = kept;

        // Clip routed ranges to delegations.
        assignments.sort_by_key(|a| (a.range.start, std::cmp::Reverse(a.range.end)));
        let mut orgs: Vec<Box<str>> = Vec::new();
        let mut org_ids: HashMap<String, u32> = HashMap::new();
        // Per delegation: (asn, org) lent by an equal routed range, and the nested pieces.
        let mut lent: Vec<(u32, u32)> = vec![(0, NONE); allocations.len()];
        let mut pieces: Vec<(usize, Range, u32, u32)> = Vec::with_capacity(assignments.len());
        let mut outside_dropped = 0u64;
        for AssignmentRow { range, asn, org } in assignments {
            let org_id = if org.is_empty() {
                NONE
            } else if let Some(&id) = org_ids.get(&org) {
                id
            } else {
                let id = orgs.len() as u32;
                orgs.push(org.clone().into_boxed_str());
                org_ids.insert(org, id);
                id
            };
            let mut i = allocations.partition_point(|a| a.range.end < range.start);
            let mut covered = 0u64;
            while let Some(a) = allocations.get(i) {
                if a.range.start > range.end {
                    break;
                }
                let piece = Range {
                    start: a.range.start.max(range.start),
                    end: a.range.end.min(range.end),
                };
                covered += piece.size();
                if piece == a.range {
                    if lent[i].1 == NONE {
                        lent[i] = (asn, org_id);
                    }
                } else {
                    pieces.push((i, piece, asn, org_id));
                }
                i += 1;
            }
            if covered < range.size() {
                outside_dropped += 1;
            }
        }
        pieces.sort_by_key(|&(a, r, _, _)| (a, r.start, std::cmp::Reverse(r.end)));

        // Assemble the tree in address order (parents before children).
        let mut nets: Vec<Net> = Vec::with_capacity(allocations.len() + pieces.len());
        let mut has_children: Vec<bool> = Vec::with_capacity(nets.capacity());
        let mut pi = 0usize;
        for (ai, a) in allocations.iter().enumerate() {
            let top = nets.len() as u32;
            let registered = a
                .date
                .and_then(dates::days_from_yyyymmdd)
                .unwrap_or_else(|| pseudo_date(a.range, 7_305, 18_627)); // 1990..2021
            let (asn, org) = lent[ai];
            nets.push(Net {
                range: a.range,
                registry: a.registry,
                kind: if a.assigned {
                    Kind::DirectAssignment
                } else {
                    Kind::Allocation
                },
                parent: NONE,
                depth: 0,
                cc: a.cc,
                asn,
                org,
                registered: registered as i32,
                changed: 0,
            });
            has_children.push(false);
            // Stack of open ancestors (ids), the delegation at the bottom.
            let mut stack: Vec<u32> = vec![top];
            while pi < pieces.len() && pieces[pi].0 == ai {
                let (_, mut r, asn, org) = pieces[pi];
                pi += 1;
                // Pop ancestors that end before this piece starts.
                while let Some(&s) = stack.last() {
                    if nets[s as usize].range.end < r.start {
                        stack.pop();
                    } else {
                        break;
                    }
                }
                let Some(&parent) = stack.last() else {
                    continue;
                };
                let pr = nets[parent as usize].range;
                if r == pr {
                    continue; // duplicate
                }
                if r.end > pr.end {
                    // Partial overlap with an open sibling: keep the part after it.
                    if pr.end == u32::MAX || stack.len() < 2 {
                        continue;
                    }
                    r.start = pr.end + 1;
                    stack.pop();
                    let Some(&gp) = stack.last() else { continue };
                    if r.end > nets[gp as usize].range.end {
                        continue;
                    }
                    if nets.last().is_some_and(|n| n.range == r) {
                        continue;
                    }
                    let parent = gp;
                    let id = push_child(&mut nets, &mut has_children, parent, r, asn, org);
                    stack.push(id);
                    continue;
                }
                let id = push_child(&mut nets, &mut has_children, parent, r, asn, org);
                stack.push(id);
            }
        }
        // Types and dates follow the tree.
        for i in 0..nets.len() {
            let children = has_children[i];
            let n = &mut nets[i];
            n.kind = match (n.depth, children, n.kind) {
                (0, true, _) => Kind::Allocation,
                (0, false, k) => k,
                (_, true, _) => Kind::SubAllocation,
                (_, false, _) => Kind::Reassignment,
            };
            let until = dates::days_from_civil(2026, 6, 1) as i32;
            let span = (until - n.registered).max(1) as u64;
            n.changed = n.registered + (range_hash(n.range, 2) % span) as i32;
        }
        let index: RangeIndex<NetId> = nets
            .iter()
            .enumerate()
            .map(|(i, n)| (n.range, i as NetId))
            .collect();
        World {
            nets,
            index,
            orgs,
            slash8,
            only: only.to_vec(),
            build_time: t0.elapsed(),
            overlapping_dropped,
            outside_dropped,
        }
    }

    /// The network with this id.
    pub fn net(&self, id: NetId) -> &Net {
        &self.nets[id as usize]
    }

    /// All networks in address order (parents before children).
    pub fn nets(&self) -> &[Net] {
        &self.nets
    }

    /// Number of networks.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether the world has no network.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The organisation name of a network, if any.
    pub fn org(&self, net: &Net) -> Option<&str> {
        (net.org != NONE).then(|| &*self.orgs[net.org as usize])
    }

    /// The most specific network containing `ip`.
    pub fn lookup(&self, ip: u32) -> Option<NetId> {
        self.index.get(ip).map(|(_, &id)| id)
    }

    /// The most specific network containing all of `range` (RDAP `/ip/prefix/len` queries).
    pub fn lookup_range(&self, range: Range) -> Option<NetId> {
        let mut id = self.lookup(range.start)?;
        loop {
            let n = self.net(id);
            if n.range.contains_range(&range) {
                return Some(id);
            }
            if n.parent == NONE {
                return None;
            }
            id = n.parent;
        }
    }

    /// The registry IANA designates for the /8 of `ip` (what the bootstrap file says).
    pub fn designated(&self, ip: u32) -> Option<Registry> {
        self.slash8
            .get((ip >> 24) as usize)
            .and_then(|s| s.registry)
    }

    /// The IANA /8 table.
    pub fn slash8(&self) -> &[Slash8] {
        &self.slash8
    }

    /// The `--only` slices this world was restricted to (empty: none).
    pub fn only(&self) -> &[Range] {
        &self.only
    }

    /// How long loading and building took.
    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    /// Seconds into the day for a network's event times (deterministic).
    pub fn event_seconds(&self, net: &Net, which: u64) -> u32 {
        (range_hash(net.range, 10 + which) % 86_400) as u32
    }

    /// Counts for `world-info`.
    pub fn info(&self) -> WorldInfo {
        let mut registries = std::collections::BTreeMap::new();
        let mut total = RegistryInfo::default();
        for n in &self.nets {
            let e: &mut RegistryInfo = registries
                .entry(n.registry.as_str().to_string())
                .or_default();
            for c in [&mut *e, &mut total] {
                c.networks += 1;
                if n.depth == 0 {
                    c.allocations += 1;
                    c.addresses += n.range.size();
                } else {
                    c.assignments += 1;
                }
                if n.kind.is_leaf() {
                    c.leaves += 1;
                }
            }
        }
        let heap = self.nets.capacity() * std::mem::size_of::<Net>()
            + self.index.heap_bytes()
            + self.orgs.iter().map(|o| o.len() + 16).sum::<usize>();
        WorldInfo {
            registries,
            total,
            overlapping_delegations_dropped: self.overlapping_dropped,
            assignments_outside_delegations: self.outside_dropped,
            organisations: self.orgs.len() as u64,
            only: self
                .only
                .iter()
                .map(|r| {
                    r.cidrs()
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect(),
            build_ms: self.build_time.as_millis() as u64,
            heap_bytes: heap as u64,
        }
    }

    /// A small world for unit tests: five registries, nested networks (three levels), a block
    /// transferred into another registry's /8 (`2.57.164.0/22`, ARIN inside RIPE NCC's 2/8;
    /// `45.4.0.0/14`, LACNIC inside ARIN's 45/8), unallocated gaps (`3.128.0.0/9`, all of
    /// `4/8`), and reserved space (`10/8`).
    pub fn synthetic() -> World {
        World::build(synthetic_tables(), &[])
    }
}

fn push_child(
    nets: &mut Vec<Net>,
    has_children: &mut Vec<bool>,
    parent: u32,
    r: Range,
    asn: u32,
    org: u32,
) -> u32 {
    let p = nets[parent as usize];
    let lo = p.registered;
    let hi = dates::days_from_civil(2026, 1, 1) as i32;
    let registered = lo + (range_hash(r, 1) % ((hi - lo).max(1) as u64)) as i32;
    let id = nets.len() as u32;
    nets.push(Net {
        range: r,
        registry: p.registry,
        kind: Kind::Reassignment,
        parent,
        depth: p.depth.saturating_add(1),
        cc: p.cc,
        asn,
        org,
        registered,
        changed: 0,
    });
    has_children.push(false);
    has_children[parent as usize] = true;
    id
}

fn pseudo_date(r: Range, from_day: i64, to_day: i64) -> i64 {
    from_day + (range_hash(r, 0) % (to_day - from_day) as u64) as i64
}

fn synthetic_tables() -> Tables {
    use Registry::*;
    let slash8 = (0..256u32)
        .map(|o| {
            let registry = match o {
                1 | 14 => Some(Apnic),
                2 | 5 | 193 => Some(RipeNcc),
                3 | 4 | 45 => Some(Arin),
                41 | 196 => Some(Afrinic),
                177 | 179 | 200 => Some(Lacnic),
                _ => None,
            };
            Slash8 {
                registry,
                status: if registry.is_some() {
                    "ALLOCATED"
                } else {
                    "RESERVED"
                }
                .to_string(),
                designation: registry.map_or("IANA".to_string(), |r| r.as_str().to_uppercase()),
            }
        })
        .collect();
    let r = |s: &str, e: &str| Range {
        start: u32::from(s.parse::<std::net::Ipv4Addr>().expect("literal")),
        end: u32::from(e.parse::<std::net::Ipv4Addr>().expect("literal")),
    };
    let alloc = |range: Range, cc: &[u8; 2], registry, assigned, date| AllocationRow {
        range,
        cc: *cc,
        registry,
        assigned,
        date,
    };
    let allocations = vec![
        alloc(
            r("1.1.1.0", "1.1.1.255"),
            b"AU",
            Apnic,
            true,
            Some(20110811),
        ),
        alloc(
            r("1.2.0.0", "1.3.255.255"),
            b"CN",
            Apnic,
            false,
            Some(20110412),
        ),
        alloc(
            r("2.0.0.0", "2.15.255.255"),
            b"FR",
            RipeNcc,
            false,
            Some(20100712),
        ),
        alloc(
            r("2.57.164.0", "2.57.167.255"),
            b"US",
            Arin,
            false,
            Some(20190301),
        ),
        alloc(r("3.0.0.0", "3.127.255.255"), b"US", Arin, false, None),
        alloc(
            r("41.0.0.0", "41.0.255.255"),
            b"ZA",
            Afrinic,
            false,
            Some(20071204),
        ),
        alloc(r("41.1.0.0", "41.1.3.255"), b"KE", Afrinic, true, None),
        alloc(
            r("45.4.0.0", "45.7.255.255"),
            b"BR",
            Lacnic,
            false,
            Some(20150321),
        ),
        alloc(
            r("177.0.0.0", "177.3.255.255"),
            b"BR",
            Lacnic,
            false,
            Some(20100601),
        ),
        alloc(
            r("179.0.0.0", "179.0.1.255"),
            b"AR",
            Lacnic,
            true,
            Some(20130412),
        ),
        alloc(
            r("193.0.0.0", "193.0.23.255"),
            b"NL",
            RipeNcc,
            false,
            Some(19930901),
        ),
        alloc(
            r("196.11.239.0", "196.11.246.255"),
            b"ZA",
            Afrinic,
            true,
            None,
        ),
    ];
    let asg = |range: Range, asn, org: &str| AssignmentRow {
        range,
        asn,
        org: org.to_string(),
    };
    let assignments = vec![
        asg(
            r("1.1.1.0", "1.1.1.255"),
            13335,
            "APNIC and Cloudflare DNS Resolver",
        ),
        asg(r("1.2.3.0", "1.2.3.255"), 4134, "Chinanet"),
        asg(r("1.2.4.0", "1.2.9.255"), 4837, "China Unicom"),
        asg(r("2.0.0.0", "2.0.255.255"), 3215, "Orange S.A."),
        asg(
            r("2.0.16.0", "2.0.16.255"),
            3215,
            "Orange Business Services",
        ),
        asg(r("2.57.164.0", "2.57.164.255"), 16509, "Amazon.com, Inc."),
        asg(r("3.0.0.0", "3.0.255.255"), 16509, "Amazon.com, Inc."),
        asg(r("3.5.0.0", "3.5.0.255"), 16509, "Amazon Data Services"),
        asg(r("3.5.0.128", "3.5.1.127"), 14618, "Amazon AES"),
        asg(r("41.0.0.0", "41.0.127.255"), 36994, "Vodacom"),
        asg(
            r("45.4.0.0", "45.4.3.255"),
            52320,
            "GlobeNet Cabos Submarinos",
        ),
        asg(r("177.0.0.0", "177.0.1.255"), 28573, "Claro NXT"),
        asg(
            r("193.0.0.0", "193.0.7.255"),
            3333,
            "RIPE Network Coordination Centre",
        ),
        asg(
            r("193.0.24.0", "193.0.24.255"),
            64512,
            "Unallocated Example",
        ),
    ];
    Tables {
        slash8,
        allocations,
        assignments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn synthetic_world_shape() {
        let w = World::synthetic();
        // 12 delegations + 11 nested pieces (1.1.1.0/24 lends its org; 193.0.24.0 is outside;
        // 3.5.0.128 - 3.5.1.127 is trimmed to 3.5.1.0 - 3.5.1.127).
        let info = w.info();
        assert_eq!(info.total.allocations, 12);
        assert_eq!(info.assignments_outside_delegations, 1);
        let one = w.net(w.lookup(ip("1.1.1.1")).unwrap());
        assert_eq!(one.kind, Kind::DirectAssignment);
        assert_eq!(w.org(one), Some("APNIC and Cloudflare DNS Resolver"));
        assert_eq!(one.asn, 13335);

        // Three levels in 2/8.
        let leaf = w.net(w.lookup(ip("2.0.16.7")).unwrap());
        assert_eq!((leaf.depth, leaf.kind), (2, Kind::Reassignment));
        let mid = w.net(leaf.parent);
        assert_eq!(mid.kind, Kind::SubAllocation);
        assert_eq!(w.net(mid.parent).kind, Kind::Allocation);
        assert_eq!(
            w.net(mid.parent).range,
            Range {
                start: ip("2.0.0.0"),
                end: ip("2.15.255.255")
            }
        );

        // Transferred block: ARIN inside RIPE's /8.
        let t = w.net(w.lookup(ip("2.57.165.1")).unwrap());
        assert_eq!(t.registry, Registry::Arin);
        assert_eq!(w.designated(ip("2.57.165.1")), Some(Registry::RipeNcc));

        // Trimmed partial overlap.
        let trimmed = w.net(w.lookup(ip("3.5.1.5")).unwrap());
        assert_eq!(
            trimmed.range,
            Range {
                start: ip("3.5.1.0"),
                end: ip("3.5.1.127")
            }
        );
        assert_eq!(
            w.net(w.lookup(ip("3.5.0.200")).unwrap()).range.end,
            ip("3.5.0.255")
        );

        // Gaps.
        assert_eq!(w.lookup(ip("3.200.0.1")), None);
        assert_eq!(w.lookup(ip("4.4.4.4")), None);
        assert_eq!(w.lookup(ip("10.0.0.1")), None);

        // Range lookups climb to the network containing the whole range.
        let r = Range {
            start: ip("2.0.16.0"),
            end: ip("2.0.17.255"),
        };
        assert_eq!(
            w.net(w.lookup_range(r).unwrap()).range.end,
            ip("2.0.255.255")
        );
        assert_eq!(
            w.lookup_range(Range {
                start: ip("3.127.0.0"),
                end: ip("3.128.0.0")
            }),
            None
        );

        // Leaves never contain networks.
        for (i, n) in w.nets().iter().enumerate() {
            if n.parent != NONE {
                assert!(!w.net(n.parent).kind.is_leaf(), "net {i} inside a leaf");
                assert!(w.net(n.parent).range.contains_range(&n.range));
            }
        }
    }

    #[test]
    fn same_tables_same_world() {
        let a = World::synthetic();
        let b = World::synthetic();
        assert_eq!(a.nets(), b.nets());
    }
}
