//! "Who holds this address?" answered from the crawled networks alone: the most specific
//! known network containing the address, with its holder, country and abuse e-mail, or
//! `unknown`. Each network's answer is rendered once, so a batch from stdin (a traffic log)
//! costs one index lookup and one copy per line.

use std::io::{BufRead, Write};
use std::net::Ipv4Addr;

use rdapfleet_ranges::{Range, RangeIndex};
use serde::Serialize;

use super::NetworkSummary;

/// One answer, as printed by `lookup --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Answer {
    /// Network handle.
    pub handle: Option<String>,
    /// First address.
    pub start_address: String,
    /// Last address.
    pub end_address: String,
    /// Holder (registrant organisation, else network name).
    pub holder: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Abuse e-mails.
    pub abuse_emails: Vec<String>,
    /// Registry.
    pub registry: Option<String>,
}

/// The crawled networks, ready to answer.
pub struct LookupTable {
    index: RangeIndex<u32>,
    answers: Vec<Answer>,
    /// `\t`-separated tail of each answer line (after the address), newline included.
    text: Vec<Box<[u8]>>,
    /// Each answer as a JSON object, for `--json`.
    json: Vec<Box<[u8]>>,
}

fn field(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

impl LookupTable {
    /// Build from (range, summary) pairs.
    pub fn new(networks: Vec<(Range, NetworkSummary)>) -> Self {
        let mut answers = Vec::with_capacity(networks.len());
        let mut text = Vec::with_capacity(networks.len());
        let mut json = Vec::with_capacity(networks.len());
        let index = networks
            .into_iter()
            .enumerate()
            .map(|(i, (r, s))| {
                let a = Answer {
                    handle: s.handle.clone(),
                    start_address: Ipv4Addr::from(r.start).to_string(),
                    end_address: Ipv4Addr::from(r.end).to_string(),
                    holder: s.holder().map(str::to_string),
                    country: s.country.clone(),
                    abuse_emails: s.abuse_emails.clone(),
                    registry: s.registry.clone(),
                };
                let line = format!(
                    "\t{}-{}\t{}\t{}\t{}\t{}\t{}\n",
                    a.start_address,
                    a.end_address,
                    field(a.handle.as_deref()),
                    field(a.holder.as_deref()).replace(['\t', '\n'], " "),
                    field(a.country.as_deref()),
                    if a.abuse_emails.is_empty() {
                        "-".to_string()
                    } else {
                        a.abuse_emails.join(",")
                    },
                    field(a.registry.as_deref()),
                );
                text.push(line.into_bytes().into_boxed_slice());
                json.push(
                    serde_json::to_vec(&a)
                        .unwrap_or_default()
                        .into_boxed_slice(),
                );
                answers.push(a);
                (r, i as u32)
            })
            .collect();
        Self {
            index,
            answers,
            text,
            json,
        }
    }

    /// Networks loaded.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether no network is known.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The answer for `ip`, if any known network contains it.
    pub fn get(&self, ip: u32) -> Option<&Answer> {
        self.index.get(ip).map(|(_, &i)| &self.answers[i as usize])
    }

    /// Write the answer line for `ip` (`ADDR\tSTART-END\tHANDLE\tHOLDER\tCC\tABUSE\tRIR`, or
    /// `ADDR\tunknown`), or its JSON form.
    pub fn write_answer(&self, out: &mut impl Write, ip: u32, json: bool) -> std::io::Result<()> {
        let hit = self.index.get(ip).map(|(_, &i)| i as usize);
        if json {
            write!(out, "{{\"ip\":\"{}\",\"network\":", Ipv4Addr::from(ip))?;
            match hit {
                Some(i) => out.write_all(&self.json[i])?,
                None => out.write_all(b"null")?,
            }
            out.write_all(b"}\n")
        } else {
            write_ip(out, ip)?;
            match hit {
                Some(i) => out.write_all(&self.text[i]),
                None => out.write_all(b"\tunknown\n"),
            }
        }
    }

    /// Answer every line of `input` (one address per line; blank lines skipped). Lines that are
    /// not an IPv4 address are reported on `errors` with their line number and counted.
    pub fn answer_lines(
        &self,
        input: impl BufRead,
        out: &mut impl Write,
        errors: &mut impl Write,
        json: bool,
    ) -> std::io::Result<LookupCounts> {
        let mut counts = LookupCounts::default();
        for (n, line) in input.split(b'\n').enumerate() {
            let line = line?;
            let t = trim(&line);
            if t.is_empty() {
                continue;
            }
            match parse_ipv4(t) {
                Some(ip) => {
                    self.write_answer(out, ip, json)?;
                    counts.answered += 1;
                }
                None => {
                    counts.invalid += 1;
                    writeln!(
                        errors,
                        "line {}: not an IPv4 address: {:?}",
                        n + 1,
                        String::from_utf8_lossy(t)
                    )?;
                }
            }
        }
        Ok(counts)
    }
}

/// What a batch lookup did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LookupCounts {
    /// Lines answered (known or unknown).
    pub answered: u64,
    /// Lines that were not addresses.
    pub invalid: u64,
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Strict dotted-quad parse without allocation (no leading zeros beyond a lone "0").
pub fn parse_ipv4(b: &[u8]) -> Option<u32> {
    let mut ip = 0u32;
    let mut parts = 0;
    for part in b.split(|&c| c == b'.') {
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let mut v = 0u32;
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        if v > 255 {
            return None;
        }
        ip = ip << 8 | v;
        parts += 1;
        if parts > 4 {
            return None;
        }
    }
    (parts == 4).then_some(ip)
}

fn write_ip(out: &mut impl Write, ip: u32) -> std::io::Result<()> {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (k, octet) in ip.to_be_bytes().iter().enumerate() {
        if k > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let o = *octet;
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    out.write_all(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> LookupTable {
        LookupTable::new(vec![
            (
                Range {
                    start: 0x0808_0000,
                    end: 0x0808_FFFF,
                },
                NetworkSummary {
                    handle: Some("NET-8-8-0-0".into()),
                    registrant: Some("Level Three".into()),
                    country: Some("US".into()),
                    registry: Some("arin".into()),
                    ..Default::default()
                },
            ),
            (
                Range {
                    start: 0x0808_0800,
                    end: 0x0808_08FF,
                },
                NetworkSummary {
                    handle: Some("LVLT-GOGL-8-8-8".into()),
                    name: Some("GOGL".into()),
                    abuse_emails: vec!["abuse@example.net".into()],
                    registry: Some("arin".into()),
                    ..Default::default()
                },
            ),
        ])
    }

    #[test]
    fn answers_the_most_specific_network_or_unknown() {
        let t = table();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let input = b"8.8.8.8\n8.8.1.1\n\n9.9.9.9\nnot-an-ip\n008.8.8.8\n".as_slice();
        let c = t.answer_lines(input, &mut out, &mut err, false).unwrap();
        assert_eq!(
            c,
            LookupCounts {
                answered: 3,
                invalid: 2
            }
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "8.8.8.8\t8.8.8.0-8.8.8.255\tLVLT-GOGL-8-8-8\tGOGL\t-\tabuse@example.net\tarin\n\
             8.8.1.1\t8.8.0.0-8.8.255.255\tNET-8-8-0-0\tLevel Three\tUS\t-\tarin\n\
             9.9.9.9\tunknown\n"
        );
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("line 5") && err.contains("line 6"), "{err}");
    }

    #[test]
    fn json_answers_parse() {
        let t = table();
        let mut out = Vec::new();
        t.write_answer(&mut out, 0x0808_0808, true).unwrap();
        t.write_answer(&mut out, 0x0909_0909, true).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["network"]["handle"], "LVLT-GOGL-8-8-8");
        assert!(lines[1]["network"].is_null());
    }

    #[test]
    fn parses_addresses_strictly() {
        assert_eq!(parse_ipv4(b"0.0.0.0"), Some(0));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some(u32::MAX));
        for bad in [
            &b"256.0.0.1"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"01.2.3.4",
            b"1..2.3",
            b"a.b.c.d",
            b"",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
