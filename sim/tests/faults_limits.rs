//! Limits and faults behave as configured, over real HTTP on loopback.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Sim, client, wait_until};
use rdapfleet_rdap::{ParseError, Registry, parse};
use rdapfleet_sim::World;
use rdapfleet_sim::config::{FaultConfig, Fractions, OutageMode, SimConfig};

fn config() -> SimConfig {
    SimConfig::new(Arc::new(World::synthetic()))
}

fn only(r: Registry, v: f64) -> Fractions {
    let mut f = Fractions::default();
    f.0[rdapfleet_sim::config::idx(r)] = v;
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after() {
    let mut c = config();
    c.rates = vec!["arin=3/min".parse().unwrap()];
    let sim = Sim::start(c).await;
    let http = client();
    for _ in 0..3 {
        let r = http
            .get(sim.url(Registry::Arin, "3.5.0.1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .get(sim.url(Registry::Arin, "3.5.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let body = r.bytes().await.unwrap();
    assert!(
        matches!(parse(&body), Err(ParseError::RateLimited { .. })),
        "{:?}",
        parse(&body)
    );
    // Other registries are not limited.
    let r = http
        .get(sim.url(Registry::RipeNcc, "2.0.16.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = sim.stats(false).await;
    assert_eq!(s["rate_limited"], 1);
    assert_eq!(s["registries"]["arin"]["by_status"]["429"], 1);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lacnic_limit_is_its_notice_with_the_configured_status() {
    for status in [429u16, 200] {
        let mut c = config();
        c.rates = vec!["lacnic=2/min,1000/h".parse().unwrap()];
        c.lacnic_limit_status = status;
        let sim = Sim::start(c).await;
        let http = client();
        for _ in 0..2 {
            let r = http
                .get(sim.url(Registry::Lacnic, "179.0.0.1"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = http
            .get(sim.url(Registry::Lacnic, "179.0.0.1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert!(r.headers().contains_key("retry-after"));
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v,
            serde_json::json!({"notices": [{
                "title": "Rate Limit Notice",
                "description": ["Rate Limit is maxed at 2 queries per 1 minutes."]
            }]})
        );
        let body = serde_json::to_vec(&v).unwrap();
        assert!(matches!(parse(&body), Err(ParseError::RateLimited { .. })));
        assert_eq!(
            sim.stats(false).await["registries"]["lacnic"]["rate_limited"],
            1
        );
        sim.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_refuses_connections_for_one_registry_only() {
    let mut c = config();
    c.outages = vec!["ripencc=0s..1s".parse().unwrap()];
    let sim = Sim::start(c).await;
    let http = client();
    let err = http
        .get(sim.url(Registry::RipeNcc, "2.0.16.1"))
        .send()
        .await
        .expect_err("connection closed without an answer");
    assert!(!err.is_status(), "{err}");
    let r = http
        .get(sim.url(Registry::Arin, "3.5.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // After the window RIPE NCC answers again.
    let back = wait_until(Duration::from_secs(10), || {
        let http = http.clone();
        let url = sim.url(Registry::RipeNcc, "2.0.16.1");
        async move { matches!(http.get(url).send().await, Ok(r) if r.status() == 200) }
    })
    .await;
    assert!(back, "RIPE NCC answers after its outage");
    let s = sim.stats(false).await;
    assert!(
        s["registries"]["ripencc"]["faults"]["refused"]
            .as_u64()
            .unwrap()
            >= 1
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_in_503_mode() {
    let mut c = config();
    c.outages = vec!["apnic=0s..".parse().unwrap()];
    c.outage_mode = OutageMode::Unavailable;
    let sim = Sim::start(c).await;
    let r = client()
        .get(sim.url(Registry::Apnic, "1.1.1.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errorCode"], "503");
    sim.stop().await;
}

/// The statuses of `n` sequential queries against a fresh server.
async fn statuses(c: SimConfig, n: usize) -> Vec<u16> {
    let sim = Sim::start(c).await;
    let http = client();
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http
            .get(sim.url(Registry::Arin, "3.5.0.1"))
            .send()
            .await
            .unwrap();
        out.push(r.status().as_u16());
    }
    sim.stop().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_deterministic_per_seed_and_request_number() {
    let with = |seed| {
        let mut c = config();
        c.faults = FaultConfig {
            seed,
            error_rate: only(Registry::Arin, 0.3),
            ..FaultConfig::default()
        };
        c
    };
    let a = statuses(with(1), 60).await;
    let b = statuses(with(1), 60).await;
    let other = statuses(with(2), 60).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, other, "another seed, other faults");
    let errors = a.iter().filter(|&&s| s == 500).count();
    assert!((5..=35).contains(&errors), "{errors} of 60");
    assert!(a.iter().all(|&s| s == 200 || s == 500));
    // All and nothing.
    let mut all = config();
    all.faults.error_rate = only(Registry::Arin, 1.0);
    assert!(statuses(all, 5).await.iter().all(|&s| s == 500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_truncated_and_oversized_answers() {
    let mut c = config();
    c.faults = FaultConfig {
        slow_rate: only(Registry::Arin, 1.0),
        slow_delay: Duration::from_millis(300),
        truncate_rate: only(Registry::RipeNcc, 1.0),
        oversize_rate: only(Registry::Apnic, 1.0),
        ..FaultConfig::default()
    };
    let sim = Sim::start(c).await;
    let http = client();

    let t0 = Instant::now();
    let r = http
        .get(sim.url(Registry::Arin, "3.5.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert!(parse(&r.bytes().await.unwrap()).is_ok());

    let r = http
        .get(sim.url(Registry::RipeNcc, "2.0.16.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    assert!(matches!(parse(&body), Err(ParseError::Truncated(_))));

    let r = http
        .get(sim.url(Registry::Apnic, "1.1.1.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    assert!(body.len() > 1 << 20, "{} bytes", body.len());
    let net = parse(&body).unwrap();
    assert_eq!(net.start_address, "1.1.1.0");

    let s = sim.stats(false).await;
    assert_eq!(s["registries"]["arin"]["faults"]["slow"], 1);
    assert_eq!(s["registries"]["ripencc"]["faults"]["truncated"], 1);
    assert_eq!(s["registries"]["apnic"]["faults"]["oversized"], 1);
    sim.stop().await;
}
