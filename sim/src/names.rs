//! Deterministic identities: network handles, parent handles, names, types, organisation and
//! contact handles, e-mail addresses, per registry, in the styles the real registries use.
//!
//! | registry | network handle | parent of a delegation |
//! |---|---|---|
//! | ARIN | `NET-a-b-c-d-N`, N = depth + 1 | `NET-a-0-0-0-0` (the /8) |
//! | RIPE NCC, APNIC, AFRINIC | `a.b.c.d - e.f.g.h` | `a.0.0.0 - a.255.255.255` |
//! | LACNIC | `a.b.c.d/len` (a range that is not one CIDR: `a.b.c.d - e.f.g.h`) | none (LACNIC gives no parent handles) |
//!
//! Contacts use the reserved `.example` domain: the organisation names are real, the
//! addresses are not, and no real mailbox is ever named.

use std::net::Ipv4Addr;

use rdapfleet_rdap::Registry;

use crate::world::{Kind, NONE, Net, World, mix};

/// The registry `type` string of a network.
pub fn type_str(registry: Registry, kind: Kind) -> &'static str {
    use Kind::*;
    use Registry::*;
    match (registry, kind) {
        (Arin, Allocation) => "DIRECT ALLOCATION",
        (Arin, DirectAssignment) => "DIRECT ASSIGNMENT",
        (Arin, SubAllocation) => "REALLOCATION",
        (Arin, Reassignment) => "REASSIGNED",
        (RipeNcc | Afrinic, Allocation) => "ALLOCATED PA",
        (RipeNcc | Afrinic, DirectAssignment) => "ASSIGNED PI",
        (RipeNcc | Afrinic, SubAllocation) => "SUB-ALLOCATED PA",
        (RipeNcc | Afrinic, Reassignment) => "ASSIGNED PA",
        (Apnic, Allocation) => "ALLOCATED PORTABLE",
        (Apnic, DirectAssignment) => "ASSIGNED PORTABLE",
        (Apnic, SubAllocation) => "ALLOCATED NON-PORTABLE",
        (Apnic, Reassignment) => "ASSIGNED NON-PORTABLE",
        (Lacnic, Allocation) => "allocated",
        (Lacnic, DirectAssignment) => "assigned",
        (Lacnic, SubAllocation) => "reallocated",
        (Lacnic, Reassignment) => "reassigned",
    }
}

fn dashed(ip: u32) -> String {
    let o = Ipv4Addr::from(ip).octets();
    format!("{}-{}-{}-{}", o[0], o[1], o[2], o[3])
}

fn range_text(net: &Net) -> String {
    format!(
        "{} - {}",
        Ipv4Addr::from(net.range.start),
        Ipv4Addr::from(net.range.end)
    )
}

/// The single CIDR equal to the network's range, if it is one.
pub fn single_cidr(net: &Net) -> Option<String> {
    let cidrs = net.range.cidrs();
    (cidrs.len() == 1).then(|| cidrs[0].to_string())
}

/// The network's handle.
pub fn handle(net: &Net) -> String {
    match net.registry {
        Registry::Arin => format!(
            "NET-{}-{}",
            dashed(net.range.start),
            u32::from(net.depth) + 1
        ),
        Registry::Lacnic => single_cidr(net).unwrap_or_else(|| range_text(net)),
        _ => range_text(net),
    }
}

/// The parent network's handle, as the registry would give it (`None` where it gives none).
pub fn parent_handle(world: &World, net: &Net) -> Option<String> {
    if net.registry == Registry::Lacnic {
        return None; // LACNIC's answers carry no parentHandle
    }
    if net.parent != NONE {
        return Some(handle(world.net(net.parent)));
    }
    let a = net.range.start >> 24;
    match net.registry {
        Registry::Arin => Some(format!("NET-{a}-0-0-0-0")),
        Registry::Lacnic => None,
        _ => Some(format!("{a}.0.0.0 - {a}.255.255.255")),
    }
}

/// Upper-case ASCII slug of an organisation name (`Cloudflare, Inc.` -> `CLOUDFLARE-INC`),
/// at most `max` characters.
pub fn slug(org: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in org.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_uppercase());
            if out.len() >= max {
                break;
            }
        } else {
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("ORG");
    }
    out
}

/// Initials of up to four words (`Cloudflare, Inc.` -> `CI`).
fn abbrev(org: &str) -> String {
    let s: String = org
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(4)
        .filter_map(|w| w.chars().next())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if s.is_empty() { "X".to_string() } else { s }
}

fn org_number(org: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in org.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h) % 999 + 1
}

/// The network name (netname).
pub fn name(world: &World, net: &Net) -> Option<String> {
    let org = world.org(net);
    let o = Ipv4Addr::from(net.range.start).octets();
    let cc = std::str::from_utf8(&net.cc).unwrap_or("ZZ");
    Some(match (net.registry, org) {
        (Registry::Lacnic, _) => return None,
        (Registry::Arin, Some(org)) => slug(org, 18),
        (Registry::Arin, None) => format!("NET-{}", dashed(net.range.start)),
        (Registry::RipeNcc, Some(org)) if net.depth == 0 => {
            let (y, m, d) = crate::dates::civil_from_days(i64::from(net.registered));
            format!("{cc}-{}-{y:04}{m:02}{d:02}", slug(org, 14))
        }
        (Registry::RipeNcc, Some(org)) => format!("{}-NET", slug(org, 16)),
        (Registry::Apnic, Some(org)) => format!("{}-{cc}", slug(org, 16)),
        (Registry::Afrinic, Some(org)) => slug(org, 18),
        (_, None) => format!("{cc}-NET-{}-{}", o[0], o[1]),
    })
}

/// Handle of the organisation entity (the registrant).
pub fn org_handle(registry: Registry, org: &str, cc: &str) -> String {
    let (a, n) = (abbrev(org), org_number(org));
    match registry {
        Registry::Arin => format!("{a}-{n}"),
        Registry::RipeNcc => format!("ORG-{a}{n}-RIPE"),
        Registry::Apnic => format!("ORG-{a}{n}-AP"),
        Registry::Lacnic => format!("{cc}-{a}{n}-LACNIC"),
        Registry::Afrinic => format!("ORG-{a}{n}-AFRINIC"),
    }
}

/// Handle of the abuse contact.
pub fn abuse_handle(registry: Registry, org: &str, cc: &str) -> String {
    let (a, n) = (abbrev(org), org_number(org));
    match registry {
        Registry::Arin => format!("ABUSE{n}-ARIN"),
        Registry::RipeNcc => format!("AR{n}-RIPE"),
        Registry::Apnic => format!("IRT-{}-{cc}", slug(org, 12)),
        Registry::Lacnic => format!("{a}{n}"),
        Registry::Afrinic => format!("AR{n}-AFRINIC"),
    }
}

/// Handle of the technical/administrative contact.
pub fn tech_handle(registry: Registry, org: &str) -> String {
    let (a, n) = (abbrev(org), org_number(org));
    match registry {
        Registry::Arin => format!("NOC{n}-ARIN"),
        Registry::RipeNcc => format!("{a}{n}-RIPE"),
        Registry::Apnic => format!("{a}{n}-AP"),
        Registry::Lacnic => format!("{a}{}", n + 1),
        Registry::Afrinic => format!("{a}{n}-AFRINIC"),
    }
}

/// A mail domain for an organisation under the reserved `.example` TLD.
pub fn mail_domain(org: &str) -> String {
    format!("{}.example", slug(org, 24).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn handles_per_registry() {
        let w = World::synthetic();
        let arin = w.net(w.lookup(ip("3.5.0.1")).unwrap());
        assert_eq!(handle(arin), "NET-3-5-0-0-2");
        assert_eq!(parent_handle(&w, arin).as_deref(), Some("NET-3-0-0-0-1"));
        let top = w.net(arin.parent);
        assert_eq!(parent_handle(&w, top).as_deref(), Some("NET-3-0-0-0-0"));
        let ripe = w.net(w.lookup(ip("193.0.6.139")).unwrap());
        assert_eq!(handle(ripe), "193.0.0.0 - 193.0.7.255");
        assert_eq!(
            parent_handle(&w, ripe).as_deref(),
            Some("193.0.0.0 - 193.0.23.255")
        );
        let lac = w.net(w.lookup(ip("179.0.0.1")).unwrap());
        assert_eq!(handle(lac), "179.0.0.0/23");
        assert_eq!(parent_handle(&w, lac), None);
        assert_eq!(type_str(lac.registry, lac.kind), "assigned");
        let apnic = w.net(w.lookup(ip("1.2.5.1")).unwrap());
        assert_eq!(
            type_str(apnic.registry, apnic.kind),
            "ASSIGNED NON-PORTABLE"
        );
        assert_eq!(handle(apnic), "1.2.4.0 - 1.2.9.255");
    }

    #[test]
    fn slugs_and_contacts() {
        assert_eq!(slug("Cloudflare, Inc.", 18), "CLOUDFLARE-INC");
        assert_eq!(slug("  ", 18), "ORG");
        assert_eq!(slug("Élan Networks", 18), "LAN-NETWORKS");
        assert_eq!(mail_domain("Cloudflare, Inc."), "cloudflare-inc.example");
        assert_eq!(
            org_handle(Registry::RipeNcc, "Orange S.A.", "FR"),
            org_handle(Registry::RipeNcc, "Orange S.A.", "FR")
        );
        assert!(abuse_handle(Registry::Arin, "Orange S.A.", "FR").ends_with("-ARIN"));
    }
}
