//! The normalized network (DESIGN.md §4): what `parse`, `lookup`, the results table and the
//! export share. The raw RDAP JSON is kept by the caller, alongside, never instead.

use std::net::{IpAddr, Ipv4Addr};

use rdapfleet_ranges::Range;
use serde::{Deserialize, Serialize};

use crate::registry::Registry;

/// IP version of a network (`"v4"` / `"v6"` in JSON, as RDAP's `ipVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpVersion {
    /// IPv4.
    #[serde(rename = "v4")]
    V4,
    /// IPv6.
    #[serde(rename = "v6")]
    V6,
}

impl IpVersion {
    /// The version of an address.
    pub fn of(ip: &IpAddr) -> IpVersion {
        match ip {
            IpAddr::V4(_) => IpVersion::V4,
            IpAddr::V6(_) => IpVersion::V6,
        }
    }

    /// `"v4"` or `"v6"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpVersion::V4 => "v4",
            IpVersion::V6 => "v6",
        }
    }
}

/// One registered network, normalized from any registry's RDAP dialect.
///
/// JSON names are a contract shared with the coordinator, the export and the simulator: do not
/// rename. Addresses are canonical text (`74.125.0.0`, never `074.125.000.000`; IPv6 compressed
/// lowercase). `start_address <= end_address`, both of `ip_version`, and `cidrs` is exactly the
/// range (from `cidr0_cidrs` when those agree with the range, computed otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// First address of the network.
    pub start_address: String,
    /// Last address of the network (inclusive).
    pub end_address: String,
    /// The minimal CIDR list whose union is exactly `start_address..=end_address`.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// The registry's handle (`NET-3-0-0-0-1`, `1.1.1.0 - 1.1.1.255`, `179.0.0.0/23`, ...).
    #[serde(default)]
    pub handle: Option<String>,
    /// The network name (netname).
    #[serde(default)]
    pub name: Option<String>,
    /// The registry's classification, verbatim (`DIRECT ALLOCATION`, `ASSIGNED PA`, `assigned`).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Two-letter country code, when given.
    #[serde(default)]
    pub country: Option<String>,
    /// Handle of the parent network, when given.
    #[serde(default)]
    pub parent_handle: Option<String>,
    /// RDAP status values (`active`, ...).
    #[serde(default)]
    pub status: Vec<String>,
    /// The registry that answered: from the final URL when fetched by the client, else from the
    /// response's self link or port43 server.
    #[serde(default)]
    pub registry: Option<Registry>,
    /// Origin AS numbers (ARIN's `arin_originas0_originautnums`), when given.
    #[serde(default)]
    pub origin_asns: Vec<u32>,
    /// The registrant organisation's name (vCard `fn`/`org` of the entity with role registrant).
    #[serde(default)]
    pub registrant: Option<String>,
    /// E-mail addresses of entities with role abuse, at any depth, de-duplicated.
    #[serde(default)]
    pub abuse_emails: Vec<String>,
    /// `eventDate` of the `registration` event, verbatim.
    #[serde(default)]
    pub registration_date: Option<String>,
    /// `eventDate` of the `last changed` event, verbatim.
    #[serde(default)]
    pub last_changed_date: Option<String>,
    /// Where the answer came from: the URL fetched (client) or the response's self link (parse).
    #[serde(default)]
    pub source_url: Option<String>,
    /// IPv4 or IPv6.
    pub ip_version: IpVersion,
    /// Whether the registry's `type` marks an assignment (a leaf), see [`is_leaf_type`].
    #[serde(default)]
    pub leaf: bool,
}

impl Network {
    /// The IPv4 range of the network; `None` for IPv6 networks (or unparsable addresses, which
    /// [`crate::parse()`] never produces).
    pub fn v4_range(&self) -> Option<Range> {
        if self.ip_version != IpVersion::V4 {
            return None;
        }
        let start: Ipv4Addr = self.start_address.parse().ok()?;
        let end: Ipv4Addr = self.end_address.parse().ok()?;
        Range::new(u32::from(start), u32::from(end)).ok()
    }

    /// Whether `ip` lies between the network's start and end addresses (same address family;
    /// `false` when the bounds do not parse, which [`crate::parse()`] never produces).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (
            self.start_address.parse::<IpAddr>(),
            self.end_address.parse::<IpAddr>(),
        ) {
            (Ok(IpAddr::V4(s)), Ok(IpAddr::V4(e))) => {
                matches!(ip, IpAddr::V4(a) if s <= a && a <= e)
            }
            (Ok(IpAddr::V6(s)), Ok(IpAddr::V6(e))) => {
                matches!(ip, IpAddr::V6(a) if s <= a && a <= e)
            }
            _ => false,
        }
    }
}

/// Whether a registry `type` string marks an **assignment** (a leaf: space handed to an end
/// user, with nothing registered inside it) rather than an allocation (space handed to an ISP or
/// LIR that registers assignments inside it).
///
/// Comparison ignores case, surrounding blanks and the difference between `-`, `_` and blanks.
///
/// | registry | leaf (assignment) | not a leaf (allocation) |
/// |---|---|---|
/// | ARIN | `ASSIGNMENT`, `ASSIGNED`, `DIRECT ASSIGNMENT`, `REASSIGNMENT`, `REASSIGNED` | `DIRECT ALLOCATION`, `ALLOCATION`, `REALLOCATION`, `REALLOCATED` |
/// | RIPE NCC, AFRINIC | `ASSIGNED PA`, `ASSIGNED PI`, `ASSIGNED ANYCAST`, IPv6 `ASSIGNED` | `ALLOCATED PA`, `ALLOCATED PI`, `SUB-ALLOCATED PA`, `LEGACY`, IPv6 `ALLOCATED-BY-RIR`, `ALLOCATED-BY-LIR`, `AGGREGATED-BY-LIR` |
/// | APNIC | `ASSIGNED PORTABLE`, `ASSIGNED NON-PORTABLE` | `ALLOCATED PORTABLE`, `ALLOCATED NON-PORTABLE` |
/// | LACNIC, NIC.br | `assigned`, `reassigned` | `allocated`, `reallocated`, `ALLOCATED` |
///
/// Anything else (including a missing type) is not a leaf: under the `leaf` skip policy an
/// unknown type costs extra lookups inside it, never a missed assignment.
pub fn is_leaf_type(kind: &str) -> bool {
    const LEAVES: [&str; 10] = [
        "ASSIGNMENT",
        "ASSIGNED",
        "DIRECT ASSIGNMENT",
        "REASSIGNMENT",
        "REASSIGNED",
        "ASSIGNED PA",
        "ASSIGNED PI",
        "ASSIGNED ANYCAST",
        "ASSIGNED PORTABLE",
        "ASSIGNED NON PORTABLE",
    ];
    let mut norm = String::with_capacity(kind.len());
    for word in kind
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
    {
        if !norm.is_empty() {
            norm.push(' ');
        }
        norm.push_str(&word.to_ascii_uppercase());
    }
    LEAVES.contains(&norm.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_table() {
        let leaves = [
            // ARIN
            "ASSIGNMENT",
            "DIRECT ASSIGNMENT",
            "REASSIGNED",
            "REASSIGNMENT",
            // RIPE NCC / AFRINIC
            "ASSIGNED PA",
            "ASSIGNED PI",
            "ASSIGNED ANYCAST",
            "Assigned",
            // APNIC
            "ASSIGNED PORTABLE",
            "ASSIGNED NON-PORTABLE",
            // LACNIC
            "assigned",
            "reassigned",
            // spelling variants
            " assigned   pa ",
            "ASSIGNED_NON_PORTABLE",
        ];
        for t in leaves {
            assert!(is_leaf_type(t), "{t:?} should be a leaf");
        }
        let not_leaves = [
            "DIRECT ALLOCATION",
            "ALLOCATION",
            "REALLOCATION",
            "REALLOCATED",
            "ALLOCATED PA",
            "SUB-ALLOCATED PA",
            "ALLOCATED-BY-RIR",
            "ALLOCATED-BY-LIR",
            "AGGREGATED-BY-LIR",
            "LEGACY",
            "ALLOCATED PORTABLE",
            "ALLOCATED NON-PORTABLE",
            "allocated",
            "ALLOCATED",
            "",
            "ASSIGNEDPA",
            "NOT ASSIGNED PA",
        ];
        for t in not_leaves {
            assert!(!is_leaf_type(t), "{t:?} should not be a leaf");
        }
    }

    #[test]
    fn v4_range_only_for_v4() {
        let mut n = Network {
            start_address: "10.0.0.0".into(),
            end_address: "10.0.0.255".into(),
            cidrs: vec!["10.0.0.0/24".into()],
            handle: None,
            name: None,
            kind: None,
            country: None,
            parent_handle: None,
            status: vec![],
            registry: None,
            origin_asns: vec![],
            registrant: None,
            abuse_emails: vec![],
            registration_date: None,
            last_changed_date: None,
            source_url: None,
            ip_version: IpVersion::V4,
            leaf: false,
        };
        assert_eq!(
            n.v4_range(),
            Some(Range::new(10 << 24, (10 << 24) + 255).unwrap())
        );
        n.ip_version = IpVersion::V6;
        assert_eq!(n.v4_range(), None);
    }
}
