//! Streaming JSONL export: one line per seed IP (or per distinct network), read row by row
//! from SQLite (one read transaction: a consistent snapshot even while `serve` writes) and
//! written through an optional gzip or zstd encoder, in constant memory.
//!
//! Per-IP line (layout `rdapfleet`, DESIGN.md §4), in address order:
//! `{"ip","outcome","inferred","network"|null,"error"?,"registry","redirects","attempts","worker","fetched_at"}`
//! where `outcome` is found, skipped, not_found, failed or pending (no final outcome yet),
//! `network` is the stored normalized network (for skipped IPs: the known network containing
//! it), and `error` (`{"reason"}`) is present for failed IPs only.
//!
//! Per-network line (`--networks`), in address order:
//! `{"id","answers","found_at","worker","network":{...}}`.
//!
//! Layout `ipwhois` writes the 2016 crawler's line shape (ipwhois 0.13 `lookup_rdap()` wrapped
//! as the 2016 Kafka message, keys sorted) for every IP a registry answered with a network, so
//! pipelines built on the old Kafka dump keep working:
//! `{"Host","IP","Timestamp","Whois":{"asn","asn_cidr","asn_country_code","asn_date",
//! "asn_registry","entities","network":{...},"objects":{...},"query","raw"}}`.
//! As in 2016, IPs without an answer of their own (skipped, not found, failed) have no line.

use std::io::Write;
use std::net::Ipv4Addr;
use std::ops::ControlFlow;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::{ReportDb, Rfc3339Ms};
use crate::{Error, Result};

/// Output compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (flate2).
    Gzip,
    /// zstd.
    Zstd,
}

/// Line shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// rdapfleet's own (DESIGN.md §4).
    Rdapfleet,
    /// The 2016 ipwhois-based crawler's.
    Ipwhois,
}

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// One line per distinct network instead of one per seed IP.
    pub networks: bool,
    /// Line shape.
    pub layout: Layout,
    /// Output compression.
    pub compression: Compression,
}

impl ExportOptions {
    /// Refuse combinations that have no meaning.
    pub fn validate(&self) -> Result<()> {
        if self.networks && self.layout == Layout::Ipwhois {
            return Err(Error::Input(
                "--layout ipwhois has no per-network form (the 2016 export had one line per answered IP); drop --networks or use --layout rdapfleet".into(),
            ));
        }
        Ok(())
    }
}

/// Wrap `out` in the encoder for `compression`; call `finish` on the result when done.
pub fn encoder<'a>(
    out: Box<dyn Write + 'a>,
    compression: Compression,
) -> std::io::Result<Encoder<'a>> {
    Ok(match compression {
        Compression::None => Encoder::Plain(out),
        Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::default(),
        )),
        Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(out, 3)?),
    })
}

/// A writer that may compress.
pub enum Encoder<'a> {
    /// No compression.
    Plain(Box<dyn Write + 'a>),
    /// gzip.
    Gzip(flate2::write::GzEncoder<Box<dyn Write + 'a>>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, Box<dyn Write + 'a>>),
}

impl Write for Encoder<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(w) => w.write_all(buf),
            Encoder::Zstd(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

impl Encoder<'_> {
    /// Write the compressed stream's trailer and flush.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Encoder::Plain(mut w) => w.flush(),
            Encoder::Gzip(w) => w.finish()?.flush(),
            Encoder::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// Counts bytes on their way to the encoder (the uncompressed size of the export).
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportCounts {
    /// Rows visited (seed IPs, found IPs for ipwhois, or networks).
    pub rows: u64,
    /// Lines written.
    pub lines: u64,
    /// Seed IPs without a line (ipwhois layout: IPs without an answered network).
    pub left_out: u64,
    /// Stored networks whose JSON did not parse (written as `null`; a damaged file).
    pub malformed: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
}

/// How many rows a full export visits (for progress bars); cheap (no table scan of seeds).
pub fn row_count(db: &ReportDb, options: &ExportOptions) -> Result<u64> {
    let sql = if options.networks {
        if !db.served {
            return Ok(0);
        }
        "SELECT count(*) FROM networks"
    } else {
        "SELECT coalesce(sum(ip_count), 0) FROM batches"
    };
    Ok(db.conn.query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
}

/// Export the database to `out` (compressed as asked), calling `progress(rows visited)` every
/// 10,000 rows and once at the end; when it answers `Break` the export stops with an error
/// (an operator's Ctrl-C).
pub fn export(
    db: &ReportDb,
    options: &ExportOptions,
    out: impl Write,
    progress: impl FnMut(u64) -> ControlFlow<()>,
) -> Result<ExportCounts> {
    options.validate()?;
    let mut enc = Counting {
        inner: encoder(Box::new(out), options.compression)?,
        bytes: 0,
    };
    // One read transaction: the export is a snapshot even while the coordinator writes.
    db.conn.execute_batch("BEGIN DEFERRED")?;
    let result = match (options.networks, options.layout) {
        (true, _) => export_networks(db, &mut enc, progress),
        (false, Layout::Rdapfleet) => export_ips(db, &mut enc, progress),
        (false, Layout::Ipwhois) => export_ipwhois(db, &mut enc, progress),
    };
    let _ = db.conn.execute_batch("COMMIT");
    let mut counts = result?;
    counts.bytes = enc.bytes;
    enc.inner.finish()?;
    Ok(counts)
}

fn check(flow: ControlFlow<()>) -> Result<()> {
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::Input("export interrupted".into())),
    }
}

fn ip_of(v: i64) -> rusqlite::Result<u32> {
    u32::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, v))
}

/// An IPv4 address serialized as a dotted string without allocating.
struct Ip(u32);

impl Serialize for Ip {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&Ipv4Addr::from(self.0))
    }
}

/// Unix ms serialized as RFC 3339 without allocating.
struct Time(i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&Rfc3339Ms(self.0))
    }
}

#[derive(Serialize)]
struct IpLine<'a> {
    ip: Ip,
    outcome: &'a str,
    inferred: bool,
    network: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorField<'a>>,
    registry: Option<&'a str>,
    redirects: Option<i64>,
    attempts: i64,
    worker: Option<&'a str>,
    fetched_at: Option<Time>,
}

#[derive(Serialize)]
struct ErrorField<'a> {
    reason: &'a str,
}

/// A stored network as a raw JSON value (validated, not copied); `None` (and a count) when
/// the stored text is not JSON.
fn raw_network<'a>(json: Option<&'a str>, malformed: &mut u64) -> Option<&'a RawValue> {
    let json = json?;
    match serde_json::from_str::<&RawValue>(json) {
        Ok(v) => Some(v),
        Err(_) => {
            *malformed += 1;
            None
        }
    }
}

fn text<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    match row.get_ref(i)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        v => v
            .as_str()
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), e.into())),
    }
}

fn export_ips(
    db: &ReportDb,
    out: &mut impl Write,
    mut progress: impl FnMut(u64) -> ControlFlow<()>,
) -> Result<ExportCounts> {
    let sql = if db.served {
        "SELECT s.ip, o.kind, o.inferred, o.registry, o.reason, o.redirects, o.attempts,
                o.worker_id, o.at_ms, n.network_json
         FROM seeds s
         LEFT JOIN outcomes o ON o.ip = s.ip
         LEFT JOIN networks n ON n.start_ip = o.net_start AND n.end_ip = o.net_end
         ORDER BY s.ip"
    } else {
        "SELECT ip, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM seeds ORDER BY ip"
    };
    let mut stmt = db.conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut c = ExportCounts::default();
    while let Some(row) = rows.next()? {
        c.rows += 1;
        if c.rows.is_multiple_of(10_000) {
            check(progress(c.rows))?;
        }
        let kind = text(row, 1)?;
        let line = IpLine {
            ip: Ip(ip_of(row.get(0)?)?),
            outcome: kind.unwrap_or("pending"),
            inferred: row.get::<_, Option<bool>>(2)?.unwrap_or(false),
            network: raw_network(text(row, 9)?, &mut c.malformed),
            error: (kind == Some("failed"))
                .then(|| -> rusqlite::Result<_> {
                    Ok(ErrorField {
                        reason: text(row, 4)?.unwrap_or(""),
                    })
                })
                .transpose()?,
            registry: text(row, 3)?,
            redirects: row.get(5)?,
            attempts: row.get::<_, Option<i64>>(6)?.unwrap_or(0),
            worker: text(row, 7)?,
            fetched_at: row.get::<_, Option<i64>>(8)?.map(Time),
        };
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        c.lines += 1;
    }
    check(progress(c.rows))?;
    Ok(c)
}

fn export_networks(
    db: &ReportDb,
    out: &mut impl Write,
    mut progress: impl FnMut(u64) -> ControlFlow<()>,
) -> Result<ExportCounts> {
    let mut c = ExportCounts::default();
    if !db.served {
        check(progress(0))?;
        return Ok(c);
    }
    let mut stmt = db.conn.prepare(
        "SELECT id, answers, found_at_ms, worker_id, network_json
         FROM networks ORDER BY start_ip, end_ip",
    )?;
    #[derive(Serialize)]
    struct NetLine<'a> {
        id: i64,
        answers: i64,
        found_at: Time,
        worker: Option<&'a str>,
        network: Option<&'a RawValue>,
    }
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        c.rows += 1;
        if c.rows.is_multiple_of(10_000) {
            check(progress(c.rows))?;
        }
        let line = NetLine {
            id: row.get(0)?,
            answers: row.get(1)?,
            found_at: Time(row.get(2)?),
            worker: text(row, 3)?,
            network: raw_network(text(row, 4)?, &mut c.malformed),
        };
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        c.lines += 1;
    }
    check(progress(c.rows))?;
    Ok(c)
}

fn export_ipwhois(
    db: &ReportDb,
    out: &mut impl Write,
    mut progress: impl FnMut(u64) -> ControlFlow<()>,
) -> Result<ExportCounts> {
    let seeds: i64 =
        db.conn
            .query_row("SELECT coalesce(sum(ip_count), 0) FROM batches", [], |r| {
                r.get(0)
            })?;
    let mut c = ExportCounts::default();
    if db.served {
        let mut stmt = db.conn.prepare(
            "SELECT o.ip, n.network_json, n.raw_json, w.hostname, o.at_ms
             FROM outcomes o
             JOIN networks n ON n.start_ip = o.net_start AND n.end_ip = o.net_end
             LEFT JOIN workers w ON w.worker_id = o.worker_id
             WHERE o.kind = 'found'
             ORDER BY o.ip",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            c.rows += 1;
            if c.rows.is_multiple_of(10_000) {
                check(progress(c.rows))?;
            }
            let network = text(row, 1)?.unwrap_or("null");
            let raw = match row.get_ref(2)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Some(b),
                _ => None,
            };
            let line = ipwhois_line(
                ip_of(row.get(0)?)?,
                network,
                raw,
                text(row, 3)?,
                row.get(4)?,
            );
            if line.is_none() {
                c.malformed += 1;
            }
            serde_json::to_writer(&mut *out, &line.unwrap_or(Value::Null))
                .map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            c.lines += 1;
        }
    }
    c.left_out = (seeds.max(0) as u64).saturating_sub(c.lines);
    check(progress(c.rows))?;
    Ok(c)
}

/// The 2016 timestamp: `datetime.utcnow().isoformat()`, microseconds and no zone suffix.
fn timestamp_2016(ms: i64) -> String {
    let s = Rfc3339Ms(ms).to_string();
    format!("{}000", s.trim_end_matches('Z'))
}

/// Build the 2016 line for one answered IP from the normalized network and the raw RDAP body.
/// `None` when the stored network is not a JSON object (a damaged file).
fn ipwhois_line(
    ip: u32,
    network_json: &str,
    raw: Option<&[u8]>,
    host: Option<&str>,
    at_ms: i64,
) -> Option<Value> {
    let n: Map<String, Value> = serde_json::from_str(network_json).ok()?;
    let raw: Value = raw
        .and_then(|r| serde_json::from_slice(r).ok())
        .unwrap_or(Value::Null);
    let get = |k: &str| n.get(k).cloned().unwrap_or(Value::Null);
    let mut cidrs: Vec<String> = n
        .get("cidrs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if cidrs.is_empty() {
        let addr = |k: &str| {
            n.get(k)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
        };
        if let (Some(s), Some(e)) = (addr("start_address"), addr("end_address"))
            && s <= e
        {
            cidrs = rdapfleet_ranges::range::to_cidrs(u32::from(s), u32::from(e))
                .iter()
                .map(ToString::to_string)
                .collect();
        }
    }
    let mut objects = Map::new();
    let mut entities = Vec::new();
    if let Some(list) = raw.get("entities").and_then(Value::as_array) {
        for e in list {
            if let Some(h) = e.get("handle").and_then(Value::as_str)
                && !objects.contains_key(h)
            {
                entities.push(Value::String(h.to_string()));
                add_objects(e, &mut objects, 0);
            }
        }
    }
    let ip_s = Ipv4Addr::from(ip).to_string();
    let asn = n
        .get("origin_asns")
        .and_then(|a| a.get(0))
        .and_then(Value::as_u64)
        .map(|a| a.to_string());
    let ip_version = raw
        .get("ipVersion")
        .cloned()
        .unwrap_or_else(|| get("ip_version"));
    Some(json!({
        "Host": host,
        "IP": ip_s,
        "Timestamp": timestamp_2016(at_ms),
        "Whois": {
            "asn": asn,
            "asn_cidr": cidrs.first(),
            "asn_country_code": get("country"),
            "asn_date": get("registration_date"),
            "asn_registry": get("registry"),
            "entities": entities,
            "network": {
                "handle": get("handle"),
                "start_address": get("start_address"),
                "end_address": get("end_address"),
                "cidr": cidrs.join(", "),
                "name": get("name"),
                "type": get("type"),
                "country": get("country"),
                "parent_handle": get("parent_handle"),
                "status": get("status"),
                "events": events(&raw),
                "ip_version": ip_version,
                "links": links(&raw),
                "notices": notices(raw.get("notices")),
                "remarks": notices(raw.get("remarks")),
                "raw": Value::Null,
            },
            "objects": objects,
            "query": ip_s,
            "raw": Value::Null,
        }
    }))
}

/// ipwhois events: `[{"action","timestamp","actor"}]` (null when there are none).
fn events(obj: &Value) -> Value {
    match obj.get("events").and_then(Value::as_array) {
        Some(evs) if !evs.is_empty() => Value::Array(
            evs.iter()
                .map(|e| {
                    json!({
                        "action": e.get("eventAction"),
                        "timestamp": e.get("eventDate"),
                        "actor": e.get("eventActor"),
                    })
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// ipwhois links: the `href`s (null when there are none).
fn links(obj: &Value) -> Value {
    match obj.get("links").and_then(Value::as_array) {
        Some(l) if !l.is_empty() => {
            Value::Array(l.iter().filter_map(|x| x.get("href").cloned()).collect())
        }
        _ => Value::Null,
    }
}

/// ipwhois notices / remarks: `[{"title","description" (lines joined by \n),"links"}]`.
fn notices(list: Option<&Value>) -> Value {
    match list.and_then(Value::as_array) {
        Some(l) if !l.is_empty() => Value::Array(
            l.iter()
                .map(|n| {
                    let description = n.get("description").and_then(Value::as_array).map(|d| {
                        d.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                    json!({
                        "title": n.get("title"),
                        "description": description,
                        "links": links(n),
                    })
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Add an entity (and the entities nested in it, as ipwhois does when it follows them) to the
/// `objects` map, keyed by handle.
fn add_objects(e: &Value, objects: &mut Map<String, Value>, depth: usize) {
    let Some(handle) = e.get("handle").and_then(Value::as_str) else {
        return;
    };
    if objects.contains_key(handle) || depth > 8 {
        return;
    }
    let nested: Vec<&Value> = e
        .get("entities")
        .and_then(Value::as_array)
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let nested_handles: Vec<Value> = nested
        .iter()
        .filter_map(|n| n.get("handle").cloned())
        .collect();
    objects.insert(
        handle.to_string(),
        json!({
            "handle": handle,
            "roles": e.get("roles"),
            "contact": contact(e),
            "events": events(e),
            "events_actor": Value::Null,
            "links": links(e),
            "notices": notices(e.get("notices")),
            "remarks": notices(e.get("remarks")),
            "status": e.get("status"),
            "entities": if nested_handles.is_empty() { Value::Null } else { Value::Array(nested_handles) },
            "raw": Value::Null,
        }),
    );
    for n in nested {
        add_objects(n, objects, depth + 1);
    }
}

/// The ipwhois contact block from an entity's vCard:
/// `{name, kind, address[{type,value}], phone[{type,value}], email[{type,value}], role, title}`.
fn contact(entity: &Value) -> Value {
    let mut c = Map::new();
    for k in ["name", "kind", "address", "phone", "email", "role", "title"] {
        c.insert(k.into(), Value::Null);
    }
    let props = entity
        .get("vcardArray")
        .and_then(|v| v.get(1))
        .and_then(Value::as_array);
    let (mut emails, mut phones, mut addresses) = (Vec::new(), Vec::new(), Vec::new());
    for p in props.into_iter().flatten() {
        let Some(arr) = p.as_array() else { continue };
        let name = arr.first().and_then(Value::as_str).unwrap_or("");
        let params = arr.get(1);
        let kind = params
            .and_then(|p| p.get("type"))
            .cloned()
            .unwrap_or(Value::Null);
        let value = arr.get(3).cloned().unwrap_or(Value::Null);
        match name {
            "fn" => {
                c.insert("name".into(), value);
            }
            "kind" | "role" | "title" => {
                c.insert(name.into(), value);
            }
            "email" => emails.push(json!({"type": kind, "value": value})),
            "tel" => phones.push(json!({"type": kind, "value": value})),
            "adr" => {
                let label = params.and_then(|p| p.get("label")).cloned();
                let text = label.unwrap_or_else(|| match &value {
                    Value::Array(parts) => Value::String(
                        parts
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    other => other.clone(),
                });
                addresses.push(json!({"type": kind, "value": text}));
            }
            _ => {}
        }
    }
    for (k, list) in [("email", emails), ("phone", phones), ("address", addresses)] {
        if !list.is_empty() {
            c.insert(k.into(), Value::Array(list));
        }
    }
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn lines_of(conn: Connection, options: ExportOptions) -> Vec<Value> {
        let db = ReportDb { conn, served: true };
        let mut buf = Vec::new();
        export(&db, &options, &mut buf, |_| ControlFlow::Continue(())).unwrap();
        String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn ipwhois_line_carries_the_2016_fields() {
        let net = r#"{"start_address":"1.1.1.0","end_address":"1.1.1.255","cidrs":["1.1.1.0/24"],"handle":"1.1.1.0 - 1.1.1.255","name":"APNIC-LABS","type":"ASSIGNED PORTABLE","country":"AU","parent_handle":null,"status":["active"],"registry":"apnic","origin_asns":[13335],"registration_date":"2011-08-10T23:12:35Z"}"#;
        let raw = br#"{"ipVersion":"v4","events":[{"eventAction":"registration","eventDate":"2011-08-10T23:12:35Z"}],"remarks":[{"title":"description","description":["APNIC and Cloudflare","DNS Resolver project"]}],"entities":[{"handle":"IRT-APNICRANDNET-AU","roles":["abuse"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","IRT-APNICRANDNET-AU"],["kind",{},"text","group"],["email",{},"text","helpdesk@apnic.net"],["adr",{"label":"PO Box 3646\nSouth Brisbane"},"text",["","","","","","",""]]]],"entities":[{"handle":"NESTED-1","roles":["technical"]}]}],"links":[{"href":"https://rdap.apnic.net/ip/1.1.1.0/24"}]}"#;
        let line = ipwhois_line(
            0x0101_0101,
            net,
            Some(raw),
            Some("10.0.0.5"),
            1_700_000_000_123,
        )
        .unwrap();
        assert_eq!(line["IP"], "1.1.1.1");
        assert_eq!(line["Host"], "10.0.0.5");
        assert_eq!(line["Timestamp"], "2023-11-14T22:13:20.123000");
        let w = &line["Whois"];
        assert_eq!(w["asn_registry"], "apnic");
        assert_eq!(w["asn"], "13335");
        assert_eq!(w["asn_cidr"], "1.1.1.0/24");
        assert_eq!(w["query"], "1.1.1.1");
        assert!(w["raw"].is_null());
        for k in [
            "handle",
            "start_address",
            "end_address",
            "cidr",
            "name",
            "type",
            "country",
            "parent_handle",
            "status",
            "events",
        ] {
            assert!(w["network"].get(k).is_some(), "network.{k}");
        }
        assert_eq!(w["network"]["cidr"], "1.1.1.0/24");
        assert_eq!(w["network"]["ip_version"], "v4");
        assert_eq!(w["network"]["events"][0]["action"], "registration");
        assert_eq!(
            w["network"]["remarks"][0]["description"],
            "APNIC and Cloudflare\nDNS Resolver project"
        );
        assert_eq!(w["entities"], json!(["IRT-APNICRANDNET-AU"]));
        let irt = &w["objects"]["IRT-APNICRANDNET-AU"];
        assert_eq!(irt["contact"]["email"][0]["value"], "helpdesk@apnic.net");
        assert_eq!(irt["contact"]["name"], "IRT-APNICRANDNET-AU");
        assert_eq!(
            irt["contact"]["address"][0]["value"],
            "PO Box 3646\nSouth Brisbane"
        );
        assert_eq!(irt["entities"], json!(["NESTED-1"]));
        assert!(w["objects"].get("NESTED-1").is_some());
        // Keys come out sorted, as json.dumps(sort_keys=True) wrote them.
        let text = serde_json::to_string(&line).unwrap();
        assert!(
            text.starts_with(r#"{"Host":"10.0.0.5","IP":"1.1.1.1","Timestamp""#),
            "{text}"
        );
    }

    #[test]
    fn ipwhois_cidr_comes_from_the_range_when_the_list_is_missing() {
        let net =
            r#"{"start_address":"13.64.0.0","end_address":"13.107.255.255","registry":"arin"}"#;
        let line = ipwhois_line(0x0D40_0001, net, None, None, 0).unwrap();
        assert_eq!(
            line["Whois"]["network"]["cidr"],
            "13.64.0.0/11, 13.96.0.0/13, 13.104.0.0/14"
        );
        assert!(ipwhois_line(1, "not json", None, None, 0).is_none());
    }

    #[test]
    fn encoders_round_trip() {
        use std::io::Read;
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut buf = Vec::new();
            {
                let mut e = encoder(Box::new(&mut buf), c).unwrap();
                e.write_all(b"{\"a\":1}\n").unwrap();
                e.finish().unwrap();
            }
            let text = match c {
                Compression::None => String::from_utf8(buf).unwrap(),
                Compression::Gzip => {
                    let mut s = String::new();
                    flate2::read::GzDecoder::new(&buf[..])
                        .read_to_string(&mut s)
                        .unwrap();
                    s
                }
                Compression::Zstd => {
                    String::from_utf8(zstd::decode_all(&buf[..]).unwrap()).unwrap()
                }
            };
            assert_eq!(text, "{\"a\":1}\n");
        }
    }

    #[test]
    fn ipwhois_has_no_network_form() {
        let o = ExportOptions {
            networks: true,
            layout: Layout::Ipwhois,
            compression: Compression::None,
        };
        assert!(o.validate().unwrap_err().is_input_error());
    }

    #[test]
    fn a_damaged_network_row_is_written_as_null_and_counted() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE networks (id INTEGER PRIMARY KEY, start_ip INTEGER, end_ip INTEGER,
                 network_json TEXT, answers INTEGER, worker_id TEXT, found_at_ms INTEGER);
             INSERT INTO networks VALUES (1, 1, 2, '{\"handle\":\"A\"}', 1, 'w', 0);
             INSERT INTO networks VALUES (2, 3, 4, '{broken', 2, NULL, 0);",
        )
        .unwrap();
        let lines = lines_of(
            conn,
            ExportOptions {
                networks: true,
                layout: Layout::Rdapfleet,
                compression: Compression::None,
            },
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["network"]["handle"], "A");
        assert_eq!(lines[0]["found_at"], "1970-01-01T00:00:00.000Z");
        assert!(lines[1]["network"].is_null());
        assert_eq!(lines[1]["answers"], 2);
    }
}
