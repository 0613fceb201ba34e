//! Bad gRPC input against the real coordinator binary: every malformed or misdirected call
//! gets INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION, and `status --json` is identical
//! before and after.

mod common;

use common::*;
use rdapfleet_proto::PROTOCOL_VERSION;
use rdapfleet_proto::v1::{self as pb, outcome};
use rdapfleet_testkit::seed_file;
use tonic::Code;

fn report(worker: &str, lease_id: u64, outcomes: Vec<pb::Outcome>) -> pb::ReportOutcomesRequest {
    pb::ReportOutcomesRequest {
        worker_id: worker.into(),
        lease_id,
        outcomes,
    }
}

fn found_with(ip: u32, start: u32, end: u32, json: &[u8]) -> pb::Outcome {
    pb::Outcome {
        ip,
        at_ms: 1,
        kind: Some(outcome::Kind::Found(pb::Found {
            start,
            end,
            network_json: json.to_vec(),
            raw_json: Vec::new(),
            redirects: 0,
        })),
    }
}

#[track_caller]
fn expect_code<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    what: &str,
) {
    match r {
        Ok(v) => panic!("{what}: expected {code:?}, got {v:?}"),
        Err(s) => assert_eq!(s.code(), code, "{what}: {}", s.message()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grpc_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.4.0/24"], 64);
    let (_coordinator, addr) = start(&db, "127.0.0.1:0", &[]);
    let mut c = client(addr).await;
    hello(&mut c, "w1").await;
    hello(&mut c, "w2").await;
    let lease = |w: &str| pb::LeaseRequest {
        worker_id: w.into(),
        max_batches: 1,
    };
    let l1 = c
        .lease(lease("w1"))
        .await
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let l2 = c
        .lease(lease("w2"))
        .await
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let ok = c
        .report_outcomes(report("w1", l1.lease_id, vec![not_found(l1.ips[0])]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.accepted, 1);
    let (a, b, d) = (l1.ips[1], l1.ips[2], l1.ips[3]);

    let before = status_json(&db);

    // ReportOutcomes: unknown or misdirected leases.
    expect_code(
        c.report_outcomes(report("w1", 999_999, vec![not_found(a)]))
            .await,
        Code::NotFound,
        "unknown lease",
    );
    expect_code(
        c.report_outcomes(report("w1", l2.lease_id, vec![not_found(l2.ips[0])]))
            .await,
        Code::NotFound,
        "another worker's lease",
    );
    // ReportOutcomes: malformed content. Each request also carries a valid outcome, which
    // must not be applied either.
    let bad_outcomes: Vec<(&str, pb::Outcome)> = vec![
        ("IP not in the lease", not_found(0x0102_0304)),
        (
            "no kind",
            pb::Outcome {
                ip: b,
                at_ms: 1,
                kind: None,
            },
        ),
        ("start after end", found_with(b, b + 10, b, b"{}")),
        (
            "IP outside its network",
            found_with(b, b + 1, b + 10, b"{}"),
        ),
        ("network_json not an object", found_with(b, b, b, b"[1, 2]")),
        (
            "network_json not JSON",
            found_with(b, b, b, b"{\"handle\":"),
        ),
        ("skipped outside its network", skipped(b, b + 1, b + 2)),
        (
            "failed without reason",
            pb::Outcome {
                ip: b,
                at_ms: 1,
                kind: Some(outcome::Kind::Failed(pb::Failed {
                    reason: String::new(),
                    retryable: true,
                    registry: String::new(),
                })),
            },
        ),
        ("the same IP twice", not_found(a)),
    ];
    for (what, bad) in bad_outcomes {
        expect_code(
            c.report_outcomes(report("w1", l1.lease_id, vec![not_found(a), bad]))
                .await,
            Code::InvalidArgument,
            what,
        );
    }
    let too_many: Vec<pb::Outcome> = (0..501).map(|_| not_found(d)).collect();
    expect_code(
        c.report_outcomes(report("w1", l1.lease_id, too_many)).await,
        Code::InvalidArgument,
        "too many outcomes",
    );
    expect_code(
        c.report_outcomes(report("stranger", l1.lease_id, vec![not_found(a)]))
            .await,
        Code::FailedPrecondition,
        "worker without Hello",
    );
    // Hello.
    expect_code(
        c.hello(pb::HelloRequest {
            protocol_version: PROTOCOL_VERSION + 1,
            worker_id: "w3".into(),
            hostname: "h".into(),
            version: "v".into(),
        })
        .await,
        Code::FailedPrecondition,
        "wrong protocol version",
    );
    expect_code(
        c.hello(pb::HelloRequest {
            protocol_version: PROTOCOL_VERSION,
            worker_id: String::new(),
            hostname: "h".into(),
            version: "v".into(),
        })
        .await,
        Code::InvalidArgument,
        "empty worker id",
    );
    // Lease, heartbeat, complete, return, telemetry.
    expect_code(
        c.lease(lease("stranger")).await,
        Code::FailedPrecondition,
        "lease without Hello",
    );
    expect_code(
        c.lease(pb::LeaseRequest {
            worker_id: "w1".into(),
            max_batches: 0,
        })
        .await,
        Code::InvalidArgument,
        "max_batches 0",
    );
    expect_code(
        c.heartbeat(pb::HeartbeatRequest {
            worker_id: "stranger".into(),
            lease_ids: vec![l1.lease_id],
        })
        .await,
        Code::FailedPrecondition,
        "heartbeat without Hello",
    );
    for (what, worker, lease_id, code) in [
        ("complete an unknown lease", "w1", 999_999, Code::NotFound),
        (
            "complete another worker's lease",
            "w1",
            l2.lease_id,
            Code::NotFound,
        ),
    ] {
        expect_code(
            c.complete_batch(pb::CompleteBatchRequest {
                worker_id: worker.into(),
                lease_id,
            })
            .await,
            code,
            what,
        );
    }
    let returned = c
        .return_leases(pb::ReturnLeasesRequest {
            worker_id: "w1".into(),
            lease_ids: vec![l2.lease_id, 999_999],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        returned.returned, 0,
        "only the caller's own leases are returned"
    );
    expect_code(
        c.report_telemetry(pb::ReportTelemetryRequest {
            worker_id: "w1".into(),
            sample: None,
        })
        .await,
        Code::InvalidArgument,
        "telemetry without a sample",
    );
    expect_code(
        c.report_telemetry(pb::ReportTelemetryRequest {
            worker_id: "w1".into(),
            sample: Some(pb::TelemetrySample {
                period_start_ms: 2_000,
                period_end_ms: 1_000,
                ..Default::default()
            }),
        })
        .await,
        Code::InvalidArgument,
        "telemetry period backwards",
    );

    let after = status_json(&db);
    assert_eq!(before, after, "bad input changed the crawl state");

    // The leases are intact: the rest of w1's batch is accepted and completes it.
    let rest: Vec<pb::Outcome> = l1.ips[1..].iter().map(|&ip| not_found(ip)).collect();
    let r = c
        .report_outcomes(report("w1", l1.lease_id, rest))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted as usize, l1.ips.len() - 1);
    let done = c
        .complete_batch(pb::CompleteBatchRequest {
            worker_id: "w1".into(),
            lease_id: l1.lease_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.batch_done);
    // Telemetry is stored.
    c.report_telemetry(pb::ReportTelemetryRequest {
        worker_id: "w1".into(),
        sample: Some(pb::TelemetrySample {
            period_start_ms: 1_000,
            period_end_ms: 61_000,
            skipped: 5,
            registries: vec![pb::RegistryCounters {
                registry: "arin".into(),
                requests: 10,
                found: 3,
                ..Default::default()
            }],
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let json: String = conn
        .query_row(
            "SELECT counters_json FROM telemetry WHERE worker_id = 'w1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["skipped"], 5);
    assert_eq!(v["registries"][0]["requests"], 10);
}
