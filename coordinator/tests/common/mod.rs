//! Helpers for the coordinator's integration tests: start the real binary, connect gRPC
//! clients, read `status --json`, and check the crawl database directly.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rdapfleet_proto::PROTOCOL_VERSION;
use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_proto::v1::{self as pb, outcome};
use rdapfleet_testkit::ChildProcess;
use tonic::transport::Channel;

/// The binary under test.
pub const BIN: &str = "rdapfleet-coordinator";

/// Start `serve` on `listen` (use `127.0.0.1:0` for a free port) with extra flags; returns the
/// child and the address it bound. Without a token flag in `extra` it runs `--insecure`
/// (loopback only), so these tests' clients need no credentials.
pub fn start(db: &Path, listen: &str, extra: &[&str]) -> (ChildProcess, SocketAddr) {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--db".into(),
        db.display().to_string(),
        "--listen".into(),
        listen.into(),
    ];
    if !extra.iter().any(|a| a.starts_with("--token")) {
        args.push("--insecure".into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = ChildProcess::start(BIN, &args);
    let addr = child.wait_for_listening(Duration::from_secs(30));
    (child, addr)
}

/// A gRPC client of the coordinator at `addr` (reconnects by itself after a restart on the
/// same address).
pub async fn client(addr: SocketAddr) -> CoordinatorClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    CoordinatorClient::new(channel)
}

/// Say hello as `worker`.
pub async fn hello(c: &mut CoordinatorClient<Channel>, worker: &str) -> pb::HelloResponse {
    c.hello(pb::HelloRequest {
        protocol_version: PROTOCOL_VERSION,
        worker_id: worker.into(),
        hostname: format!("{worker}.test"),
        version: "test".into(),
    })
    .await
    .expect("hello")
    .into_inner()
}

/// Lease one batch as `worker` (which said hello); the coordinator must have one to give.
pub async fn lease_one(c: &mut CoordinatorClient<Channel>, worker: &str) -> pb::Lease {
    c.lease(pb::LeaseRequest {
        worker_id: worker.into(),
        max_batches: 1,
    })
    .await
    .expect("lease")
    .into_inner()
    .leases
    .pop()
    .expect("a batch to lease")
}

/// An outcome saying no registry holds `ip`.
pub fn not_found(ip: u32) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 1,
        kind: Some(outcome::Kind::NotFound(pb::NotFound {
            registry: "arin".into(),
        })),
    }
}

/// An outcome naming the network `start..=end`.
pub fn found(ip: u32, start: u32, end: u32) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 1,
        kind: Some(outcome::Kind::Found(pb::Found {
            start,
            end,
            network_json: format!(r#"{{"handle":"NET-{start}","registry":"arin","leaf":true}}"#)
                .into_bytes(),
            raw_json: b"{\"objectClassName\":\"ip network\"}".to_vec(),
            redirects: 0,
        })),
    }
}

/// An outcome saying `ip` lies in the known network `start..=end`.
pub fn skipped(ip: u32, start: u32, end: u32) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 1,
        kind: Some(outcome::Kind::Skipped(pb::Skipped { start, end })),
    }
}

/// A failed lookup.
pub fn failed(ip: u32, retryable: bool) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 1,
        kind: Some(outcome::Kind::Failed(pb::Failed {
            reason: "timeout".into(),
            retryable,
            registry: "lacnic".into(),
        })),
    }
}

/// `status --json` of `db`, parsed, with the read time removed (for comparisons).
pub fn status_json(db: &Path) -> serde_json::Value {
    let out = assert_cmd::Command::cargo_bin(BIN)
        .expect("binary built")
        .args(["status", "--json", "--db"])
        .arg(db)
        .output()
        .expect("running status");
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    v.as_object_mut().expect("object").remove("as_of_ms");
    v
}

/// Facts checked straight from the crawl database at the end of a run.
#[derive(Debug, PartialEq, Eq)]
pub struct DbFacts {
    /// Seed IPs.
    pub seeds: i64,
    /// Outcome rows.
    pub outcomes: i64,
    /// Seed IPs without an outcome row.
    pub seeds_without_outcome: i64,
    /// Outcome rows that are not seed IPs.
    pub outcomes_without_seed: i64,
    /// Batches.
    pub batches: i64,
    /// Batches whose state is done.
    pub batches_done: i64,
    /// IPs still in the retry queue.
    pub retries: i64,
}

/// Read [`DbFacts`] from `db`.
pub fn db_facts(db: &Path) -> DbFacts {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    DbFacts {
        seeds: q("SELECT count(*) FROM seeds"),
        outcomes: q("SELECT count(*) FROM outcomes"),
        seeds_without_outcome: q(
            "SELECT count(*) FROM seeds s LEFT JOIN outcomes o ON o.ip = s.ip WHERE o.ip IS NULL",
        ),
        outcomes_without_seed: q(
            "SELECT count(*) FROM outcomes o LEFT JOIN seeds s ON s.ip = o.ip WHERE s.ip IS NULL",
        ),
        batches: q("SELECT count(*) FROM batches"),
        batches_done: q(
            "SELECT count(*) FROM batches b JOIN batch_state s ON s.batch_id = b.id WHERE s.state = 'done'",
        ),
        retries: q("SELECT count(*) FROM retries"),
    }
}
