//! The parser: one RDAP response body in, a [`Network`] or a typed [`ParseError`] out.
//!
//! Never panics and never returns a wrong network: the bounds must parse, share one IP version
//! (agreeing with `ipVersion` when given) and be ordered; `cidr0_cidrs` is used only when it is
//! exactly the range, otherwise the CIDRs are computed from the range (the range wins).
//!
//! Error bodies (RFC 9083 §6, `errorCode` as a number or a string): 404/410 become
//! [`ParseError::NotFound`], 429 and LACNIC's JSON "Rate Limit Notice" become
//! [`ParseError::RateLimited`], any other error code is [`ParseError::NotANetwork`] with the code
//! and title as the reason. HTML pages and invalid JSON are [`ParseError::Malformed`], JSON that
//! ends early [`ParseError::Truncated`].

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net, Ipv6Subnets};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use thiserror::Error;

use crate::address::{parse_addr, parse_bound};
use crate::model::{IpVersion, Network, is_leaf_type};
use crate::registry::Registry;
use crate::vcard;

/// Why a body is not a network.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// An RDAP error body saying the object does not exist (`errorCode` 404 or 410).
    #[error("not found (RDAP error {}{})", fmt_code(*code), fmt_title(title))]
    NotFound {
        /// The `errorCode`, when it was a number or a numeric string.
        code: Option<u16>,
        /// The error's `title`.
        title: Option<String>,
    },
    /// The server declined to answer for rate limiting (`errorCode` 429, LACNIC's notice).
    #[error("rate limited: {notice}")]
    RateLimited {
        /// The notice's title and description.
        notice: String,
    },
    /// Not a usable RDAP JSON answer (HTML, truncated or invalid JSON, impossible range, ...).
    #[error("malformed RDAP response: {0}")]
    Malformed(String),
    /// JSON that ends early: a cut transfer, not the registry's data. Worth asking again later.
    #[error("malformed RDAP response: truncated JSON: {0}")]
    Truncated(String),
    /// Valid RDAP JSON that is not an ip network (another object class, another error code,
    /// a search result, ...).
    #[error("not an RDAP ip network: {0}")]
    NotANetwork(String),
}

fn fmt_code(code: Option<u16>) -> String {
    code.map_or_else(|| "without a code".to_string(), |c| c.to_string())
}

fn fmt_title(title: &Option<String>) -> String {
    title
        .as_ref()
        .map_or_else(String::new, |t| format!(": {t}"))
}

/// The members of a response that we read; the rest (notices, remarks, ...) is skipped unparsed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw<'a> {
    object_class_name: Option<Value>,
    handle: Option<Value>,
    start_address: Option<Value>,
    end_address: Option<Value>,
    ip_version: Option<Value>,
    name: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    country: Option<Value>,
    parent_handle: Option<Value>,
    status: Option<Value>,
    /// Read by `vcard` (typed fast path, lenient fallback).
    #[serde(borrow)]
    entities: Option<&'a RawValue>,
    events: Option<Value>,
    links: Option<Value>,
    port43: Option<Value>,
    #[serde(rename = "cidr0_cidrs")]
    cidr0_cidrs: Option<Value>,
    #[serde(rename = "arin_originas0_originautnums")]
    origin_autnums: Option<Value>,
    error_code: Option<Value>,
    title: Option<Value>,
    description: Option<Value>,
    /// Only looked at when the body is not a network (LACNIC's rate-limit notice).
    #[serde(borrow)]
    notices: Option<&'a RawValue>,
}

/// A non-empty trimmed string member; numbers are accepted as their text.
fn text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A list of strings (a lone string counts as a list of one).
fn texts(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        _ => Vec::new(),
    }
}

fn error_code(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|c| u16::try_from(c).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn mentions_rate_limit(s: &str) -> bool {
    s.to_ascii_lowercase().contains("rate limit")
}

/// Title and description of a notice-like object, joined for humans.
fn notice_text(title: Option<&Value>, description: Option<&Value>) -> String {
    let mut parts: Vec<String> = title
        .and_then(Value::as_str)
        .map(|t| vec![t.trim().to_string()])
        .unwrap_or_default();
    parts.extend(texts(&description.cloned()));
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}

/// Parse one RDAP response body (HTTP 200 or error bodies alike).
pub fn parse(body: &[u8]) -> Result<Network, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| ParseError::Malformed("empty body".into()))?;
    let body = &body[start..];
    match body[0] {
        b'{' => {}
        b'<' => {
            let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
            let what = if head.contains("<html") || head.contains("<!doctype html") {
                "an HTML page"
            } else {
                "markup (XML/HTML)"
            };
            return Err(ParseError::Malformed(format!("{what}, not JSON")));
        }
        _ => {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Ok(_) => ParseError::NotANetwork("JSON that is not an object".into()),
                    Err(e) => ParseError::Malformed(format!("not JSON: {e}")),
                },
            );
        }
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof => ParseError::Truncated(e.to_string()),
        serde_json::error::Category::Syntax => ParseError::Malformed(format!("invalid JSON: {e}")),
        _ => ParseError::Malformed(format!("unexpected JSON: {e}")),
    })?;
    from_raw(raw)
}

fn from_raw(raw: Raw<'_>) -> Result<Network, ParseError> {
    let has_bounds = raw.start_address.is_some() || raw.end_address.is_some();
    let title = text(&raw.title);

    // Rate limiting first: LACNIC answers with a bare notice object.
    if let Some(code) = raw.error_code.as_ref().and_then(error_code)
        && code == 429
    {
        return Err(ParseError::RateLimited {
            notice: notice_text(raw.title.as_ref(), raw.description.as_ref()),
        });
    }
    if title.as_deref().is_some_and(mentions_rate_limit) && !has_bounds {
        return Err(ParseError::RateLimited {
            notice: notice_text(raw.title.as_ref(), raw.description.as_ref()),
        });
    }
    let notices: Option<Value> = if has_bounds || raw.error_code.is_some() {
        None
    } else {
        raw.notices.and_then(|n| serde_json::from_str(n.get()).ok())
    };
    if let Some(Value::Array(notices)) = &notices
        && let Some(n) = notices.iter().find(|n| {
            n.get("title")
                .and_then(Value::as_str)
                .is_some_and(mentions_rate_limit)
        })
    {
        return Err(ParseError::RateLimited {
            notice: notice_text(n.get("title"), n.get("description")),
        });
    }

    if let Some(code_value) = &raw.error_code {
        let code = error_code(code_value);
        return Err(match code {
            Some(404) | Some(410) => ParseError::NotFound { code, title },
            Some(c) => ParseError::NotANetwork(format!(
                "RDAP error {c}{}",
                fmt_title(&Some(notice_text(
                    raw.title.as_ref(),
                    raw.description.as_ref()
                )))
            )),
            None => ParseError::NotANetwork(format!(
                "RDAP error body with errorCode {code_value}{}",
                fmt_title(&title)
            )),
        });
    }

    match &raw.object_class_name {
        Some(Value::String(c)) if c.trim().eq_ignore_ascii_case("ip network") => {}
        Some(Value::String(c)) => {
            return Err(ParseError::NotANetwork(format!(
                "objectClassName is {c:?}, not \"ip network\""
            )));
        }
        Some(other) => {
            return Err(ParseError::Malformed(format!(
                "objectClassName is {other}, not a string"
            )));
        }
        // RIPE NCC's 2015 answers omit objectClassName; their bounds identify them.
        None if has_bounds => {}
        None => {
            return Err(ParseError::NotANetwork(
                "no objectClassName and no startAddress/endAddress".into(),
            ));
        }
    }

    let bound = |v: &Option<Value>, member: &str| -> Result<IpAddr, ParseError> {
        match v {
            Some(Value::String(s)) => {
                parse_bound(s).map_err(|e| ParseError::Malformed(format!("{member}: {e}")))
            }
            Some(other) => Err(ParseError::Malformed(format!(
                "{member} is {other}, not a string"
            ))),
            None => Err(ParseError::Malformed(format!(
                "ip network without {member}"
            ))),
        }
    };
    let start = bound(&raw.start_address, "startAddress")?;
    let end = bound(&raw.end_address, "endAddress")?;
    let version = IpVersion::of(&start);
    if IpVersion::of(&end) != version {
        return Err(ParseError::Malformed(format!(
            "startAddress {start} and endAddress {end} are of different IP versions"
        )));
    }
    if let Some(declared) = text(&raw.ip_version) {
        let declared_ok = declared.eq_ignore_ascii_case(version.as_str());
        if !declared_ok {
            return Err(ParseError::Malformed(format!(
                "ipVersion is {declared:?} but the addresses are {}",
                version.as_str()
            )));
        }
    }
    if end < start {
        return Err(ParseError::Malformed(format!(
            "endAddress {end} is before startAddress {start}"
        )));
    }

    let cidrs = cidrs_for(start, end, raw.cidr0_cidrs.as_ref());
    let contacts = vcard::contacts_from_raw(raw.entities);
    let self_link = self_link(raw.links.as_ref());
    let registry = self_link
        .as_deref()
        .and_then(Registry::from_url)
        .or_else(|| text(&raw.port43).as_deref().and_then(registry_of_port43));
    let kind = text(&raw.kind);
    let (registration_date, last_changed_date) = events(raw.events.as_ref());

    Ok(Network {
        start_address: start.to_string(),
        end_address: end.to_string(),
        cidrs,
        handle: text(&raw.handle),
        name: text(&raw.name),
        leaf: kind.as_deref().is_some_and(is_leaf_type),
        kind,
        country: text(&raw.country).map(|c| {
            if c.len() == 2 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        }),
        parent_handle: text(&raw.parent_handle),
        status: texts(&raw.status),
        registry,
        origin_asns: origin_asns(raw.origin_autnums.as_ref()),
        registrant: contacts.registrant,
        abuse_emails: contacts.abuse_emails,
        registration_date,
        last_changed_date,
        source_url: self_link,
        ip_version: version,
    })
}

/// The CIDRs of `start..=end`: `cidr0_cidrs` when it covers exactly that range (order-insensitive),
/// computed otherwise.
fn cidrs_for(start: IpAddr, end: IpAddr, cidr0: Option<&Value>) -> Vec<String> {
    let computed: Vec<IpNet> = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => rdapfleet_ranges::to_cidrs(u32::from(s), u32::from(e))
            .into_iter()
            .map(IpNet::V4)
            .collect(),
        (IpAddr::V6(s), IpAddr::V6(e)) => Ipv6Subnets::new(s, e, 0).map(IpNet::V6).collect(),
        _ => Vec::new(),
    };
    if let Some(given) = cidr0.and_then(|v| cidr0_nets(v, IpVersion::of(&start))) {
        let mut sorted = given.clone();
        sorted.sort();
        sorted.dedup();
        if sorted == computed {
            return given.iter().map(IpNet::to_string).collect();
        }
        tracing::debug!(
            start = %start,
            end = %end,
            cidr0 = ?given,
            "cidr0_cidrs disagree with the range; computing CIDRs from the range"
        );
    }
    computed.iter().map(IpNet::to_string).collect()
}

/// Parse `cidr0_cidrs` entries; `None` if any entry is unusable (then the range is used).
fn cidr0_nets(v: &Value, version: IpVersion) -> Option<Vec<IpNet>> {
    let entries = v.as_array()?;
    if entries.is_empty() {
        return None;
    }
    entries
        .iter()
        .map(|e| {
            let len = e.get("length")?.as_u64()?;
            let len = u8::try_from(len).ok()?;
            let prefix = match version {
                IpVersion::V4 => e.get("v4prefix"),
                IpVersion::V6 => e.get("v6prefix"),
            }?
            .as_str()?;
            let net = match parse_addr(prefix.trim())? {
                IpAddr::V4(a) if version == IpVersion::V4 => IpNet::V4(Ipv4Net::new(a, len).ok()?),
                IpAddr::V6(a) if version == IpVersion::V6 => IpNet::V6(Ipv6Net::new(a, len).ok()?),
                _ => return None,
            };
            // A prefix with host bits set is not what it claims to be.
            (net.addr() == net.network()).then_some(net)
        })
        .collect()
}

fn self_link(links: Option<&Value>) -> Option<String> {
    links?
        .as_array()?
        .iter()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some("self"))
        .filter_map(|l| l.get("href").and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// The registry whose WHOIS server is named in `port43`.
fn registry_of_port43(host: &str) -> Option<Registry> {
    match host.trim().to_ascii_lowercase().as_str() {
        "whois.arin.net" => Some(Registry::Arin),
        "whois.ripe.net" => Some(Registry::RipeNcc),
        "whois.apnic.net" => Some(Registry::Apnic),
        "whois.lacnic.net" | "whois.nic.br" | "whois.registro.br" => Some(Registry::Lacnic),
        "whois.afrinic.net" => Some(Registry::Afrinic),
        _ => None,
    }
}

fn events(events: Option<&Value>) -> (Option<String>, Option<String>) {
    let (mut registration, mut changed) = (None, None);
    for e in events.and_then(Value::as_array).into_iter().flatten() {
        let (Some(action), Some(date)) = (
            e.get("eventAction").and_then(Value::as_str),
            e.get("eventDate").and_then(Value::as_str),
        ) else {
            continue;
        };
        let date = date.trim();
        if date.is_empty() {
            continue;
        }
        let action = action.trim();
        if action.eq_ignore_ascii_case("registration") && registration.is_none() {
            registration = Some(date.to_string());
        } else if action.eq_ignore_ascii_case("last changed") && changed.is_none() {
            changed = Some(date.to_string());
        }
    }
    (registration, changed)
}

/// Origin ASNs, ascending and without repeats (sorted rather than searched, so that a hostile
/// answer listing a hundred thousand ASNs costs milliseconds, not seconds).
fn origin_asns(v: Option<&Value>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for a in v.and_then(Value::as_array).into_iter().flatten() {
        let asn = match a {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => {
                let s = s.trim();
                let s = s
                    .strip_prefix("AS")
                    .or_else(|| s.strip_prefix("as"))
                    .unwrap_or(s);
                s.parse().ok()
            }
            _ => None,
        };
        out.extend(asn);
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(json: &str) -> Network {
        parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn minimal_network_and_computed_cidrs() {
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"13.64.0.0","endAddress":"13.107.255.255","ipVersion":"v4"}"#,
        );
        assert_eq!(n.cidrs, ["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"]);
        assert_eq!(n.ip_version, IpVersion::V4);
        assert!(!n.leaf);
        assert_eq!(n.registry, None);
    }

    #[test]
    fn inconsistent_cidr0_loses_to_the_range() {
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"10.0.1.255",
                "cidr0_cidrs":[{"v4prefix":"10.0.0.0","length":24}]}"#,
        );
        assert_eq!(n.cidrs, ["10.0.0.0/23"]);
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"10.0.1.255",
                "cidr0_cidrs":[{"v4prefix":"10.0.1.0","length":24},{"v4prefix":"10.0.0.0","length":24}]}"#,
        );
        // Two /24s are exactly the range but not minimal: still the range's minimal form.
        assert_eq!(n.cidrs, ["10.0.0.0/23"]);
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"10.0.1.255",
                "cidr0_cidrs":[{"v4prefix":"10.0.0.1","length":23}]}"#,
        );
        assert_eq!(n.cidrs, ["10.0.0.0/23"]);
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"10.0.1.255",
                "cidr0_cidrs":[{"v6prefix":"::","length":23}]}"#,
        );
        assert_eq!(n.cidrs, ["10.0.0.0/23"]);
    }

    #[test]
    fn impossible_ranges_are_refused() {
        for (body, why) in [
            (
                r#"{"objectClassName":"ip network","startAddress":"10.0.1.0","endAddress":"10.0.0.0"}"#,
                "before",
            ),
            (
                r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"::1"}"#,
                "different IP versions",
            ),
            (
                r#"{"objectClassName":"ip network","startAddress":"10.0.0.0","endAddress":"10.0.0.255","ipVersion":"v6"}"#,
                "ipVersion",
            ),
            (
                r#"{"objectClassName":"ip network","startAddress":"10.0.0.0"}"#,
                "without endAddress",
            ),
            (
                r#"{"objectClassName":"ip network","startAddress":"10.0.0.0/24","endAddress":"10.0.0.255"}"#,
                "suffix",
            ),
            (
                r#"{"objectClassName":"ip network","startAddress":5,"endAddress":"10.0.0.255"}"#,
                "not a string",
            ),
        ] {
            match parse(body.as_bytes()) {
                Err(ParseError::Malformed(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn error_bodies_and_notices() {
        assert_eq!(
            parse(br#"{"errorCode":"404","title":"Not Found"}"#),
            Err(ParseError::NotFound {
                code: Some(404),
                title: Some("Not Found".into())
            })
        );
        assert!(matches!(
            parse(br#"{"errorCode":429,"title":"Too Many Requests"}"#),
            Err(ParseError::RateLimited { .. })
        ));
        assert_eq!(
            parse(
                br#"{"title":"Rate Limit Notice","description":["Rate Limit is maxed at 10 queries per 1 minutes."]}"#
            ),
            Err(ParseError::RateLimited {
                notice: "Rate Limit Notice: Rate Limit is maxed at 10 queries per 1 minutes."
                    .into()
            })
        );
        assert!(matches!(
            parse(br#"{"notices":[{"title":"Rate Limit Notice","description":["x"]}]}"#),
            Err(ParseError::RateLimited { .. })
        ));
        match parse(br#"{"errorCode":"abc","title":"x"}"#) {
            Err(ParseError::NotANetwork(m)) => assert!(m.contains("abc"), "{m}"),
            other => panic!("{other:?}"),
        }
        match parse(br#"{"errorCode":400,"title":"Bad Request","description":["bad"]}"#) {
            Err(ParseError::NotANetwork(m)) => {
                assert_eq!(m, "RDAP error 400: Bad Request: bad")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn junk_is_malformed_or_not_a_network() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "empty"),
            (b"  \n ", "empty"),
            (b"<!DOCTYPE html><html><body>502</body></html>", "HTML"),
            (b"<?xml version='1.0'?><a/>", "markup"),
            (
                b"{\"objectClassName\":\"ip network\",\"startAdd",
                "truncated",
            ),
            (b"{\"a\" 1}", "invalid JSON"),
            (b"\xff\xfe", "not JSON"),
            (b"Too many requests", "not JSON"),
            (b"{\"handle\":1,\"handle\":2}", "unexpected JSON"),
        ];
        for (body, why) in cases {
            match parse(body) {
                Err(ParseError::Malformed(m)) => assert!(m.contains(why), "{m}"),
                Err(e @ ParseError::Truncated(_)) => assert_eq!(why, "truncated", "{e}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        for body in [
            &b"[1,2]"[..],
            b"\"ip network\"",
            b"{}",
            b"{\"objectClassName\":\"entity\",\"handle\":\"X\"}",
            b"{\"objectClassName\":\"autnum\",\"startAutnum\":1}",
        ] {
            assert!(
                matches!(parse(body), Err(ParseError::NotANetwork(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn odd_member_types_do_not_lose_the_network() {
        let n = net(
            r#"{"objectClassName":"ip network","startAddress":"1.0.0.0","endAddress":"1.0.0.255",
                "status":"active","name":["x"],"country":"au","entities":{"a":1},"events":"x",
                "links":[{"rel":"self"},{"rel":"self","href":"https://rdap.apnic.net/ip/1.0.0.0/24"}],
                "arin_originas0_originautnums":[13335,"AS15169",-1,"x",13335],"type":"ASSIGNED PORTABLE"}"#,
        );
        assert_eq!(n.status, ["active"]);
        assert_eq!(n.name, None);
        assert_eq!(n.country.as_deref(), Some("AU"));
        assert_eq!(n.origin_asns, [13335, 15169]);
        assert_eq!(n.registry, Some(Registry::Apnic));
        assert!(n.leaf);
    }

    #[test]
    fn many_origin_asns_are_sorted_and_deduplicated_quickly() {
        // 200,000 entries, each twice, in descending order (a list de-duplicated by searching
        // would cost 2 * 10^10 comparisons).
        let list: Vec<String> = (0..200_000u32)
            .rev()
            .flat_map(|a| [a.to_string(), format!("\"AS{a}\"")])
            .collect();
        let body = format!(
            r#"{{"objectClassName":"ip network","startAddress":"1.0.0.0","endAddress":"1.0.0.255",
                "arin_originas0_originautnums":[{}]}}"#,
            list.join(",")
        );
        let n = net(&body);
        assert_eq!(n.origin_asns.len(), 200_000);
        assert!(n.origin_asns.windows(2).all(|w| w[0] < w[1]));
    }
}
