//! APNIC (`rdap.apnic.net`): range handles, `cidr0_cidrs`, conformance with
//! `history_version_0` and `nro_rdap_profile_0`, `country`, `status`, registration and
//! last-changed events, remarks titled "description", entities (technical/administrative
//! contact, an `IRT-` abuse team with e-mails, the registrant organisation), a `self` link
//! naming the CIDR, notices "Source", "Terms and Conditions", "Whois Inaccuracy Reporting",
//! `port43: whois.apnic.net`; error codes are JSON strings (`"404"`), as APNIC sends them.
//! Modelled on `rdap/apnic/1.1.1.1__whoisit-2024-07-26.json` and `rdap/apnic/errors/`.

use std::borrow::Cow;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::object::{Entity, Event, IpNetwork, Link, Notice, Params, VCard, VRow};
use super::{Answer, base_network, cc, cidr0, event_dates, first_cidr, lines};
use crate::names;

const CONFORMANCE: &[&str] = &[
    "history_version_0",
    "nro_rdap_profile_0",
    "cidr0",
    "rdap_level_0",
];
const COPYRIGHT: &str = "http://www.apnic.net/db/dbcopyright.html";
const INACCURACY: &str =
    "https://www.apnic.net/manage-ip/using-whois/abuse-and-spamming/invalid-contact-form";

/// Registration, then last changed.
pub(super) fn events(a: &Answer<'_>) -> Vec<Event> {
    let (registered, changed) = event_dates(a.world, a.net(), false);
    vec![
        Event {
            event_action: "registration",
            event_date: registered,
        },
        Event {
            event_action: "last changed",
            event_date: changed,
        },
    ]
}

pub(super) fn network<'a>(a: &Answer<'a>, events: &'a [Event]) -> IpNetwork<'a> {
    let net = a.net();
    let base = a.base(Registry::Apnic);
    let country = cc(net);
    let mut obj = base_network(a, CONFORMANCE);
    let entity = |handle: String, roles: &'a [&'a str], vcard: Vec<VRow<'a>>| {
        let mut e = Entity::new(handle, roles);
        e.events = Some(events);
        e.links = vec![Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "self",
            format!("{base}/entity/{}", e.handle),
            Some("application/rdap+json"),
        )];
        e.vcard_array = Some(VCard(vcard));
        e
    };
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        let irt = names::abuse_handle(Registry::Apnic, org, country);
        obj.entities.push(entity(
            names::tech_handle(Registry::Apnic, org),
            &["technical", "administrative"],
            vec![
                VRow::text("fn", format!("{org} Infrastructure Contact")),
                VRow::text("kind", "group"),
                VRow::adr_label(format!("Registered address withheld, {country}")),
                VRow::text("email", format!("noc@{domain}")),
            ],
        ));
        obj.entities.push(entity(
            irt.clone(),
            &["abuse"],
            vec![
                VRow::text("fn", irt),
                VRow::text("kind", "group"),
                VRow::text("email", format!("abuse@{domain}")),
                VRow::with("email", Params::Pref("1"), format!("abuse@{domain}")),
            ],
        ));
        obj.entities.push(entity(
            names::org_handle(Registry::Apnic, org, country),
            &["registrant"],
            vec![
                VRow::text("fn", org),
                VRow::text("kind", "org"),
                VRow::adr_label(format!("Registered address withheld, {country}")),
            ],
        ));
        remarks.push(Notice::new(Some("description"), vec![Cow::Borrowed(org)]));
    }
    obj.notices = vec![
        Notice::new(
            Some("Source"),
            lines(&["Objects returned came from source", "APNIC"]),
        ),
        Notice::new(
            Some("Terms and Conditions"),
            lines(&[
                "This is the APNIC WHOIS Database query service. The objects are in RDAP format.",
            ]),
        )
        .with_links(vec![Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "terms-of-service",
            COPYRIGHT,
            Some("text/html"),
        )]),
        Notice::new(
            Some("Whois Inaccuracy Reporting"),
            lines(&["If you see inaccuracies in the results, please visit: "]),
        )
        .with_links(vec![Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "inaccuracy-report",
            INACCURACY,
            Some("text/html"),
        )]),
    ];
    obj.country = Some(country);
    obj.events = Some(events);
    obj.remarks = Some(remarks);
    obj.links = vec![Link::new(
        Some(Cow::Borrowed(a.request_url)),
        "self",
        format!("{base}/ip/{}", first_cidr(net)),
        Some("application/rdap+json"),
    )];
    obj.status = Some(&["active"]);
    obj.cidr0_cidrs = Some(cidr0(net));
    obj.port43 = Some("whois.apnic.net");
    obj
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "description": [description],
        "errorCode": status.to_string(),
        "title": title,
        "notices": [{
            "description": ["This is the APNIC RDAP query service. The objects are in RDAP format."],
            "links": [{ "href": COPYRIGHT, "rel": "terms-of-service", "type": "text/html" }],
            "title": "Terms and Conditions"
        }],
        "rdapConformance": ["rdap_level_0"]
    })
}
