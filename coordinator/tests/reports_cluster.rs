//! The reports and both Prometheus endpoints on a real crawl: Redis, the simulator on a slice
//! of the real world, the coordinator and a worker, all real processes on loopback (needs
//! `cargo build --workspace --bins` first). The worker's and the coordinator's `/metrics` are
//! read with plain HTTP GETs and checked against the crawl database; the 2016 export layout
//! is checked on the simulator's real RDAP bodies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rdapfleet_testkit::cluster::http_get;
use rdapfleet_testkit::{ClusterOptions, TestCluster, free_port, unlimited_rates, wait_until};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// The value of the Prometheus sample `series` (name with labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

fn count(conn: &Connection, sql: &str) -> f64 {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql) as f64
}

#[test]
fn metrics_endpoints_and_reports_on_a_real_crawl() {
    let worker_metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let coordinator_metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut worker_args = unlimited_rates();
    worker_args.extend(["--metrics-listen".to_string(), worker_metrics.to_string()]);
    let cluster = TestCluster::start(ClusterOptions {
        sim_only: vec!["41.0.0.0/8".into()],
        seed_args: [
            "--strategy",
            "lattice2016",
            "--include",
            "41.0.0.0/13",
            "--batch-size",
            "100",
        ]
        .map(String::from)
        .to_vec(),
        coordinator_args: vec!["--metrics-listen".into(), coordinator_metrics.to_string()],
        workers: 1,
        replicas: 1,
        worker_args,
        ..ClusterOptions::default()
    });
    assert!(
        cluster.wait_complete(Duration::from_secs(180)),
        "the crawl did not complete"
    );
    let conn = Connection::open_with_flags(&cluster.db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let found = count(&conn, "SELECT count(*) FROM outcomes WHERE kind = 'found'");
    let by_worker = count(
        &conn,
        "SELECT count(*) FROM outcomes WHERE kind = 'skipped' AND worker_id IS NOT NULL",
    );
    let networks = count(&conn, "SELECT count(*) FROM networks");
    assert!(found >= 3.0, "a real crawl: {found} found");

    // The worker's endpoint: its RDAP counters per registry, skips, known networks (sampled
    // every second, so wait for the final figures).
    let mut w = String::new();
    let registries = ["arin", "ripencc", "apnic", "lacnic", "afrinic"];
    let sum = |text: &str, m: &str| -> f64 {
        registries
            .iter()
            .filter_map(|r| {
                sample(
                    text,
                    &format!("rdapfleet_worker_{m}_total{{registry=\"{r}\"}}"),
                )
            })
            .sum()
    };
    let settled = wait_until(Duration::from_secs(15), || {
        w = http_get(worker_metrics, "/metrics").unwrap_or_default();
        sum(&w, "found") == found && sample(&w, "rdapfleet_worker_skipped_total") == Some(by_worker)
    });
    assert!(settled, "found {found}, skipped {by_worker}:\n{w}");
    let requests = sum(&w, "requests");
    assert!(requests >= found, "{requests} requests for {found} found");
    for r in registries {
        for m in ["not_found", "failed", "rate_limited", "redirects"] {
            let series = format!("rdapfleet_worker_{m}_total{{registry=\"{r}\"}}");
            assert!(sample(&w, &series).is_some(), "no {series}:\n{w}");
        }
    }
    assert_eq!(
        sample(&w, "rdapfleet_worker_known_networks"),
        Some(networks),
        "{w}"
    );
    assert_eq!(sample(&w, "rdapfleet_worker_leases_held"), Some(0.0));
    assert!(w.contains("# HELP rdapfleet_worker_requests_total"));

    // The coordinator's endpoint agrees with the database.
    let c = http_get(coordinator_metrics, "/metrics").unwrap();
    let total = count(&conn, "SELECT count(*) FROM outcomes");
    let mut kinds = 0.0;
    for k in ["found", "skipped", "not_found", "failed"] {
        kinds += sample(
            &c,
            &format!("rdapfleet_coordinator_outcomes_total{{kind=\"{k}\"}}"),
        )
        .unwrap_or(0.0);
    }
    assert_eq!(kinds, total, "{c}");
    assert_eq!(
        sample(&c, "rdapfleet_coordinator_networks_stored"),
        Some(networks)
    );
    assert!(sample(&c, "rdapfleet_coordinator_leases_granted_total").unwrap() >= 1.0);

    // The worker's telemetry (every 2 s here) reaches the coordinator and the telemetry view:
    // its lookups and skips add up to the database's.
    let mut view = Value::Null;
    let reported = wait_until(Duration::from_secs(20), || {
        let out = assert_cmd::Command::cargo_bin("rdapfleet-coordinator")
            .unwrap()
            .args(["telemetry", "--json", "--db"])
            .arg(&cluster.db)
            .output()
            .unwrap();
        view = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        view["totals"]["found"].as_f64() == Some(found)
            && view["totals"]["skipped"].as_f64() == Some(by_worker)
    });
    assert!(reported, "{view}");
    assert_eq!(view["nodes"][0]["worker_id"], "worker-0");
    assert_eq!(view["nodes"][0]["state"], "ok");
    assert_eq!(view["progress"]["settled"].as_f64(), Some(total));
    assert_eq!(view["progress"]["eta_s"], 0);
    let c = http_get(coordinator_metrics, "/metrics").unwrap();
    assert!(sample(&c, "rdapfleet_coordinator_telemetry_samples_total").unwrap_or(0.0) >= 1.0);

    // The 2016 layout from real RDAP bodies: one line per answered IP with the old fields.
    let out = assert_cmd::Command::cargo_bin("rdapfleet-coordinator")
        .unwrap()
        .args(["export", "--layout", "ipwhois", "--db"])
        .arg(&cluster.db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as f64, found);
    // The worker's Hello names the machine it runs on.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let mut answered_by: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        assert_eq!(l["IP"], l["Whois"]["query"]);
        assert_eq!(l["Host"], host, "{l}");
        let n = &l["Whois"]["network"];
        for k in ["handle", "start_address", "end_address", "cidr", "status"] {
            assert!(!n[k].is_null(), "network.{k} in {l}");
        }
        assert!(n["cidr"].as_str().unwrap().contains('/'), "{l}");
        assert!(l["Whois"]["objects"].is_object());
        *answered_by
            .entry(
                l["Whois"]["asn_registry"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            )
            .or_default() += 1;
    }
    assert!(answered_by.contains_key("afrinic"), "{answered_by:?}");
}
