//! LACNIC (`rdap.lacnic.net/rdap`): CIDR handles (`179.0.0.0/23`), `cidr0_cidrs`, lower-case
//! types (`allocated`, `assigned`, ...), `lacnic_originAutnum`, no `name`/`country`/
//! `parentHandle`, entities (registrant organisation; a technical+abuse contact with an
//! e-mail), registration and last-changed events, `self` and `copyright` links, notices
//! "Terms and Conditions" and "RDAP Cache", `port43: whois.lacnic.net`. Modelled on
//! `rdap/lacnic/179.0.0.0_23__rdap_client-2022.json`. Its rate-limit answer is the bare
//! "Rate Limit Notice" ([`super::lacnic_rate_limit_notice`]).

use std::borrow::Cow;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::object::{Autnum, Entity, Event, IpNetwork, Link, Notice, VCard, VRow, VValue};
use super::{Answer, base_network, cc, cidr0, event_dates, first_cidr, lines};
use crate::names;

const TERMS: &str = "http://www.lacnic.net/web/lacnic/registration-data-access-protocol";
const TERMS_TEXT: &str = "This is the LACNIC RDAP service. Objects are in RDAP format.";

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
    let base = a.base(Registry::Lacnic);
    let country = cc(net);
    let mut obj = base_network(a, &["rdap_level_0", "lacnic_level_0", "cidr0"]);
    let self_link = |href: String| {
        Link::new(
            Some(Cow::Owned(href.clone())),
            "self",
            href,
            Some("application/rdap+json"),
        )
    };
    if let Some(org) = a.world.org(net) {
        let orgh = names::org_handle(Registry::Lacnic, org, country);
        let mut registrant = Entity::new(orgh.clone(), &["registrant"]);
        registrant.vcard_array = Some(VCard(vec![
            VRow::text("fn", org),
            VRow::text("kind", "org"),
        ]));
        registrant.links = vec![self_link(format!("{base}/entity/{orgh}"))];
        obj.entities.push(registrant);
        let contact = names::abuse_handle(Registry::Lacnic, org, country);
        let mut noc = Entity::new(contact.clone(), &["technical", "abuse"]);
        let mut adr = [""; 7];
        adr[6] = country;
        noc.vcard_array = Some(VCard(vec![
            VRow::text("fn", format!("{org} NOC")),
            VRow::text("kind", "individual"),
            VRow {
                name: "adr",
                params: super::object::Params::None,
                kind: "text",
                value: VValue::Adr(adr),
            },
            VRow::text("email", format!("abuse@{}", names::mail_domain(org))),
        ]));
        noc.events = Some(events);
        noc.links = vec![self_link(format!("{base}/entity/{contact}"))];
        obj.entities.push(noc);
    }
    let self_href = format!("{base}/ip/{}", first_cidr(net));
    obj.links = vec![
        Link::new(Some(Cow::Owned(self_href.clone())), "self", self_href, None),
        Link::new(Some(Cow::Borrowed(TERMS)), "copyright", TERMS, None),
    ];
    obj.cidr0_cidrs = Some(cidr0(net));
    obj.lacnic_origin_autnum = Some(if net.asn != 0 {
        Autnum::Number(net.asn)
    } else {
        Autnum::Text("N/A")
    });
    obj.events = Some(events);
    obj.notices = vec![
        Notice::new(Some("Terms and Conditions"), lines(&[TERMS_TEXT])).with_links(vec![
            Link::new(
                Some(Cow::Borrowed(TERMS)),
                "terms-of-service",
                TERMS,
                Some("text/html"),
            ),
        ]),
        Notice::new(
            Some("RDAP Cache"),
            lines(&[
                "This object is stored in a temporary cache.",
                "Rdap objects may take up to 4 hours to refresh.",
            ]),
        ),
    ];
    obj.port43 = Some("whois.lacnic.net");
    obj
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "errorCode": status,
        "title": title,
        "description": [description],
        "notices": [{
            "title": "Terms and Conditions",
            "description": [TERMS_TEXT],
            "links": [{ "value": TERMS, "rel": "terms-of-service", "href": TERMS, "type": "text/html" }]
        }],
        "rdapConformance": ["rdap_level_0", "lacnic_level_0"]
    })
}
