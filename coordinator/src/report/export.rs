//! Streaming JSONL export: one line per seed IP (or per distinct network), read row by row
//! from SQLite and written through an optional gzip or zstd encoder, in constant memory.
//!
//! Per-IP line (layout `rdapfleet`, DESIGN.md §4):
//! `{"ip","outcome","inferred","network"|null,"error"?,"registry","redirects","attempts","worker","fetched_at"}`
//! where `outcome` is found, skipped, not_found, failed or pending (no final outcome yet), and
//! `network` is the stored normalized network (for skipped IPs: the known network containing it).
//!
//! Layout `ipwhois` writes the 2016 crawler's line shape for answered IPs, so pipelines built on
//! the old Kafka dump keep working: `{"Host","IP","Timestamp","Whois":{"asn","asn_cidr",
//! "asn_country_code","asn_date","asn_registry","entities","network":{...},"objects","query","raw"}}`.

use std::io::Write;
use std::net::Ipv4Addr;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::rfc3339_ms;
use crate::Result;

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

#[derive(Serialize)]
struct IpLine<'a> {
    ip: String,
    outcome: &'a str,
    inferred: bool,
    network: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorField<'a>>,
    registry: Option<&'a str>,
    redirects: Option<i64>,
    attempts: i64,
    worker: Option<&'a str>,
    fetched_at: Option<String>,
}

#[derive(Serialize)]
struct ErrorField<'a> {
    reason: &'a str,
}

/// Lines the export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportCounts {
    /// Lines written.
    pub lines: u64,
    /// Rows left out (ipwhois layout: IPs without an answered network).
    pub skipped: u64,
}

/// How many rows a full export visits (for progress bars).
pub fn row_count(conn: &Connection, networks: bool) -> Result<u64> {
    let sql = if networks {
        "SELECT count(*) FROM networks"
    } else {
        "SELECT count(*) FROM seeds"
    };
    Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
}

/// One line per seed IP, in address order. `progress` is called every 10,000 rows.
pub fn export_ips(
    conn: &Connection,
    layout: Layout,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<ExportCounts> {
    let mut stmt = conn.prepare(
        "SELECT s.ip, o.kind, o.inferred, o.registry, o.reason, o.redirects, o.attempts, o.worker_id,
                o.at_ms, n.network_json, n.raw_json, w.hostname
         FROM seeds s
         LEFT JOIN outcomes o ON o.ip = s.ip
         LEFT JOIN networks n ON n.start_ip = o.net_start AND n.end_ip = o.net_end
         LEFT JOIN workers w ON w.worker_id = o.worker_id
         ORDER BY s.ip",
    )?;
    let mut rows = stmt.query([])?;
    let mut counts = ExportCounts::default();
    let mut seen = 0u64;
    while let Some(row) = rows.next()? {
        seen += 1;
        if seen.is_multiple_of(10_000) {
            progress(seen);
        }
        let ip = u32::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let kind: Option<String> = row.get(1)?;
        let network_json: Option<String> = row.get(9)?;
        let at_ms: Option<i64> = row.get(8)?;
        match layout {
            Layout::Rdapfleet => {
                let network = network_json
                    .as_deref()
                    .and_then(|j| RawValue::from_string(j.to_string()).ok());
                let reason: Option<String> = row.get(4)?;
                let registry: Option<String> = row.get(3)?;
                let worker: Option<String> = row.get(7)?;
                let line = IpLine {
                    ip: Ipv4Addr::from(ip).to_string(),
                    outcome: kind.as_deref().unwrap_or("pending"),
                    inferred: row.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
                    network: network.as_deref(),
                    error: (kind.as_deref() == Some("failed")).then(|| ErrorField {
                        reason: reason.as_deref().unwrap_or(""),
                    }),
                    registry: registry.as_deref(),
                    redirects: row.get(5)?,
                    attempts: row.get::<_, Option<i64>>(6)?.unwrap_or(0),
                    worker: worker.as_deref(),
                    fetched_at: at_ms.map(rfc3339_ms),
                };
                serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
                counts.lines += 1;
            }
            Layout::Ipwhois => {
                let (Some("found"), Some(net)) = (kind.as_deref(), network_json.as_deref()) else {
                    counts.skipped += 1;
                    continue;
                };
                let raw: Option<Vec<u8>> = row.get(10)?;
                let host: Option<String> = row.get(11)?;
                let line =
                    ipwhois_line(ip, net, raw.as_deref(), host.as_deref(), at_ms.unwrap_or(0));
                serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
                counts.lines += 1;
            }
        }
    }
    progress(seen);
    Ok(counts)
}

/// One line per distinct network: `{"id","answers","found_at","worker","network":{...}}`.
pub fn export_networks(
    conn: &Connection,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<ExportCounts> {
    let mut stmt =
        conn.prepare("SELECT id, answers, found_at_ms, worker_id, network_json FROM networks ORDER BY start_ip, end_ip")?;
    let mut rows = stmt.query([])?;
    let mut counts = ExportCounts::default();
    while let Some(row) = rows.next()? {
        let json: String = row.get(4)?;
        let network = RawValue::from_string(json).map_err(std::io::Error::other)?;
        let line = json!({
            "id": row.get::<_, i64>(0)?,
            "answers": row.get::<_, i64>(1)?,
            "found_at": rfc3339_ms(row.get(2)?),
            "worker": row.get::<_, Option<String>>(3)?,
            "network": network,
        });
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
        counts.lines += 1;
        if counts.lines.is_multiple_of(10_000) {
            progress(counts.lines);
        }
    }
    progress(counts.lines);
    Ok(counts)
}

/// The 2016 timestamp: UTC ISO 8601 with microseconds and no zone suffix.
fn timestamp_2016(ms: i64) -> String {
    let s = rfc3339_ms(ms);
    format!("{}000", s.trim_end_matches('Z'))
}

/// Build the 2016 line for one answered IP from the normalized network and the raw RDAP body.
fn ipwhois_line(
    ip: u32,
    network_json: &str,
    raw: Option<&[u8]>,
    host: Option<&str>,
    at_ms: i64,
) -> Value {
    let n: Value = serde_json::from_str(network_json).unwrap_or(Value::Null);
    let raw: Value = raw
        .and_then(|r| serde_json::from_slice(r).ok())
        .unwrap_or(Value::Null);
    let get = |k: &str| n.get(k).cloned().unwrap_or(Value::Null);
    let cidrs: Vec<String> = n
        .get("cidrs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let events: Vec<Value> = raw
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .map(|e| json!({"action": e.get("eventAction"), "timestamp": e.get("eventDate"), "actor": e.get("eventActor")}))
                .collect()
        })
        .unwrap_or_default();
    let mut objects = Map::new();
    let mut entities = Vec::new();
    if let Some(list) = raw.get("entities").and_then(Value::as_array) {
        for e in list {
            if let Some(h) = e.get("handle").and_then(Value::as_str) {
                entities.push(Value::String(h.to_string()));
                objects.insert(
                    h.to_string(),
                    json!({
                        "handle": h,
                        "roles": e.get("roles"),
                        "contact": contact(e),
                        "events": e.get("events"),
                        "links": e.get("links"),
                        "status": e.get("status"),
                    }),
                );
            }
        }
    }
    let ip_s = Ipv4Addr::from(ip).to_string();
    json!({
        "Host": host,
        "IP": ip_s,
        "Timestamp": timestamp_2016(at_ms),
        "Whois": {
            "asn": n.get("origin_asns").and_then(|a| a.get(0)).map(|a| a.to_string()),
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
                "events": events,
                "ip_version": get("ip_version"),
                "links": raw.get("links").and_then(Value::as_array).map(|l| l.iter().filter_map(|x| x.get("href").cloned()).collect::<Vec<_>>()),
                "notices": raw.get("notices"),
                "remarks": raw.get("remarks"),
                "raw": Value::Null,
            },
            "objects": objects,
            "query": ip_s,
            "raw": Value::Null,
        }
    })
}

/// The ipwhois contact block from an entity's vCard.
fn contact(entity: &Value) -> Value {
    let mut c = Map::new();
    let props = entity
        .get("vcardArray")
        .and_then(|v| v.get(1))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    for p in props {
        let Some(arr) = p.as_array() else { continue };
        let name = arr.first().and_then(Value::as_str).unwrap_or("");
        let value = arr.get(3).cloned().unwrap_or(Value::Null);
        match name {
            "fn" => {
                c.insert("name".into(), value);
            }
            "kind" => {
                c.insert("kind".into(), value);
            }
            "email" => {
                emails.push(json!({"type": arr.get(1).and_then(|p| p.get("type")), "value": value}))
            }
            "tel" => {
                phones.push(json!({"type": arr.get(1).and_then(|p| p.get("type")), "value": value}))
            }
            "adr" => {
                c.insert("address".into(), json!([{"type": Value::Null, "value": arr.get(1).and_then(|p| p.get("label")).cloned().unwrap_or(value)}]));
            }
            "title" => {
                c.insert("title".into(), value);
            }
            "role" => {
                c.insert("role".into(), value);
            }
            _ => {}
        }
    }
    c.insert(
        "email".into(),
        if emails.is_empty() {
            Value::Null
        } else {
            Value::Array(emails)
        },
    );
    c.insert(
        "phone".into(),
        if phones.is_empty() {
            Value::Null
        } else {
            Value::Array(phones)
        },
    );
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipwhois_line_carries_the_2016_fields() {
        let net = r#"{"start_address":"1.1.1.0","end_address":"1.1.1.255","cidrs":["1.1.1.0/24"],"handle":"1.1.1.0 - 1.1.1.255","name":"APNIC-LABS","type":"ASSIGNED PORTABLE","country":"AU","parent_handle":null,"status":["active"],"registry":"apnic","origin_asns":[13335],"registration_date":"2011-08-10T23:12:35Z"}"#;
        let raw = br#"{"events":[{"eventAction":"registration","eventDate":"2011-08-10T23:12:35Z"}],"entities":[{"handle":"IRT-APNICRANDNET-AU","roles":["abuse"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","IRT-APNICRANDNET-AU"],["kind",{},"text","group"],["email",{},"text","helpdesk@apnic.net"]]]}],"links":[{"href":"https://rdap.apnic.net/ip/1.1.1.0/24"}]}"#;
        let line = ipwhois_line(
            0x0101_0101,
            net,
            Some(raw),
            Some("10.0.0.5"),
            1_700_000_000_123,
        );
        assert_eq!(line["IP"], "1.1.1.1");
        assert_eq!(line["Host"], "10.0.0.5");
        assert_eq!(line["Timestamp"], "2023-11-14T22:13:20.123000");
        let w = &line["Whois"];
        assert_eq!(w["asn_registry"], "apnic");
        assert_eq!(w["asn"], "13335");
        assert_eq!(w["query"], "1.1.1.1");
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
        assert_eq!(w["network"]["events"][0]["action"], "registration");
        assert_eq!(w["entities"][0], "IRT-APNICRANDNET-AU");
        assert_eq!(
            w["objects"]["IRT-APNICRANDNET-AU"]["contact"]["email"][0]["value"],
            "helpdesk@apnic.net"
        );
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
}
