//! ARIN (`rdap.arin.net/registry`): `NET-a-b-c-d-N` handles, `cidr0_cidrs`,
//! `arin_originas0_originautnums`, a registrant organisation entity carrying its points of
//! contact (abuse with an e-mail, NOC) as nested entities, events with US Eastern offsets,
//! notices (Terms of Service, Whois Inaccuracy Reporting, Copyright), `self` and `alternate`
//! links, `port43: whois.arin.net`. Modelled on `rdap/arin/3.3.3.3__rdap_client-2022.json`.

use std::borrow::Cow;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use super::object::{Entity, Event, IpNetwork, Link, Notice, Params, VCard, VRow};
use super::{Answer, base_network, cidr0, event_dates, lines};
use crate::names;

const CONFORMANCE: &[&str] = &[
    "nro_rdap_profile_0",
    "rdap_level_0",
    "cidr0",
    "arin_originas0",
];
const TOU: &str = "https://www.arin.net/resources/registry/whois/tou/";
const INACCURACY: &str = "https://www.arin.net/resources/registry/whois/inaccuracy_reporting/";
const COPYRIGHT: &str = "Copyright 1997-2026, American Registry for Internet Numbers, Ltd.";
const ADDRESS: &str = "Registered address withheld\nUnited States";

/// Last changed, then registration (ARIN's order), in US Eastern time.
pub(super) fn events(a: &Answer<'_>) -> Vec<Event> {
    let (registered, changed) = event_dates(a.world, a.net(), true);
    vec![
        Event {
            event_action: "last changed",
            event_date: changed,
        },
        Event {
            event_action: "registration",
            event_date: registered,
        },
    ]
}

fn notices<'a>(request_url: &'a str) -> Vec<Notice<'a>> {
    let about = |href: &'a str, rel: &'a str| {
        vec![Link::new(
            Some(Cow::Borrowed(request_url)),
            rel,
            href,
            Some("text/html"),
        )]
    };
    vec![
        Notice::new(
            Some("Terms of Service"),
            lines(&["By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"]),
        )
        .with_links(about(TOU, "terms-of-service")),
        Notice::new(
            Some("Whois Inaccuracy Reporting"),
            lines(&["If you see inaccuracies in the results, please visit: "]),
        )
        .with_links(about(INACCURACY, "inaccuracy-report")),
        Notice::new(Some("Copyright Notice"), lines(&[COPYRIGHT])),
    ]
}

fn self_and_alternate<'a>(a: &Answer<'a>, rdap: String, whois: String) -> Vec<Link<'a>> {
    vec![
        Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "self",
            rdap,
            Some("application/rdap+json"),
        ),
        Link::new(
            Some(Cow::Borrowed(a.request_url)),
            "alternate",
            whois,
            Some("application/xml"),
        ),
    ]
}

fn poc<'a>(
    a: &Answer<'a>,
    base: &str,
    handle: String,
    name: String,
    email: String,
    role: &'a [&'a str],
) -> Entity<'a> {
    let links = self_and_alternate(
        a,
        format!("{base}/entity/{handle}"),
        format!("https://whois.arin.net/rest/poc/{handle}"),
    );
    let mut e = Entity::new(handle, role);
    e.vcard_array = Some(VCard(vec![
        VRow::adr_label(ADDRESS),
        VRow::text("fn", name.clone()),
        VRow::text("org", name),
        VRow::text("kind", "group"),
        VRow::text("email", email),
        VRow::with("tel", Params::Types(&["work", "voice"]), "+1-555-0100"),
    ]));
    e.links = links;
    e.status = Some(&["validated"]);
    e.port43 = Some("whois.arin.net");
    e
}

pub(super) fn network<'a>(a: &Answer<'a>, events: &'a [Event]) -> IpNetwork<'a> {
    let net = a.net();
    let base = a.base(Registry::Arin);
    let mut obj = base_network(a, CONFORMANCE);
    if let Some(org) = a.world.org(net) {
        let org_handle = names::org_handle(Registry::Arin, org, "US");
        let domain = names::mail_domain(org);
        let links = self_and_alternate(
            a,
            format!("{base}/entity/{org_handle}"),
            format!("https://whois.arin.net/rest/org/{org_handle}"),
        );
        let mut e = Entity::new(org_handle, &["registrant"]);
        e.vcard_array = Some(VCard(vec![
            VRow::text("fn", org),
            VRow::adr_label(ADDRESS),
            VRow::text("kind", "org"),
        ]));
        e.links = links;
        e.events = Some(events);
        e.entities = vec![
            poc(
                a,
                &base,
                names::abuse_handle(Registry::Arin, org, "US"),
                format!("{org} Abuse"),
                format!("abuse@{domain}"),
                &["abuse"],
            ),
            poc(
                a,
                &base,
                names::tech_handle(Registry::Arin, org),
                format!("{org} Network Operations"),
                format!("noc@{domain}"),
                &["noc"],
            ),
        ];
        e.port43 = Some("whois.arin.net");
        obj.entities.push(e);
    }
    obj.links = self_and_alternate(
        a,
        format!("{base}/ip/{}", obj.start_address),
        format!("https://whois.arin.net/rest/net/{}", obj.handle),
    );
    obj.notices = notices(a.request_url);
    obj.events = Some(events);
    obj.port43 = Some("whois.arin.net");
    obj.status = Some(&["active"]);
    obj.cidr0_cidrs = Some(cidr0(net));
    obj.arin_originautnums = Some(if net.asn != 0 {
        vec![net.asn]
    } else {
        Vec::new()
    });
    obj
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
