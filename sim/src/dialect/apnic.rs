//! APNIC (`rdap.apnic.net`): range handles, `cidr0_cidrs`, conformance with
//! `history_version_0` and `nro_rdap_profile_0`, `country`, `status`, registration and
//! last-changed events, remarks titled "description", entities (technical/administrative
//! contact, an `IRT-` abuse team with e-mails, the registrant organisation), a `self` link
//! naming the CIDR, notices "Source", "Terms and Conditions", "Whois Inaccuracy Reporting",
//! `port43: whois.apnic.net`; error codes are JSON strings (`"404"`), as APNIC sends them.
//! Modelled on `rdap/apnic/1.1.1.1__whoisit-2024-07-26.json` and `rdap/apnic/errors/`.

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::{Answer, adr_label, cc, cidr0, event_dates, first_cidr, ip, vcard};
use crate::names;

pub(super) fn network(a: &Answer<'_>) -> Value {
    let net = a.net();
    let base = a.base(Registry::Apnic);
    let (registered, changed) = event_dates(a.world, net, false);
    let events = json!([
        {"eventAction": "registration", "eventDate": registered},
        {"eventAction": "last changed", "eventDate": changed}
    ]);
    let entity_link = |h: &str| {
        json!([{
            "value": a.request_url,
            "rel": "self",
            "href": format!("{base}/entity/{h}"),
            "type": "application/rdap+json"
        }])
    };
    let mut entities = Vec::new();
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        let tech = names::tech_handle(Registry::Apnic, org);
        let irt = names::abuse_handle(Registry::Apnic, org, cc(net));
        let orgh = names::org_handle(Registry::Apnic, org, cc(net));
        entities.push(json!({
            "roles": ["technical", "administrative"],
            "events": events,
            "links": entity_link(&tech),
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(format!("{org} Infrastructure Contact"))),
                ("kind", json!({}), "text", json!("group")),
                adr_label(&format!("Registered address withheld, {}", cc(net))),
                ("email", json!({}), "text", json!(format!("noc@{domain}"))),
            ]),
            "objectClassName": "entity",
            "handle": tech
        }));
        entities.push(json!({
            "roles": ["abuse"],
            "events": events,
            "links": entity_link(&irt),
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(irt)),
                ("kind", json!({}), "text", json!("group")),
                ("email", json!({}), "text", json!(format!("abuse@{domain}"))),
                ("email", json!({"pref": "1"}), "text", json!(format!("abuse@{domain}"))),
            ]),
            "objectClassName": "entity",
            "handle": irt
        }));
        entities.push(json!({
            "roles": ["registrant"],
            "events": events,
            "links": entity_link(&orgh),
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(org)),
                ("kind", json!({}), "text", json!("org")),
                adr_label(&format!("Registered address withheld, {}", cc(net))),
            ]),
            "objectClassName": "entity",
            "handle": orgh
        }));
        remarks.push(json!({"description": [org], "title": "description"}));
    }
    json!({
        "rdapConformance": ["history_version_0", "nro_rdap_profile_0", "cidr0", "rdap_level_0"],
        "notices": [{
            "title": "Source",
            "description": ["Objects returned came from source", "APNIC"]
        }, {
            "title": "Terms and Conditions",
            "description": ["This is the APNIC WHOIS Database query service. The objects are in RDAP format."],
            "links": [{
                "value": a.request_url,
                "rel": "terms-of-service",
                "href": "http://www.apnic.net/db/dbcopyright.html",
                "type": "text/html"
            }]
        }, {
            "title": "Whois Inaccuracy Reporting",
            "description": ["If you see inaccuracies in the results, please visit: "],
            "links": [{
                "value": a.request_url,
                "rel": "inaccuracy-report",
                "href": "https://www.apnic.net/manage-ip/using-whois/abuse-and-spamming/invalid-contact-form",
                "type": "text/html"
            }]
        }],
        "country": cc(net),
        "events": events,
        "name": names::name(a.world, net),
        "remarks": remarks,
        "links": [{
            "value": a.request_url,
            "rel": "self",
            "href": format!("{base}/ip/{}", first_cidr(net)),
            "type": "application/rdap+json"
        }],
        "status": ["active"],
        "type": names::type_str(net.registry, net.kind),
        "endAddress": ip(net.range.end),
        "ipVersion": "v4",
        "startAddress": ip(net.range.start),
        "objectClassName": "ip network",
        "handle": names::handle(net),
        "parentHandle": names::parent_handle(a.world, net),
        "entities": entities,
        "cidr0_cidrs": cidr0(net),
        "port43": "whois.apnic.net"
    })
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "description": [description],
        "errorCode": status.to_string(),
        "title": title,
        "notices": [{
            "description": ["This is the APNIC RDAP query service. The objects are in RDAP format."],
            "links": [{
                "href": "http://www.apnic.net/db/dbcopyright.html",
                "rel": "terms-of-service",
                "type": "text/html"
            }],
            "title": "Terms and Conditions"
        }],
        "rdapConformance": ["rdap_level_0"]
    })
}
