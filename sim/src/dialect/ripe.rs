//! RIPE NCC (`rdap.db.ripe.net`): range handles (`a.b.c.d - e.f.g.h`), `parentHandle`, no
//! cidr0, no `status`, only a `last changed` event, entities (registrant organisation, abuse
//! role with a typed e-mail, admin/tech contact by handle only), notices "Filtered", "Source",
//! "Terms and Conditions", a `self` link equal to the query and a `copyright` link,
//! `port43: whois.ripe.net`. Modelled on `rdap/ripe/193.0.6.139__rdap_client-2022.json` and the
//! error bodies in `rdap/ripe/errors/`.

use std::borrow::Cow;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::object::{Entity, Event, IpNetwork, Link, Notice, Params, VCard, VRow};
use super::{Answer, base_network, cc, event_dates, lines};
use crate::names;

const TERMS: &str = "http://www.ripe.net/data-tools/support/documentation/terms";
const TERMS_PDF: &str = "http://www.ripe.net/db/support/db-terms-conditions.pdf";
const TERMS_TEXT: &str = "This is the RIPE Database query service. The objects are in RDAP format.";

/// Only `last changed`.
pub(super) fn events(a: &Answer<'_>) -> Vec<Event> {
    let (_, changed) = event_dates(a.world, a.net(), false);
    vec![Event {
        event_action: "last changed",
        event_date: changed,
    }]
}

pub(super) fn network<'a>(a: &Answer<'a>, events: &'a [Event]) -> IpNetwork<'a> {
    let net = a.net();
    let country = cc(net);
    let mut obj = base_network(a, &["rdap_level_0"]);
    let mut remarks = Vec::new();
    if let Some(org) = a.world.org(net) {
        let domain = names::mail_domain(org);
        let tech = names::tech_handle(Registry::RipeNcc, org);
        obj.entities
            .push(Entity::new(tech.clone(), &["administrative", "technical"]));
        let mut registrant = Entity::new(
            names::org_handle(Registry::RipeNcc, org, country),
            &["registrant"],
        );
        registrant.vcard_array = Some(VCard(vec![
            VRow::text("fn", org),
            VRow::text("kind", "org"),
            VRow::adr_label(format!("Registered address withheld\n{country}")),
        ]));
        obj.entities.push(registrant);
        let mut abuse = Entity::new(
            names::abuse_handle(Registry::RipeNcc, org, country),
            &["abuse"],
        );
        abuse.vcard_array = Some(VCard(vec![
            VRow::text("fn", format!("{org} abuse contact")),
            VRow::text("kind", "group"),
            VRow::with("email", Params::Type("email"), format!("noc@{domain}")),
            VRow::with("email", Params::Type("abuse"), format!("abuse@{domain}")),
        ]));
        abuse.entities = vec![Entity::new(tech, &["technical"])];
        obj.entities.push(abuse);
        remarks.push(Notice::new(None, vec![Cow::Borrowed(org)]));
    }
    obj.country = Some(country);
    obj.remarks = Some(remarks);
    obj.links = vec![
        Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "self",
            a.request_url,
            None,
        ),
        Link::new(Some(Cow::Borrowed(TERMS)), "copyright", TERMS, None),
    ];
    obj.events = Some(events);
    obj.notices = vec![
        Notice::new(Some("Filtered"), lines(&["This output has been filtered."])),
        Notice::new(
            Some("Source"),
            lines(&["Objects returned came from source", "RIPE"]),
        ),
        Notice::new(Some("Terms and Conditions"), lines(&[TERMS_TEXT])).with_links(vec![
            Link::new(
                Some(Cow::Borrowed(a.request_url)),
                "terms-of-service",
                TERMS_PDF,
                Some("application/pdf"),
            ),
        ]),
    ];
    obj.port43 = Some("whois.ripe.net");
    obj
}

pub(super) fn error(status: u16, title: &str, description: &str) -> Value {
    json!({
        "links": [{ "value": TERMS, "rel": "copyright", "href": TERMS }],
        "rdapConformance": ["cidr0", "rdap_level_0", "nro_rdap_profile_0"],
        "notices": [{
            "title": "Terms and Conditions",
            "description": [TERMS_TEXT],
            "links": [{ "rel": "terms-of-service", "href": TERMS_PDF, "type": "application/pdf" }]
        }],
        "port43": "whois.ripe.net",
        "errorCode": status,
        "title": title,
        "description": [description]
    })
}
