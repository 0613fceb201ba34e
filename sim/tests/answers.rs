//! Answers over real HTTP on loopback match the world's truth; every answer parses with the
//! project's RDAP parser into the truth's range, handle and registry; redirects lead to the
//! holder; transferred blocks are reached only through a redirect.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use common::{Sim, client, no_redirects, real_slice, sample_ips};
use rdapfleet_rdap::{ParseError, Registry, parse};
use rdapfleet_sim::truth::truth;
use rdapfleet_sim::{SimConfig, World};

/// Ask every sample IP at the registry the bootstrap designates, following redirects, and
/// compare with the truth. Returns per-registry counts of parsed 200 answers and redirects.
async fn check_world(world: World, max_nets: usize) -> (BTreeMap<Registry, u64>, u64) {
    let world = Arc::new(world);
    let sim = Sim::start(SimConfig::new(world.clone())).await;
    let http = client();
    let raw = no_redirects();
    let mut answered: BTreeMap<Registry, u64> = BTreeMap::new();
    let mut redirects = 0u64;
    let mut direct = 0u64;
    let ips = sample_ips(&world, max_nets);
    assert!(ips.len() > 20);
    for ip in ips {
        let t = truth(&world, ip);
        let text = Ipv4Addr::from(ip).to_string();
        // Unassigned /8s (reserved space) have no designated registry: ask ARIN, as a
        // client without a bootstrap entry would have nowhere to go.
        let asked = t.designated.unwrap_or(Registry::Arin);
        // First hop without following: a redirect exactly when another registry holds it.
        let first = raw.get(sim.url(asked, &text)).send().await.unwrap();
        match t.registry {
            Some(holder) if holder != asked => {
                assert_eq!(first.status(), 302, "{text} at {asked}");
                let loc = first.headers()["location"].to_str().unwrap().to_string();
                assert_eq!(loc, sim.url(holder, &text), "{text}");
                redirects += 1;
            }
            Some(_) => {
                assert_eq!(first.status(), 200, "{text} at {asked}");
                direct += 1;
            }
            None => assert_eq!(first.status(), 404, "{text} at {asked}"),
        }
        // Then as a client does: follow redirects and parse.
        let resp = http.get(sim.url(asked, &text)).send().await.unwrap();
        let status = resp.status().as_u16();
        let final_url = resp.url().to_string();
        assert_eq!(
            resp.headers()["content-type"],
            "application/rdap+json",
            "{text}"
        );
        let body = resp.bytes().await.unwrap();
        match t.registry {
            None => {
                assert_eq!(status, 404, "{text}");
                assert!(
                    matches!(parse(&body), Err(ParseError::NotFound { .. })),
                    "{text}: {:?}",
                    parse(&body)
                );
            }
            Some(holder) => {
                assert_eq!(status, 200, "{text}");
                assert_eq!(Registry::from_url(&final_url), Some(holder), "{text}");
                let net = parse(&body).unwrap_or_else(|e| {
                    panic!(
                        "{text} at {holder}: {e}\n{}",
                        String::from_utf8_lossy(&body)
                    )
                });
                assert_eq!(Some(net.start_address.clone()), t.start, "{text}");
                assert_eq!(Some(net.end_address.clone()), t.end, "{text}");
                assert_eq!(net.handle, t.handle, "{text}");
                assert_eq!(net.registry, Some(holder), "{text}");
                assert_eq!(Some(net.leaf), t.leaf, "{text}: type {:?}", net.kind);
                assert_eq!(net.kind.as_deref(), t.kind, "{text}");
                assert_eq!(net.parent_handle, t.parent_handle, "{text}");
                if let Some(org) = &t.org {
                    assert_eq!(net.registrant.as_deref(), Some(org.as_str()), "{text}");
                    assert!(!net.abuse_emails.is_empty(), "{text}: no abuse e-mail");
                }
                if holder == Registry::Arin {
                    let n = world.net(world.lookup(ip).unwrap());
                    let want: Vec<u32> = if n.asn != 0 { vec![n.asn] } else { vec![] };
                    assert_eq!(net.origin_asns, want, "{text}");
                }
                *answered.entry(holder).or_default() += 1;
            }
        }
    }
    // The server counted what it was asked: direct answers twice (first hop, then followed),
    // redirected ones once; each redirect twice.
    let stats = sim.stats(false).await;
    let answers: u64 = answered.values().sum();
    assert_eq!(answers, direct + redirects);
    assert_eq!(stats["answers"], 2 * direct + redirects);
    assert_eq!(stats["redirects"], 2 * redirects);
    sim.stop().await;
    (answered, redirects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_world_answers_match_the_truth() {
    let (answered, redirects) = check_world(World::synthetic(), 1000).await;
    for r in Registry::ALL {
        assert!(
            answered.get(&r).copied().unwrap_or(0) > 0,
            "no answer from {r}"
        );
    }
    assert!(
        redirects >= 2,
        "transferred blocks are reached through redirects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_slice_answers_match_the_truth() {
    let (answered, redirects) = check_world(real_slice(), 400).await;
    for r in Registry::ALL {
        assert!(
            answered.get(&r).copied().unwrap_or(0) > 0,
            "no answer from {r}"
        );
    }
    assert!(redirects > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transferred_block_only_through_a_redirect() {
    let sim = Sim::start(SimConfig::new(Arc::new(World::synthetic()))).await;
    let raw = no_redirects();
    // 2.57.164.0/22 is ARIN's, inside RIPE NCC's 2/8: every other registry redirects to ARIN.
    for asked in [
        Registry::RipeNcc,
        Registry::Apnic,
        Registry::Lacnic,
        Registry::Afrinic,
    ] {
        let r = raw.get(sim.url(asked, "2.57.165.9")).send().await.unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.headers()["location"],
            sim.url(Registry::Arin, "2.57.165.9").as_str()
        );
    }
    let r = raw
        .get(sim.url(Registry::Arin, "2.57.165.9"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The bootstrap (IANA's /8 table) sends 2.57.165.9 to RIPE NCC, never to ARIN.
    let boot: serde_json::Value = client()
        .get(format!("{}/_sim/bootstrap.json", sim.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ripe = boot["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0].as_array().unwrap().iter().any(|p| p == "2.0.0.0/8"))
        .unwrap();
    assert_eq!(ripe[1][0], format!("{}/ripencc/", sim.origin));
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cidr_queries_invalid_queries_and_redirect_status() {
    let mut config = SimConfig::new(Arc::new(World::synthetic()));
    config.redirect_status = 307;
    let sim = Sim::start(config).await;
    let http = client();
    // /ip/prefix/len answers the most specific network holding the whole prefix.
    let body = http
        .get(sim.url(Registry::RipeNcc, "2.0.16.0/23"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let net = parse(&body).unwrap();
    assert_eq!(
        (net.start_address.as_str(), net.end_address.as_str()),
        ("2.0.0.0", "2.0.255.255")
    );
    let escaped = http
        .get(sim.url(Registry::RipeNcc, "2.0.16.0%2F23"))
        .send()
        .await
        .unwrap();
    assert_eq!(escaped.status(), 200);
    // Every dialect answers 400 to what is not an address, with an RDAP error body.
    for r in Registry::ALL {
        for bad in ["1.2.3", "300.1.1.1", "01.2.3.4", "1.2.3.4/24", "x"] {
            let resp = http.get(sim.url(r, bad)).send().await.unwrap();
            assert_eq!(resp.status(), 400, "{r} {bad}");
            let v: serde_json::Value = resp.json().await.unwrap();
            assert!(v.get("errorCode").is_some(), "{r}: {v}");
            assert_eq!(v["title"], "Bad Request");
        }
        // IPv6 is valid RDAP but this world has none.
        let resp = http.get(sim.url(r, "2001:db8::1")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
    // APNIC's error code is a JSON string, like the real one.
    let v: serde_json::Value = http
        .get(sim.url(Registry::Apnic, "nope"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errorCode"], "400");
    // Configured redirect status.
    let r = no_redirects()
        .get(sim.url(Registry::Apnic, "3.5.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    // Unknown paths.
    let r = http
        .get(format!("{}/nowhere/ip/1.1.1.1", sim.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_networks_and_reset() {
    let world = Arc::new(World::synthetic());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let mut config = SimConfig::new(world.clone());
    config.request_log = Some(log.clone());
    let sim = Sim::start(config).await;
    let http = client();
    // Three answers for one network, one for another, a 404, a redirect (followed: +1 answer).
    for ip in ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.2.3.4", "4.4.4.4"] {
        http.get(sim.url(Registry::Apnic, ip)).send().await.unwrap();
    }
    http.get(sim.url(Registry::RipeNcc, "2.57.164.1"))
        .send()
        .await
        .unwrap();
    let s = sim.stats(true).await;
    assert_eq!(s["queries"], 7);
    assert_eq!(s["answers"], 5);
    assert_eq!(s["not_found"], 1);
    assert_eq!(s["redirects"], 1);
    assert_eq!(s["distinct_networks_served"], 3);
    assert_eq!(s["answers_per_distinct_network"], 5.0 / 3.0);
    assert_eq!(s["max_answers_per_network"], 3);
    assert_eq!(s["registries"]["apnic"]["by_status"]["200"], 4);
    assert_eq!(s["registries"]["apnic"]["by_status"]["404"], 1);
    assert_eq!(s["registries"]["ripencc"]["by_status"]["302"], 1);
    let handles: HashSet<&str> = s["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["handle"].as_str().unwrap())
        .collect();
    assert!(handles.contains("1.1.1.0 - 1.1.1.255"));
    assert!(handles.contains("NET-2-57-164-0-2"));
    // Reset returns the counts, then zeroes them.
    let before: serde_json::Value = http
        .get(format!("{}/_sim/stats?reset=1&networks=0", sim.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["queries"], 7);
    assert!(before.get("networks").is_none());
    assert_eq!(sim.stats(false).await["queries"], 0);
    sim.stop().await;
    // The request log has one line per RDAP request, with the network handle.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0]["registry"], "apnic");
    assert_eq!(lines[0]["ip"], "1.1.1.1");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["handle"], "1.1.1.0 - 1.1.1.255");
    assert_eq!(lines[0]["client"], "127.0.0.1");
    assert!(lines.iter().any(|l| {
        l["status"] == 302
            && l["location"]
                .as_str()
                .unwrap()
                .ends_with("/arin/registry/ip/2.57.164.1")
    }));
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == 404 && l["handle"].is_null())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_restricts_the_world_without_changing_answers_inside_it() {
    use rdapfleet_ranges::parse_cidr;
    use rdapfleet_sim::DataSource;
    let slice = |cidrs: &[&str]| {
        let only: Vec<_> = cidrs.iter().map(|c| parse_cidr(c).unwrap()).collect();
        World::load(&DataSource::Shipped, &only).unwrap()
    };
    let small = Arc::new(slice(&["41.0.0.0/8"]));
    let large = slice(&["41.0.0.0/8", "1.0.0.0/8"]);
    assert!(large.len() > small.len());
    // Inside the slice: the same truth, whatever else was loaded.
    for ip in sample_ips(&small, 300) {
        if ip >> 24 == 41 {
            assert_eq!(truth(&small, ip), truth(&large, ip));
        }
    }
    // Outside: nothing.
    let one = u32::from(Ipv4Addr::new(1, 1, 1, 1));
    assert!(truth(&large, one).allocated);
    assert!(!truth(&small, one).allocated);
    assert!(small.nets().iter().all(|n| n.range.start >> 24 == 41));
    let sim = Sim::start(SimConfig::new(small)).await;
    let r = client()
        .get(sim.url(Registry::Apnic, "1.1.1.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client()
        .get(sim.url(Registry::Afrinic, "41.0.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim.stop().await;
}
