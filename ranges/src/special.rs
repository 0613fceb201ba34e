//! The IANA IPv4 Special-Purpose Address Registry, shipped in the repository as data
//! (`ranges/data/iana-ipv4-special-registry.csv`, provenance in `ranges/data/PROVENANCE.md`),
//! plus the multicast block 224.0.0.0/4 from the IANA IPv4 Address Space Registry, which the
//! special-purpose registry does not list but which no RIR holds.

use std::sync::OnceLock;

use crate::range::{Range, parse_cidr};
use crate::union::merge;

/// The registry file, as published by IANA.
pub const REGISTRY_CSV: &str = include_str!("../data/iana-ipv4-special-registry.csv");

/// One block of the special-purpose registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialBlock {
    /// The block's addresses.
    pub range: Range,
    /// The registry's name for it ("Private-Use", "Loopback", ...).
    pub name: String,
}

/// Every block of the registry (some nest inside others), then multicast.
pub fn blocks() -> &'static [SpecialBlock] {
    static BLOCKS: OnceLock<Vec<SpecialBlock>> = OnceLock::new();
    BLOCKS.get_or_init(|| parse_registry(REGISTRY_CSV).expect("shipped registry parses"))
}

/// The union of all special-purpose blocks and multicast, as sorted disjoint ranges.
pub fn excluded() -> &'static [Range] {
    static EXCLUDED: OnceLock<Vec<Range>> = OnceLock::new();
    EXCLUDED.get_or_init(|| merge(blocks().iter().map(|b| b.range).collect()))
}

/// Whether `ip` is special-purpose (or multicast).
pub fn is_special(ip: u32) -> bool {
    let ex = excluded();
    let i = ex.partition_point(|r| r.end < ip);
    i < ex.len() && ex[i].contains(ip)
}

/// Parse the registry's CSV form. The address cell may hold several CIDRs and footnote marks
/// ("192.0.0.0/24 [2]", "192.0.0.170/32, 192.0.0.171/32").
pub fn parse_registry(csv_text: &str) -> Result<Vec<SpecialBlock>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let mut out = Vec::new();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("special registry row {}: {e}", line + 2))?;
        let cell = rec.get(0).unwrap_or_default();
        let name = rec
            .get(1)
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .to_string();
        let mut found = false;
        for token in cell.split([',', ' ']).filter(|t| t.contains('/')) {
            let range =
                parse_cidr(token).map_err(|e| format!("special registry row {}: {e}", line + 2))?;
            out.push(SpecialBlock {
                range,
                name: name.clone(),
            });
            found = true;
        }
        if !found {
            return Err(format!(
                "special registry row {}: no CIDR in {cell:?}",
                line + 2
            ));
        }
    }
    out.push(SpecialBlock {
        range: parse_cidr("224.0.0.0/4").expect("literal"),
        name: "Multicast".to_string(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_ipv4;

    #[test]
    fn registry_has_the_well_known_blocks() {
        for (ip, want) in [
            ("10.1.2.3", true),
            ("127.0.0.1", true),
            ("100.64.0.1", true),
            ("169.254.1.1", true),
            ("172.31.255.255", true),
            ("172.32.0.0", false),
            ("192.0.0.171", true),
            ("192.168.1.1", true),
            ("198.19.0.1", true),
            ("224.0.0.1", true),
            ("239.255.255.255", true),
            ("240.0.0.1", true),
            ("255.255.255.255", true),
            ("8.8.8.8", false),
            ("1.1.1.1", false),
            ("0.1.2.3", true),
        ] {
            assert_eq!(is_special(parse_ipv4(ip).unwrap()), want, "{ip}");
        }
        assert!(blocks().len() >= 25);
    }
}
