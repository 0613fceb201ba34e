//! Answers in each registry's own RDAP dialect, modelled on the real captures in
//! `shared/data/rdap/<rir>/` (key sets, handle styles, cidr0 or not, entities with vCards,
//! events, notices, links, port43). One module per registry; this one holds what they share.
//!
//! Network answers are built per request as the typed, borrowed serde structs of [`object`]
//! (each dialect fills the members its registry sends) and serialized straight to bytes by
//! [`network`]; nothing is pre-rendered. Only the small error bodies ([`error`],
//! [`lacnic_rate_limit_notice`]) are `serde_json::Value`s, serialized by the server.

mod afrinic;
mod apnic;
mod arin;
mod lacnic;
pub mod object;
mod ripe;

use std::borrow::Cow;
use std::net::Ipv4Addr;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use crate::dates;
use crate::world::{Net, NetId, World};
use object::{Cidr0, IpNetwork, Notice};

/// What a network answer needs besides the world.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The world.
    pub world: &'a World,
    /// The network to describe.
    pub id: NetId,
    /// `http://host:port` the client used.
    pub origin: &'a str,
    /// The full URL the client asked for.
    pub request_url: &'a str,
}

impl<'a> Answer<'a> {
    fn net(&self) -> &'a Net {
        self.world.net(self.id)
    }

    fn base(&self, registry: Registry) -> String {
        base_url(self.origin, registry)
    }
}

/// A registry's base URL on a local world, without the trailing slash:
/// `http://127.0.0.1:PORT/arin/registry`, `.../ripencc`, `.../apnic`, `.../lacnic/rdap`,
/// `.../afrinic/rdap` (the bootstrap file lists these with a trailing `/`).
pub fn base_url(origin: &str, registry: Registry) -> String {
    let path = registry.ip_path().trim_end_matches('/');
    let path = path.strip_suffix("/ip").unwrap_or(path);
    format!("{origin}/{}{path}", registry.as_str())
}

/// The network object (`objectClassName: "ip network"` with the usual top-level members) in
/// the dialect of the registry that holds it, serialized; `pad` adds a remark that takes the
/// body beyond 1 MiB (the oversize fault).
pub fn network(answer: &Answer<'_>, pad: bool) -> Vec<u8> {
    let events;
    let mut obj = match answer.net().registry {
        Registry::Arin => {
            events = arin::events(answer);
            arin::network(answer, &events)
        }
        Registry::RipeNcc => {
            events = ripe::events(answer);
            ripe::network(answer, &events)
        }
        Registry::Apnic => {
            events = apnic::events(answer);
            apnic::network(answer, &events)
        }
        Registry::Lacnic => {
            events = lacnic::events(answer);
            lacnic::network(answer, &events)
        }
        Registry::Afrinic => {
            events = Vec::new();
            afrinic::network(answer, &events)
        }
    };
    if pad {
        obj.remarks.get_or_insert_with(Vec::new).push(padding());
    }
    serde_json::to_vec(&obj).unwrap_or_default()
}

/// A remark of about 1.1 MiB.
fn padding() -> Notice<'static> {
    const LINE: &str = "This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate). \
        This remark pads the answer beyond 1 MiB (rdapfleet-sim --oversize-rate).";
    Notice::new(
        Some("Padding"),
        std::iter::repeat_n(Cow::Borrowed(LINE), 1_150).collect(),
    )
}

/// An RDAP error body (RFC 9083 §6) in the registry's shape.
pub fn error(registry: Registry, status: u16, description: &str, request_url: &str) -> Value {
    let title = reason(status);
    match registry {
        Registry::Arin => arin::error(status, title, description, request_url),
        Registry::RipeNcc => ripe::error(status, title, description),
        Registry::Apnic => apnic::error(status, title, description),
        Registry::Lacnic => lacnic::error(status, title, description),
        Registry::Afrinic => afrinic::error(status, title, description, request_url),
    }
}

/// LACNIC's rate-limit answer: a bare notice, no `errorCode`
/// (`Rate Limit is maxed at 10 queries per 1 minutes.`).
pub fn lacnic_rate_limit_notice(queries: u64, minutes: u64) -> Value {
    json!({
        "notices": [{
            "title": "Rate Limit Notice",
            "description": [format!("Rate Limit is maxed at {queries} queries per {minutes} minutes.")]
        }]
    })
}

/// Standard reason phrase of the statuses the simulator sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn cidr0(net: &Net) -> Vec<Cidr0> {
    net.range
        .cidrs()
        .iter()
        .map(|c| Cidr0 {
            v4prefix: c.network(),
            length: c.prefix_len(),
        })
        .collect()
}

/// The first CIDR of the network (APNIC and LACNIC self links name one).
fn first_cidr(net: &Net) -> String {
    net.range.cidrs().first().map_or_else(
        || Ipv4Addr::from(net.range.start).to_string(),
        |c| c.to_string(),
    )
}

/// Registration / last-changed dates with a UTC offset in minutes (ARIN uses US Eastern).
fn event_dates(world: &World, net: &Net, eastern: bool) -> (String, String) {
    let offset = |days: i32| {
        if !eastern {
            return 0;
        }
        let (_, m, _) = dates::civil_from_days(i64::from(days));
        if (4..=10).contains(&m) { -240 } else { -300 }
    };
    (
        dates::rfc3339(
            i64::from(net.registered),
            world.event_seconds(net, 0),
            offset(net.registered),
        ),
        dates::rfc3339(
            i64::from(net.changed),
            world.event_seconds(net, 1),
            offset(net.changed),
        ),
    )
}

fn cc(net: &Net) -> &str {
    std::str::from_utf8(&net.cc).unwrap_or("ZZ")
}

/// Lines of text as borrowed description lines.
fn lines<'a>(items: &[&'a str]) -> Vec<Cow<'a, str>> {
    items.iter().map(|s| Cow::Borrowed(*s)).collect()
}

/// Fill the fields every dialect sets the same way.
fn base_network<'a>(a: &Answer<'a>, conformance: &'a [&'a str]) -> IpNetwork<'a> {
    let net = a.net();
    IpNetwork {
        lang: None,
        rdap_conformance: conformance,
        notices: Vec::new(),
        handle: crate::names::handle(net),
        start_address: Ipv4Addr::from(net.range.start),
        end_address: Ipv4Addr::from(net.range.end),
        ip_version: "v4",
        name: crate::names::name(a.world, net),
        kind: crate::names::type_str(net.registry, net.kind),
        country: None,
        parent_handle: crate::names::parent_handle(a.world, net),
        status: None,
        remarks: None,
        events: None,
        links: Vec::new(),
        entities: Vec::new(),
        port43: None,
        object_class_name: "ip network",
        cidr0_cidrs: None,
        arin_originautnums: None,
        lacnic_origin_autnum: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_follow_the_convention() {
        let o = "http://127.0.0.1:9";
        assert_eq!(
            base_url(o, Registry::Arin),
            "http://127.0.0.1:9/arin/registry"
        );
        assert_eq!(base_url(o, Registry::RipeNcc), "http://127.0.0.1:9/ripencc");
        assert_eq!(base_url(o, Registry::Apnic), "http://127.0.0.1:9/apnic");
        assert_eq!(
            base_url(o, Registry::Lacnic),
            "http://127.0.0.1:9/lacnic/rdap"
        );
        assert_eq!(
            base_url(o, Registry::Afrinic),
            "http://127.0.0.1:9/afrinic/rdap"
        );
    }

    #[test]
    fn lacnic_notice_text() {
        let v = lacnic_rate_limit_notice(10, 1);
        assert_eq!(
            v["notices"][0]["description"][0],
            "Rate Limit is maxed at 10 queries per 1 minutes."
        );
    }
}
