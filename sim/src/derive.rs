//! Derive the shipped world tables (`sim/data/`) from the raw public data in
//! `shared/data/` (`rdapfleet-sim derive-data --from DIR --out DIR`).
//!
//! The delegations file (`world/delegated-ipv4-2025.csv.gz`, `start,end,cc`) lost its registry
//! column, so each delegation is attributed here, by the first of these sources that holds a
//! record containing the delegation's first address (newest first):
//!
//! 1. the RIR delegated statistics in `rir-stats/`: ARIN extended excerpt (2026-07-25),
//!    AFRINIC extended (2026-05-05), APNIC (2026-02-13), LACNIC (2026-02-12), RIPE NCC
//!    (2014-08-03, the only complete RIPE file available), allocated/assigned records only;
//! 2. the ERX transfer list `rir-stats/erx-xfr.txt` (2016);
//! 3. IANA's sub-/8 records in `rir-stats/delegated-iana-extended` (2016: 43/8, 45/8 and the
//!    recovered legacy space split between the RIRs);
//! 4. the /8's designated registry in `iana/ipv4-address-space.xml` (its RDAP server).
//!
//! The first source also gives the record's status (`allocated`/`assigned`) and date when it is a
//! registry file. Outputs (gzip with a zero mtime, so the same inputs give the same bytes):
//! `iana-slash8.csv` (per /8: registry, status, designation, whois), `allocations-ipv4.csv.gz`
//! (`start,end,cc,registry,status,date,source`), and byte-exact copies of
//! `asn-ipv4-2026.csv.gz` and the licence files.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use rdapfleet_rdap::Registry;

use crate::error::{Error, Result};

/// What the derivation did, for the command's summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DeriveReport {
    /// Delegations attributed per source name.
    pub by_source: BTreeMap<String, u64>,
    /// Delegations attributed per registry.
    pub by_registry: BTreeMap<String, u64>,
    /// Delegations dropped because no source names a registry for them.
    pub unattributed: u64,
}

/// One `/8` of the IANA IPv4 address space registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slash8Record {
    /// First octet.
    pub octet: u8,
    /// Designated registry (its RDAP server, else its WHOIS server), if any.
    pub registry: Option<Registry>,
    /// `ALLOCATED`, `LEGACY`, `RESERVED`, ...
    pub status: String,
    /// IANA's designation text.
    pub designation: String,
    /// WHOIS server, if any.
    pub whois: String,
}

#[derive(Debug, Clone)]
struct Rec {
    start: u32,
    end: u32,
    registry: Registry,
    status: &'static str,
    date: String,
}

struct Source {
    name: String,
    recs: Vec<Rec>,
}

impl Source {
    fn new(name: impl Into<String>, mut recs: Vec<Rec>) -> Self {
        recs.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        Source {
            name: name.into(),
            recs,
        }
    }

    fn find(&self, ip: u32) -> Option<&Rec> {
        let i = self.recs.partition_point(|r| r.start <= ip);
        self.recs[..i].iter().rev().take(4).find(|r| r.end >= ip)
    }
}

/// Run the derivation; see the module documentation.
pub fn derive(from: &Path, out: &Path) -> Result<DeriveReport> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let xml_path = from.join("iana/ipv4-address-space.xml");
    let slash8 = parse_address_space_xml(&read_text(&xml_path)?)?;
    write_slash8(&slash8, &out.join("iana-slash8.csv"))?;

    let stats = from.join("rir-stats");
    let files: [(&str, &str); 5] = [
        (
            "arin-20260725",
            "delegated-arin-extended-EXCERPT-20260725.txt",
        ),
        ("afrinic-20260505", "delegated-afrinic-extended-latest"),
        ("apnic-20260213", "delegated-apnic-latest"),
        ("lacnic-20260212", "delegated-lacnic-latest"),
        ("ripencc-20140803", "2014/delegated-ripencc-latest"),
    ];
    let mut sources = Vec::new();
    for (name, file) in files {
        let path = stats.join(file);
        sources.push(Source::new(
            name,
            parse_delegated(&read_text(&path)?, &path.display().to_string())?,
        ));
    }
    let erx_path = stats.join("erx-xfr.txt");
    sources.push(Source::new(
        "erx-2016",
        parse_erx(&read_text(&erx_path)?, &erx_path.display().to_string())?,
    ));
    let iana_path = stats.join("delegated-iana-extended");
    sources.push(Source::new(
        "iana-2016",
        parse_iana_sub8(&read_text(&iana_path)?, &iana_path.display().to_string())?,
    ));

    let deleg_path = from.join("world/delegated-ipv4-2025.csv.gz");
    let deleg = read_gz(&deleg_path)?;
    let mut report = DeriveReport::default();
    let mut csv_out = String::with_capacity(deleg.len() * 2);
    csv_out.push_str("start,end,cc,registry,status,date,source\n");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(deleg.as_bytes());
    for (n, row) in rdr.records().enumerate() {
        let line = n as u64 + 2;
        let file = deleg_path.display().to_string();
        let row = row.map_err(|e| Error::data(&file, line, e.to_string()))?;
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let start = parse_ip(field(0)).ok_or_else(|| Error::data(&file, line, "bad start"))?;
        let end = parse_ip(field(1)).ok_or_else(|| Error::data(&file, line, "bad end"))?;
        let cc = field(2);
        let hit = sources
            .iter()
            .find_map(|s| s.find(start).map(|r| (s.name.as_str(), r)));
        let (registry, status, date, source) = match hit {
            Some((name, r)) => (r.registry, r.status, r.date.as_str(), name),
            None => match slash8[(start >> 24) as usize].registry {
                Some(reg) => (reg, "allocated", "", "iana-slash8"),
                None => {
                    report.unattributed += 1;
                    continue;
                }
            },
        };
        *report.by_source.entry(source.to_string()).or_default() += 1;
        *report
            .by_registry
            .entry(registry.as_str().to_string())
            .or_default() += 1;
        csv_out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            Ipv4Addr::from(start),
            Ipv4Addr::from(end),
            cc,
            registry,
            status,
            date,
            source
        ));
    }
    write_gz(&out.join("allocations-ipv4.csv.gz"), csv_out.as_bytes())?;

    for f in [
        "asn-ipv4-2026.csv.gz",
        "NRO_LICENSE",
        "ROUTEVIEWS-LICENSE",
        "DBIP-LICENSE",
        "MODIFICATIONS",
    ] {
        let src = from.join("world").join(f);
        let dst = out.join(f);
        std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
        // The source tree is read-only; keep the copies writable (0644) for the next run.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::io(&dst, e))?;
        }
    }
    Ok(report)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn read_gz(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut s = String::new();
    GzDecoder::new(f)
        .read_to_string(&mut s)
        .map_err(|e| Error::io(path, e))?;
    Ok(s)
}

fn write_gz(path: &Path, bytes: &[u8]) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut enc = GzBuilder::new().mtime(0).write(f, Compression::best());
    enc.write_all(bytes).map_err(|e| Error::io(path, e))?;
    enc.finish().map_err(|e| Error::io(path, e))?;
    Ok(())
}

fn parse_ip(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

/// Parse IANA's `ipv4-address-space.xml` into the 256 `/8` records (missing ones are
/// reported as an error).
pub fn parse_address_space_xml(xml: &str) -> Result<Vec<Slash8Record>> {
    let mut out: Vec<Option<Slash8Record>> = vec![None; 256];
    let mut rest = xml;
    while let Some(i) = rest.find("<record") {
        rest = &rest[i..];
        let end = rest
            .find("</record>")
            .ok_or_else(|| Error::data("ipv4-address-space.xml", 0, "unterminated <record>"))?;
        let rec = &rest[..end];
        rest = &rest[end..];
        let Some(prefix) = tag(rec, "prefix") else {
            continue;
        };
        let octet = prefix
            .strip_suffix("/8")
            .and_then(|p| p.parse::<u8>().ok())
            .ok_or_else(|| {
                Error::data(
                    "ipv4-address-space.xml",
                    0,
                    format!("bad prefix {prefix:?}"),
                )
            })?;
        let designation = unescape(tag(rec, "designation").unwrap_or(""));
        let status = tag(rec, "status").unwrap_or("").to_string();
        let whois = tag(rec, "whois").unwrap_or("").to_string();
        let registry = tag(rec, "server")
            .and_then(Registry::from_url)
            .or_else(|| registry_of_whois(&whois));
        out[octet as usize] = Some(Slash8Record {
            octet,
            registry,
            status,
            designation,
            whois,
        });
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                Error::data("ipv4-address-space.xml", 0, format!("no record for {i}/8"))
            })
        })
        .collect()
}

fn registry_of_whois(host: &str) -> Option<Registry> {
    match host {
        "whois.arin.net" => Some(Registry::Arin),
        "whois.ripe.net" => Some(Registry::RipeNcc),
        "whois.apnic.net" => Some(Registry::Apnic),
        "whois.lacnic.net" => Some(Registry::Lacnic),
        "whois.afrinic.net" => Some(Registry::Afrinic),
        _ => None,
    }
}

fn tag<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let i = s.find(&open)? + open.len();
    let j = s[i..].find(&close)? + i;
    Some(s[i..j].trim())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn write_slash8(recs: &[Slash8Record], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::data(path.display().to_string(), 0, e.to_string());
    w.write_record(["prefix", "registry", "status", "designation", "whois"])
        .map_err(io)?;
    for r in recs {
        w.write_record([
            format!("{}.0.0.0/8", r.octet).as_str(),
            r.registry.map_or("", Registry::as_str),
            &r.status,
            &r.designation,
            &r.whois,
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::data(path.display().to_string(), 0, e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Records of an RIR statistics exchange format file (`registry|cc|type|start|value|date|status`),
/// IPv4 allocated/assigned only.
fn parse_delegated(text: &str, file: &str) -> Result<Vec<Rec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 7 || f[2] != "ipv4" || f[1] == "*" || f[3] == "*" {
            continue;
        }
        let status = match f[6] {
            "allocated" => "allocated",
            "assigned" => "assigned",
            _ => continue,
        };
        let registry: Registry = f[0]
            .parse()
            .map_err(|e: String| Error::data(file, n as u64 + 1, e))?;
        let start =
            parse_ip(f[3]).ok_or_else(|| Error::data(file, n as u64 + 1, "bad start address"))?;
        let count: u64 = f[4]
            .parse()
            .map_err(|_| Error::data(file, n as u64 + 1, "bad address count"))?;
        let Some(end) = end_of(start, count) else {
            return Err(Error::data(
                file,
                n as u64 + 1,
                "range beyond 255.255.255.255",
            ));
        };
        let date = if f[5].len() == 8 && f[5] != "00000000" {
            f[5].to_string()
        } else {
            String::new()
        };
        out.push(Rec {
            start,
            end,
            registry,
            status,
            date,
        });
    }
    Ok(out)
}

fn end_of(start: u32, count: u64) -> Option<u32> {
    if count == 0 {
        return None;
    }
    // Checked: the count is read from the file and may be anything up to u64::MAX.
    u32::try_from(u64::from(start).checked_add(count - 1)?).ok()
}

/// `start prefixlen size end registry` lines of the ERX transfer list.
fn parse_erx(text: &str, file: &str) -> Result<Vec<Rec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || Error::data(file, n as u64 + 1, format!("bad ERX line {line:?}"));
        if f.len() < 5 {
            return Err(bad());
        }
        let start = parse_ip(f[0]).ok_or_else(bad)?;
        let end = parse_ip(f[3]).ok_or_else(bad)?;
        let registry: Registry = f[4].parse().map_err(|_| bad())?;
        out.push(Rec {
            start,
            end,
            registry,
            status: "allocated",
            date: String::new(),
        });
    }
    Ok(out)
}

/// IANA's own delegated-extended file: the sub-/8 blocks given to one of the five RIRs.
fn parse_iana_sub8(text: &str, file: &str) -> Result<Vec<Rec>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.trim().split('|').collect();
        if f.len() < 8 || f[2] != "ipv4" || f[1] == "*" || f[6] != "allocated" {
            continue;
        }
        let Ok(registry) = f[7].parse::<Registry>() else {
            continue;
        };
        let start =
            parse_ip(f[3]).ok_or_else(|| Error::data(file, n as u64 + 1, "bad start address"))?;
        let count: u64 = f[4]
            .parse()
            .map_err(|_| Error::data(file, n as u64 + 1, "bad address count"))?;
        if count >= 1 << 24 {
            continue;
        }
        let end = end_of(start, count)
            .ok_or_else(|| Error::data(file, n as u64 + 1, "bad address count"))?;
        out.push(Rec {
            start,
            end,
            registry,
            status: "allocated",
            date: String::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_records_become_slash8s() {
        let mut xml = String::new();
        for i in 0..256 {
            let server = match i {
                3 => {
                    "<rdap><server>https://rdap.arin.net/registry</server></rdap><whois>whois.arin.net</whois>"
                }
                53 => "<whois>whois.ripe.net</whois>",
                _ => "",
            };
            xml.push_str(&format!(
                "<record><prefix>{i:03}/8</prefix><designation>A &amp; B</designation>{server}<status>LEGACY</status></record>\n"
            ));
        }
        let recs = parse_address_space_xml(&xml).unwrap();
        assert_eq!(recs[3].registry, Some(Registry::Arin));
        assert_eq!(recs[53].registry, Some(Registry::RipeNcc));
        assert_eq!(recs[0].registry, None);
        assert_eq!(recs[0].designation, "A & B");
        assert!(parse_address_space_xml("<record><prefix>001/8</prefix></record>").is_err());
    }

    #[test]
    fn delegated_lines() {
        let text = "2|apnic|20260213|1|19830613|20260212|+1000\napnic|*|ipv4|*|1|summary\napnic|AU|ipv4|1.0.0.0|256|20110811|assigned\napnic|CN|ipv4|1.0.1.0|256|20110414|available\napnic|JP|ipv6|2001:200::|35|19990813|allocated\n";
        let recs = parse_delegated(text, "t").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].start, recs[0].end), (0x0100_0000, 0x0100_00ff));
        assert_eq!(recs[0].status, "assigned");
        assert_eq!(recs[0].date, "20110811");
        let s = Source::new("x", recs);
        assert!(s.find(0x0100_0010).is_some());
        assert!(s.find(0x0100_0100).is_none());
        assert!(parse_delegated("apnic|AU|ipv4|1.0.0.x|256|20110811|assigned", "t").is_err());
        // A count near u64::MAX is an error naming the line, not an overflow.
        let huge = "apnic|AU|ipv4|1.0.0.0|18446744073709551615|20110811|assigned";
        let e = parse_delegated(huge, "t").unwrap_err().to_string();
        assert!(e.contains("beyond 255.255.255.255"), "{e}");
    }

    #[test]
    fn erx_and_iana_lines() {
        let erx = parse_erx("# c\n62.12.96.0 19 8192 62.12.127.255 afrinic\n", "e").unwrap();
        assert_eq!(erx[0].registry, Registry::Afrinic);
        let iana = parse_iana_sub8(
            "iana|ZZ|ipv4|45.4.0.0|262144|20150321|allocated|lacnic\niana|ZZ|ipv4|1.0.0.0|16777216|20100119|allocated|apnic\niana|ZZ|ipv4|192.0.0.0|256|1|allocated|iana\n",
            "i",
        )
        .unwrap();
        assert_eq!(iana.len(), 1);
        assert_eq!(iana[0].registry, Registry::Lacnic);
    }
}
