//! Loading the world tables: the ones shipped in the binary (`sim/data/`, embedded at compile
//! time) or the same files from a directory (`--world DIR`), restricted to `--only` slices.
//!
//! Files (produced by [`crate::derive`]; see `sim/data/PROVENANCE.md`):
//! - `iana-slash8.csv`: `prefix,registry,status,designation,whois`, one row per /8;
//! - `allocations-ipv4.csv.gz`: `start,end,cc,registry,status,date,source`, the registries'
//!   delegations (disjoint);
//! - `asn-ipv4-2026.csv.gz`: `start,end,asn,org`, routed ranges with their organisation, the
//!   more specific assignments.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use rdapfleet_ranges::Range;
use rdapfleet_rdap::Registry;

use crate::error::{Error, Result};

/// The shipped `/8` table.
pub const SHIPPED_SLASH8: &str = include_str!("../data/iana-slash8.csv");
/// The shipped delegations (gzip).
pub const SHIPPED_ALLOCATIONS: &[u8] = include_bytes!("../data/allocations-ipv4.csv.gz");
/// The shipped routed ranges with organisations (gzip).
pub const SHIPPED_ASSIGNMENTS: &[u8] = include_bytes!("../data/asn-ipv4-2026.csv.gz");

/// File names inside a world directory.
pub const SLASH8_FILE: &str = "iana-slash8.csv";
/// See [`SLASH8_FILE`].
pub const ALLOCATIONS_FILE: &str = "allocations-ipv4.csv.gz";
/// See [`SLASH8_FILE`].
pub const ASSIGNMENTS_FILE: &str = "asn-ipv4-2026.csv.gz";

/// Where world tables come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DataSource {
    /// The tables embedded in the binary.
    #[default]
    Shipped,
    /// A directory holding the three files.
    Dir(PathBuf),
}

/// One /8 of the IANA registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slash8 {
    /// The registry IANA designates (by its RDAP/WHOIS server); `None` for reserved space.
    pub registry: Option<Registry>,
    /// IANA status (`ALLOCATED`, `LEGACY`, `RESERVED`).
    pub status: String,
    /// IANA designation.
    pub designation: String,
}

/// One registry delegation (an allocation or a direct assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRow {
    /// The addresses.
    pub range: Range,
    /// Two-letter country code (`ZZ` when unknown).
    pub cc: [u8; 2],
    /// The registry that holds it.
    pub registry: Registry,
    /// Whether the delegated statistics call it `assigned` (else `allocated`).
    pub assigned: bool,
    /// Registration date `yyyymmdd`, when the statistics give one.
    pub date: Option<u32>,
}

/// One routed range with its origin AS and organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    /// The addresses.
    pub range: Range,
    /// Origin AS number.
    pub asn: u32,
    /// Organisation name.
    pub org: String,
}

/// Everything a world is built from.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// 256 entries, one per /8.
    pub slash8: Vec<Slash8>,
    /// Delegations, any order.
    pub allocations: Vec<AllocationRow>,
    /// Routed ranges, any order.
    pub assignments: Vec<AssignmentRow>,
}

/// Load the tables, keeping only delegations that overlap one of `only` (all when empty) and
/// the routed ranges that overlap a kept delegation.
pub fn load(source: &DataSource, only: &[Range]) -> Result<Tables> {
    let (slash8_text, alloc_gz, asn_gz, names) = match source {
        DataSource::Shipped => (
            SHIPPED_SLASH8.to_string(),
            SHIPPED_ALLOCATIONS.to_vec(),
            SHIPPED_ASSIGNMENTS.to_vec(),
            [
                format!("(shipped) {SLASH8_FILE}"),
                format!("(shipped) {ALLOCATIONS_FILE}"),
                format!("(shipped) {ASSIGNMENTS_FILE}"),
            ],
        ),
        DataSource::Dir(dir) => (
            read_file_text(&dir.join(SLASH8_FILE))?,
            read_file(&dir.join(ALLOCATIONS_FILE))?,
            read_file(&dir.join(ASSIGNMENTS_FILE))?,
            [
                dir.join(SLASH8_FILE).display().to_string(),
                dir.join(ALLOCATIONS_FILE).display().to_string(),
                dir.join(ASSIGNMENTS_FILE).display().to_string(),
            ],
        ),
    };
    let slash8 = parse_slash8(&slash8_text, &names[0])?;
    if !only.is_empty() {
        // Keep the routed ranges that touch a kept delegation (even outside the slices), so
        // that a kept delegation looks exactly as in the full world.
        let allocations = parse_allocations(GzDecoder::new(&alloc_gz[..]), &names[1], &|r| {
            only.iter().any(|o| o.overlaps(&r))
        })?;
        let mut kept: Vec<Range> = allocations.iter().map(|a| a.range).collect();
        kept.sort_unstable();
        let assignments = parse_assignments(GzDecoder::new(&asn_gz[..]), &names[2], &|r| {
            overlaps_any_sorted(&kept, r)
        })?;
        return Ok(Tables {
            slash8,
            allocations,
            assignments,
        });
    }
    // The whole world: inflate and parse the two big tables on two threads.
    let (allocations, assignments) = std::thread::scope(|s| {
        let a = s.spawn(|| -> Result<Vec<AllocationRow>> {
            parse_allocations(GzDecoder::new(&alloc_gz[..]), &names[1], &|_| true)
        });
        let b = s.spawn(|| -> Result<Vec<AssignmentRow>> {
            parse_assignments(GzDecoder::new(&asn_gz[..]), &names[2], &|_| true)
        });
        let a = a
            .join()
            .unwrap_or_else(|_| Err(Error::data(&names[1], 0, "loader thread panicked")));
        let b = b
            .join()
            .unwrap_or_else(|_| Err(Error::data(&names[2], 0, "loader thread panicked")));
        (a, b)
    });
    Ok(Tables {
        slash8,
        allocations: allocations?,
        assignments: assignments?,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn read_file_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Whether `r` overlaps any range of a sorted list of disjoint ranges.
fn overlaps_any_sorted(sorted: &[Range], r: Range) -> bool {
    let i = sorted.partition_point(|s| s.end < r.start);
    sorted.get(i).is_some_and(|s| s.start <= r.end)
}

fn ip(s: &[u8]) -> Option<u32> {
    std::str::from_utf8(s)
        .ok()?
        .trim()
        .parse::<Ipv4Addr>()
        .ok()
        .map(u32::from)
}

fn range(start: &[u8], end: &[u8]) -> std::result::Result<Range, String> {
    let s = ip(start).ok_or_else(|| format!("bad start {:?}", String::from_utf8_lossy(start)))?;
    let e = ip(end).ok_or_else(|| format!("bad end {:?}", String::from_utf8_lossy(end)))?;
    Range::new(s, e).map_err(|e| e.to_string())
}

/// Parse `iana-slash8.csv`.
pub fn parse_slash8(text: &str, name: &str) -> Result<Vec<Slash8>> {
    let mut out: Vec<Option<Slash8>> = vec![None; 256];
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    for (n, row) in rdr.records().enumerate() {
        let line = n as u64 + 2;
        let row = row.map_err(|e| Error::data(name, line, e.to_string()))?;
        let prefix = row.get(0).unwrap_or("");
        let octet = prefix
            .strip_suffix(".0.0.0/8")
            .and_then(|o| o.parse::<u8>().ok())
            .ok_or_else(|| Error::data(name, line, format!("bad /8 prefix {prefix:?}")))?;
        let registry = match row.get(1).unwrap_or("") {
            "" => None,
            r => Some(
                r.parse::<Registry>()
                    .map_err(|e| Error::data(name, line, e))?,
            ),
        };
        out[octet as usize] = Some(Slash8 {
            registry,
            status: row.get(2).unwrap_or("").to_string(),
            designation: row.get(3).unwrap_or("").to_string(),
        });
    }
    out.into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| Error::data(name, 0, format!("no row for {i}.0.0.0/8"))))
        .collect()
}

/// Parse `allocations-ipv4.csv.gz` (inflated, streamed from `input`).
/// Rows whose range `keep` rejects are skipped.
pub fn parse_allocations(
    input: impl Read,
    name: &str,
    keep: &dyn Fn(Range) -> bool,
) -> Result<Vec<AllocationRow>> {
    let mut out = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let mut line = 1u64;
    loop {
        line += 1;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(Error::data(name, line, format!("not gzip CSV: {e}"))),
        }
        let f = |i: usize| rec.get(i).unwrap_or(b"");
        let r = range(f(0), f(1)).map_err(|m| Error::data(name, line, m))?;
        if !keep(r) {
            continue;
        }
        let cc = match f(2) {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                [a.to_ascii_uppercase(), b.to_ascii_uppercase()]
            }
            _ => *b"ZZ",
        };
        let registry = std::str::from_utf8(f(3))
            .map_err(|_| "registry is not UTF-8".to_string())
            .and_then(|s| s.parse::<Registry>())
            .map_err(|m| Error::data(name, line, m))?;
        let assigned = match f(4) {
            b"assigned" => true,
            b"allocated" | b"" => false,
            other => {
                return Err(Error::data(
                    name,
                    line,
                    format!("bad status {:?}", String::from_utf8_lossy(other)),
                ));
            }
        };
        let date = std::str::from_utf8(f(5))
            .ok()
            .filter(|d| d.len() == 8)
            .and_then(|d| d.parse::<u32>().ok());
        out.push(AllocationRow {
            range: r,
            cc,
            registry,
            assigned,
            date,
        });
    }
    Ok(out)
}

/// Parse `asn-ipv4-2026.csv.gz` (inflated, streamed from `input`).
/// Rows whose range `keep` rejects are skipped.
pub fn parse_assignments(
    input: impl Read,
    name: &str,
    keep: &dyn Fn(Range) -> bool,
) -> Result<Vec<AssignmentRow>> {
    let mut out = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let mut line = 1u64;
    loop {
        line += 1;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(Error::data(name, line, format!("not gzip CSV: {e}"))),
        }
        let f = |i: usize| rec.get(i).unwrap_or(b"");
        let r = range(f(0), f(1)).map_err(|m| Error::data(name, line, m))?;
        if !keep(r) {
            continue;
        }
        let asn = std::str::from_utf8(f(2))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .ok_or_else(|| Error::data(name, line, "bad AS number"))?;
        let org = String::from_utf8_lossy(f(3)).trim().to_string();
        out.push(AssignmentRow { range: r, asn, org });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_slash8_table_is_complete() {
        let t = parse_slash8(SHIPPED_SLASH8, "shipped").unwrap();
        assert_eq!(t.len(), 256);
        assert_eq!(t[1].registry, Some(Registry::Apnic));
        assert_eq!(t[3].registry, Some(Registry::Arin));
        assert_eq!(t[10].registry, None);
        assert_eq!(t[41].registry, Some(Registry::Afrinic));
        assert_eq!(t[53].registry, Some(Registry::RipeNcc));
        assert_eq!(t[200].registry, Some(Registry::Lacnic));
    }

    #[test]
    fn allocation_rows_and_errors() {
        let text = "start,end,cc,registry,status,date,source\n1.0.0.0,1.0.0.255,AU,apnic,assigned,20110811,x\n2.0.0.0,2.15.255.255,FR,ripencc,allocated,,x\n";
        let rows = parse_allocations(text.as_bytes(), "t", &|_| true).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].assigned);
        assert_eq!(rows[0].date, Some(20110811));
        assert_eq!(rows[1].date, None);
        let only = Range::new(0x0200_0000, 0x0200_00ff).unwrap();
        let kept = parse_allocations(text.as_bytes(), "t", &|r| r.overlaps(&only)).unwrap();
        assert_eq!(kept.len(), 1);
        let bad =
            "start,end,cc,registry,status,date,source\n1.0.0.0,1.0.0.255,AU,nowhere,assigned,,x\n";
        let err = parse_allocations(bad.as_bytes(), "t", &|_| true)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t:2:"), "{err}");
        let inverted = "start,end,cc,registry,status,date,source\n1.0.0.9,1.0.0.1,AU,apnic,,,x\n";
        assert!(parse_allocations(inverted.as_bytes(), "t", &|_| true).is_err());
    }

    #[test]
    fn assignment_rows_keep_quoted_orgs() {
        let text = "start,end,asn,org\n1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n";
        let rows = parse_assignments(text.as_bytes(), "t", &|_| true).unwrap();
        assert_eq!(rows[0].org, "Cloudflare, Inc.");
        assert_eq!(rows[0].asn, 13335);
    }
}
