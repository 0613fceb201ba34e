//! AFRINIC (`rdap.afrinic.net/rdap`): range handles, `parentHandle`, `cidr0_cidrs` while the
//! conformance says only `rdap_level_0` (as the real server does), `lang`, `status`, `country`,
//! a "Remark" naming the holder and its AS, entities with vCards (contacts with typed e-mails,
//! the registrant organisation, an abuse role), the "ABOUT" notice, `port43:
//! whois.afrinic.net`, no events. Modelled on `rdap/afrinic/41.0.0.0__rdap_client-2022.json`
//! and `rdap/afrinic/196.11.240.215__ipwhois-2015.json`.

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::{Answer, cc, cidr0, ip, vcard};
use crate::names;

fn about(request_url: &str) -> Value {
    json!({
        "title": "ABOUT",
        "description": ["This is the AfriNIC RDAP server."],
        "links": [{
            "value": request_url,
            "rel": "describedby",
            "href": "https://www.afrinic.net/support/whois-db/reference-manual",
            "hreflang": ["en"],
            "type": "text/html",
            "title": "AFRINIC Database Reference Manual",
            "media": "screen"
        }]
    })
}

fn contact(handle: &str, kind: &str, name: &str, email: &str, roles: &[&str]) -> Value {
    json!({
        "lang": "en",
        "handle": handle,
        "status": ["active"],
        "port43": "whois.afrinic.net",
        "vcardArray": vcard(&[
            ("kind", json!({}), "text", json!(kind)),
            ("fn", json!({}), "text", json!(name)),
            ("email", json!({"type": "work"}), "text", json!(email)),
        ]),
        "roles": roles,
        "objectClassName": "entity",
        "rdapConformance": []
    })
}

pub(super) fn network(a: &Answer<'_>) -> Value {
    let net = a.net();
    let mut entities = Vec::new();
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        entities.push(contact(
            &names::tech_handle(Registry::Afrinic, org),
            "individual",
            &format!("{org} Network Administrator"),
            &format!("noc@{domain}"),
            &["administrative", "technical"],
        ));
        entities.push(contact(
            &names::org_handle(Registry::Afrinic, org, cc(net)),
            "org",
            org,
            &format!("info@{domain}"),
            &["registrant"],
        ));
        entities.push(contact(
            &names::abuse_handle(Registry::Afrinic, org, cc(net)),
            "group",
            &format!("{org} Abuse"),
            &format!("abuse@{domain}"),
            &["abuse"],
        ));
        let remark = if net.asn != 0 {
            format!("{org} (ASN {})", net.asn)
        } else {
            org.to_string()
        };
        remarks.push(json!({"title": "Remark", "description": [remark]}));
    }
    json!({
        "lang": "en",
        "remarks": remarks,
        "notices": [about(a.request_url)],
        "handle": names::handle(net),
        "name": names::name(a.world, net),
        "status": ["active"],
        "port43": "whois.afrinic.net",
        "type": names::type_str(net.registry, net.kind),
        "country": cc(net),
        "entities": entities,
        "startAddress": ip(net.range.start),
        "endAddress": ip(net.range.end),
        "ipVersion": "v4",
        "parentHandle": names::parent_handle(a.world, net),
        "cidr0_cidrs": cidr0(net),
        "objectClassName": "ip network",
        "rdapConformance": ["rdap_level_0"]
    })
}

pub(super) fn error(status: u16, title: &str, description: &str, request_url: &str) -> Value {
    json!({
        "lang": "en",
        "errorCode": status,
        "title": title,
        "description": [description],
        "notices": [about(request_url)],
        "rdapConformance": ["rdap_level_0"]
    })
}
