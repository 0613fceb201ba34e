//! End to end, with real processes on loopback: a Redis master and two replicas, the simulator
//! on a slice of the real world (AFRINIC's 41/8 and RIPE's 2/8, which holds an ARIN block
//! reached only by redirect), the coordinator, and two workers each tailing its own replica.
//!
//! Checked against what only the outside can see: the crawl database (one outcome per seed IP),
//! the simulator's ground truth (no wrong network), its counters (a network found by one worker
//! is skipped by the other), and the coverage stream on each replica (equal to the
//! coordinator's networks).

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use rdapfleet_proto::coverage;
use rdapfleet_testkit::{ClusterOptions, TestCluster, unlimited_rates, wait_until};
use rusqlite::{Connection, OpenFlags};

/// The coordinator's `--max-message-size` in these crawls.
const REPORT_LIMIT: usize = 64 << 10;

fn options(policy: &str) -> ClusterOptions {
    let mut worker_args = unlimited_rates();
    worker_args.extend(["--batches".to_string(), "4".to_string()]);
    ClusterOptions {
        sim_only: vec!["41.0.0.0/8".into(), "2.0.0.0/8".into()],
        seed_args: [
            "--strategy",
            "lattice2016",
            "--include",
            "41.0.0.0/12",
            "--include",
            "2.56.0.0/13",
            "--batch-size",
            "100",
        ]
        .map(String::from)
        .to_vec(),
        // The smallest message limit the coordinator allows: under `leaf` every seed IP is
        // looked up, and a chunk of found outcomes (each with its raw answer) outgrows it
        // unless the workers also cut their reports by encoded size.
        coordinator_args: [
            "--skip-policy",
            policy,
            "--max-message-size",
            &REPORT_LIMIT.to_string(),
            "--max-batches-per-worker",
            "8",
        ]
        .map(String::from)
        .to_vec(),
        workers: 2,
        replicas: 2,
        worker_args,
        ..ClusterOptions::default()
    }
}

struct Row {
    kind: String,
    inferred: bool,
    net: Option<(u32, u32)>,
}

fn open(cluster: &TestCluster) -> Connection {
    Connection::open_with_flags(&cluster.db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open crawl db")
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn outcomes(conn: &Connection) -> HashMap<u32, Row> {
    let mut stmt = conn
        .prepare("SELECT ip, kind, inferred, net_start, net_end FROM outcomes")
        .expect("query outcomes");
    stmt.query_map([], |r| {
        let ip: i64 = r.get(0)?;
        let s: Option<i64> = r.get(3)?;
        let e: Option<i64> = r.get(4)?;
        Ok((
            ip as u32,
            Row {
                kind: r.get(1)?,
                inferred: r.get::<_, i64>(2)? != 0,
                net: s.zip(e).map(|(s, e)| (s as u32, e as u32)),
            },
        ))
    })
    .expect("rows")
    .map(|r| r.expect("row"))
    .collect()
}

fn parse_ip(v: &serde_json::Value) -> u32 {
    u32::from(
        v.as_str()
            .expect("address")
            .parse::<Ipv4Addr>()
            .expect("dotted quad"),
    )
}

/// Run a crawl to completion and check everything the issue promises; returns the outcomes
/// and the truth per IP for policy-specific checks.
fn crawl_and_check(
    policy: &str,
) -> (
    TestCluster,
    HashMap<u32, Row>,
    HashMap<u32, serde_json::Value>,
) {
    let mut cluster = TestCluster::start(options(policy));
    assert!(
        cluster.wait_complete(Duration::from_secs(180)),
        "the crawl did not complete"
    );
    let conn = open(&cluster);

    // Every seed IP ends with exactly one outcome (the primary key makes "at most one").
    let seeds = count(&conn, "SELECT count(*) FROM seeds");
    assert!(seeds > 2000, "a real slice: {seeds} seeds");
    assert_eq!(count(&conn, "SELECT count(*) FROM outcomes"), seeds);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM seeds WHERE ip NOT IN (SELECT ip FROM outcomes)"
        ),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM outcomes WHERE ip NOT IN (SELECT ip FROM seeds)"
        ),
        0
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM outcomes WHERE kind = 'failed'"),
        0,
        "no failures in a healthy world"
    );

    // No wrong network: compare with the simulator's ground truth.
    let rows = outcomes(&conn);
    let ips: Vec<Ipv4Addr> = rows.keys().map(|&ip| Ipv4Addr::from(ip)).collect();
    let truth: HashMap<u32, serde_json::Value> = cluster
        .truth(&ips)
        .into_iter()
        .map(|t| (parse_ip(&t["ip"]), t))
        .collect();
    assert_eq!(truth.len(), rows.len());
    let (mut found, mut skipped, mut not_found) = (0, 0, 0);
    for (ip, row) in &rows {
        let t = &truth[ip];
        let allocated = t["allocated"].as_bool() == Some(true);
        match row.kind.as_str() {
            "found" => {
                found += 1;
                assert!(!row.inferred);
                let want = (parse_ip(&t["start"]), parse_ip(&t["end"]));
                assert_eq!(
                    row.net,
                    Some(want),
                    "{} answered a network other than the truth {t}",
                    Ipv4Addr::from(*ip)
                );
            }
            "skipped" => {
                skipped += 1;
                assert!(row.inferred);
                let (s, e) = row.net.expect("a skipped IP names its network");
                assert!(
                    s <= *ip && *ip <= e,
                    "{} skipped by a network that does not contain it",
                    Ipv4Addr::from(*ip)
                );
                assert!(allocated, "{} skipped but unallocated", Ipv4Addr::from(*ip));
                // The known network holds the most specific one (networks nest).
                let (ts, te) = (parse_ip(&t["start"]), parse_ip(&t["end"]));
                assert!(
                    s <= ts && te <= e,
                    "{} skipped by {s}-{e}, which does not hold the truth {t}",
                    Ipv4Addr::from(*ip)
                );
            }
            "not_found" => {
                not_found += 1;
                assert!(
                    !allocated,
                    "{} answered not found but the truth is {t}",
                    Ipv4Addr::from(*ip)
                );
            }
            other => panic!("unexpected outcome {other}"),
        }
    }
    assert!(
        found > 50 && skipped > found,
        "found {found}, skipped {skipped}"
    );
    assert!(not_found < rows.len() / 2, "not found {not_found}");

    // A network found by one worker is skipped by the other: nothing served more than a
    // handful of times, and about one answer per network.
    // (Under `leaf`, an allocation is asked again for addresses outside its known
    // assignments: that is the policy's price, so only leaves are held to "a handful".)
    let stats = cluster.sim_get("/_sim/stats");
    let mut leaf_of: HashMap<(u32, u32), bool> = HashMap::new();
    {
        let mut q = conn
            .prepare("SELECT start_ip, end_ip, leaf FROM networks")
            .expect("networks");
        for r in q
            .query_map([], |r| {
                Ok((
                    (r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32),
                    r.get::<_, i64>(2)? != 0,
                ))
            })
            .expect("rows")
        {
            let (k, v) = r.expect("row");
            leaf_of.insert(k, v);
        }
    }
    for n in stats["networks"].as_array().expect("networks served") {
        let served = n["served"].as_u64().expect("served");
        let key = (parse_ip(&n["start"]), parse_ip(&n["end"]));
        let held_to_a_handful = policy == "covered" || leaf_of.get(&key) == Some(&true);
        assert!(
            !held_to_a_handful || served <= 3,
            "network {n} was served {served} times"
        );
    }
    if policy == "covered" {
        let per = stats["answers_per_distinct_network"]
            .as_f64()
            .expect("answers_per_distinct_network");
        assert!(per <= 1.2, "{per} answers per network");
    }
    let networks_db = count(&conn, "SELECT count(*) FROM networks");
    assert_eq!(
        stats["distinct_networks_served"].as_i64(),
        Some(networks_db),
        "every network served is stored once"
    );

    // Both workers did work.
    let per_worker = count(
        &conn,
        "SELECT count(DISTINCT worker_id) FROM outcomes WHERE kind = 'found'",
    );
    assert_eq!(per_worker, 2, "both workers answered networks");

    // The coverage stream on each replica equals the coordinator's networks.
    let mut stmt = conn
        .prepare("SELECT start_ip, end_ip FROM networks")
        .expect("networks");
    let want: BTreeSet<(u32, u32)> = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32))
        })
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    for replica in &cluster.replicas {
        let same = wait_until(Duration::from_secs(20), || {
            let got: BTreeSet<(u32, u32)> =
                TestCluster::coverage_entries(replica, coverage::DEFAULT_STREAM)
                    .iter()
                    .flat_map(|v| coverage::decode(v).expect("well-formed entry"))
                    .map(|r| (r.start, r.end))
                    .collect();
            got == want
        });
        assert!(
            same,
            "replica on port {} does not hold the coordinator's networks",
            replica.port()
        );
    }

    // Workers drain and exit 0 on SIGTERM.
    for i in 0..2 {
        assert_eq!(
            cluster.stop_worker(i, Duration::from_secs(30)),
            Some(0),
            "worker {i} exit code"
        );
    }
    drop(stmt);
    drop(conn);
    (cluster, rows, truth)
}

#[test]
fn covered_policy_crawls_a_slice_with_one_answer_per_network() {
    let (_cluster, rows, _truth) = crawl_and_check("covered");
    assert!(rows.values().any(|r| r.kind == "skipped"));
}

#[test]
fn leaf_policy_gives_every_ip_its_most_specific_network() {
    let (cluster, rows, truth) = crawl_and_check("leaf");
    // The crawl needed reports cut by size: some batch's found answers (normalized network and
    // raw body, both carried by each outcome) exceed what one report may carry.
    let biggest = count(
        &open(&cluster),
        "SELECT max(s) FROM (SELECT sum(length(n.raw_json) + length(n.network_json)) AS s \
         FROM outcomes o JOIN networks n ON n.start_ip = o.net_start AND n.end_ip = o.net_end \
         WHERE o.kind = 'found' GROUP BY o.batch_id)",
    );
    assert!(
        biggest > REPORT_LIMIT as i64,
        "the biggest batch carries {biggest} bytes of answers"
    );
    for (ip, row) in &rows {
        let t = &truth[ip];
        if t["allocated"].as_bool() == Some(true) {
            let want = (parse_ip(&t["start"]), parse_ip(&t["end"]));
            assert_eq!(
                row.net,
                Some(want),
                "{}: {} {:?} vs truth {t}",
                Ipv4Addr::from(*ip),
                row.kind,
                row.net
            );
        }
    }
}

/// An operator may set the coordinator's message limit below the RDAP client's body cap: an
/// answer too large for one report keeps its address's outcome and its normalized network,
/// and loses only its raw body (here every answer is padded beyond 1 MiB and the limit is
/// 256 KiB).
#[test]
fn answers_larger_than_a_report_keep_their_network() {
    let mut worker_args = unlimited_rates();
    worker_args.extend(["--max-body-bytes", "4MiB"].map(String::from));
    let cluster = TestCluster::start(ClusterOptions {
        sim_only: vec!["41.0.0.0/8".into()],
        sim_args: ["--oversize-rate", "1"].map(String::from).to_vec(),
        seed_args: ["--strategy", "lattice2016", "--include", "41.0.0.0/15"]
            .map(String::from)
            .to_vec(),
        coordinator_args: [
            "--max-message-size",
            "256KiB",
            "--max-batches-per-worker",
            "8",
        ]
        .map(String::from)
        .to_vec(),
        workers: 1,
        replicas: 1,
        worker_args,
        ..ClusterOptions::default()
    });
    assert!(
        cluster.wait_complete(Duration::from_secs(180)),
        "the crawl did not complete"
    );
    let conn = open(&cluster);
    let seeds = count(&conn, "SELECT count(*) FROM seeds");
    assert_eq!(count(&conn, "SELECT count(*) FROM outcomes"), seeds);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM outcomes WHERE kind = 'failed'"),
        0
    );
    let networks = count(&conn, "SELECT count(*) FROM networks");
    assert!(networks > 0, "some networks found");
    // Each kept its normalized network (start, end, handle) but not the padded raw body.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM networks WHERE length(raw_json) = 0 \
             AND json_extract(network_json, '$.handle') IS NOT NULL"
        ),
        networks
    );
    // The answers really were larger than a report.
    let stats = cluster.sim_get("/_sim/stats?networks=0");
    let oversized = stats["registries"]["afrinic"]["faults"]["oversized"]
        .as_u64()
        .unwrap_or(0);
    assert!(oversized >= networks as u64, "{stats}");
}
