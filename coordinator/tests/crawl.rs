//! The real coordinator binary driven by gRPC clients written here: a worker vanishes mid-batch,
//! the coordinator is SIGKILLed and restarted mid-run, seeds are added while it runs, and in
//! the end every seed IP has exactly one outcome in the SQLite file.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_proto::v1::{self as pb};
use rdapfleet_testkit::{seed_file, wait_until_async};
use tonic::transport::Channel;

const FLAGS: [&str; 10] = [
    "--lease-ttl",
    "3s",
    "--heartbeat-interval",
    "500ms",
    "--reaper-interval",
    "100ms",
    "--retry-delay",
    "1s",
    "--poll-interval",
    "300ms",
];

/// A test worker: answers from a rule instead of RDAP, skips inside networks it found, and
/// heartbeats its leases from a background task.
struct TestWorker {
    id: String,
    client: CoordinatorClient<Channel>,
    known: Vec<(u32, u32)>,
    held: Arc<Mutex<Vec<u64>>>,
    heartbeats: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    async fn start(id: &str, addr: std::net::SocketAddr) -> Self {
        let mut client = client(addr).await;
        hello(&mut client, id).await;
        let held: Arc<Mutex<Vec<u64>>> = Arc::default();
        let heartbeats = {
            let (held, mut client, id) = (held.clone(), client.clone(), id.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let lease_ids = held.lock().unwrap().clone();
                    if !lease_ids.is_empty() {
                        // Errors (a coordinator restarting) are retried on the next beat.
                        let _ = client
                            .heartbeat(pb::HeartbeatRequest {
                                worker_id: id.clone(),
                                lease_ids,
                            })
                            .await;
                    }
                }
            })
        };
        Self {
            id: id.into(),
            client,
            known: Vec::new(),
            held,
            heartbeats,
        }
    }

    /// One outcome per IP: skipped inside known networks, a /28 found for every 50th address,
    /// not_found otherwise.
    fn answer(&mut self, ips: &[u32]) -> Vec<pb::Outcome> {
        ips.iter()
            .map(|&ip| {
                if let Some(&(s, e)) = self.known.iter().find(|(s, e)| *s <= ip && ip <= *e) {
                    skipped(ip, s, e)
                } else if ip % 50 == 0 {
                    let (s, e) = (ip & !15, (ip & !15) + 15);
                    self.known.push((s, e));
                    found(ip, s, e)
                } else {
                    not_found(ip)
                }
            })
            .collect()
    }

    async fn lease(&mut self, max: u32) -> pb::LeaseResponse {
        let resp = self
            .client
            .lease(pb::LeaseRequest {
                worker_id: self.id.clone(),
                max_batches: max,
            })
            .await
            .expect("lease")
            .into_inner();
        self.held
            .lock()
            .unwrap()
            .extend(resp.leases.iter().map(|l| l.lease_id));
        resp
    }

    async fn report(
        &mut self,
        lease_id: u64,
        outcomes: Vec<pb::Outcome>,
    ) -> pb::ReportOutcomesResponse {
        self.client
            .report_outcomes(pb::ReportOutcomesRequest {
                worker_id: self.id.clone(),
                lease_id,
                outcomes,
            })
            .await
            .expect("report")
            .into_inner()
    }

    async fn complete(&mut self, lease_id: u64) -> pb::CompleteBatchResponse {
        let r = self
            .client
            .complete_batch(pb::CompleteBatchRequest {
                worker_id: self.id.clone(),
                lease_id,
            })
            .await
            .expect("complete")
            .into_inner();
        self.held.lock().unwrap().retain(|l| *l != lease_id);
        r
    }

    async fn process(&mut self, lease: &pb::Lease) -> pb::CompleteBatchResponse {
        let outcomes = self.answer(&lease.ips);
        let r = self.report(lease.lease_id, outcomes).await;
        assert_eq!(r.accepted as usize, lease.ips.len(), "{r:?}");
        self.complete(lease.lease_id).await
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.heartbeats.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_survive_a_lost_worker_and_a_killed_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    // 1,024 seed IPs in 16 batches of 64.
    let db = seed_file(dir.path(), &["8.8.0.0/22"], 64);
    let (mut coordinator, addr) = start(&db, "127.0.0.1:0", &FLAGS);

    // Worker A leases a batch, reports half of it, and is lost (no heartbeat, no completion).
    let mut a = client(addr).await;
    hello(&mut a, "worker-a").await;
    let la = lease_one(&mut a, "worker-a").await;
    assert_eq!(la.ips.len(), 64);
    let half = la.ips.len() / 2;
    let ra = a
        .report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "worker-a".into(),
            lease_id: la.lease_id,
            outcomes: la.ips[..half].iter().map(|&ip| not_found(ip)).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ra.accepted as usize, half);
    drop(a);

    // Worker B completes three batches; in the third, one IP fails retryably.
    let mut b = TestWorker::start("worker-b", addr).await;
    let mut retry: Option<(u64, u32)> = None;
    for i in 0..3 {
        let l = b.lease(1).await.leases.remove(0);
        assert_ne!(l.batch_id, la.batch_id);
        if i < 2 {
            assert!(b.process(&l).await.batch_done);
        } else {
            // An IP whose /28 holds no multiple of 50, so no network found covers it.
            let bad = *l
                .ips
                .iter()
                .find(|&&ip| ((ip & !15)..=(ip | 15)).all(|x| x % 50 != 0))
                .unwrap();
            let rest: Vec<u32> = l.ips.iter().copied().filter(|&ip| ip != bad).collect();
            let mut outcomes = b.answer(&rest);
            outcomes.push(failed(bad, true));
            let r = b.report(l.lease_id, outcomes).await;
            assert_eq!((r.accepted, r.requeued), (63, 1));
            let c = b.complete(l.lease_id).await;
            assert!(!c.batch_done);
            assert_eq!(c.remaining, 1);
            retry = Some((l.batch_id, bad));
        }
    }
    let (retry_batch, retry_ip) = retry.unwrap();

    // B leases another batch, reports half, and the coordinator is SIGKILLed mid-batch.
    let lb = b.lease(1).await.leases.remove(0);
    let first_half = b.answer(&lb.ips[..lb.ips.len() / 2]);
    let r = b.report(lb.lease_id, first_half).await;
    assert_eq!(r.accepted as usize, lb.ips.len() / 2);
    coordinator.kill();
    let during = status_json(&db);
    assert_eq!(during["batches"]["leased"], 2, "{during}");
    assert_eq!(during["crawl_complete"], false);

    // Restarted on the same address, it resumes: B's lease is still live and its re-sent
    // outcomes are counted as duplicates.
    let (coordinator2, addr2) = start(&db, &addr.to_string(), &FLAGS);
    assert_eq!(addr2, addr);
    let mut coordinator = coordinator2;
    let probe = b.client.clone();
    assert!(
        wait_until_async(Duration::from_secs(10), || {
            let mut probe = probe.clone();
            let id = b.id.clone();
            let lease_id = lb.lease_id;
            async move {
                probe
                    .heartbeat(pb::HeartbeatRequest {
                        worker_id: id,
                        lease_ids: vec![lease_id],
                    })
                    .await
                    .is_ok_and(|r| r.into_inner().leases[0].live)
            }
        })
        .await,
        "B's lease should survive the restart"
    );
    let outcomes = b.answer(&lb.ips);
    let r = b.report(lb.lease_id, outcomes).await;
    assert_eq!(r.duplicates as usize, lb.ips.len() / 2);
    assert_eq!(r.accepted as usize, lb.ips.len() - lb.ips.len() / 2);
    assert!(b.complete(lb.lease_id).await.batch_done);

    // B crawls to the end. A's batch comes back after its lease expires, with only the IPs
    // A did not settle; the retried IP comes back alone after its delay.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: HashMap<u64, Vec<pb::Lease>> = HashMap::new();
    loop {
        assert!(Instant::now() < deadline, "crawl did not finish in time");
        let resp = b.lease(2).await;
        if resp.crawl_complete {
            break;
        }
        if resp.leases.is_empty() {
            assert!(resp.retry_after_ms > 0);
            tokio::time::sleep(Duration::from_millis(u64::from(resp.retry_after_ms))).await;
            continue;
        }
        for l in resp.leases {
            b.process(&l).await;
            seen.entry(l.batch_id).or_default().push(l);
        }
    }
    let again = &seen[&la.batch_id];
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].ips,
        la.ips[half..].to_vec(),
        "only A's unsettled IPs"
    );
    assert!(again[0].attempt >= 1);
    let retried = &seen[&retry_batch];
    assert_eq!(retried[0].ips, vec![retry_ip]);
    assert_eq!(retried[0].attempt, 1);

    // A graceful stop, then the file itself: one outcome per seed IP, every batch done.
    coordinator.terminate();
    let exit = coordinator
        .wait_exit(Duration::from_secs(20))
        .expect("exits");
    assert!(exit.success(), "{exit:?}");
    let facts = db_facts(&db);
    assert_eq!(
        facts,
        DbFacts {
            seeds: 1024,
            outcomes: 1024,
            seeds_without_outcome: 0,
            outcomes_without_seed: 0,
            batches: 16,
            batches_done: 16,
            retries: 0,
        }
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let by_a: i64 = conn
        .query_row(
            "SELECT count(*) FROM outcomes WHERE worker_id = 'worker-a'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(by_a as usize, half);
    let attempts: i64 = conn
        .query_row(
            "SELECT attempts FROM outcomes WHERE ip = ?1",
            [retry_ip],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(attempts, 1);
    let st = status_json(&db);
    assert_eq!(st["crawl_complete"], true);
    assert_eq!(st["outcomes"]["total"], 1024);
    assert!(st["outcomes"]["found"].as_u64().unwrap() > 0);
    assert!(st["outcomes"]["skipped"].as_u64().unwrap() > 0);
    assert!(st["networks"].as_u64().unwrap() > 0);
    let workers: Vec<&str> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(workers, ["worker-a", "worker-b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_added_while_serving_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let (mut coordinator, addr) = start(&db, "127.0.0.1:0", &FLAGS);
    let mut w = TestWorker::start("worker-c", addr).await;
    let mut done = 0;
    loop {
        let r = w.lease(8).await;
        if r.crawl_complete {
            break;
        }
        for l in r.leases {
            assert!(w.process(&l).await.batch_done);
            done += 1;
        }
    }
    assert_eq!(done, 4);

    let out = assert_cmd::Command::cargo_bin(BIN)
        .unwrap()
        .args(["add-range", "9.9.0.0/16", "--stride-prefix", "24", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("added 256 seed IPs in 4 new batches"),
        "{stdout}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut new_batches = 0;
    while new_batches < 4 {
        assert!(Instant::now() < deadline, "new batches were not handed out");
        let r = w.lease(8).await;
        if r.leases.is_empty() {
            tokio::time::sleep(Duration::from_millis(u64::from(r.retry_after_ms.max(50)))).await;
            continue;
        }
        for l in r.leases {
            assert!(l.ips.iter().all(|ip| ip >> 16 == (9 << 8) | 9));
            assert!(w.process(&l).await.batch_done);
            new_batches += 1;
        }
    }
    assert!(w.lease(1).await.crawl_complete);
    coordinator.terminate();
    assert!(
        coordinator
            .wait_exit(Duration::from_secs(20))
            .unwrap()
            .success()
    );
    let facts = db_facts(&db);
    assert_eq!(
        (facts.seeds, facts.outcomes, facts.seeds_without_outcome),
        (512, 512, 0)
    );
    assert_eq!(facts.batches_done, 8);
}
