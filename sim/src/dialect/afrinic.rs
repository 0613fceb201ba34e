//! AFRINIC (`rdap.afrinic.net/rdap`): range handles, `parentHandle`, `cidr0_cidrs` while the
//! conformance says only `rdap_level_0` (as the real server does), `lang`, `status`, `country`,
//! a "Remark" naming the holder and its AS, entities with vCards (contacts with typed e-mails,
//! the registrant organisation, an abuse role), the "ABOUT" notice, `port43:
//! whois.afrinic.net`, no events. Modelled on `rdap/afrinic/41.0.0.0__rdap_client-2022.json`
//! and `rdap/afrinic/196.11.240.215__ipwhois-2015.json`.

use std::borrow::Cow;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::object::{Entity, Event, IpNetwork, Link, Notice, Params, VCard, VRow};
use super::{Answer, base_network, cc, cidr0, lines};
use crate::names;

const MANUAL: &str = "https://www.afrinic.net/support/whois-db/reference-manual";

fn about<'a>(request_url: &'a str) -> Notice<'a> {
    let mut link = Link::new(
        Some(Cow::Borrowed(request_url)),
        "describedby",
        MANUAL,
        Some("text/html"),
    );
    link.hreflang = Some(&["en"]);
    link.title = Some("AFRINIC Database Reference Manual");
    link.media = Some("screen");
    Notice::new(Some("ABOUT"), lines(&["This is the AfriNIC RDAP server."])).with_links(vec![link])
}

fn contact<'a>(
    handle: String,
    kind: &'static str,
    name: Cow<'a, str>,
    email: String,
    roles: &'a [&'a str],
) -> Entity<'a> {
    let mut e = Entity::new(handle, roles);
    e.lang = Some("en");
    e.status = Some(&["active"]);
    e.port43 = Some("whois.afrinic.net");
    e.vcard_array = Some(VCard(vec![
        VRow::text("kind", kind),
        VRow::text("fn", name),
        VRow::with("email", Params::Type("work"), email),
    ]));
    e.rdap_conformance = Some(&[]);
    e
}

pub(super) fn network<'a>(a: &Answer<'a>, _events: &'a [Event]) -> IpNetwork<'a> {
    let net = a.net();
    let country = cc(net);
    let mut obj = base_network(a, &["rdap_level_0"]);
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        obj.entities.push(contact(
            names::tech_handle(Registry::Afrinic, org),
            "individual",
            Cow::Owned(format!("{org} Network Administrator")),
            format!("noc@{domain}"),
            &["administrative", "technical"],
        ));
        obj.entities.push(contact(
            names::org_handle(Registry::Afrinic, org, country),
            "org",
            Cow::Borrowed(org),
            format!("info@{domain}"),
            &["registrant"],
        ));
        obj.entities.push(contact(
            names::abuse_handle(Registry::Afrinic, org, country),
            "group",
            Cow::Owned(format!("{org} Abuse")),
            format!("abuse@{domain}"),
            &["abuse"],
        ));
        let remark = if net.asn != 0 {
            Cow::Owned(format!("{org} (ASN {})", net.asn))
        } else {
            Cow::Borrowed(org)
        };
        remarks.push(Notice::new(Some("Remark"), vec![remark]));
    }
    obj.lang = Some("en");
    obj.remarks = Some(remarks);
    obj.notices = vec![about(a.request_url)];
    obj.status = Some(&["active"]);
    obj.port43 = Some("whois.afrinic.net");
    obj.country = Some(country);
    obj.cidr0_cidrs = Some(cidr0(net));
    obj
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
