//! The fault suite (issue 8): a crawl of a small simulator slice, with real processes on
//! loopback (Redis master and two replicas, `rdapfleet-sim`, the coordinator, two workers),
//! while one fault is injected per test:
//!
//! - a worker is SIGKILLed mid-batch (and a replacement starts later);
//! - the coordinator is SIGKILLed and restarted on the same port mid-crawl;
//! - a Redis replica is stopped and restarted, then the master;
//! - a registry is down for 30 s (connections refused; then answered 503);
//! - a registry answers 429 (a tight limit in the simulator, a looser one in the workers);
//! - answers arrive truncated, oversized, as 500s, or after the workers' HTTP timeout.
//!
//! After each: every seed IP has exactly one final outcome (0 lost); no network is wrong
//! (found = the simulator's truth; skipped names a network that holds the truth's and contains
//! the IP; not_found only where the truth is unallocated); failures carry a reason and are
//! counted; every replica's coverage stream equals the coordinator's networks. The cost is
//! measured from the simulator's own counters (RDAP requests) and the clock, against a
//! fault-free baseline crawl of the same slice (run once per test run and shared through a
//! file in `CARGO_TARGET_TMPDIR`).
//!
//! With `RDAPFLEET_RELIABILITY_DIR` set, each test writes its row as JSON into that directory
//! (`scripts/fault-suite.sh` turns the rows into RELIABILITY.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdapfleet_proto::coverage;
use rdapfleet_testkit::{ClusterOptions, TestCluster, wait_until};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

/// Registries of the slice: AFRINIC's 197/8 and RIPE NCC's 2/8 (which holds APNIC blocks
/// reached by redirect).
const SIM_ONLY: [&str; 2] = ["197.0.0.0/8", "2.0.0.0/8"];
/// The seed list: the 2016 lattice over a part of each.
const SEED_INCLUDES: [&str; 2] = ["197.0.0.0/12", "2.56.0.0/14"];
/// Per-registry request rate of the workers: slow enough that every fault lands mid-crawl,
/// fast enough that a crawl takes seconds.
const WORKER_RATE: &str = "8/s";
/// Longest a crawl may take before the test fails.
const CRAWL_DEADLINE: Duration = Duration::from_secs(240);
/// How long the coordinator stays down in its scenario.
const COORDINATOR_DOWN: Duration = Duration::from_secs(5);
/// Coordinator settings for every scenario (the baseline included): retryable failures come
/// back within seconds (1 s doubling, capped at 4 s) and often enough to outlast a 30 s outage
/// plus the workers' circuit-breaker cool-downs (5 s doubling per failed probe, at most 60 s).
const COORDINATOR_ARGS: [&str; 4] = ["--max-attempts", "40", "--max-retry-delay", "4s"];

/// Cluster options of the suite, with extra simulator, worker and coordinator flags.
fn options(sim_args: &[&str], worker_args: &[&str]) -> ClusterOptions {
    let mut seed_args: Vec<String> = vec!["--strategy".into(), "lattice2016".into()];
    for inc in SEED_INCLUDES {
        seed_args.extend(["--include".to_string(), inc.to_string()]);
    }
    seed_args.extend(["--batch-size".to_string(), "100".to_string()]);
    let mut wargs: Vec<String> = Vec::new();
    for r in ["arin", "ripencc", "apnic", "lacnic", "afrinic"] {
        // A later --rate for the same registry (from `worker_args`) overrides this one.
        wargs.extend(["--rate".to_string(), format!("{r}={WORKER_RATE}")]);
    }
    wargs.extend(["--batches".to_string(), "4".to_string()]);
    wargs.extend(worker_args.iter().map(|s| s.to_string()));
    ClusterOptions {
        sim_only: SIM_ONLY.iter().map(|s| s.to_string()).collect(),
        sim_args: sim_args.iter().map(|s| s.to_string()).collect(),
        seed_args,
        coordinator_args: COORDINATOR_ARGS.iter().map(|s| s.to_string()).collect(),
        workers: 2,
        replicas: 2,
        worker_args: wargs,
        redis_password: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The crawl database, read-only beside the running coordinator.

fn open(db: &Path) -> Connection {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the crawl database");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Count with a fresh connection; 0 while the coordinator has not created its tables yet.
fn count_now(db: &Path, sql: &str) -> i64 {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.busy_timeout(Duration::from_secs(5))?;
            c.query_row(sql, [], |r| r.get(0))
        })
        .unwrap_or(0)
}

/// Final outcomes recorded so far.
fn outcomes_now(db: &Path) -> i64 {
    count_now(db, "SELECT count(*) FROM outcomes")
}

/// Whether every batch is done (the coordinator's "crawl complete").
fn complete_now(db: &Path) -> bool {
    count_now(
        db,
        "SELECT (SELECT count(*) FROM batches) > 0 AND (SELECT count(*) FROM batches) = \
         (SELECT count(*) FROM batch_state WHERE state = 'done')",
    ) == 1
}

/// Wait (bounded) until at least `n` outcomes are recorded or the crawl is complete. Panics
/// at the deadline.
fn wait_outcomes(db: &Path, n: i64, what: &str) {
    assert!(
        wait_until(Duration::from_secs(120), || outcomes_now(db) >= n
            || complete_now(db)),
        "{what}: fewer than {n} outcomes after 120 s"
    );
}

struct Row {
    kind: String,
    net: Option<(u32, u32)>,
    reason: Option<String>,
    attempts: i64,
}

fn outcome_rows(conn: &Connection) -> HashMap<u32, Row> {
    let mut stmt = conn
        .prepare("SELECT ip, kind, net_start, net_end, reason, attempts FROM outcomes")
        .expect("query outcomes");
    stmt.query_map([], |r| {
        let ip: i64 = r.get(0)?;
        let s: Option<i64> = r.get(2)?;
        let e: Option<i64> = r.get(3)?;
        Ok((
            ip as u32,
            Row {
                kind: r.get(1)?,
                net: s.zip(e).map(|(s, e)| (s as u32, e as u32)),
                reason: r.get(4)?,
                attempts: r.get(5)?,
            },
        ))
    })
    .expect("outcome rows")
    .map(|r| r.expect("outcome row"))
    .collect()
}

fn networks(conn: &Connection) -> BTreeSet<(u32, u32)> {
    let mut stmt = conn
        .prepare("SELECT start_ip, end_ip FROM networks")
        .expect("query networks");
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32))
    })
    .expect("network rows")
    .map(|r| r.expect("network row"))
    .collect()
}

fn parse_ip(v: &Value) -> u32 {
    u32::from(
        v.as_str()
            .expect("an address")
            .parse::<Ipv4Addr>()
            .expect("a dotted quad"),
    )
}

/// The registry a seed IP belongs to in this slice (by /8).
fn registry_of(ip: u32) -> &'static str {
    match ip >> 24 {
        197 => "afrinic",
        2 => "ripencc",
        _ => "other",
    }
}

/// A failure reason without the parts that vary per IP (URLs, addresses, counts), for grouping.
fn reason_class(reason: &str) -> String {
    let lower = reason.to_ascii_lowercase();
    [
        ("truncated", "truncated or invalid JSON"),
        ("eof while parsing", "truncated or invalid JSON"),
        ("malformed rdap response", "malformed RDAP response"),
        ("body larger than", "body over the size cap"),
        ("http 500", "HTTP 500"),
        ("http 503", "HTTP 503"),
        ("rate limited", "rate limited"),
        ("circuit open", "circuit open"),
        ("connection", "connection failed"),
        ("timed out", "timed out"),
        ("lease expired", "lease expired too often"),
    ]
    .iter()
    .find(|(needle, _)| lower.contains(needle))
    .map_or_else(
        || reason.chars().take(60).collect(),
        |(_, c)| (*c).to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// Measuring a crawl.

/// What a crawl cost, from the simulator's counters and the clock.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Cost {
    /// RDAP requests the simulator saw (answers, redirects, errors, 429s, refused).
    lookups: u64,
    /// Per registry.
    lookups_by_registry: BTreeMap<String, u64>,
    /// Network answers (HTTP 200 with a network).
    answers: u64,
    /// Seconds from starting the cluster to the crawl being complete.
    seconds: f64,
}

fn sim_cost(cluster: &TestCluster, seconds: f64) -> (Cost, Value) {
    let stats = cluster.sim_get("/_sim/stats?networks=0");
    let mut by = BTreeMap::new();
    if let Some(regs) = stats["registries"].as_object() {
        for (name, r) in regs {
            by.insert(name.clone(), r["queries"].as_u64().unwrap_or(0));
        }
    }
    let cost = Cost {
        lookups: stats["queries"].as_u64().unwrap_or(0),
        lookups_by_registry: by,
        answers: stats["answers"].as_u64().unwrap_or(0),
        seconds,
    };
    (cost, stats)
}

/// The fault-free crawl of the slice and its row, run once per test run (nextest runs each
/// test in its own process: they share it through a file keyed by the run id, under a lock).
fn baseline() -> (Cost, Value) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fault-suite");
    std::fs::create_dir_all(&dir).expect("baseline cache dir");
    let run =
        std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    let path = dir.join(format!("baseline-{run}.json"));
    let lock = File::create(dir.join("baseline.lock")).expect("baseline lock file");
    lock.lock().expect("lock the baseline cache");
    if let Some(cached) = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<(Cost, Value)>(&b).ok())
    {
        return cached;
    }
    let outcome = run_scenario(Scenario {
        slug: "00-baseline",
        fault: "none (baseline)".into(),
        options: options(&[], &[]),
        inject: Box::new(|_| Vec::new()),
        compare_to_baseline: false,
    });
    let cached = (outcome.cost, outcome.row);
    std::fs::write(&path, serde_json::to_vec(&cached).expect("baseline JSON"))
        .expect("write the baseline cache");
    cached
}

/// Write a row into `$RDAPFLEET_RELIABILITY_DIR` when set.
fn record(row: &Value) {
    if let Ok(dir) = std::env::var("RDAPFLEET_RELIABILITY_DIR") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("reliability dir");
        let slug = row["slug"].as_str().expect("a slug");
        std::fs::write(
            dir.join(format!("{slug}.json")),
            serde_json::to_vec_pretty(row).expect("row JSON"),
        )
        .expect("write the reliability row");
    }
}

// ---------------------------------------------------------------------------------------------
// One scenario.

type Inject = Box<dyn FnOnce(&mut TestCluster) -> Vec<String>>;

struct Scenario {
    /// File name of the row.
    slug: &'static str,
    /// The fault, for people.
    fault: String,
    options: ClusterOptions,
    /// Injects the fault into the running crawl; returns notes for the row.
    inject: Inject,
    /// Whether to measure against the baseline (false for the baseline itself).
    compare_to_baseline: bool,
}

struct Outcome {
    cluster: TestCluster,
    row: Value,
    cost: Cost,
    stats: Value,
}

fn run_scenario(sc: Scenario) -> Outcome {
    let base = sc.compare_to_baseline.then(|| baseline().0);
    let started = Instant::now();
    let mut cluster = TestCluster::start(sc.options);
    let notes = (sc.inject)(&mut cluster);
    let db = cluster.db.clone();
    // Ends early when no worker is left running (one that exits on a bad flag fails fast).
    wait_until(CRAWL_DEADLINE, || {
        complete_now(&db) || cluster.workers_running() == 0
    });
    assert!(
        complete_now(&db),
        "{}: the crawl did not complete within {CRAWL_DEADLINE:?} ({} outcomes, {} workers \
         running)",
        sc.slug,
        outcomes_now(&db),
        cluster.workers_running()
    );
    let seconds = started.elapsed().as_secs_f64();
    let (cost, stats) = sim_cost(&cluster, seconds);
    let conn = open(&cluster.db);

    // Exactly one final outcome per seed IP (the primary key makes it at most one).
    let seeds = count(&conn, "SELECT count(*) FROM seeds");
    let recorded = count(&conn, "SELECT count(*) FROM outcomes");
    let lost = count(
        &conn,
        "SELECT count(*) FROM seeds WHERE ip NOT IN (SELECT ip FROM outcomes)",
    );
    let strangers = count(
        &conn,
        "SELECT count(*) FROM outcomes WHERE ip NOT IN (SELECT ip FROM seeds)",
    );
    let pending_retries = count(&conn, "SELECT count(*) FROM retries");
    let by_worker: BTreeMap<String, i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT coalesce(worker_id, 'coordinator pre-filter'), count(*) FROM outcomes \
                 GROUP BY 1",
            )
            .expect("outcomes by worker");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect()
    };
    let released = count(&conn, "SELECT coalesce(sum(expiries), 0) FROM batch_state");

    // Against the simulator's truth.
    let rows = outcome_rows(&conn);
    let ips: Vec<Ipv4Addr> = rows.keys().map(|&ip| Ipv4Addr::from(ip)).collect();
    let truth: HashMap<u32, Value> = cluster
        .truth(&ips)
        .into_iter()
        .map(|t| (parse_ip(&t["ip"]), t))
        .collect();
    let mut wrong: Vec<String> = Vec::new();
    let mut kinds: BTreeMap<String, i64> = BTreeMap::new();
    let mut failed_by: BTreeMap<String, i64> = BTreeMap::new();
    // Every fault of this suite is survivable within the retry budget: no IP may end failed.
    let mut failures: Vec<String> = Vec::new();
    let mut retried = 0i64;
    let mut max_attempts = 0i64;
    for (&ip, row) in &rows {
        *kinds.entry(row.kind.clone()).or_default() += 1;
        if row.attempts > 0 {
            retried += 1;
        }
        max_attempts = max_attempts.max(row.attempts);
        let Some(t) = truth.get(&ip) else {
            wrong.push(format!("{}: no truth", Ipv4Addr::from(ip)));
            continue;
        };
        let allocated = t["allocated"].as_bool() == Some(true);
        let want = allocated.then(|| (parse_ip(&t["start"]), parse_ip(&t["end"])));
        let addr = Ipv4Addr::from(ip);
        match row.kind.as_str() {
            "found" => {
                if row.net != want {
                    wrong.push(format!("{addr}: found {:?}, truth {t}", row.net));
                }
            }
            "skipped" => match (row.net, want) {
                (Some((s, e)), Some((ts, te))) if s <= ip && ip <= e && s <= ts && te <= e => {}
                _ => wrong.push(format!("{addr}: skipped by {:?}, truth {t}", row.net)),
            },
            "not_found" => {
                if allocated {
                    wrong.push(format!("{addr}: not found, truth {t}"));
                }
            }
            "failed" => {
                let reason = row.reason.clone().unwrap_or_default();
                let class = reason_class(&reason);
                *failed_by
                    .entry(format!("{}: {class}", registry_of(ip)))
                    .or_default() += 1;
                failures.push(format!("{addr}: {reason:?}"));
            }
            other => wrong.push(format!("{addr}: unknown outcome kind {other:?}")),
        }
    }

    // Every replica's coverage stream equals the coordinator's networks.
    let want_nets = networks(&conn);
    let mut replicas_in_sync = true;
    for replica in &cluster.replicas {
        let same = wait_until(Duration::from_secs(30), || {
            let got: BTreeSet<(u32, u32)> =
                TestCluster::coverage_entries(replica, coverage::DEFAULT_STREAM)
                    .iter()
                    .flat_map(|v| coverage::decode(v).unwrap_or_default())
                    .map(|r| (r.start, r.end))
                    .collect();
            got == want_nets
        });
        replicas_in_sync &= same;
    }

    let failed = kinds.get("failed").copied().unwrap_or(0);
    let (extra_lookups, extra_seconds, base_json) = match &base {
        Some(b) => (
            Some(cost.lookups as i64 - b.lookups as i64),
            Some(cost.seconds - b.seconds),
            json!(b),
        ),
        None => (None, None, Value::Null),
    };
    let row = json!({
        "slug": sc.slug,
        "fault": sc.fault,
        "seed_ips": seeds,
        "outcomes_recorded": recorded,
        "lost": lost,
        "outcomes_outside_the_seed_list": strangers,
        "wrong_networks": wrong.len(),
        "kinds": kinds,
        "failed": failed,
        "failed_by_reason": failed_by,
        "retried_ips": retried,
        "max_attempts_of_an_ip": max_attempts,
        "outcomes_by_worker": by_worker,
        "lease_expiries": released,
        "retries_left_pending": pending_retries,
        "networks": want_nets.len(),
        "replicas_in_sync": replicas_in_sync,
        "lookups": cost.lookups,
        "lookups_by_registry": cost.lookups_by_registry,
        "answers": cost.answers,
        "seconds": (cost.seconds * 10.0).round() / 10.0,
        "baseline": base_json,
        "extra_lookups": extra_lookups,
        "extra_seconds": extra_seconds.map(|s| (s * 10.0).round() / 10.0),
        "sim_faults": stats["registries"]
            .as_object()
            .map(|regs| regs
                .iter()
                .map(|(k, v)| (k.clone(), json!({"faults": v["faults"], "rate_limited": v["rate_limited"]})))
                .collect::<serde_json::Map<_, _>>())
            .unwrap_or_default(),
        "notes": notes,
    });
    if sc.compare_to_baseline {
        record(&row);
    }
    eprintln!("{}", serde_json::to_string_pretty(&row).unwrap_or_default());

    // The promises.
    assert!(seeds > 500, "a real slice: {seeds} seeds");
    assert_eq!(lost, 0, "{}: seed IPs without an outcome", sc.slug);
    assert_eq!(recorded, seeds, "{}: one outcome per seed IP", sc.slug);
    assert_eq!(
        strangers, 0,
        "{}: outcomes for IPs not in the seed list",
        sc.slug
    );
    assert!(
        wrong.is_empty(),
        "{}: {} wrong networks, e.g. {:?}",
        sc.slug,
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert!(
        failures.is_empty(),
        "{}: {} seed IPs ended failed, e.g. {:?}",
        sc.slug,
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        replicas_in_sync,
        "{}: a replica's coverage stream differs from the coordinator's networks",
        sc.slug
    );
    drop(conn);
    Outcome {
        cluster,
        row,
        cost,
        stats,
    }
}

fn sim_fault(stats: &Value, registry: &str, fault: &str) -> u64 {
    stats["registries"][registry]["faults"][fault]
        .as_u64()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

#[test]
fn baseline_without_faults() {
    // Runs the shared baseline (or finds it already run by another test) and writes its row.
    let (cost, row) = baseline();
    record(&row);
    assert_eq!(row["failed"], 0, "no failure without faults");
    assert!(cost.lookups > 0 && cost.answers > 0);
}

#[test]
fn worker_killed_mid_batch_then_replaced() {
    let outcome = run_scenario(Scenario {
        slug: "01-worker-sigkill",
        fault: "SIGKILL a worker mid-batch; a replacement starts after its leases expired".into(),
        options: options(&[], &[]),
        inject: Box::new(|cluster| {
            let db = cluster.db.clone();
            // Mid-batch: worker-0 holds a lease for which it has already reported outcomes.
            let mid_batch = "SELECT count(*) FROM batch_state b WHERE b.state = 'leased' \
                 AND b.worker_id = 'worker-0' AND EXISTS (SELECT 1 FROM outcomes o \
                 WHERE o.batch_id = b.batch_id AND o.worker_id = 'worker-0')";
            assert!(
                wait_until(Duration::from_secs(120), || count_now(&db, mid_batch) > 0),
                "worker-0 never got mid-batch"
            );
            let held = count_now(
                &db,
                "SELECT count(*) FROM batch_state WHERE state = 'leased' AND worker_id = 'worker-0'",
            );
            let at = outcomes_now(&db);
            cluster.kill_worker(0);
            // Its leases expire (6 s TTL) and go to the other worker.
            assert!(
                wait_until(Duration::from_secs(60), || count_now(
                    &db,
                    "SELECT count(*) FROM batch_state WHERE expiries > 0"
                ) > 0),
                "the killed worker's leases never expired"
            );
            let replacement = cluster.add_worker();
            vec![
                format!("killed worker-0 holding {held} leases at {at} outcomes"),
                format!("replacement worker-{replacement} started after the first expiry"),
            ]
        }),
        compare_to_baseline: true,
    });
    let conn = open(&outcome.cluster.db);
    assert!(
        count(&conn, "SELECT count(*) FROM batch_state WHERE expiries > 0") > 0,
        "a lease of the killed worker expired and was handed out again"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM workers WHERE worker_id = 'worker-2'"
        ),
        1,
        "the replacement worker joined the crawl"
    );
}

#[test]
fn coordinator_killed_and_restarted() {
    let outcome = run_scenario(Scenario {
        slug: "02-coordinator-sigkill",
        fault: "SIGKILL the coordinator mid-crawl; restart it on the same port".into(),
        options: options(&[], &[]),
        inject: Box::new(|cluster| {
            let db = cluster.db.clone();
            let seeds = count_now(&db, "SELECT count(*) FROM seeds");
            wait_outcomes(&db, seeds / 4, "before the coordinator kill");
            let at = outcomes_now(&db);
            cluster.kill_coordinator();
            let down = Instant::now();
            // The workers notice and keep retrying (they must not exit).
            let noticed = wait_until(Duration::from_secs(30), || {
                cluster.workers.iter().flatten().all(|w| {
                    w.stderr().contains("coordinator unreachable")
                        || w.stderr().contains("heartbeat failed")
                })
            });
            assert!(
                noticed,
                "the workers did not notice the coordinator was gone"
            );
            // Down for a while (the fault's length, not a hope): the workers back off.
            while down.elapsed() < COORDINATOR_DOWN {
                std::thread::sleep(Duration::from_millis(100));
            }
            for (i, w) in cluster.workers.iter_mut().enumerate() {
                if let Some(w) = w {
                    assert!(
                        w.is_running(),
                        "worker {i} exited while the coordinator was down"
                    );
                }
            }
            let down_for = down.elapsed();
            cluster.start_coordinator();
            vec![format!(
                "killed at {at} of {seeds} outcomes; down {:.1} s; both workers noticed and kept retrying",
                down_for.as_secs_f64()
            )]
        }),
        compare_to_baseline: true,
    });
    // Leases are restored with a grace TTL: none expired although the coordinator was down
    // for most of one.
    assert_eq!(
        outcome.row["lease_expiries"], 0,
        "leases of running workers survive a coordinator restart"
    );
    // The workers rode it out: still running after the crawl completed without them exiting.
    let mut cluster = outcome.cluster;
    for (i, w) in cluster.workers.iter_mut().enumerate() {
        let w = w.as_mut().expect("worker");
        assert!(w.is_running(), "worker {i} exited");
    }
}

#[test]
fn redis_replica_then_master_stopped_and_restarted() {
    let outcome = run_scenario(Scenario {
        slug: "03-redis-restarts",
        fault:
            "stop and restart a Redis replica, then the master (no persistence: it returns empty)"
                .into(),
        options: options(&[], &[]),
        inject: Box::new(|cluster| {
            let db = cluster.db.clone();
            let seeds = count_now(&db, "SELECT count(*) FROM seeds");
            let mut notes = Vec::new();

            // Replica 0 (tailed by worker-0) goes away; the crawl goes on.
            wait_outcomes(&db, seeds / 5, "before the replica stop");
            assert!(
                !complete_now(&db) && count_now(&db, "SELECT count(*) FROM networks") > 0,
                "the replica must go away mid-crawl"
            );
            cluster.stop_replica(0);
            let at = outcomes_now(&db);
            let w0 = cluster.workers[0].as_ref().expect("worker-0");
            assert!(
                wait_until(Duration::from_secs(30), || w0
                    .stderr()
                    .contains("coverage log unreachable")),
                "worker-0 did not notice its replica was gone"
            );
            wait_outcomes(&db, at + 50, "while the replica is down");
            let during = outcomes_now(&db) - at;
            cluster.restart_replica(0);
            notes.push(format!(
                "replica 0 down from {at} outcomes; {during} more recorded while it was down"
            ));

            // Then the master: the coordinator's publisher loses it; it returns empty.
            let at = outcomes_now(&db);
            cluster.stop_master();
            let nets_at = count_now(&db, "SELECT count(*) FROM networks");
            // The publisher notices on its next write, i.e. when a network is found.
            let coord = cluster.coordinator.as_ref().expect("coordinator");
            let noticed = wait_until(Duration::from_secs(60), || {
                coord.stderr().contains("coverage publishing paused") || complete_now(&db)
            }) && coord.stderr().contains("coverage publishing paused");
            wait_outcomes(&db, at + 50, "while the master is down");
            let during = outcomes_now(&db) - at;
            let nets_during = count_now(&db, "SELECT count(*) FROM networks") - nets_at;
            cluster.restart_master();
            notes.push(format!(
                "master down from {at} outcomes with {nets_at} networks published; {during} \
                 outcomes and {nets_during} networks recorded while it was down{}; it came back \
                 empty and the publisher wrote the whole log again",
                if noticed {
                    " (the publisher paused)"
                } else {
                    ""
                }
            ));
            notes
        }),
        compare_to_baseline: true,
    });
    // The restarted master was filled again by the publisher.
    let conn = open(&outcome.cluster.db);
    let nets = networks(&conn);
    let on_master: BTreeSet<(u32, u32)> =
        TestCluster::coverage_entries(&outcome.cluster.master, coverage::DEFAULT_STREAM)
            .iter()
            .flat_map(|v| coverage::decode(v).unwrap_or_default())
            .map(|r| (r.start, r.end))
            .collect();
    assert_eq!(on_master, nets, "the master's stream equals the networks");
}

fn outage(mode: &'static str, slug: &'static str) {
    let spec = format!("ripencc=2s..32s:{mode}");
    let outcome = run_scenario(Scenario {
        slug,
        fault: format!("RIPE NCC down for 30 s ({mode}): --outage {spec}"),
        options: options(&["--outage", &spec], &[]),
        inject: Box::new(|_| Vec::new()),
        compare_to_baseline: true,
    });
    let fault = if mode == "refuse" {
        "refused"
    } else {
        "unavailable_503"
    };
    assert!(
        sim_fault(&outcome.stats, "ripencc", fault) > 0,
        "the outage was met: {}",
        outcome.stats["registries"]["ripencc"]
    );
}

#[test]
fn registry_down_30s_connections_refused() {
    outage("refuse", "04-outage-refuse");
}

#[test]
fn registry_down_30s_answering_503() {
    outage("503", "05-outage-503");
}

#[test]
fn registry_answers_429() {
    let outcome = run_scenario(Scenario {
        slug: "06-rate-limited-429",
        fault: "RIPE NCC allows 5 requests/s per client address (429 + Retry-After); the two \
                workers (one address) allow themselves 8/s each"
            .into(),
        options: options(&["--rate", "ripencc=5/s"], &[]),
        inject: Box::new(|_| Vec::new()),
        compare_to_baseline: true,
    });
    assert!(
        outcome.stats["registries"]["ripencc"]["rate_limited"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the simulator answered 429s: {}",
        outcome.stats["registries"]["ripencc"]
    );
}

#[test]
fn broken_answers_truncated_oversized_500_and_slow() {
    let outcome = run_scenario(Scenario {
        slug: "07-broken-answers",
        fault: "broken answers at every registry: 10 % truncated JSON, 5 % oversized (> 1 MiB), \
                10 % HTTP 500, 5 % slower (3 s) than the workers' 2 s HTTP timeout"
            .into(),
        options: options(
            &[
                "--truncate-rate",
                "0.1",
                "--oversize-rate",
                "0.05",
                "--error-rate",
                "0.1",
                "--slow-rate",
                "0.05",
                "--slow-delay",
                "3s",
                "--fault-seed",
                "7",
            ],
            &["--timeout", "2s"],
        ),
        inject: Box::new(|_| Vec::new()),
        compare_to_baseline: true,
    });
    for fault in ["truncated", "oversized", "error_500", "slow"] {
        let n: u64 = ["afrinic", "ripencc", "arin"]
            .iter()
            .map(|r| sim_fault(&outcome.stats, r, fault))
            .sum();
        assert!(n > 0, "the simulator served {fault} answers");
    }
}
