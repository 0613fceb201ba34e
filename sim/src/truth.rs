//! Ground truth for tests and operators: what the world says about an address, independent of
//! HTTP (`rdapfleet-sim truth IP...`, one JSON line per address).

use std::net::Ipv4Addr;

use rdapfleet_rdap::Registry;
use serde::Serialize;

use crate::names;
use crate::world::World;

/// The truth about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truth {
    /// The address asked about.
    pub ip: String,
    /// Whether any network contains it (false: every registry answers 404).
    pub allocated: bool,
    /// The registry the bootstrap file sends the address to (IANA's /8 designation).
    pub designated: Option<Registry>,
    /// The registry holding the most specific network (answers 200; others redirect to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// First address of the most specific network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Last address of the most specific network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Its handle, as the registry writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Whether its type marks an assignment (nothing registered inside it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf: Option<bool>,
    /// Its registry `type` string.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Its parent's handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_handle: Option<String>,
    /// Its organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// The truth about `ip` in `world`.
pub fn truth(world: &World, ip: u32) -> Truth {
    let mut t = Truth {
        ip: Ipv4Addr::from(ip).to_string(),
        allocated: false,
        designated: world.designated(ip),
        registry: None,
        start: None,
        end: None,
        handle: None,
        leaf: None,
        kind: None,
        parent_handle: None,
        org: None,
    };
    if let Some(id) = world.lookup(ip) {
        let n = world.net(id);
        t.allocated = true;
        t.registry = Some(n.registry);
        t.start = Some(Ipv4Addr::from(n.range.start).to_string());
        t.end = Some(Ipv4Addr::from(n.range.end).to_string());
        t.handle = Some(names::handle(n));
        t.leaf = Some(n.kind.is_leaf());
        t.kind = Some(names::type_str(n.registry, n.kind));
        t.parent_handle = names::parent_handle(world, n);
        t.org = world.org(n).map(str::to_string);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocated_and_not() {
        let w = World::synthetic();
        let t = truth(&w, u32::from(Ipv4Addr::new(2, 57, 164, 9)));
        assert_eq!(t.registry, Some(Registry::Arin));
        assert_eq!(t.designated, Some(Registry::RipeNcc));
        assert_eq!(t.handle.as_deref(), Some("NET-2-57-164-0-2"));
        assert_eq!(t.leaf, Some(true));
        let gap = truth(&w, u32::from(Ipv4Addr::new(4, 4, 4, 4)));
        assert!(!gap.allocated);
        let line = serde_json::to_string(&gap).unwrap();
        assert_eq!(
            line,
            r#"{"ip":"4.4.4.4","allocated":false,"designated":"arin"}"#
        );
    }
}
