//! Coordinator throughput over real gRPC on TCP loopback against an in-process server on a real
//! SQLite file, with 8 concurrent clients:
//!
//! - `lease+complete`: Lease (1,000-IP batches) then CompleteBatch without outcomes (the batch
//!   goes straight back to pending, so the queue never runs dry).
//! - `lease+report+complete`: Lease, one ReportOutcomes with every IP of the batch (10-IP
//!   batches), CompleteBatch; the batch ends done.
//! - `ingest`: 1,000-IP batches, reported in two ReportOutcomes calls of 500 (not_found), then
//!   CompleteBatch: outcomes stored per second.
//! - `ingest, 5% found`: the same with one outcome in 20 a found network carrying a ~0.5 KB
//!   normalized JSON and a ~2 KB raw body (every found network is new).
//!
//! Run: `cargo bench -p rdapfleet-coordinator --bench throughput [-- --runs N] [--only PREFIX]`.
//! Prints the median (and min/max) of N runs (default 5) per scenario (`--only` keeps the
//! scenarios whose name starts with PREFIX): the wall-clock rates, and the process CPU time per
//! batch (clients + server + store thread) with the rate it implies on 2 dedicated cores, which
//! does not depend on what else runs on the machine.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use rdapfleet_coordinator::{Config, Server};
use rdapfleet_proto::v1::{self as pb, outcome};
use rdapfleet_seed::{SeedPlan, Strategy, parse_cidrs, write_seed_file};
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 8;

#[derive(Clone, Copy)]
enum Scenario {
    /// Lease + CompleteBatch, no outcomes.
    LeaseComplete { cycles_per_client: usize },
    /// Lease + one report of every IP + CompleteBatch.
    LeaseReportComplete,
    /// Reports of up to 500 outcomes; every `found_every`-th outcome is a found network.
    Ingest { found_every: Option<u32> },
}

struct Measured {
    batches: u64,
    outcomes: u64,
    elapsed: Duration,
    /// CPU time of the whole process (server, clients, store thread) during the run.
    cpu: Duration,
}

/// CPU time consumed by this process so far (all threads).
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe {
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

fn seed(dir: &Path, cidr: &str, batch_size: usize) -> std::path::PathBuf {
    let path = dir.join("bench.sqlite");
    let mut plan = SeedPlan::new(Strategy::Ranges);
    plan.includes = parse_cidrs(&[cidr]).expect("cidr");
    plan.batch_size = batch_size;
    write_seed_file(&path, &plan, true).expect("seed file");
    path
}

fn network_json(start: u32, end: u32) -> Vec<u8> {
    format!(
        r#"{{"start_address":"{}","end_address":"{}","cidrs":["{}/24"],"handle":"NET-{start}-{end}","name":"BENCH-NET","type":"ASSIGNED PA","country":"NL","parent_handle":"NET-PARENT","status":["active"],"registry":"ripencc","origin_asns":[64512],"registrant":"Benchmark Networks B.V.","abuse_emails":["abuse@example.net"],"registration_date":"2016-01-01T00:00:00Z","last_changed_date":"2020-01-01T00:00:00Z","source_url":"https://rdap.db.ripe.net/ip/{}","leaf":true}}"#,
        std::net::Ipv4Addr::from(start),
        std::net::Ipv4Addr::from(end),
        std::net::Ipv4Addr::from(start),
        std::net::Ipv4Addr::from(start),
    )
    .into_bytes()
}

fn outcomes_for(ips: &[u32], found_every: Option<u32>, raw: &[u8]) -> Vec<pb::Outcome> {
    ips.iter()
        .map(|&ip| {
            let kind = match found_every {
                Some(n) if ip % n == 0 => outcome::Kind::Found(pb::Found {
                    start: ip,
                    end: ip,
                    network_json: network_json(ip, ip),
                    raw_json: raw.to_vec(),
                    redirects: 0,
                }),
                _ => outcome::Kind::NotFound(pb::NotFound {
                    registry: "arin".into(),
                }),
            };
            pb::Outcome {
                ip,
                at_ms: 1,
                kind: Some(kind),
            }
        })
        .collect()
}

async fn client_loop(addr: SocketAddr, worker: String, scenario: Scenario) -> (u64, u64) {
    let mut c = common::worker_client(addr, &worker).await;
    let raw = vec![b'x'; 2048];
    let (max_batches, report, found_every) = match scenario {
        Scenario::LeaseComplete { cycles_per_client } => (Some(cycles_per_client), false, None),
        Scenario::LeaseReportComplete => (None, true, None),
        Scenario::Ingest { found_every } => (None, true, found_every),
    };
    common::crawl(&mut c, &worker, max_batches, |chunk| {
        report.then(|| outcomes_for(chunk, found_every, &raw))
    })
    .await
}

async fn run_once(scenario: Scenario) -> Measured {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = match scenario {
        // 1,000-IP batches; the queue never drains (no outcomes).
        Scenario::LeaseComplete { .. } => seed(dir.path(), "11.0.0.0/16", 1000),
        // 6,554 batches of 10 IPs.
        Scenario::LeaseReportComplete => seed(dir.path(), "11.0.0.0/16", 10),
        // 262,144 IPs in 1,000-IP batches.
        Scenario::Ingest { .. } => seed(dir.path(), "11.0.0.0/14", 1000),
    };
    let mut config = Config::new(&db);
    config.security.insecure = true;
    config.max_batches_per_worker = 8;
    let server = Server::open(config).await.expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.serve(listener, shutdown.clone()));

    let start = Instant::now();
    let cpu_start = process_cpu();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client_loop(addr, format!("bench-{i}"), scenario)))
        .collect();
    let (mut batches, mut outcomes) = (0, 0);
    for c in clients {
        let (b, o) = c.await.expect("client");
        batches += b;
        outcomes += o;
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu_start;
    shutdown.cancel();
    serving.await.expect("join").expect("serve");
    Measured {
        batches,
        outcomes,
        elapsed,
        cpu,
    }
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize)
        .max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scenarios: [(&str, Scenario); 4] = [
        (
            "lease+complete (1,000-IP batches, no outcomes)",
            Scenario::LeaseComplete {
                cycles_per_client: 500,
            },
        ),
        (
            "lease+report+complete (10-IP batches, 10 outcomes each)",
            Scenario::LeaseReportComplete,
        ),
        (
            "ingest (1,000-IP batches, 2 x 500 not_found)",
            Scenario::Ingest { found_every: None },
        ),
        (
            "ingest, 5% found (0.5 KB network + 2 KB raw JSON each)",
            Scenario::Ingest {
                found_every: Some(20),
            },
        ),
    ];
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    println!(
        "coordinator throughput: {CLIENTS} gRPC clients over TCP loopback, in-process server, SQLite WAL file, {runs} runs, median [min..max]"
    );
    for (name, scenario) in scenarios {
        if only.as_ref().is_some_and(|o| !name.starts_with(o.as_str())) {
            continue;
        }
        let results: Vec<Measured> = (0..runs)
            .map(|_| runtime.block_on(run_once(scenario)))
            .collect();
        let bps = median(
            results
                .iter()
                .map(|m| m.batches as f64 / m.elapsed.as_secs_f64())
                .collect(),
        );
        let ops = median(
            results
                .iter()
                .map(|m| m.outcomes as f64 / m.elapsed.as_secs_f64())
                .collect(),
        );
        let cpu_per_batch = median(
            results
                .iter()
                .map(|m| m.cpu.as_secs_f64() * 1e6 / m.batches as f64)
                .collect(),
        );
        let share = median(
            results
                .iter()
                .map(|m| m.cpu.as_secs_f64() / m.elapsed.as_secs_f64())
                .collect(),
        );
        let per_run = &results[0];
        let outcomes_per_batch = per_run.outcomes as f64 / per_run.batches.max(1) as f64;
        println!(
            "{name}  ({} batches, {} outcomes per run)",
            per_run.batches, per_run.outcomes
        );
        println!(
            "    wall: {:>7.0} batches/s [{:.0}..{:.0}]  {:>8.0} outcomes/s [{:.0}..{:.0}]  (this process got {:.2} CPUs)",
            bps.0, bps.1, bps.2, ops.0, ops.1, ops.2, share.0
        );
        println!(
            "    cpu:  {:>7.0} us per batch (clients + server) -> {:.0} batches/s, {:.0} outcomes/s on 2 dedicated cores",
            cpu_per_batch.0,
            2e6 / cpu_per_batch.0,
            2e6 / cpu_per_batch.0 * outcomes_per_batch
        );
    }
}
