//! "Who holds this address?" answered from the crawled networks alone: the most specific
//! known network containing the address, with its holder, country and abuse e-mail, or
//! `unknown`.
//!
//! Each network's answer is rendered once, when the table is built, into one contiguous arena
//! (text or JSON, whichever was asked for; each answer after its length, and the index's
//! payload is its offset), so answering a line from stdin (a traffic log) costs a parse in
//! place, one index lookup and a copy into the output buffer: no allocation per line. Lines are
//! answered in groups of [`GROUP`]: a group's addresses are parsed, then looked up, then
//! written, so the memory accesses of neighbouring lookups overlap instead of queueing.
//!
//! Text answer: `ADDR\tSTART-END\tHANDLE\tHOLDER\tCC\tABUSE\tRIR` (`-` for a missing field,
//! abuse e-mails comma-separated), or `ADDR\tunknown`. JSON answer:
//! `{"ip":"ADDR","network":{"handle","start_address","end_address","holder","country",
//! "abuse_emails","registry"}|null}`.

use std::io::{Read, Write};
use std::net::Ipv4Addr;

use rdapfleet_ranges::{Range, RangeIndex};
use serde::{Deserialize, Serialize};

use super::{NetworkSummary, ReportDb};
use crate::Result;

/// Output format of the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tab-separated text.
    Text,
    /// One JSON object per line.
    Json,
}

/// One answer, as printed by `lookup --json` under `network`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Payload: the offset of the network's answer in `arena`.
    index: RangeIndex<u64>,
    format: Format,
    /// Every network's rendered answer tail, back to back, each after its length (u32 LE).
    arena: Vec<u8>,
    networks: usize,
}

/// Addresses parsed before they are looked up and written together.
pub const GROUP: usize = 64;

/// What a batch of lookups did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LookupCounts {
    /// Lines answered (known or unknown).
    pub answered: u64,
    /// Of those, inside a known network.
    pub known: u64,
    /// Lines that were not addresses.
    pub invalid: u64,
}

/// Invalid lines reported one by one on the error stream; later ones are only counted.
pub const MAX_REPORTED_INVALID: u64 = 100;

/// Longest line accepted from stdin; longer lines are invalid (and skipped whole).
const MAX_LINE: usize = 4096;

/// A field of a text answer: `-` when missing, tabs and newlines replaced by spaces.
fn push_field(buf: &mut Vec<u8>, v: Option<&str>) {
    buf.push(b'\t');
    match v.filter(|s| !s.is_empty()) {
        None => buf.push(b'-'),
        Some(s) => buf.extend(s.bytes().map(|b| {
            if matches!(b, b'\t' | b'\n' | b'\r') {
                b' '
            } else {
                b
            }
        })),
    }
}

impl LookupTable {
    /// Build from (range, summary) pairs, in the order the networks were found: of two
    /// networks with the same range the first one answers; of two overlapping networks of the
    /// same size, the one that starts first.
    pub fn new<'a>(
        networks: impl IntoIterator<Item = (Range, NetworkSummary<'a>)>,
        format: Format,
    ) -> Self {
        let mut t = Builder::new(format);
        for (r, s) in networks {
            t.push(r, &s);
        }
        t.finish()
    }

    /// Load the networks of a crawl database (read-only).
    pub fn load(db: &ReportDb, format: Format) -> Result<Self> {
        let mut b = Builder::new(format);
        super::for_each_network(db, |r, s| b.push(r, &s))?;
        Ok(b.finish())
    }

    /// Networks loaded.
    pub fn len(&self) -> usize {
        self.networks
    }

    /// Whether no network is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most specific known network containing `ip` and its rendered answer tail.
    pub fn get(&self, ip: u32) -> Option<(Range, &[u8])> {
        self.index.get(ip).map(|(r, &off)| (r, self.tail(off)))
    }

    /// The answer stored at `off` (after its length).
    fn tail(&self, off: u64) -> &[u8] {
        let off = off as usize;
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.arena[off..off + 4]);
        &self.arena[off + 4..off + 4 + u32::from_le_bytes(len) as usize]
    }

    /// Write the answer line for `ip`; returns whether a known network contains it.
    pub fn write_answer(&self, out: &mut impl Write, ip: u32) -> std::io::Result<bool> {
        let hit = self.get(ip).map(|(_, t)| t);
        self.write_hit(out, ip, hit)?;
        Ok(hit.is_some())
    }

    fn write_hit(&self, out: &mut impl Write, ip: u32, hit: Option<&[u8]>) -> std::io::Result<()> {
        match self.format {
            Format::Json => {
                out.write_all(b"{\"ip\":\"")?;
                write_ip(out, ip)?;
                out.write_all(b"\",\"network\":")?;
                out.write_all(hit.unwrap_or(b"null"))?;
                out.write_all(b"}\n")
            }
            Format::Text => {
                write_ip(out, ip)?;
                out.write_all(hit.unwrap_or(b"\tunknown\n"))
            }
        }
    }

    /// Look up a group of parsed addresses, then write their answers in order.
    fn flush_group(
        &self,
        ips: &[u32],
        c: &mut LookupCounts,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let mut hits: [Option<&[u8]>; GROUP] = [None; GROUP];
        for (h, &ip) in hits.iter_mut().zip(ips) {
            *h = self.get(ip).map(|(_, t)| t);
        }
        for (&ip, hit) in ips.iter().zip(hits) {
            c.answered += 1;
            c.known += u64::from(hit.is_some());
            self.write_hit(out, ip, hit)?;
        }
        Ok(())
    }

    /// Answer addresses given as arguments; invalid ones are reported on `errors` (with
    /// their position) and counted.
    pub fn answer_args(
        &self,
        args: &[String],
        out: &mut impl Write,
        errors: &mut impl Write,
    ) -> std::io::Result<LookupCounts> {
        let mut c = LookupCounts::default();
        for (n, a) in args.iter().enumerate() {
            match parse_ipv4(a.trim().as_bytes()) {
                Some(ip) => {
                    c.answered += 1;
                    c.known += u64::from(self.write_answer(out, ip)?);
                }
                None => {
                    c.invalid += 1;
                    writeln!(errors, "argument {}: not an IPv4 address: {a:?}", n + 1)?;
                }
            }
        }
        Ok(c)
    }

    /// Answer every line of `input` (one address per line, surrounding blanks ignored, blank
    /// lines skipped). Lines that are not an IPv4 address are reported on `errors` with their
    /// line number (the first [`MAX_REPORTED_INVALID`]) and counted. Reads in large blocks and
    /// parses in place: no allocation per line. `out` should be buffered.
    pub fn answer_stream(
        &self,
        mut input: impl Read,
        out: &mut impl Write,
        errors: &mut impl Write,
    ) -> std::io::Result<LookupCounts> {
        let mut c = LookupCounts::default();
        let mut buf = vec![0u8; 1 << 18];
        let (mut start, mut end) = (0usize, 0usize);
        let mut line_no = 0u64;
        // Inside a line longer than MAX_LINE: skip to its end.
        let mut skipping = false;
        let mut eof = false;
        let mut group = [0u32; GROUP];
        let mut queued = 0;
        loop {
            // Answer every complete line in buf[start..end].
            while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
                line_no += 1;
                let line = &buf[start..start + nl];
                start += nl + 1;
                if std::mem::take(&mut skipping) {
                    continue;
                }
                if let Some(ip) = self.parse_line(line, line_no, &mut c, errors)? {
                    group[queued] = ip;
                    queued += 1;
                    if queued == GROUP {
                        self.flush_group(&group, &mut c, out)?;
                        queued = 0;
                    }
                }
            }
            if eof {
                if start < end {
                    line_no += 1;
                    if !skipping
                        && let Some(ip) =
                            self.parse_line(&buf[start..end], line_no, &mut c, errors)?
                    {
                        group[queued] = ip;
                        queued += 1;
                    }
                }
                self.flush_group(&group[..queued], &mut c, out)?;
                return Ok(c);
            }
            // Keep the partial line, read more behind it.
            if end - start >= MAX_LINE {
                if !skipping {
                    c.invalid += 1;
                    report_invalid(errors, &c, line_no + 1, &buf[start..start + 64])?;
                }
                skipping = true;
                start = end;
            }
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            let n = loop {
                match input.read(&mut buf[end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                eof = true;
            }
            end += n;
        }
    }

    /// The address on `line`, or `None` for a blank line or an invalid one (reported).
    fn parse_line(
        &self,
        line: &[u8],
        line_no: u64,
        c: &mut LookupCounts,
        errors: &mut impl Write,
    ) -> std::io::Result<Option<u32>> {
        let t = trim(line);
        if t.is_empty() {
            return Ok(None);
        }
        let ip = parse_ipv4(t);
        if ip.is_none() {
            c.invalid += 1;
            report_invalid(errors, c, line_no, t)?;
        }
        Ok(ip)
    }
}

fn report_invalid(
    errors: &mut impl Write,
    c: &LookupCounts,
    line_no: u64,
    text: &[u8],
) -> std::io::Result<()> {
    if c.invalid <= MAX_REPORTED_INVALID {
        let shown = &text[..text.len().min(64)];
        writeln!(
            errors,
            "line {line_no}: not an IPv4 address: {:?}",
            String::from_utf8_lossy(shown)
        )?;
        if c.invalid == MAX_REPORTED_INVALID {
            writeln!(errors, "(further invalid lines are counted, not shown)")?;
        }
    }
    Ok(())
}

/// Renders every network's answer into the arena.
struct Builder {
    format: Format,
    ranges: Vec<(Range, u64)>,
    arena: Vec<u8>,
}

impl Builder {
    fn new(format: Format) -> Self {
        Self {
            format,
            ranges: Vec::new(),
            arena: Vec::new(),
        }
    }

    fn push(&mut self, r: Range, s: &NetworkSummary<'_>) {
        let off = self.arena.len();
        self.arena.extend_from_slice(&[0; 4]);
        match self.format {
            Format::Text => {
                let b = &mut self.arena;
                b.push(b'\t');
                let _ = write!(b, "{}-{}", Ipv4Addr::from(r.start), Ipv4Addr::from(r.end));
                push_field(b, s.handle.as_deref());
                push_field(b, s.holder());
                push_field(b, s.country.as_deref());
                if s.abuse_emails.is_empty() {
                    push_field(b, None);
                } else {
                    let joined = s.abuse_emails.join(",");
                    push_field(b, Some(&joined));
                }
                push_field(b, s.registry.as_deref());
                b.push(b'\n');
            }
            Format::Json => {
                let a = Answer {
                    handle: s.handle.as_deref().map(str::to_string),
                    start_address: Ipv4Addr::from(r.start).to_string(),
                    end_address: Ipv4Addr::from(r.end).to_string(),
                    holder: s.holder().map(str::to_string),
                    country: s.country.as_deref().map(str::to_string),
                    abuse_emails: s.abuse_emails.iter().map(|e| e.to_string()).collect(),
                    registry: s.registry.as_deref().map(str::to_string),
                };
                // Serializing plain strings into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.arena, &a);
            }
        }
        // An answer is a few hundred bytes (SQLite caps a stored value at 1 GB).
        let len = u32::try_from(self.arena.len() - off - 4).unwrap_or(u32::MAX);
        self.arena[off..off + 4].copy_from_slice(&len.to_le_bytes());
        self.ranges.push((r, off as u64));
    }

    fn finish(mut self) -> LookupTable {
        self.arena.shrink_to_fit();
        let networks = self.ranges.len();
        LookupTable {
            index: self.ranges.into_iter().collect(),
            format: self.format,
            arena: self.arena,
            networks,
        }
    }
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
    if b.len() > 15 {
        return None;
    }
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
        parts += 1;
        if parts > 4 {
            return None;
        }
        ip = ip << 8 | v;
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

    fn table(format: Format) -> LookupTable {
        LookupTable::new(
            vec![
                (
                    Range {
                        start: 0x0808_0000,
                        end: 0x0808_FFFF,
                    },
                    NetworkSummary::parse(
                        r#"{"handle":"NET-8-8-0-0","registrant":"Level\tThree","country":"US","registry":"arin"}"#,
                    ),
                ),
                (
                    Range {
                        start: 0x0808_0800,
                        end: 0x0808_08FF,
                    },
                    NetworkSummary::parse(
                        r#"{"handle":"LVLT-GOGL-8-8-8","name":"GOGL","abuse_emails":["abuse@example.net","noc@example.net"],"registry":"arin"}"#,
                    ),
                ),
            ],
            format,
        )
    }

    #[test]
    fn answers_the_most_specific_network_or_unknown() {
        let t = table(Format::Text);
        assert_eq!(t.len(), 2);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let input = b"8.8.8.8\n 8.8.1.1 \r\n\n9.9.9.9\nnot-an-ip\n008.8.8.8\n8.8.8.9".as_slice();
        let c = t.answer_stream(input, &mut out, &mut err).unwrap();
        assert_eq!(
            c,
            LookupCounts {
                answered: 4,
                known: 3,
                invalid: 2
            }
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "8.8.8.8\t8.8.8.0-8.8.8.255\tLVLT-GOGL-8-8-8\tGOGL\t-\tabuse@example.net,noc@example.net\tarin\n\
             8.8.1.1\t8.8.0.0-8.8.255.255\tNET-8-8-0-0\tLevel Three\tUS\t-\tarin\n\
             9.9.9.9\tunknown\n\
             8.8.8.9\t8.8.8.0-8.8.8.255\tLVLT-GOGL-8-8-8\tGOGL\t-\tabuse@example.net,noc@example.net\tarin\n"
        );
        let err = String::from_utf8(err).unwrap();
        assert_eq!(
            err,
            "line 5: not an IPv4 address: \"not-an-ip\"\nline 6: not an IPv4 address: \"008.8.8.8\"\n"
        );
    }

    #[test]
    fn lines_split_across_reads_and_overlong_lines() {
        /// A reader that hands out one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let t = table(Format::Text);
        let mut input = b"8.8.8.8\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\n9.9.9.9\n");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let c = t
            .answer_stream(Trickle(&input), &mut out, &mut err)
            .unwrap();
        assert_eq!((c.answered, c.invalid), (2, 1));
        let err = String::from_utf8(err).unwrap();
        assert!(
            err.starts_with("line 2: not an IPv4 address: \"xxxx"),
            "{err}"
        );
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("9.9.9.9\tunknown\n")
        );
    }

    #[test]
    fn invalid_lines_are_reported_up_to_a_limit() {
        let t = table(Format::Text);
        let input = "bad\n".repeat(250);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let c = t
            .answer_stream(input.as_bytes(), &mut out, &mut err)
            .unwrap();
        assert_eq!(c.invalid, 250);
        let err = String::from_utf8(err).unwrap();
        assert_eq!(err.lines().count(), MAX_REPORTED_INVALID as usize + 1);
    }

    #[test]
    fn json_answers_parse() {
        let t = table(Format::Json);
        let mut out = Vec::new();
        assert!(t.write_answer(&mut out, 0x0808_0808).unwrap());
        assert!(!t.write_answer(&mut out, 0x0909_0909).unwrap());
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["ip"], "8.8.8.8");
        let a: Answer = serde_json::from_value(lines[0]["network"].clone()).unwrap();
        assert_eq!(a.handle.as_deref(), Some("LVLT-GOGL-8-8-8"));
        assert_eq!(a.start_address, "8.8.8.0");
        assert_eq!(a.abuse_emails.len(), 2);
        assert!(lines[1]["network"].is_null());
    }

    #[test]
    fn arguments_are_checked_one_by_one() {
        let t = table(Format::Text);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = vec!["8.8.8.8".to_string(), "1.2.3".to_string()];
        let c = t.answer_args(&args, &mut out, &mut err).unwrap();
        assert_eq!((c.answered, c.known, c.invalid), (1, 1, 1));
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "argument 2: not an IPv4 address: \"1.2.3\"\n"
        );
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
            b"1.2.3.4/24",
            b"",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        for ip in [0u32, 1, 0x0A00_0001, 0xC0A8_0101, u32::MAX, 0x0808_0808] {
            let mut s = Vec::new();
            write_ip(&mut s, ip).unwrap();
            assert_eq!(s, Ipv4Addr::from(ip).to_string().into_bytes());
            assert_eq!(parse_ipv4(&s), Some(ip));
        }
    }
}
