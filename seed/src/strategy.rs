//! Seed strategies: which addresses to ask about. Every strategy yields a sorted, deduplicated
//! `Vec<u32>`; `--include` / `--exclude` ranges restrict any of them.

use rdapfleet_ranges::{Range, special, union};
use serde_json::json;

use crate::{Error, Result};

/// Batch size used when none is given: 1,000 contiguous addresses per batch.
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// Largest batch size accepted.
pub const MAX_BATCH_SIZE: usize = 1_000_000;
/// Seed of the hand-out permutation when none is given.
pub const DEFAULT_SHUFFLE_SEED: u64 = 2016;
/// `--stride-prefix` when none is given: one address per /24.
pub const DEFAULT_STRIDE_PREFIX: u8 = 24;
/// Shortest stride prefix accepted (one address per /8).
pub const MIN_STRIDE_PREFIX: u8 = 8;
/// Longest stride prefix accepted (every address).
pub const MAX_STRIDE_PREFIX: u8 = 32;
/// Most addresses one plan may produce (64 Mi, 256 MiB in memory, a few GiB on disk): a guard
/// against `--strategy ranges --include 0.0.0.0/0` and similar typos.
pub const MAX_IPS: u64 = 1 << 26;

/// Number of addresses in the 2016 lattice ([`lattice2016`]).
pub const LATTICE2016_COUNT: usize = 4_706_768;
/// First octets the 2016 generator skipped ("known single-owner and/or reserved class A's").
pub const LATTICE2016_SKIPPED_FIRST_OCTETS: [u8; 14] =
    [3, 9, 10, 12, 15, 16, 17, 18, 19, 20, 34, 48, 56, 127];
/// Third octets of the lattice: 0, 12, ..., 252.
const LATTICE_THIRD_STEP: u32 = 12;
/// Fourth octets of the lattice.
const LATTICE_FOURTH: [u32; 4] = [1, 65, 129, 193];

/// Which addresses a seed list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The 2016 list, bit for bit ([`lattice2016`]): 4,706,768 addresses.
    Lattice2016,
    /// One address per `/prefix` block outside the IANA special-purpose registry
    /// ([`stride_ips`]); `prefix` is 8..=32.
    Stride {
        /// Block size as a prefix length.
        prefix: u8,
    },
    /// Every address of the include ranges (small test slices); needs at least one include.
    Ranges,
}

impl Strategy {
    /// The name used on the command line and in the meta table.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Lattice2016 => "lattice2016",
            Strategy::Stride { .. } => "stride",
            Strategy::Ranges => "ranges",
        }
    }
}

/// Everything that determines a seed file's contents (apart from its creation time and crawl id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPlan {
    /// Which addresses.
    pub strategy: Strategy,
    /// When non-empty, only addresses inside these ranges are kept.
    pub includes: Vec<Range>,
    /// Addresses inside these ranges are removed.
    pub excludes: Vec<Range>,
    /// Contiguous addresses per batch (1..=[`MAX_BATCH_SIZE`]); the last batch is shorter.
    pub batch_size: usize,
    /// Seed of the hand-out permutation ([`crate::order`]).
    pub shuffle_seed: u64,
}

impl SeedPlan {
    /// A plan with no includes or excludes, the default batch size and shuffle seed.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            includes: Vec::new(),
            excludes: Vec::new(),
            batch_size: DEFAULT_BATCH_SIZE,
            shuffle_seed: DEFAULT_SHUFFLE_SEED,
        }
    }

    /// Check the plan's parameters (stride prefix, batch size, includes for `ranges`).
    pub fn validate(&self) -> Result<()> {
        if let Strategy::Stride { prefix } = self.strategy
            && !(MIN_STRIDE_PREFIX..=MAX_STRIDE_PREFIX).contains(&prefix)
        {
            return Err(Error::InvalidPlan(format!(
                "stride prefix /{prefix} is out of range (expected {MIN_STRIDE_PREFIX}..={MAX_STRIDE_PREFIX})"
            )));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(Error::InvalidPlan(format!(
                "batch size {} is out of range (expected 1..={MAX_BATCH_SIZE})",
                self.batch_size
            )));
        }
        if self.strategy == Strategy::Ranges && self.includes.is_empty() {
            return Err(Error::InvalidPlan(
                "strategy ranges needs at least one --include range".into(),
            ));
        }
        Ok(())
    }

    /// The address ranges the plan may draw from: the includes (or all of IPv4) minus the
    /// excludes, as sorted disjoint ranges.
    pub fn allowed(&self) -> Vec<Range> {
        let base = if self.includes.is_empty() {
            vec![Range {
                start: 0,
                end: u32::MAX,
            }]
        } else {
            self.includes.clone()
        };
        union::subtract(base, self.excludes.clone())
    }

    /// The strategy's parameters as the JSON object stored in meta `params`.
    pub fn params_json(&self) -> serde_json::Value {
        let cidrs = |ranges: &[Range]| -> Vec<String> {
            union::union_cidrs(ranges.to_vec())
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let mut params = json!({
            "strategy": self.strategy.name(),
            "includes": cidrs(&self.includes),
            "excludes": cidrs(&self.excludes),
            "batch_size": self.batch_size,
            "shuffle_seed": self.shuffle_seed,
        });
        if let Strategy::Stride { prefix } = self.strategy {
            params["stride_prefix"] = json!(prefix);
        }
        params
    }
}

/// The addresses of a plan: sorted, deduplicated, possibly empty. Fails on an invalid plan or
/// when the plan would produce more than [`MAX_IPS`] addresses.
pub fn generate_ips(plan: &SeedPlan) -> Result<Vec<u32>> {
    plan.validate()?;
    let allowed = plan.allowed();
    let ips = match plan.strategy {
        Strategy::Lattice2016 => {
            let mut ips = lattice2016_in(&allowed);
            retain_in(&mut ips, &allowed);
            ips
        }
        Strategy::Stride { prefix } => {
            let ranges = union::subtract(allowed, special::excluded().to_vec());
            let count: u64 = ranges.iter().map(|r| stride_count(*r, prefix)).sum();
            check_count(count)?;
            let mut ips = Vec::with_capacity(count as usize);
            for r in ranges {
                push_stride(r, prefix, &mut ips);
            }
            ips
        }
        Strategy::Ranges => {
            let count: u64 = allowed.iter().map(Range::size).sum();
            check_count(count)?;
            let mut ips = Vec::with_capacity(count as usize);
            for r in allowed {
                ips.extend(r.start..=r.end);
            }
            ips
        }
    };
    tracing::debug!(
        strategy = plan.strategy.name(),
        ips = ips.len(),
        "seed addresses generated"
    );
    Ok(ips)
}

fn check_count(count: u64) -> Result<()> {
    if count > MAX_IPS {
        return Err(Error::TooMany {
            count,
            max: MAX_IPS,
        });
    }
    Ok(())
}

/// Whether the 2016 generator dropped `ip` as reserved: the Python `ipaddr` library's
/// `is_multicast | is_private | is_link_local | is_loopback | is_reserved` of that time, i.e.
/// 224/4, 240/4, 10/8, 172.16/12, 192.168/16, 169.254/16 and 127/8 (hard-coded on purpose: the
/// modern special-purpose registry drops more and would not reproduce the list).
pub fn lattice2016_reserved(ip: u32) -> bool {
    let [a, b, ..] = ip.to_be_bytes();
    a >= 224
        || a == 10
        || a == 127
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 169 && b == 254)
}

/// The 2016 seed list, exactly as `gen_ips.py` produced it (before its shuffle), sorted:
/// first octet 1..=255 except [`LATTICE2016_SKIPPED_FIRST_OCTETS`], second 0..=255, third
/// 0, 12, ..., 252, fourth 1, 65, 129, 193, minus [`lattice2016_reserved`]. Always
/// [`LATTICE2016_COUNT`] addresses.
pub fn lattice2016() -> Vec<u32> {
    lattice2016_in(&[Range {
        start: 0,
        end: u32::MAX,
    }])
}

/// The lattice, generated only for the /8s that overlap `allowed` (sorted disjoint ranges);
/// the caller still filters the addresses themselves.
fn lattice2016_in(allowed: &[Range]) -> Vec<u32> {
    let mut out = Vec::with_capacity(if allowed.len() == 1 && allowed[0].size() == 1 << 32 {
        LATTICE2016_COUNT
    } else {
        0
    });
    let mut j = 0;
    for a in 1u32..=255 {
        if LATTICE2016_SKIPPED_FIRST_OCTETS.contains(&(a as u8)) {
            continue;
        }
        let slash8 = Range {
            start: a << 24,
            end: (a << 24) | 0x00ff_ffff,
        };
        while j < allowed.len() && allowed[j].end < slash8.start {
            j += 1;
        }
        if j == allowed.len() {
            break;
        }
        if !allowed[j].overlaps(&slash8) {
            continue;
        }
        for b in 0u32..=255 {
            let slash16 = (a << 24) | (b << 16);
            if lattice2016_reserved(slash16) {
                continue;
            }
            for c in (0u32..=255).step_by(LATTICE_THIRD_STEP as usize) {
                let slash24 = slash16 | (c << 8);
                out.extend(LATTICE_FOURTH.iter().map(|d| slash24 | d));
            }
        }
    }
    out
}

/// Keep only the addresses of the sorted `ips` that lie in the sorted disjoint `allowed`.
fn retain_in(ips: &mut Vec<u32>, allowed: &[Range]) {
    if allowed.len() == 1 && allowed[0].size() == 1 << 32 {
        return;
    }
    let mut j = 0;
    ips.retain(|&ip| {
        while j < allowed.len() && allowed[j].end < ip {
            j += 1;
        }
        j < allowed.len() && allowed[j].start <= ip
    });
}

/// Offset of the stride address inside its block: `base + 1` (not the network address) for
/// blocks of four or more addresses, `base` for /31 and /32.
fn stride_offset(prefix: u8) -> u64 {
    if prefix <= 30 { 1 } else { 0 }
}

/// One address per `/prefix` block of `range` that lies outside the IANA special-purpose
/// registry (and multicast), sorted. The address of a block is fixed (`base + 1`, or `base`
/// for /31 and /32), so a block only partly inside `range`, or partly special, contributes
/// its address only when that address itself is inside `range` and not special; this keeps
/// stride lists of the same prefix consistent whatever ranges they were cut from. A `prefix`
/// above 32 is treated as 32. Use [`stride_count`] first to bound the allocation.
pub fn stride_ips(range: Range, prefix: u8) -> Vec<u32> {
    let ranges = union::subtract(vec![range], special::excluded().to_vec());
    let count: u64 = ranges.iter().map(|r| stride_count(*r, prefix)).sum();
    let mut ips = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for r in ranges {
        push_stride(r, prefix, &mut ips);
    }
    ips
}

/// How many stride addresses of `/prefix` blocks fall inside `range` (special-purpose space
/// not removed; see [`stride_ips`]).
pub fn stride_count(range: Range, prefix: u8) -> u64 {
    let prefix = prefix.min(32);
    let block = 1i64 << (32 - prefix);
    let off = stride_offset(prefix) as i64;
    let (start, end) = (i64::from(range.start), i64::from(range.end));
    if end < off {
        return 0;
    }
    // Block indices k with start <= k*block + off <= end.
    let first = -((off - start).div_euclid(block));
    let last = (end - off).div_euclid(block);
    u64::try_from(last - first + 1).unwrap_or(0)
}

/// Append the stride addresses inside `range` (no special-purpose filtering) to `out`.
fn push_stride(range: Range, prefix: u8, out: &mut Vec<u32>) {
    let prefix = prefix.min(32);
    let block = 1u64 << (32 - prefix);
    let off = stride_offset(prefix);
    let (start, end) = (u64::from(range.start), u64::from(range.end));
    let mut base = start & !(block - 1);
    loop {
        let ip = base + off;
        if ip > end {
            break;
        }
        if ip >= start {
            out.push(ip as u32);
        }
        base += block;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdapfleet_ranges::{parse_cidr, parse_ipv4};
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> u32 {
        parse_ipv4(s).unwrap()
    }

    fn cidr(s: &str) -> Range {
        parse_cidr(s).unwrap()
    }

    fn dotted(ip: u32) -> String {
        Ipv4Addr::from(ip).to_string()
    }

    fn is_sorted_unique(v: &[u32]) -> bool {
        v.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn lattice_has_exactly_the_2016_count() {
        let l = lattice2016();
        assert_eq!(l.len(), LATTICE2016_COUNT);
        assert_eq!(l.len(), 4_706_768);
        assert!(is_sorted_unique(&l));
        assert_eq!(dotted(l[0]), "1.0.0.1");
        assert_eq!(dotted(l[1]), "1.0.0.65");
        assert_eq!(dotted(l[4]), "1.0.12.1");
        assert_eq!(dotted(*l.last().unwrap()), "223.255.252.193");
        // Every address is on the lattice.
        for &x in &l {
            let [a, _, c, d] = x.to_be_bytes();
            assert!(a >= 1 && !LATTICE2016_SKIPPED_FIRST_OCTETS.contains(&a));
            assert_eq!(c % 12, 0);
            assert!([1, 65, 129, 193].contains(&d));
            assert!(!lattice2016_reserved(x));
        }
    }

    #[test]
    fn lattice_exclusions_have_no_address_and_neighbours_do() {
        let l = lattice2016();
        let in_block = |r: Range| {
            let i = l.partition_point(|&x| x < r.start);
            i < l.len() && l[i] <= r.end
        };
        // Each skipped first octet is empty; its neighbours (when not skipped) are not.
        for a in LATTICE2016_SKIPPED_FIRST_OCTETS {
            let a = u32::from(a);
            assert!(!in_block(cidr(&format!("{a}.0.0.0/8"))), "{a}/8");
            for n in [a - 1, a + 1] {
                if n >= 1 && !LATTICE2016_SKIPPED_FIRST_OCTETS.contains(&(n as u8)) {
                    assert!(in_block(cidr(&format!("{n}.0.0.0/8"))), "{n}/8");
                }
            }
        }
        assert!(!in_block(cidr("0.0.0.0/8")));
        // The reserved blocks of 2016 and their neighbours.
        for (block, before, after) in [
            ("224.0.0.0/4", "223.0.0.0/8", None),
            ("240.0.0.0/4", "223.0.0.0/8", None),
            ("10.0.0.0/8", "8.0.0.0/8", Some("11.0.0.0/8")),
            ("127.0.0.0/8", "126.0.0.0/8", Some("128.0.0.0/8")),
            ("172.16.0.0/12", "172.15.0.0/16", Some("172.32.0.0/16")),
            ("192.168.0.0/16", "192.167.0.0/16", Some("192.169.0.0/16")),
            ("169.254.0.0/16", "169.253.0.0/16", Some("169.255.0.0/16")),
        ] {
            assert!(!in_block(cidr(block)), "{block}");
            assert!(in_block(cidr(before)), "{before}");
            if let Some(after) = after {
                assert!(in_block(cidr(after)), "{after}");
            }
        }
        // Not dropped in 2016 although the modern registry lists them.
        assert!(l.binary_search(&ip("100.64.0.1")).is_ok());
        assert!(l.binary_search(&ip("198.18.0.1")).is_ok());
        assert!(l.binary_search(&ip("192.0.0.1")).is_ok());
        assert!(l.binary_search(&ip("172.15.252.193")).is_ok());
        assert!(l.binary_search(&ip("172.32.0.1")).is_ok());
    }

    #[test]
    fn lattice_respects_includes_and_excludes() {
        let mut plan = SeedPlan::new(Strategy::Lattice2016);
        plan.includes = vec![cidr("1.0.0.0/8"), cidr("10.0.0.0/8"), cidr("172.0.0.0/11")];
        plan.excludes = vec![cidr("1.128.0.0/9")];
        let ips = generate_ips(&plan).unwrap();
        // 1/8 lower half: 128 * 22 * 4; 10/8 none; 172.0/11 minus 172.16/12: 16 /16s.
        assert_eq!(ips.len(), 128 * 88 + 16 * 88);
        assert!(is_sorted_unique(&ips));
        assert_eq!(dotted(ips[0]), "1.0.0.1");
        assert_eq!(dotted(*ips.last().unwrap()), "172.15.252.193");
        plan.excludes = vec![cidr("0.0.0.0/0")];
        assert!(generate_ips(&plan).unwrap().is_empty());
    }

    #[test]
    fn stride_picks_base_plus_one_outside_special_space() {
        assert_eq!(
            stride_ips(cidr("8.8.0.0/22"), 24)
                .into_iter()
                .map(dotted)
                .collect::<Vec<_>>(),
            ["8.8.0.1", "8.8.1.1", "8.8.2.1", "8.8.3.1"]
        );
        // /31 and /32 pick the base.
        assert_eq!(
            stride_ips(cidr("8.8.8.0/30"), 31),
            [ip("8.8.8.0"), ip("8.8.8.2")]
        );
        assert_eq!(stride_ips(cidr("8.8.8.0/30"), 32).len(), 4);
        assert_eq!(stride_ips(cidr("8.8.8.0/30"), 30), [ip("8.8.8.1")]);
        // Special space yields nothing.
        assert!(stride_ips(cidr("10.0.0.0/8"), 24).is_empty());
        assert!(stride_ips(cidr("224.0.0.0/3"), 16).is_empty());
        // A block partly special keeps its address when that address is not special:
        // 100.0.0.0/8 holds 100.64.0.0/10 (shared address space), 100.0.0.1 stays.
        assert_eq!(stride_ips(cidr("100.0.0.0/8"), 8), [ip("100.0.0.1")]);
        // ... and loses it when it is: 192.0.0.0/16 starts with the special 192.0.0.0/24.
        assert!(stride_ips(cidr("192.0.0.0/16"), 16).is_empty());
        let s24 = stride_ips(cidr("192.0.0.0/16"), 24);
        assert_eq!(s24.len(), 254); // all but 192.0.0.0/24 and 192.0.2.0/24 (TEST-NET-1)
        assert_eq!(dotted(s24[0]), "192.0.1.1");
        assert_eq!(dotted(s24[1]), "192.0.3.1");
        // A range narrower than the block keeps the block's address only if it contains it.
        assert_eq!(stride_ips(cidr("8.8.8.0/26"), 24), [ip("8.8.8.1")]);
        assert!(stride_ips(cidr("8.8.8.128/25"), 24).is_empty());
    }

    #[test]
    fn stride_count_matches_stride_ips() {
        for (r, p) in [
            ("0.0.0.0/0", 8),
            ("8.0.0.0/8", 24),
            ("8.8.8.0/24", 32),
            ("8.8.8.0/24", 31),
            ("8.8.8.0/24", 30),
            ("8.8.8.1", 24),
            ("8.8.8.2", 24),
            ("0.0.0.0", 24),
            ("255.255.255.255", 32),
        ] {
            let mut v = Vec::new();
            push_stride(cidr(r), p, &mut v);
            assert_eq!(stride_count(cidr(r), p), v.len() as u64, "{r} /{p}");
        }
        let odd = Range::new(ip("8.8.7.200"), ip("8.8.10.0")).unwrap();
        assert_eq!(stride_count(odd, 24), 2); // 8.8.8.1, 8.8.9.1
        assert_eq!(stride_count(cidr("0.0.0.0/0"), 24), 1 << 24);
    }

    #[test]
    fn stride_over_everything() {
        let plan = SeedPlan::new(Strategy::Stride { prefix: 16 });
        let ips = generate_ips(&plan).unwrap();
        assert!(is_sorted_unique(&ips));
        assert!(ips.iter().all(|&x| !special::is_special(x)));
        assert!(ips.iter().all(|&x| x & 0xffff == 1));
        assert_eq!(dotted(ips[0]), "1.0.0.1");
        assert_eq!(dotted(*ips.last().unwrap()), "223.255.0.1");
        // Every /16 whose .0.1 is not special has its address.
        let want = (0u32..1 << 16)
            .filter(|b| !special::is_special((b << 16) | 1))
            .count();
        assert_eq!(ips.len(), want);
        // Includes and excludes restrict.
        let mut plan = SeedPlan::new(Strategy::Stride { prefix: 24 });
        plan.includes = vec![cidr("8.0.0.0/8"), cidr("10.0.0.0/8")];
        plan.excludes = vec![cidr("8.128.0.0/9"), cidr("8.0.0.1")];
        let ips = generate_ips(&plan).unwrap();
        assert_eq!(ips.len(), (1 << 15) - 1);
        assert_eq!(dotted(ips[0]), "8.0.1.1");
        assert_eq!(dotted(*ips.last().unwrap()), "8.127.255.1");
    }

    #[test]
    fn ranges_strategy_takes_every_address() {
        let mut plan = SeedPlan::new(Strategy::Ranges);
        assert!(matches!(generate_ips(&plan), Err(Error::InvalidPlan(_))));
        plan.includes = vec![
            cidr("192.0.2.0/24"),
            cidr("192.0.2.128/25"),
            cidr("8.8.8.8"),
        ];
        plan.excludes = vec![cidr("192.0.2.0/30")];
        let ips = generate_ips(&plan).unwrap();
        assert_eq!(ips.len(), 1 + 252);
        assert!(is_sorted_unique(&ips));
        assert_eq!(dotted(ips[0]), "8.8.8.8");
        assert_eq!(dotted(ips[1]), "192.0.2.4");
        plan.includes = vec![cidr("0.0.0.0/0")];
        assert!(matches!(generate_ips(&plan), Err(Error::TooMany { .. })));
    }

    #[test]
    fn plans_are_validated() {
        let mut plan = SeedPlan::new(Strategy::Stride { prefix: 7 });
        assert!(matches!(generate_ips(&plan), Err(Error::InvalidPlan(_))));
        plan.strategy = Strategy::Stride { prefix: 33 };
        assert!(matches!(generate_ips(&plan), Err(Error::InvalidPlan(_))));
        plan.strategy = Strategy::Stride { prefix: 32 };
        plan.includes = vec![cidr("8.8.8.0/24")];
        assert_eq!(generate_ips(&plan).unwrap().len(), 256);
        plan.batch_size = 0;
        assert!(matches!(generate_ips(&plan), Err(Error::InvalidPlan(_))));
        // A whole-space /32 stride is refused before allocating.
        let plan = SeedPlan::new(Strategy::Stride { prefix: 32 });
        assert!(matches!(generate_ips(&plan), Err(Error::TooMany { .. })));
    }

    #[test]
    fn params_are_recorded() {
        let mut plan = SeedPlan::new(Strategy::Stride { prefix: 20 });
        plan.includes = vec![cidr("8.0.0.0/8"), cidr("9.0.0.0/8")];
        let p = plan.params_json();
        assert_eq!(p["strategy"], "stride");
        assert_eq!(p["stride_prefix"], 20);
        assert_eq!(p["includes"], json!(["8.0.0.0/7"]));
        assert_eq!(p["excludes"], json!([]));
        assert_eq!(p["batch_size"], 1000);
        assert_eq!(p["shuffle_seed"], 2016);
    }
}
