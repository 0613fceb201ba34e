//! The parser against every real response in `tests/fixtures/` (see its PROVENANCE.md): each IP
//! network is checked against values written here by reading the file, each error body against
//! the ParseError it must become, and nothing in the directory is left unchecked.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rdapfleet_rdap::{IpVersion, Network, ParseError, Registry, parse};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Expected facts about one network fixture.
struct Expect {
    file: &'static str,
    start: &'static str,
    end: &'static str,
    handle: &'static str,
    cidrs: &'static [&'static str],
    country: Option<&'static str>,
    registry: Registry,
    kind: Option<&'static str>,
    leaf: bool,
    registrant: Option<&'static str>,
    abuse: &'static [&'static str],
    origin_asns: &'static [u32],
}

const V4: IpVersion = IpVersion::V4;

#[rustfmt::skip]
const NETWORKS: &[Expect] = &[
    Expect { file: "afrinic/196.11.240.215__ipwhois-2015.json", start: "196.11.239.0", end: "196.11.246.255",
        handle: "196.11.239.0 - 196.11.246.255",
        cidrs: &["196.11.239.0/24", "196.11.240.0/22", "196.11.244.0/23", "196.11.246.0/24"],
        country: Some("ZA"), registry: Registry::Afrinic, kind: Some("ASSIGNED PI"), leaf: true,
        registrant: Some("ORG-VSA1-AFRINIC"), abuse: &[], origin_asns: &[] },
    Expect { file: "afrinic/2001-43f8-7b0--__ipwhois-2015.json", start: "2001:43f8:7b0::",
        end: "2001:43f8:7b0:ffff:ffff:ffff:ffff:ffff", handle: "2001:43f8:07b0::/48",
        cidrs: &["2001:43f8:7b0::/48"], country: Some("KE"), registry: Registry::Afrinic,
        kind: Some("ASSIGNED PI"), leaf: true, registrant: Some("ORG-TA38-AFRINIC"), abuse: &[], origin_asns: &[] },
    Expect { file: "afrinic/41.0.0.0__rdap_client-2022.json", start: "41.0.0.0", end: "41.0.255.255",
        handle: "41.0.0.0 - 41.0.255.255", cidrs: &["41.0.0.0/16"], country: Some("ZA"),
        registry: Registry::Afrinic, kind: Some("ASSIGNED PA"), leaf: true, registrant: None, abuse: &[], origin_asns: &[] },
    Expect { file: "apnic/1.1.1.0_24__whoisit-2021.json", start: "1.1.1.0", end: "1.1.1.255",
        handle: "1.1.1.0 - 1.1.1.255", cidrs: &["1.1.1.0/24"], country: Some("AU"), registry: Registry::Apnic,
        kind: Some("ASSIGNED PORTABLE"), leaf: true, registrant: None, abuse: &["helpdesk@apnic.net"], origin_asns: &[] },
    Expect { file: "apnic/1.1.1.1__whoisit-2021.json", start: "1.1.1.0", end: "1.1.1.255",
        handle: "1.1.1.0 - 1.1.1.255", cidrs: &["1.1.1.0/24"], country: Some("AU"), registry: Registry::Apnic,
        kind: Some("ASSIGNED PORTABLE"), leaf: true, registrant: None, abuse: &["helpdesk@apnic.net"], origin_asns: &[] },
    Expect { file: "apnic/1.1.1.1__whoisit-2024-07-26.json", start: "1.1.1.0", end: "1.1.1.255",
        handle: "1.1.1.0 - 1.1.1.255", cidrs: &["1.1.1.0/24"], country: Some("AU"), registry: Registry::Apnic,
        kind: Some("ASSIGNED PORTABLE"), leaf: true, registrant: Some("APNIC Research and Development"),
        abuse: &["helpdesk@apnic.net"], origin_asns: &[] },
    Expect { file: "apnic/2001-240-10c-1--ca20-9d1d__ipwhois-2015.json", start: "2001:240::",
        end: "2001:240:ffff:ffff:ffff:ffff:ffff:ffff", handle: "2001:0240::/32", cidrs: &["2001:240::/32"],
        country: Some("JP"), registry: Registry::Apnic, kind: Some("ALLOCATED PORTABLE"), leaf: false,
        registrant: None, abuse: &[], origin_asns: &[] },
    Expect { file: "apnic/210.107.73.73__ipwhois-2015.json", start: "210.107.0.0", end: "210.107.127.255",
        handle: "210.107.0.0 - 210.107.127.255", cidrs: &["210.107.0.0/17"], country: Some("KR"),
        registry: Registry::Apnic, kind: Some("ALLOCATED PORTABLE"), leaf: false, registrant: None,
        abuse: &["hostmaster@nic.or.kr"], origin_asns: &[] },
    Expect { file: "arin/13.72.183.192__whoisit-2022.json", start: "13.64.0.0", end: "13.107.255.255",
        handle: "NET-13-64-0-0-1", cidrs: &["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"], country: None,
        registry: Registry::Arin, kind: Some("DIRECT ALLOCATION"), leaf: false,
        registrant: Some("Microsoft Corporation"), abuse: &["abuse@microsoft.com"], origin_asns: &[] },
    Expect { file: "arin/2001-4860--_32__whoisit-2021.json", start: "2001:4860::",
        end: "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff", handle: "NET6-2001-4860-1", cidrs: &["2001:4860::/32"],
        country: None, registry: Registry::Arin, kind: Some("DIRECT ALLOCATION"), leaf: false,
        registrant: Some("Google LLC"), abuse: &["arin-contact@google.com", "network-abuse@google.com"],
        origin_asns: &[15169] },
    Expect { file: "arin/2001-4860-4860--8888__ipwhois-2015.json", start: "2001:4860::",
        end: "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff", handle: "NET6-2001-4860-1", cidrs: &["2001:4860::/32"],
        country: None, registry: Registry::Arin, kind: None, leaf: false, registrant: Some("Google Inc."),
        abuse: &["arin-contact@google.com"], origin_asns: &[] },
    Expect { file: "arin/2001-4860-4860--8888__whoisit-2021.json", start: "2001:4860::",
        end: "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff", handle: "NET6-2001-4860-1", cidrs: &["2001:4860::/32"],
        country: None, registry: Registry::Arin, kind: Some("DIRECT ALLOCATION"), leaf: false,
        registrant: Some("Google LLC"), abuse: &["arin-contact@google.com", "network-abuse@google.com"],
        origin_asns: &[15169] },
    Expect { file: "arin/2604-180-3-2e2--d865__nicinfo-2018.json", start: "2604:180::",
        end: "2604:180:ffff:ffff:ffff:ffff:ffff:ffff", handle: "NET6-2604-180-1", cidrs: &["2604:180::/32"],
        country: None, registry: Registry::Arin, kind: None, leaf: false, registrant: Some("RamNode LLC"),
        abuse: &["abuse@ramnode.com"], origin_asns: &[] },
    Expect { file: "arin/2606-4700-4700--1111__whoisit-2024-07-26.json", start: "2606:4700::",
        end: "2606:4700:ffff:ffff:ffff:ffff:ffff:ffff", handle: "NET6-2606-4700-1", cidrs: &["2606:4700::/32"],
        country: None, registry: Registry::Arin, kind: Some("DIRECT ALLOCATION"), leaf: false,
        registrant: Some("Cloudflare, Inc."), abuse: &["abuse@cloudflare.com"], origin_asns: &[13335] },
    Expect { file: "arin/3.3.3.3__rdap_client-2022.json", start: "3.0.0.0", end: "3.127.255.255",
        handle: "NET-3-0-0-0-1", cidrs: &["3.0.0.0/9"], country: None, registry: Registry::Arin,
        kind: Some("DIRECT ALLOCATION"), leaf: false, registrant: Some("Amazon Technologies Inc."),
        abuse: &["abuse@amazonaws.com"], origin_asns: &[] },
    Expect { file: "arin/74.125.225.229__ipwhois-2015.json", start: "74.125.0.0", end: "74.125.255.255",
        handle: "NET-74-125-0-0-1", cidrs: &["74.125.0.0/16"], country: None, registry: Registry::Arin,
        kind: None, leaf: false, registrant: Some("Google Inc."), abuse: &["arin-contact@google.com"], origin_asns: &[] },
    Expect { file: "lacnic/177.0.0.0_14__rdap_client-2022.json", start: "177.0.0.0", end: "177.3.255.255",
        handle: "177.0.0.0/14", cidrs: &["177.0.0.0/14"], country: Some("BR"), registry: Registry::Lacnic,
        kind: Some("ALLOCATED"), leaf: false, registrant: Some("Brasil Telecom S/A - Filial Distrito Federal"),
        abuse: &[], origin_asns: &[] },
    Expect { file: "lacnic/179.0.0.0_23__rdap_client-2022.json", start: "179.0.0.0", end: "179.0.1.255",
        handle: "179.0.0.0/23", cidrs: &["179.0.0.0/23"], country: None, registry: Registry::Lacnic,
        kind: Some("assigned"), leaf: true, registrant: Some("NEURALSOFT S.R.L."),
        abuse: &["tomas.cribb@neuralsoft.com"], origin_asns: &[] },
    Expect { file: "lacnic/200.57.141.161__ipwhois-2015.json", start: "200.57.141.161", end: "200.57.141.161",
        handle: "200.57.141.161", cidrs: &["200.57.141.161/32"], country: Some("MX"), registry: Registry::Lacnic,
        kind: Some("allocated"), leaf: false, registrant: Some("Triara.com, S.A. de C.V."),
        abuse: &["operacion.redes@triara.com"], origin_asns: &[] },
    Expect { file: "lacnic/2801-10-c000--__ipwhois-2015.json", start: "2801:10:c000::", end: "2801:10:c000::",
        handle: "2801:10:c000::", cidrs: &["2801:10:c000::/128"], country: Some("CO"), registry: Registry::Lacnic,
        kind: Some("assigned"), leaf: true, registrant: Some("Universidad Catolica de Oriente"),
        abuse: &["sistemas.red@uco.edu.co"], origin_asns: &[] },
    Expect { file: "ripe/193.0.6.139__rdap_client-2022.json", start: "193.0.0.0", end: "193.0.7.255",
        handle: "193.0.0.0 - 193.0.7.255", cidrs: &["193.0.0.0/21"], country: Some("NL"), registry: Registry::RipeNcc,
        kind: Some("ASSIGNED PA"), leaf: true, registrant: None, abuse: &["ops@ripe.net", "abuse@ripe.net"], origin_asns: &[] },
    Expect { file: "ripe/194.85.61.205__nicinfo-2018.json", start: "194.85.61.0", end: "194.85.61.255",
        handle: "194.85.61.0 - 194.85.61.255", cidrs: &["194.85.61.0/24"], country: Some("RU"),
        registry: Registry::RipeNcc, kind: Some("ASSIGNED PA"), leaf: true, registrant: None,
        abuse: &["ip-reg@ripn.net", "ip-dbm-request@ripn.net", "rtip-reg@ripn.net"], origin_asns: &[] },
    Expect { file: "ripe/2a00-2381-ffff--1__ipwhois-2015.json", start: "2a00:2381:ffff::",
        end: "2a00:2381:ffff:0:ffff:ffff:ffff:ffff", handle: "2a00:2381:ffff::/64", cidrs: &["2a00:2381:ffff::/64"],
        country: Some("GB"), registry: Registry::RipeNcc, kind: Some("Assigned"), leaf: true, registrant: None,
        abuse: &["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"], origin_asns: &[] },
    Expect { file: "ripe/62.239.237.1__ipwhois-2015.json", start: "62.239.237.0", end: "62.239.237.255",
        handle: "62.239.237.0 - 62.239.237.255", cidrs: &["62.239.237.0/24"], country: Some("GB"),
        registry: Registry::RipeNcc, kind: Some("ASSIGNED PA"), leaf: true, registrant: None,
        abuse: &["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"], origin_asns: &[] },
];

fn check(e: &Expect) -> Network {
    let n = parse(&read(e.file)).unwrap_or_else(|err| panic!("{}: {err}", e.file));
    let f = e.file;
    assert_eq!(n.start_address, e.start, "{f} start");
    assert_eq!(n.end_address, e.end, "{f} end");
    assert_eq!(n.handle.as_deref(), Some(e.handle), "{f} handle");
    assert_eq!(n.cidrs, e.cidrs, "{f} cidrs");
    assert_eq!(n.country.as_deref(), e.country, "{f} country");
    assert_eq!(n.registry, Some(e.registry), "{f} registry");
    assert_eq!(n.kind.as_deref(), e.kind, "{f} type");
    assert_eq!(n.leaf, e.leaf, "{f} leaf");
    assert_eq!(n.registrant.as_deref(), e.registrant, "{f} registrant");
    assert_eq!(n.abuse_emails, e.abuse, "{f} abuse");
    assert_eq!(n.origin_asns, e.origin_asns, "{f} origin ASNs");
    let v4 = !e.start.contains(':');
    assert_eq!(n.ip_version == V4, v4, "{f} version");
    assert_eq!(n.v4_range().is_some(), v4, "{f} v4_range");
    n
}

#[test]
fn every_network_fixture_parses_to_the_written_values() {
    for e in NETWORKS {
        check(e);
    }
}

#[test]
fn details_of_selected_fixtures() {
    let arin = check(&NETWORKS[8]);
    assert_eq!(arin.parent_handle.as_deref(), Some("NET-13-0-0-0-0"));
    assert_eq!(arin.name.as_deref(), Some("MSFT"));
    assert_eq!(arin.status, ["active"]);
    assert_eq!(
        arin.registration_date.as_deref(),
        Some("2015-03-26T13:58:18-04:00")
    );
    assert_eq!(
        arin.last_changed_date.as_deref(),
        Some("2021-12-14T20:28:53-05:00")
    );
    assert_eq!(
        arin.source_url.as_deref(),
        Some("https://rdap.arin.net/registry/ip/13.64.0.0")
    );
    let r = arin.v4_range().unwrap();
    assert_eq!(
        (Ipv4Addr::from(r.start), Ipv4Addr::from(r.end)),
        (
            Ipv4Addr::new(13, 64, 0, 0),
            Ipv4Addr::new(13, 107, 255, 255)
        )
    );

    let apnic = check(&NETWORKS[5]);
    assert_eq!(
        apnic.registration_date.as_deref(),
        Some("2011-08-10T23:12:35Z")
    );
    assert_eq!(
        apnic.last_changed_date.as_deref(),
        Some("2023-04-26T22:57:58Z")
    );
    assert_eq!(apnic.name.as_deref(), Some("APNIC-LABS"));
    assert_eq!(apnic.parent_handle, None);

    // ARIN 2015: zero-padded bounds, self link with the padded form.
    let padded = check(&NETWORKS[15]);
    assert_eq!(
        padded.source_url.as_deref(),
        Some("https://rdap.arin.net/registry/ip/074.125.000.000")
    );
    assert_eq!(padded.parent_handle.as_deref(), Some("NET-74-0-0-0-0"));

    // RIPE 2015: no objectClassName; registry from the self link.
    let ripe = check(&NETWORKS[23]);
    assert_eq!(
        ripe.last_changed_date.as_deref(),
        Some("2008-08-14T16:54:30Z")
    );
    assert_eq!(ripe.registration_date, None);
    assert_eq!(ripe.name.as_deref(), Some("BT-CORPORATE"));

    // LACNIC 2015: a one-address network.
    let one = check(&NETWORKS[18]);
    assert_eq!(one.v4_range().unwrap().size(), 1);
}

#[test]
fn error_and_non_network_fixtures_become_typed_errors() {
    assert_eq!(
        parse(&read(
            "ripe/errors/404-nameservers-not-found__rdap_client-2022.json"
        )),
        Err(ParseError::NotFound {
            code: Some(404),
            title: Some("nameservers not found".into())
        })
    );
    assert_eq!(
        parse(&read("apnic/errors/400-bad-request__rdap_client-2022.json")),
        Err(ParseError::NotANetwork(
            "RDAP error 400: Bad Request: Request could not be understood, malformed syntax".into()
        ))
    );
    assert_eq!(
        parse(&read(
            "ripe/errors/501-not-implemented__icann-rdap-2023.json"
        )),
        Err(ParseError::NotANetwork(
            "RDAP error 501: 501 Not Implemented: Nameserver not supported".into()
        ))
    );
    assert!(matches!(
        parse(&read("apnic/history/101.203.88.0_24__20c-rdap-2025.json")),
        Err(ParseError::NotANetwork(_))
    ));
}

#[test]
fn every_fixture_file_is_covered_and_agrees_with_index_json() {
    let mut on_disk = BTreeSet::new();
    let mut stack = vec![fixtures()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                let rel = p
                    .strip_prefix(fixtures())
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                if rel != "INDEX.json" {
                    on_disk.insert(rel);
                }
            }
        }
    }
    let mut covered: BTreeSet<String> = NETWORKS.iter().map(|e| e.file.to_string()).collect();
    for other in [
        "ripe/errors/404-nameservers-not-found__rdap_client-2022.json",
        "apnic/errors/400-bad-request__rdap_client-2022.json",
        "ripe/errors/501-not-implemented__icann-rdap-2023.json",
        "apnic/history/101.203.88.0_24__20c-rdap-2025.json",
    ] {
        covered.insert(other.to_string());
    }
    assert_eq!(
        on_disk, covered,
        "every fixture must be checked by a test here"
    );

    // INDEX.json (the data set's own index) agrees on handle and bounds.
    let index: serde_json::Value = serde_json::from_slice(&read("INDEX.json")).unwrap();
    let norm = |s: &str| -> IpAddr {
        let s = s.split('/').next().unwrap();
        if s.contains(':') {
            s.parse().unwrap()
        } else {
            let o: Vec<u8> = s.split('.').map(|p| p.parse().unwrap()).collect();
            IpAddr::from([o[0], o[1], o[2], o[3]])
        }
    };
    let mut matched = 0;
    for entry in index.as_array().unwrap() {
        let file = entry["file"].as_str().unwrap().trim_start_matches("rdap/");
        let Some(e) = NETWORKS.iter().find(|e| e.file == file) else {
            continue;
        };
        matched += 1;
        assert_eq!(entry["handle"].as_str(), Some(e.handle), "{file}");
        let start: IpAddr = e.start.parse().unwrap();
        let end: IpAddr = e.end.parse().unwrap();
        assert_eq!(
            norm(entry["startAddress"].as_str().unwrap()),
            start,
            "{file}"
        );
        assert_eq!(norm(entry["endAddress"].as_str().unwrap()), end, "{file}");
    }
    assert_eq!(matched, NETWORKS.len());
}

#[test]
fn truncated_fixtures_are_never_a_network() {
    for e in NETWORKS {
        let body = read(e.file);
        // Cuts that remove at least the closing brace (trailing blanks are not content).
        let content = body.trim_ascii_end().len();
        for cut in (0..content).step_by(13).chain([content - 1]) {
            match parse(&body[..cut]) {
                Err(ParseError::Malformed(_) | ParseError::Truncated(_)) => {}
                other => panic!("{} cut at {cut}: {other:?}", e.file),
            }
        }
    }
}

#[test]
fn normalized_json_round_trips_with_contract_names() {
    let n = check(&NETWORKS[8]);
    let v = serde_json::to_value(&n).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "start_address",
        "end_address",
        "cidrs",
        "handle",
        "name",
        "type",
        "country",
        "parent_handle",
        "status",
        "registry",
        "origin_asns",
        "registrant",
        "abuse_emails",
        "registration_date",
        "last_changed_date",
        "source_url",
        "ip_version",
        "leaf",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(v["registry"], "arin");
    assert_eq!(v["ip_version"], "v4");
    assert_eq!(v["type"], "DIRECT ALLOCATION");
    let back: Network = serde_json::from_value(v).unwrap();
    assert_eq!(back, n);
}
