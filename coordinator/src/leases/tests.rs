//! State-machine tests of the lease engine, on tokio's paused clock.

use std::time::Duration;

use rdapfleet_proto::v1::{self as pb, outcome};
use tokio::time::advance;

use super::*;
use crate::clock::Clock;
use crate::db::{BatchRow, BatchStatus, Loaded, LoadedBatch};

const TTL: Duration = Duration::from_secs(30);

fn config() -> Config {
    let mut c = Config::new("unused.sqlite");
    c.lease_ttl = TTL;
    c.heartbeat_interval = Duration::from_secs(10);
    c.reaper_interval = Duration::from_secs(1);
    c.retry_delay = Duration::from_secs(60);
    c.max_retry_delay = Duration::from_secs(600);
    c
}

/// Batches `0..n` of `size` consecutive IPs starting at 1000 * (id + 1), handed out in id order.
fn loaded(n: u64, size: u32) -> Loaded {
    let batches = (0..n)
        .map(|id| {
            let first = 1000 * (id as u32 + 1);
            let ips: Vec<u32> = (first..first + size).collect();
            LoadedBatch {
                row: BatchRow {
                    id,
                    status: BatchStatus::Pending,
                    not_before_ms: 0,
                    lease_id: None,
                    worker_id: None,
                    expires_at_ms: None,
                    leases: 0,
                    expiries: 0,
                },
                hand_out: id as i64,
                settled: vec![false; ips.len()],
                ips,
            }
        })
        .collect();
    Loaded {
        crawl_id: "test-crawl".into(),
        batches,
        ..Default::default()
    }
}

struct Harness {
    engine: Engine,
    clock: Clock,
}

impl Harness {
    fn new(config: Config, loaded: Loaded) -> Self {
        let clock = Clock::new();
        let mut engine = Engine::restore(config, loaded, clock.now_ms());
        for w in ["a", "b"] {
            engine
                .hello(
                    pb::HelloRequest {
                        protocol_version: PROTOCOL_VERSION,
                        worker_id: w.into(),
                        hostname: format!("host-{w}"),
                        version: "test".into(),
                    },
                    clock.now_ms(),
                )
                .unwrap();
        }
        Self { engine, clock }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn lease(&mut self, worker: &str, max: u32) -> pb::LeaseResponse {
        let now = self.now();
        self.engine.lease(worker, max, now).unwrap().0
    }

    fn lease_one(&mut self, worker: &str) -> pb::Lease {
        let mut r = self.lease(worker, 1);
        assert_eq!(r.leases.len(), 1, "expected a lease: {r:?}");
        r.leases.remove(0)
    }

    fn report(
        &mut self,
        worker: &str,
        lease: u64,
        outcomes: Vec<pb::Outcome>,
    ) -> Result<ReportCounts> {
        let now = self.now();
        self.engine
            .report(worker, lease, outcomes, now)
            .map(|r| r.0)
    }

    fn complete(&mut self, worker: &str, lease: u64) -> Result<pb::CompleteBatchResponse> {
        let now = self.now();
        self.engine.complete(worker, lease, now).map(|r| r.0)
    }

    fn reap(&mut self) -> usize {
        let now = self.now();
        self.engine.reap(now).0
    }
}

fn not_found(ip: u32) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 0,
        kind: Some(outcome::Kind::NotFound(pb::NotFound {
            registry: "arin".into(),
        })),
    }
}

fn failed(ip: u32, retryable: bool) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 0,
        kind: Some(outcome::Kind::Failed(pb::Failed {
            reason: "http 503".into(),
            retryable,
            registry: "ripencc".into(),
        })),
    }
}

fn found(ip: u32, start: u32, end: u32) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 0,
        kind: Some(outcome::Kind::Found(pb::Found {
            start,
            end,
            network_json: br#"{"handle":"NET-1","registry":"arin"}"#.to_vec(),
            raw_json: b"{}".to_vec(),
            redirects: 0,
        })),
    }
}

fn all_not_found(ips: &[u32]) -> Vec<pb::Outcome> {
    ips.iter().map(|&ip| not_found(ip)).collect()
}

fn outcome_rows(writes: &[Write]) -> Vec<&OutcomeRow> {
    writes
        .iter()
        .filter_map(|w| match w {
            Write::Outcome(o) => Some(o),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn expired_lease_is_reissued_to_another_worker() {
    let mut h = Harness::new(config(), loaded(1, 4));
    let first = h.lease_one("a");
    assert_eq!(first.attempt, 0);
    assert_eq!(first.ips, vec![1000, 1001, 1002, 1003]);
    assert_eq!(first.expires_at_ms, h.now() + TTL.as_millis() as i64);
    // Nothing else to lease while it is out.
    let none = h.lease("b", 1);
    assert!(none.leases.is_empty() && !none.crawl_complete);
    assert!(none.retry_after_ms > 0);

    advance(TTL - Duration::from_millis(1)).await;
    assert_eq!(h.reap(), 0, "not yet expired");
    advance(Duration::from_millis(1)).await;
    assert_eq!(h.reap(), 1);

    let second = h.lease_one("b");
    assert_eq!(second.batch_id, first.batch_id);
    assert_eq!(second.attempt, 1, "attempts are counted");
    assert_ne!(second.lease_id, first.lease_id);

    // The old holder is told its lease is gone, and changes nothing.
    let err = h
        .report("a", first.lease_id, all_not_found(&first.ips))
        .unwrap_err();
    assert!(matches!(err, Error::FailedPrecondition(_)), "{err:?}");
    let now = h.now();
    let hb = h.engine.heartbeat("a", &[first.lease_id], now).unwrap().0;
    assert!(!hb.leases[0].live);

    let counts = h
        .report("b", second.lease_id, all_not_found(&second.ips))
        .unwrap();
    assert_eq!(counts.accepted, 4);
    let done = h.complete("b", second.lease_id).unwrap();
    assert!(done.batch_done);
    assert!(h.engine.crawl_complete());
    assert!(h.lease("a", 1).crawl_complete);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_a_lease_alive() {
    let mut h = Harness::new(config(), loaded(1, 2));
    let l = h.lease_one("a");
    for _ in 0..5 {
        advance(TTL * 2 / 3).await;
        let now = h.now();
        let (hb, writes) = h.engine.heartbeat("a", &[l.lease_id, 999], now).unwrap();
        assert!(hb.leases[0].live);
        assert_eq!(hb.leases[0].expires_at_ms, now + TTL.as_millis() as i64);
        assert!(!hb.leases[1].live, "unknown lease is not live");
        assert!(
            writes
                .iter()
                .any(|w| matches!(w, Write::WorkerHeartbeat { .. }))
        );
        assert_eq!(h.reap(), 0);
    }
    // Another worker cannot renew it.
    let now = h.now();
    assert!(
        !h.engine
            .heartbeat("b", &[l.lease_id], now)
            .unwrap()
            .0
            .leases[0]
            .live
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_leases_keep_expiring_ends_failed() {
    let mut c = config();
    c.max_lease_attempts = 3;
    let mut h = Harness::new(c, loaded(1, 3));
    for attempt in 0..3u32 {
        let l = h.lease_one("a");
        assert_eq!(l.attempt, attempt);
        if attempt == 0 {
            assert_eq!(l.ips, vec![1000, 1001, 1002]);
            // One IP is settled before the worker vanishes.
            h.report("a", l.lease_id, vec![not_found(1000)]).unwrap();
        } else {
            assert_eq!(l.ips, vec![1001, 1002], "settled IPs are not sent again");
        }
        advance(TTL).await;
        let now = h.now();
        let (n, writes) = h.engine.reap(now);
        assert_eq!(n, 1);
        let rows = outcome_rows(&writes);
        if attempt < 2 {
            assert!(rows.is_empty());
            assert!(!h.engine.crawl_complete());
        } else {
            let ips: Vec<u32> = rows.iter().map(|o| o.ip).collect();
            assert_eq!(ips, vec![1001, 1002]);
            assert!(rows.iter().all(|o| o.kind == OutcomeKind::Failed
                && o.reason.as_deref() == Some("lease expired 3 times")));
        }
    }
    assert!(h.engine.crawl_complete());
}

#[tokio::test(start_paused = true)]
async fn max_lease_attempts_records_lease_expired_failures() {
    let mut c = config();
    c.max_lease_attempts = 2;
    let mut h = Harness::new(c, loaded(1, 2));
    h.lease_one("a");
    advance(TTL).await;
    let (_, w1) = h.engine.reap(h.now());
    assert!(outcome_rows(&w1).is_empty());
    h.lease_one("b");
    advance(TTL).await;
    let (_, w2) = h.engine.reap(h.now());
    let rows = outcome_rows(&w2);
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r.kind, OutcomeKind::Failed);
        assert_eq!(r.reason.as_deref(), Some("lease expired 2 times"));
    }
    assert!(h.engine.crawl_complete());
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_wait_for_their_not_before_time() {
    let mut h = Harness::new(config(), loaded(1, 3));
    let l = h.lease_one("a");
    let counts = h
        .report(
            "a",
            l.lease_id,
            vec![not_found(1000), failed(1001, true), not_found(1002)],
        )
        .unwrap();
    assert_eq!(
        counts,
        ReportCounts {
            accepted: 2,
            duplicates: 0,
            requeued: 1
        }
    );
    let c = h.complete("a", l.lease_id).unwrap();
    assert!(!c.batch_done);
    assert_eq!(c.remaining, 1);

    // Not before retry_delay (60 s) has passed.
    let r = h.lease("a", 1);
    assert!(r.leases.is_empty() && !r.crawl_complete);
    assert_eq!(
        r.retry_after_ms, 10_000,
        "clamped to the longest suggestion"
    );
    advance(Duration::from_secs(59)).await;
    let r = h.lease("b", 1);
    assert!(r.leases.is_empty());
    assert_eq!(r.retry_after_ms, 1000);
    advance(Duration::from_secs(1)).await;
    let l = h.lease_one("b");
    assert_eq!(l.ips, vec![1001], "only the IP to retry is handed out");
    assert_eq!(l.attempt, 1);
    let counts = h.report("b", l.lease_id, vec![not_found(1001)]).unwrap();
    assert_eq!(counts.accepted, 1);
    assert!(h.complete("b", l.lease_id).unwrap().batch_done);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_ends_an_ip_failed_with_its_last_reason() {
    let mut c = config();
    c.max_attempts = 3;
    let mut h = Harness::new(c, loaded(1, 1));
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let l = h.lease_one("a");
        let now = h.now();
        let (counts, writes) = h
            .engine
            .report("a", l.lease_id, vec![failed(1000, true)], now)
            .unwrap();
        if attempt < 3 {
            assert_eq!(counts.requeued, 1);
            let Some(Write::Retry(r)) = writes.first() else {
                panic!("retry row expected: {writes:?}")
            };
            assert_eq!(r.attempts, attempt);
            delays.push(r.not_before_ms - now);
            assert!(!h.complete("a", l.lease_id).unwrap().batch_done);
            advance(Duration::from_millis((r.not_before_ms - now) as u64)).await;
        } else {
            assert_eq!(counts.accepted, 1);
            let rows = outcome_rows(&writes);
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].kind, OutcomeKind::Failed);
            assert_eq!(rows[0].reason.as_deref(), Some("http 503"));
            assert_eq!(rows[0].attempts, 3);
            assert!(rows[0].clear_retry);
            assert!(h.complete("a", l.lease_id).unwrap().batch_done);
        }
    }
    assert_eq!(
        delays,
        vec![60_000, 120_000],
        "the delay doubles per attempt"
    );
    assert!(h.engine.crawl_complete());
}

#[tokio::test(start_paused = true)]
async fn non_retryable_failure_is_final_at_once() {
    let mut h = Harness::new(config(), loaded(1, 1));
    let l = h.lease_one("a");
    let counts = h
        .report("a", l.lease_id, vec![failed(1000, false)])
        .unwrap();
    assert_eq!(counts.accepted, 1);
    assert!(h.complete("a", l.lease_id).unwrap().batch_done);
}

#[tokio::test(start_paused = true)]
async fn reports_are_idempotent() {
    let mut h = Harness::new(config(), loaded(1, 3));
    let l = h.lease_one("a");
    let batch = vec![not_found(1000), failed(1001, true)];
    let first = h.report("a", l.lease_id, batch.clone()).unwrap();
    assert_eq!(
        (first.accepted, first.requeued, first.duplicates),
        (1, 1, 0)
    );
    // The same report again (a retried call): nothing new, the attempt is not counted twice.
    let now = h.now();
    let (again, writes) = h.engine.report("a", l.lease_id, batch, now).unwrap();
    assert_eq!(
        (again.accepted, again.requeued, again.duplicates),
        (0, 0, 2)
    );
    assert!(writes.is_empty(), "{writes:?}");
    // A different outcome for an IP already final is a duplicate too, and changes nothing.
    let (dup, writes) = h
        .engine
        .report("a", l.lease_id, vec![failed(1000, false)], now)
        .unwrap();
    assert_eq!(dup.duplicates, 1);
    assert!(writes.is_empty());
    // The retried IP may still be settled in the same lease.
    let (ok, _) = h
        .engine
        .report("a", l.lease_id, vec![not_found(1001), not_found(1002)], now)
        .unwrap();
    assert_eq!(ok.accepted, 2);
    assert!(h.complete("a", l.lease_id).unwrap().batch_done);
    // A late report on the completed lease is refused.
    let err = h
        .report("a", l.lease_id, vec![not_found(1000)])
        .unwrap_err();
    assert!(matches!(err, Error::FailedPrecondition(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn bad_reports_change_nothing() {
    let mut h = Harness::new(config(), loaded(2, 2));
    let la = h.lease_one("a");
    let lb = h.lease_one("b");
    let cases: Vec<(&str, u64, Vec<pb::Outcome>, &str)> = vec![
        ("a", 777_777, vec![not_found(1000)], "unknown lease"),
        ("a", lb.lease_id, vec![not_found(2000)], "not held by"),
        (
            "a",
            la.lease_id,
            vec![not_found(1000), not_found(2000)],
            "not in lease",
        ),
        (
            "a",
            la.lease_id,
            vec![not_found(1000), not_found(1000)],
            "twice",
        ),
        (
            "a",
            la.lease_id,
            vec![
                not_found(1000),
                pb::Outcome {
                    ip: 1001,
                    at_ms: 0,
                    kind: None,
                },
            ],
            "no kind",
        ),
        (
            "a",
            la.lease_id,
            vec![not_found(1000), found(1001, 1002, 1003)],
            "outside",
        ),
        ("nobody", la.lease_id, vec![not_found(1000)], "Hello"),
    ];
    for (worker, lease, outcomes, want) in cases {
        let now = h.now();
        let err = h.engine.report(worker, lease, outcomes, now).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
    h.engine.config.max_outcomes_per_report = 1;
    let err = h
        .report("a", la.lease_id, all_not_found(&la.ips))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    h.engine.config.max_outcomes_per_report = 500;
    // Every IP of the lease is still unsettled: the full report is accepted whole.
    let counts = h.report("a", la.lease_id, all_not_found(&la.ips)).unwrap();
    assert_eq!(counts.accepted, 2);
    assert_eq!(counts.duplicates, 0);
}

#[tokio::test(start_paused = true)]
async fn prefilter_settles_covered_ips_before_leasing() {
    // Batch 0: 1000..1004; batch 1: 2000..2004; batch 2: 3000..3004.
    let mut h = Harness::new(config(), loaded(3, 4));
    let l0 = h.lease_one("a");
    assert_eq!(l0.batch_id, 0);
    // The worker finds a network covering all of batch 1 and half of batch 2.
    let counts = h
        .report(
            "a",
            l0.lease_id,
            vec![
                found(1000, 1000, 3001),
                not_found(1001),
                not_found(1002),
                not_found(1003),
            ],
        )
        .unwrap();
    assert_eq!(counts.accepted, 4);
    h.complete("a", l0.lease_id).unwrap();
    // Batch 1 is settled by the pre-filter without being leased; batch 2 goes out with only
    // its uncovered IPs.
    let now = h.now();
    let (resp, writes) = h.engine.lease("b", 1, now).unwrap();
    assert_eq!(resp.leases.len(), 1);
    assert_eq!(resp.leases[0].batch_id, 2);
    assert_eq!(resp.leases[0].ips, vec![3002, 3003]);
    let skipped = outcome_rows(&writes);
    assert_eq!(skipped.len(), 6);
    for o in skipped {
        assert_eq!(o.kind, OutcomeKind::Skipped);
        assert!(o.inferred);
        assert_eq!(o.net, Some((1000, 3001)));
        assert!(o.worker_id.is_none());
    }
    assert!(
        writes
            .iter()
            .any(|w| matches!(w, Write::Batch(b, _) if b.id == 1 && b.status == BatchStatus::Done))
    );
}

#[tokio::test(start_paused = true)]
async fn leaf_policy_only_skips_inside_leaves() {
    let mut c = config();
    c.skip_policy = crate::config::SkipPolicy::Leaf;
    let mut h = Harness::new(c, loaded(2, 2));
    let l0 = h.lease_one("a");
    let mut leafless = found(1000, 1000, 2000);
    if let Some(outcome::Kind::Found(f)) = &mut leafless.kind {
        f.network_json = br#"{"leaf": false}"#.to_vec();
    }
    h.report("a", l0.lease_id, vec![leafless, not_found(1001)])
        .unwrap();
    h.complete("a", l0.lease_id).unwrap();
    let l1 = h.lease_one("a");
    assert_eq!(
        l1.ips,
        vec![2000, 2001],
        "a non-leaf network settles nothing under leaf"
    );
}

#[tokio::test(start_paused = true)]
async fn returned_leases_are_pending_at_once_without_counting_an_expiry() {
    let mut h = Harness::new(config(), loaded(2, 1));
    let r = h.lease("a", 2);
    assert_eq!(r.leases.len(), 2);
    let ids: Vec<u64> = r.leases.iter().map(|l| l.lease_id).collect();
    let now = h.now();
    // Another worker cannot return them.
    assert_eq!(h.engine.return_leases("b", &ids, now).unwrap().0, 0);
    assert_eq!(h.engine.return_leases("a", &ids, now).unwrap().0, 2);
    let again = h.lease("b", 2);
    assert_eq!(again.leases.len(), 2);
    assert!(h.engine.batches.values().all(|b| b.expiries == 0));
}

#[tokio::test(start_paused = true)]
async fn a_worker_holds_at_most_max_batches() {
    let mut c = config();
    c.max_batches_per_worker = 2;
    let mut h = Harness::new(c, loaded(5, 1));
    assert_eq!(h.lease("a", 10).leases.len(), 2);
    let r = h.lease("a", 1);
    assert!(r.leases.is_empty());
    assert_eq!(r.retry_after_ms, 10_000);
    assert_eq!(h.lease("b", 10).leases.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn hello_and_lease_preconditions() {
    let mut h = Harness::new(config(), loaded(1, 1));
    let now = h.now();
    let err = h
        .engine
        .hello(
            pb::HelloRequest {
                protocol_version: PROTOCOL_VERSION + 1,
                worker_id: "c".into(),
                ..Default::default()
            },
            now,
        )
        .unwrap_err();
    assert!(matches!(err, Error::FailedPrecondition(_)));
    assert!(matches!(
        h.engine.lease("c", 1, now),
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(
        h.engine.lease("", 1, now),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        h.engine.lease("a", 0, now),
        Err(Error::InvalidArgument(_))
    ));
    let (hello, _) = h
        .engine
        .hello(
            pb::HelloRequest {
                protocol_version: PROTOCOL_VERSION,
                worker_id: "a".into(),
                hostname: "h".into(),
                version: "v".into(),
            },
            now,
        )
        .unwrap();
    let s = hello.settings.unwrap();
    assert_eq!(s.lease_ttl_ms, 30_000);
    assert_eq!(s.skip_policy, "covered");
    assert_eq!(s.coverage_stream, rdapfleet_proto::coverage::DEFAULT_STREAM);
    assert_eq!(s.max_outcomes_per_report, 500);
    assert_eq!(hello.crawl_id, "test-crawl");
}

#[tokio::test(start_paused = true)]
async fn restored_leases_expire_and_are_reissued() {
    let clock = Clock::new();
    let mut l = loaded(3, 2);
    // Batch 0 was leased to "a" when the coordinator died (1001 already reported); its lease
    // ran 5 more seconds. Batch 2 was leased too, with nothing reported.
    for (b, lease) in [(0usize, 40u64), (2, 41)] {
        l.batches[b].row.status = BatchStatus::Leased;
        l.batches[b].row.lease_id = Some(lease);
        l.batches[b].row.worker_id = Some(Arc::from("a"));
        l.batches[b].row.expires_at_ms = Some(clock.now_ms() + 5_000);
        l.batches[b].row.leases = 1;
    }
    l.batches[0].settled[1] = true;
    // Batch 1 had one IP settled.
    l.batches[1].settled[0] = true;
    l.max_lease_id = 41;
    let mut engine = Engine::restore(config(), l, clock.now_ms());
    assert_eq!(engine.queue_sizes(), (1, 0, 2));
    // The holder can still report on its lease after the restart; what it reported before
    // counts as a duplicate, IPs of other batches are refused.
    let now = clock.now_ms();
    let err = engine
        .report("a", 40, vec![not_found(2001)], now)
        .unwrap_err();
    assert!(err.to_string().contains("not in lease 40"), "{err}");
    let (c, _) = engine
        .report("a", 40, vec![not_found(1000), not_found(1001)], now)
        .unwrap();
    assert_eq!((c.accepted, c.duplicates), (1, 1));
    // A restored lease lives a full TTL from the restart (its holder could not heartbeat
    // while the coordinator was down), not just what it had left.
    advance(Duration::from_secs(5)).await;
    assert_eq!(
        engine.reap(clock.now_ms()).0,
        0,
        "restored leases get a grace TTL"
    );
    advance(TTL - Duration::from_secs(5)).await;
    assert_eq!(engine.reap(clock.now_ms()).0, 2);
    engine
        .hello(
            pb::HelloRequest {
                protocol_version: PROTOCOL_VERSION,
                worker_id: "b".into(),
                ..Default::default()
            },
            clock.now_ms(),
        )
        .unwrap();
    let r = engine.lease("b", 8, clock.now_ms()).unwrap().0;
    let got: Vec<(u64, Vec<u32>, u32)> = r
        .leases
        .iter()
        .map(|l| (l.batch_id, l.ips.clone(), l.attempt))
        .collect();
    assert_eq!(got, vec![(1, vec![2001], 0), (2, vec![3000, 3001], 1)]);
    assert!(
        r.leases.iter().all(|l| l.lease_id > 41),
        "lease ids are never reused"
    );
}

/// `--retry-delay` / `--max-retry-delay` and `--reaper-interval` of absurd length (the flags
/// take any duration) must saturate the engine's millisecond clock arithmetic, not overflow it
/// inside an RPC (which would poison the engine for every later call).
#[tokio::test(start_paused = true)]
async fn absurd_retry_delay_and_reaper_interval_saturate() {
    let mut c = config();
    // 300 million years: more milliseconds than an i64 holds.
    let forever = Duration::from_secs(10_000_000_000_000_000);
    c.retry_delay = forever;
    c.max_retry_delay = forever;
    c.reaper_interval = forever;
    let mut h = Harness::new(c, loaded(2, 2));
    let l = h.lease_one("a");
    // A retryable failure: its not-before time is "never" (saturated), not a wrapped past.
    let counts = h
        .report("a", l.lease_id, vec![failed(l.ips[0], true)])
        .unwrap();
    assert_eq!(counts.requeued, 1);
    let retry = &h.engine.retries[&l.ips[0]];
    assert_eq!(retry.not_before_ms, i64::MAX);
    // The other batch is out too: the wait suggested (next expiry + reaper interval)
    // saturates and is clamped, instead of overflowing.
    let _second = h.lease_one("a");
    let r = h.lease("b", 1);
    assert!(r.leases.is_empty() && !r.crawl_complete);
    assert_eq!(r.retry_after_ms, 10_000);
}

/// A telemetry sample whose period starts before 1970 (a worker's broken clock, or a hostile
/// caller sending i64::MIN..i64::MAX) is refused: stored, it would overflow the telemetry
/// report's arithmetic.
#[tokio::test(start_paused = true)]
async fn telemetry_periods_before_1970_are_refused() {
    let mut h = Harness::new(config(), loaded(1, 1));
    let now = h.now();
    let sample = |start: i64, end: i64| {
        Some(pb::TelemetrySample {
            period_start_ms: start,
            period_end_ms: end,
            ..Default::default()
        })
    };
    let err = h
        .engine
        .telemetry("a", sample(i64::MIN, i64::MAX), now)
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("before 1970")),
        "{err:?}"
    );
    assert!(h.engine.telemetry("a", sample(0, now), now).is_ok());
}
