//! LACNIC (`rdap.lacnic.net/rdap`): CIDR handles (`179.0.0.0/23`), `cidr0_cidrs`, lower-case
//! types (`allocated`, `assigned`, ...), `lacnic_originAutnum`, no `name`/`country`/
//! `parentHandle`, entities (registrant organisation; a technical+abuse contact with an
//! e-mail), registration and last-changed events, `self` and `copyright` links, notices
//! "Terms and Conditions" and "RDAP Cache", `port43: whois.lacnic.net`. Modelled on
//! `rdap/lacnic/179.0.0.0_23__rdap_client-2022.json`. Its rate-limit answer is the bare
//! "Rate Limit Notice" ([`super::lacnic_rate_limit_notice`]).

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::{Answer, cc, cidr0, event_dates, first_cidr, ip, vcard};
use crate::names;

const TERMS: &str = "http://www.lacnic.net/web/lacnic/registration-data-access-protocol";

fn terms_notice() -> Value {
    json!({
        "title": "Terms and Conditions",
        "description": ["This is the LACNIC RDAP service. Objects are in RDAP format."],
        "links": [{
            "value": TERMS,
            "rel": "terms-of-service",
            "href": TERMS,
            "type": "text/html"
        }]
    })
}

pub(super) fn network(a: &Answer<'_>) -> Value {
    let net = a.net();
    let base = a.base(Registry::Lacnic);
    let (registered, changed) = event_dates(a.world, net, false);
    let events = json!([
        {"eventAction": "registration", "eventDate": registered},
        {"eventAction": "last changed", "eventDate": changed}
    ]);
    let entity_link = |h: &str| {
        let href = format!("{base}/entity/{h}");
        json!([{ "value": href, "rel": "self", "type": "application/rdap+json", "href": href }])
    };
    let mut entities = Vec::new();
    if let Some(org) = a.world.org(net) {
        let orgh = names::org_handle(Registry::Lacnic, org, cc(net));
        let contact = names::abuse_handle(Registry::Lacnic, org, cc(net));
        entities.push(json!({
            "objectClassName": "entity",
            "handle": orgh,
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(org)),
                ("kind", json!({}), "text", json!("org")),
            ]),
            "roles": ["registrant"],
            "links": entity_link(&orgh)
        }));
        entities.push(json!({
            "objectClassName": "entity",
            "handle": contact,
            "roles": ["technical", "abuse"],
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(format!("{org} NOC"))),
                ("kind", json!({}), "text", json!("individual")),
                ("adr", json!({}), "text", json!(["", "", "", "", "", "", cc(net)])),
                ("email", json!({}), "text", json!(format!("abuse@{}", names::mail_domain(org)))),
            ]),
            "events": events,
            "links": entity_link(&contact)
        }));
    }
    let self_href = format!("{base}/ip/{}", first_cidr(net));
    json!({
        "objectClassName": "ip network",
        "handle": names::handle(net),
        "startAddress": ip(net.range.start),
        "endAddress": ip(net.range.end),
        "ipVersion": "v4",
        "cidr0_cidrs": cidr0(net),
        "type": names::type_str(net.registry, net.kind),
        "lacnic_originAutnum": if net.asn != 0 { json!(net.asn) } else { json!("N/A") },
        "entities": entities,
        "events": events,
        "links": [{
            "value": self_href,
            "rel": "self",
            "href": self_href
        }, {
            "value": TERMS,
            "rel": "copyright",
            "href": TERMS
        }],
        "rdapConformance": ["rdap_level_0", "lacnic_level_0", "cidr0"],
        "notices": [terms_notice(), {
            "title": "RDAP Cache",
            "description": [
                "This object is stored in a temporary cache.",
                "Rdap objects may take up to 4 hours to refresh."
            ]
        }],
        "port43": "whois.lacnic.net"
    })
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "errorCode": status,
        "title": title,
        "description": [description],
        "notices": [terms_notice()],
        "rdapConformance": ["rdap_level_0", "lacnic_level_0"]
    })
}
