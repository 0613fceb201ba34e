//! The inclusive IPv4 range, strict parsing of operator input, and CIDR conversion.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{Ipv4Net, Ipv4Subnets};
use thiserror::Error;

/// Input that is not an IPv4 address, CIDR or range.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// Not a dotted-quad IPv4 address.
    #[error("invalid IPv4 address {0:?}")]
    Address(String),
    /// Not `a.b.c.d/len` with len 0..=32.
    #[error("invalid IPv4 CIDR {0:?} (expected a.b.c.d/len with len 0..=32)")]
    Cidr(String),
    /// A CIDR whose address has bits set beyond its prefix length.
    #[error("invalid IPv4 CIDR {input:?}: host bits set (did you mean {canonical}?)")]
    HostBits {
        /// What was typed.
        input: String,
        /// The network it probably meant.
        canonical: String,
    },
    /// A range whose end precedes its start.
    #[error("invalid IPv4 range: end {end} is before start {start}")]
    Inverted {
        /// First address given.
        start: String,
        /// Last address given.
        end: String,
    },
}

/// An inclusive range of IPv4 addresses, `start..=end`; never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Range {
    /// First address.
    pub start: u32,
    /// Last address (inclusive).
    pub end: u32,
}

impl Range {
    /// The range `start..=end`; errors when `end < start`.
    pub fn new(start: u32, end: u32) -> Result<Self, RangeError> {
        if end < start {
            return Err(RangeError::Inverted {
                start: Ipv4Addr::from(start).to_string(),
                end: Ipv4Addr::from(end).to_string(),
            });
        }
        Ok(Self { start, end })
    }

    /// The range covered by a CIDR.
    pub fn from_net(net: Ipv4Net) -> Self {
        Self {
            start: u32::from(net.network()),
            end: u32::from(net.broadcast()),
        }
    }

    /// Number of addresses (1 ..= 2^32).
    pub fn size(&self) -> u64 {
        u64::from(self.end) - u64::from(self.start) + 1
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: u32) -> bool {
        self.start <= ip && ip <= self.end
    }

    /// Whether `other` lies wholly inside this range.
    pub fn contains_range(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the two ranges share at least one address.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// The minimal list of CIDRs whose union is exactly this range.
    pub fn cidrs(&self) -> Vec<Ipv4Net> {
        to_cidrs(self.start, self.end)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} - {}",
            Ipv4Addr::from(self.start),
            Ipv4Addr::from(self.end)
        )
    }
}

/// The minimal list of CIDRs covering exactly `start..=end` (empty when `end < start`).
pub fn to_cidrs(start: u32, end: u32) -> Vec<Ipv4Net> {
    if end < start {
        return Vec::new();
    }
    Ipv4Subnets::new(Ipv4Addr::from(start), Ipv4Addr::from(end), 0).collect()
}

/// Parse a dotted-quad IPv4 address typed by a person (strict: no zero padding tricks).
pub fn parse_ipv4(s: &str) -> Result<u32, RangeError> {
    s.trim()
        .parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| RangeError::Address(s.to_string()))
}

/// Parse `a.b.c.d/len` strictly: the address must be the network address of the prefix.
/// A bare address is accepted as a `/32`.
pub fn parse_cidr(s: &str) -> Result<Range, RangeError> {
    let t = s.trim();
    if !t.contains('/') {
        let ip = parse_ipv4(t).map_err(|_| RangeError::Cidr(s.to_string()))?;
        return Ok(Range { start: ip, end: ip });
    }
    let net: Ipv4Net = t.parse().map_err(|_| RangeError::Cidr(s.to_string()))?;
    if net.addr() != net.network() {
        return Err(RangeError::HostBits {
            input: s.to_string(),
            canonical: net.trunc().to_string(),
        });
    }
    Ok(Range::from_net(net))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_cidrs_strictly() {
        assert_eq!(
            parse_cidr("10.0.0.0/8").unwrap(),
            Range {
                start: 10 << 24,
                end: (11 << 24) - 1
            }
        );
        assert_eq!(parse_cidr("0.0.0.0/0").unwrap().size(), 1 << 32);
        assert_eq!(parse_cidr("1.2.3.4").unwrap().size(), 1);
        assert!(matches!(
            parse_cidr("10.0.0.1/8"),
            Err(RangeError::HostBits { .. })
        ));
        for bad in [
            "",
            "10.0.0.0/33",
            "256.0.0.0/8",
            "10.0.0/8",
            "abc",
            "10.0.0.0/-1",
            "::/0",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
        assert!(parse_ipv4("074.125.0.0").is_err());
    }

    #[test]
    fn known_multi_cidr_range() {
        // ARIN's 13.64.0.0 - 13.107.255.255 is three prefixes.
        let r = Range::new(
            u32::from(Ipv4Addr::new(13, 64, 0, 0)),
            u32::from(Ipv4Addr::new(13, 107, 255, 255)),
        )
        .unwrap();
        let c: Vec<String> = r.cidrs().iter().map(|n| n.to_string()).collect();
        assert_eq!(c, ["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"]);
    }

    proptest! {
        #[test]
        fn range_to_cidrs_and_back_is_exact(a in any::<u32>(), b in any::<u32>()) {
            let (start, end) = (a.min(b), a.max(b));
            let cidrs = to_cidrs(start, end);
            prop_assert!(!cidrs.is_empty() && cidrs.len() <= 62);
            // Contiguous, ascending, exact cover.
            let mut next = u64::from(start);
            for n in &cidrs {
                let r = Range::from_net(*n);
                prop_assert_eq!(u64::from(r.start), next);
                next = u64::from(r.end) + 1;
            }
            prop_assert_eq!(next, u64::from(end) + 1);
            // Minimal: no two neighbours merge into one prefix.
            for w in cidrs.windows(2) {
                prop_assert!(!(w[0].prefix_len() == w[1].prefix_len() && w[0].supernet() == w[1].supernet()));
            }
        }
    }
}
