//! The RFC 9224 bootstrap file of a local world: every /8 to the base URL of the registry IANA
//! designates for it (legacy /8s to the registry IANA lists as their RDAP server), exactly as
//! IANA's `ipv4.json` does, so that blocks held by another registry are reached only through a
//! redirect.

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use crate::dialect::base_url;
use crate::world::World;

/// The bootstrap document for a world served at `origin` (`http://127.0.0.1:PORT`).
pub fn bootstrap(world: &World, origin: &str) -> Value {
    // IANA lists services in this order (afrinic, apnic, arin, lacnic, ripe).
    let order = [
        Registry::Afrinic,
        Registry::Apnic,
        Registry::Arin,
        Registry::Lacnic,
        Registry::RipeNcc,
    ];
    let services: Vec<Value> = order
        .iter()
        .filter_map(|&r| {
            let prefixes: Vec<String> = world
                .slash8()
                .iter()
                .enumerate()
                .filter(|(_, s)| s.registry == Some(r))
                .map(|(o, _)| format!("{o}.0.0.0/8"))
                .collect();
            (!prefixes.is_empty()).then(|| json!([prefixes, [format!("{}/", base_url(origin, r))]]))
        })
        .collect();
    json!({
        "description": "RDAP bootstrap file for IPv4 address allocations (rdapfleet-sim local world)",
        "publication": crate::dates::now_rfc3339(),
        "services": services,
        "version": "1.0"
    })
}

/// Write the bootstrap document for `origin` to `path` (pretty JSON).
pub fn write(world: &World, origin: &str, path: &std::path::Path) -> crate::Result<()> {
    let text = serde_json::to_string_pretty(&bootstrap(world, origin)).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|e| crate::Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_each_designated_slash8_once() {
        let w = World::synthetic();
        let b = bootstrap(&w, "http://127.0.0.1:9");
        let services = b["services"].as_array().unwrap();
        assert_eq!(services.len(), 5);
        let mut seen = std::collections::HashSet::new();
        for s in services {
            for p in s[0].as_array().unwrap() {
                assert!(seen.insert(p.as_str().unwrap().to_string()));
            }
        }
        let arin = services
            .iter()
            .find(|s| s[1][0] == "http://127.0.0.1:9/arin/registry/")
            .unwrap();
        assert!(arin[0].as_array().unwrap().contains(&json!("45.0.0.0/8")));
        assert!(!seen.contains("10.0.0.0/8"));
    }
}
