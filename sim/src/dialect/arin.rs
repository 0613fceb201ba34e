//! ARIN (`rdap.arin.net/registry`): `NET-a-b-c-d-N` handles, `cidr0_cidrs`,
//! `arin_originas0_originautnums`, a registrant organisation entity carrying its points of
//! contact (abuse with an e-mail, NOC) as nested entities, events with US Eastern offsets,
//! notices (Terms of Service, Whois Inaccuracy Reporting, Copyright), `self` and `alternate`
//! links, `port43: whois.arin.net`. Modelled on `rdap/arin/3.3.3.3__rdap_client-2022.json`.

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::{Answer, adr_label, cidr0, event_dates, ip, vcard};
use crate::names;

fn notices(request_url: &str) -> Value {
    json!([{
        "title": "Terms of Service",
        "description": ["By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"],
        "links": [{
            "value": request_url,
            "rel": "terms-of-service",
            "type": "text/html",
            "href": "https://www.arin.net/resources/registry/whois/tou/"
        }]
    }, {
        "title": "Whois Inaccuracy Reporting",
        "description": ["If you see inaccuracies in the results, please visit: "],
        "links": [{
            "value": request_url,
            "rel": "inaccuracy-report",
            "type": "text/html",
            "href": "https://www.arin.net/resources/registry/whois/inaccuracy_reporting/"
        }]
    }, {
        "title": "Copyright Notice",
        "description": ["Copyright 1997-2026, American Registry for Internet Numbers, Ltd."]
    }])
}

fn poc(base: &str, request_url: &str, handle: &str, name: &str, email: &str, role: &str) -> Value {
    json!({
        "handle": handle,
        "vcardArray": vcard(&[
            adr_label("Registered address withheld\nUnited States"),
            ("fn", json!({}), "text", json!(name)),
            ("org", json!({}), "text", json!(name)),
            ("kind", json!({}), "text", json!("group")),
            ("email", json!({}), "text", json!(email)),
            ("tel", json!({"type": ["work", "voice"]}), "text", json!("+1-555-0100")),
        ]),
        "roles": [role],
        "links": [{
            "value": request_url,
            "rel": "self",
            "type": "application/rdap+json",
            "href": format!("{base}/entity/{handle}")
        }, {
            "value": request_url,
            "rel": "alternate",
            "type": "application/xml",
            "href": format!("https://whois.arin.net/rest/poc/{handle}")
        }],
        "status": ["validated"],
        "port43": "whois.arin.net",
        "objectClassName": "entity"
    })
}

pub(super) fn network(a: &Answer<'_>) -> Value {
    let net = a.net();
    let base = a.base(Registry::Arin);
    let handle = names::handle(net);
    let (registered, changed) = event_dates(a.world, net, true);
    let mut entities = Vec::new();
    if let Some(org) = a.world.org(net) {
        let org_handle = names::org_handle(Registry::Arin, org, "US");
        let domain = names::mail_domain(org);
        entities.push(json!({
            "handle": org_handle,
            "vcardArray": vcard(&[
                ("fn", json!({}), "text", json!(org)),
                adr_label("Registered address withheld\nUnited States"),
                ("kind", json!({}), "text", json!("org")),
            ]),
            "roles": ["registrant"],
            "links": [{
                "value": a.request_url,
                "rel": "self",
                "type": "application/rdap+json",
                "href": format!("{base}/entity/{org_handle}")
            }, {
                "value": a.request_url,
                "rel": "alternate",
                "type": "application/xml",
                "href": format!("https://whois.arin.net/rest/org/{org_handle}")
            }],
            "events": [
                {"eventAction": "last changed", "eventDate": changed},
                {"eventAction": "registration", "eventDate": registered}
            ],
            "entities": [
                poc(&base, a.request_url, &names::abuse_handle(Registry::Arin, org, "US"),
                    &format!("{org} Abuse"), &format!("abuse@{domain}"), "abuse"),
                poc(&base, a.request_url, &names::tech_handle(Registry::Arin, org),
                    &format!("{org} Network Operations"), &format!("noc@{domain}"), "noc"),
            ],
            "port43": "whois.arin.net",
            "objectClassName": "entity"
        }));
    }
    let mut v = json!({
        "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
        "notices": notices(a.request_url),
        "handle": handle,
        "startAddress": ip(net.range.start),
        "endAddress": ip(net.range.end),
        "ipVersion": "v4",
        "name": names::name(a.world, net),
        "type": names::type_str(net.registry, net.kind),
        "events": [
            {"eventAction": "last changed", "eventDate": changed},
            {"eventAction": "registration", "eventDate": registered}
        ],
        "links": [{
            "value": a.request_url,
            "rel": "self",
            "type": "application/rdap+json",
            "href": format!("{base}/ip/{}", ip(net.range.start))
        }, {
            "value": a.request_url,
            "rel": "alternate",
            "type": "application/xml",
            "href": format!("https://whois.arin.net/rest/net/{handle}")
        }],
        "entities": entities,
        "port43": "whois.arin.net",
        "status": ["active"],
        "objectClassName": "ip network",
        "cidr0_cidrs": cidr0(net),
        "arin_originas0_originautnums": if net.asn != 0 { json!([net.asn]) } else { json!([]) }
    });
    if let Some(p) = names::parent_handle(a.world, net) {
        v["parentHandle"] = json!(p);
    }
    v
}

pub(super) fn error(status: u16, title: &str, description: &str, request_url: &str) -> Value {
    json!({
        "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0"],
        "notices": notices(request_url),
        "lang": "en",
        "errorCode": status,
        "title": title,
        "description": [description]
    })
}
