//! RIPE NCC (`rdap.db.ripe.net`): range handles (`a.b.c.d - e.f.g.h`), `parentHandle`, no
//! cidr0, no `status`, only a `last changed` event, entities (registrant organisation, abuse
//! role with a typed e-mail, admin/tech contact by handle only), notices "Filtered", "Source",
//! "Terms and Conditions", a `self` link equal to the query and a `copyright` link,
//! `port43: whois.ripe.net`. Modelled on `rdap/ripe/193.0.6.139__rdap_client-2022.json` and the
//! error bodies in `rdap/ripe/errors/`.

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::{Answer, adr_label, cc, event_dates, ip, vcard};
use crate::names;

const TERMS: &str = "http://www.ripe.net/data-tools/support/documentation/terms";

fn terms_notice(request_url: Option<&str>) -> Value {
    let mut link = json!({
        "rel": "terms-of-service",
        "href": "http://www.ripe.net/db/support/db-terms-conditions.pdf",
        "type": "application/pdf"
    });
    if let Some(u) = request_url {
        link["value"] = json!(u);
    }
    json!({
        "title": "Terms and Conditions",
        "description": ["This is the RIPE Database query service. The objects are in RDAP format."],
        "links": [link]
    })
}

pub(super) fn network(a: &Answer<'_>) -> Value {
    let net = a.net();
    let (_, changed) = event_dates(a.world, net, false);
    let mut entities = Vec::new();
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        let tech = names::tech_handle(Registry::RipeNcc, org);
        entities.push(json!({
            "handle": tech,
            "roles": ["administrative", "technical"],
            "objectClassName": "entity"
        }));
        entities.push(json!({
            "handle": names::org_handle(Registry::RipeNcc, org, cc(net)),
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(org)),
                ("kind", json!({}), "text", json!("org")),
                adr_label(&format!("Registered address withheld\n{}", cc(net))),
            ]),
            "roles": ["registrant"],
            "objectClassName": "entity"
        }));
        entities.push(json!({
            "handle": names::abuse_handle(Registry::RipeNcc, org, cc(net)),
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(format!("{org} abuse contact"))),
                ("kind", json!({}), "text", json!("group")),
                ("email", json!({"type": "email"}), "text", json!(format!("noc@{domain}"))),
                ("email", json!({"type": "abuse"}), "text", json!(format!("abuse@{domain}"))),
            ]),
            "roles": ["abuse"],
            "entities": [{
                "handle": tech,
                "roles": ["technical"],
                "objectClassName": "entity"
            }],
            "objectClassName": "entity"
        }));
        remarks.push(json!({ "description": [org] }));
    }
    let mut v = json!({
        "handle": names::handle(net),
        "startAddress": ip(net.range.start),
        "endAddress": ip(net.range.end),
        "ipVersion": "v4",
        "name": names::name(a.world, net),
        "type": names::type_str(net.registry, net.kind),
        "country": cc(net),
        "entities": entities,
        "remarks": remarks,
        "links": [{
            "value": a.request_url,
            "rel": "self",
            "href": a.request_url
        }, {
            "value": TERMS,
            "rel": "copyright",
            "href": TERMS
        }],
        "events": [{"eventAction": "last changed", "eventDate": changed}],
        "rdapConformance": ["rdap_level_0"],
        "notices": [{
            "title": "Filtered",
            "description": ["This output has been filtered."]
        }, {
            "title": "Source",
            "description": ["Objects returned came from source", "RIPE"]
        }, terms_notice(Some(a.request_url))],
        "port43": "whois.ripe.net",
        "objectClassName": "ip network"
    });
    if let Some(p) = names::parent_handle(a.world, net) {
        v["parentHandle"] = json!(p);
    }
    v
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "links": [{ "value": TERMS, "rel": "copyright", "href": TERMS }],
        "rdapConformance": ["cidr0", "rdap_level_0", "nro_rdap_profile_0"],
        "notices": [terms_notice(None)],
        "port43": "whois.ripe.net",
        "errorCode": status,
        "title": title,
        "description": [description]
    })
}
