//! More bad input against the real coordinator binary (beyond `bad_input.rs`): oversized
//! messages, bytes that are not protobuf, unknown methods, a previous holder's late outcomes
//! after its batch was re-leased, and `serve` on foreign, newer or corrupt database files.
//! Each is refused with a clear message and changes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf as _, BufMut as _};
use common::*;
use rdapfleet_proto::PROTOCOL_VERSION;
use rdapfleet_proto::v1 as pb;
use rdapfleet_testkit::{seed_file, wait_until_async};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

#[track_caller]
fn expect_code<T: std::fmt::Debug>(r: Result<T, tonic::Status>, code: Code, needle: &str) {
    match r {
        Ok(v) => panic!("expected {code:?}, got {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "{}", s.message());
            assert!(
                s.message().contains(needle),
                "expected {needle:?} in {:?}",
                s.message()
            );
        }
    }
}

fn hello_req(worker: &str, hostname: String) -> pb::HelloRequest {
    pb::HelloRequest {
        protocol_version: PROTOCOL_VERSION,
        worker_id: worker.into(),
        hostname,
        version: "test".into(),
    }
}

/// A client whose own limits are off, so the server's limits are what is tested.
async fn unlimited_client(
    addr: std::net::SocketAddr,
) -> rdapfleet_proto::v1::coordinator_client::CoordinatorClient<Channel> {
    client(addr)
        .await
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    // The default limit (16 MiB).
    let (_coordinator, addr) = start(&db, "127.0.0.1:0", &[]);
    let mut c = unlimited_client(addr).await;
    hello(&mut c, "w1").await;
    let lease = lease_one(&mut c, "w1").await;
    let before = status_json(&db);
    let huge = "x".repeat(17 << 20);
    expect_code(
        c.hello(hello_req("w2", huge.clone())).await,
        Code::OutOfRange,
        "message length too large",
    );
    let ip = lease.ips[0];
    let mut big = found(ip, ip, ip);
    if let Some(pb::outcome::Kind::Found(f)) = &mut big.kind {
        f.raw_json = huge.into_bytes();
    }
    expect_code(
        c.report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: lease.lease_id,
            outcomes: vec![big],
        })
        .await,
        Code::OutOfRange,
        "message length too large",
    );
    assert_eq!(
        status_json(&db),
        before,
        "oversized messages changed the crawl"
    );
    // The server goes on serving, and a large but allowed message is fine.
    let r = c
        .report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: lease.lease_id,
            outcomes: vec![not_found(ip)],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted, 1);
    let ip2 = lease.ips[1];
    let mut large = found(ip2, ip2, ip2);
    if let Some(pb::outcome::Kind::Found(f)) = &mut large.kind {
        f.raw_json = vec![b' '; 1 << 20];
    }
    let r = c
        .report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: lease.lease_id,
            outcomes: vec![large],
        })
        .await
        .expect("a 1 MiB report is within 16 MiB")
        .into_inner();
    assert_eq!(r.accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_size_flag_sets_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let (_coordinator, addr) = start(
        &db,
        "127.0.0.1:0",
        &[
            "--max-message-size",
            "64KiB",
            "--max-batches-per-worker",
            "8",
        ],
    );
    let mut c = unlimited_client(addr).await;
    hello(&mut c, "w1").await;
    let lease = lease_one(&mut c, "w1").await;
    let ip = lease.ips[0];
    let report = |raw: usize| {
        let mut o = found(ip, ip, ip);
        if let Some(pb::outcome::Kind::Found(f)) = &mut o.kind {
            f.raw_json = vec![b' '; raw];
        }
        pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: lease.lease_id,
            outcomes: vec![o],
        }
    };
    let before = status_json(&db);
    expect_code(
        c.report_outcomes(report(100 << 10)).await,
        Code::OutOfRange,
        "the limit is: 65536 bytes",
    );
    assert_eq!(status_json(&db), before);
    let r = c
        .report_outcomes(report(10 << 10))
        .await
        .expect("10 KiB is within 64 KiB")
        .into_inner();
    assert_eq!(r.accepted, 1);
}

/// Sends raw bytes as a gRPC message and reads the answer as raw bytes.
#[derive(Clone, Copy, Default)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

async fn raw_call(
    addr: std::net::SocketAddr,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_protobuf_and_unknown_methods() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let (_coordinator, addr) = start(&db, "127.0.0.1:0", &[]);
    let before = status_json(&db);
    // A truncated varint, a wrong wire type for field 1 (protocol_version), a length that
    // runs past the end.
    for body in [
        vec![0x08, 0xff],
        vec![0x0d, 1, 2],
        vec![0x12, 0x7f, b'a'],
        vec![0xff; 32],
    ] {
        for path in [
            "/rdapfleet.v1.Coordinator/Hello",
            "/rdapfleet.v1.Coordinator/ReportOutcomes",
            "/rdapfleet.v1.Coordinator/Lease",
        ] {
            expect_code(
                raw_call(addr, path, body.clone()).await,
                Code::Internal,
                "failed to decode",
            );
        }
    }
    expect_code(
        raw_call(addr, "/rdapfleet.v1.Coordinator/DropAllTables", Vec::new()).await,
        Code::Unimplemented,
        "",
    );
    expect_code(
        raw_call(addr, "/grpc.health.v1.Health/Check", Vec::new()).await,
        Code::Unimplemented,
        "",
    );
    // An empty HelloRequest decodes (all fields default) and is refused on its content.
    expect_code(
        raw_call(addr, "/rdapfleet.v1.Coordinator/Hello", Vec::new()).await,
        Code::FailedPrecondition,
        "protocol version 0 is not supported",
    );
    assert_eq!(
        status_json(&db),
        before,
        "malformed messages changed the crawl"
    );
    let mut c = client(addr).await;
    hello(&mut c, "w1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_holders_late_outcomes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // One batch, so the second worker must get the first one's batch back.
    let db = seed_file(dir.path(), &["8.8.8.0/26"], 64);
    let flags = [
        "--lease-ttl",
        "1500ms",
        "--heartbeat-interval",
        "500ms",
        "--reaper-interval",
        "100ms",
    ];
    let (_coordinator, addr) = start(&db, "127.0.0.1:0", &flags);
    let mut c = client(addr).await;
    hello(&mut c, "w1").await;
    hello(&mut c, "w2").await;
    let lease_req = |w: &str| pb::LeaseRequest {
        worker_id: w.into(),
        max_batches: 1,
    };
    let old = c
        .lease(lease_req("w1"))
        .await
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    // w1 goes silent; its lease expires and the batch goes to w2.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let got = wait_until_async(Duration::from_secs(20), || {
        let (mut c, slot) = (c.clone(), slot.clone());
        async move {
            if let Ok(r) = c.lease(lease_req("w2")).await
                && let Some(l) = r.into_inner().leases.pop()
            {
                *slot.lock().unwrap() = Some(l);
                return true;
            }
            false
        }
    })
    .await;
    assert!(got, "the expired batch was not re-leased");
    let new = slot.lock().unwrap().take().unwrap();
    assert_eq!(new.batch_id, old.batch_id);
    assert_ne!(new.lease_id, old.lease_id);
    // Its heartbeat (which records that the worker is alive) says the lease is gone.
    let hb = c
        .heartbeat(pb::HeartbeatRequest {
            worker_id: "w1".into(),
            lease_ids: vec![old.lease_id],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !hb.leases[0].live,
        "the old lease must not come back to life"
    );
    let before = status_json(&db);

    // The previous holder's late calls.
    expect_code(
        c.report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: old.lease_id,
            outcomes: old.ips.iter().map(|&ip| not_found(ip)).collect(),
        })
        .await,
        Code::FailedPrecondition,
        "no longer live",
    );
    expect_code(
        c.complete_batch(pb::CompleteBatchRequest {
            worker_id: "w1".into(),
            lease_id: old.lease_id,
        })
        .await,
        Code::FailedPrecondition,
        "no longer live",
    );
    // Nor may it use the new holder's lease.
    expect_code(
        c.report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: new.lease_id,
            outcomes: vec![not_found(new.ips[0])],
        })
        .await,
        Code::NotFound,
        "",
    );
    assert_eq!(status_json(&db), before, "late outcomes changed the crawl");

    // The new holder's outcomes are the ones recorded.
    let r = c
        .report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w2".into(),
            lease_id: new.lease_id,
            outcomes: new.ips.iter().map(|&ip| not_found(ip)).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted as usize, new.ips.len());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let by_w1: i64 = conn
        .query_row(
            "SELECT count(*) FROM outcomes WHERE worker_id = 'w1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(by_w1, 0);
}

fn bytes_of(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn with_meta(dir: &Path, key: &str, value: &str) -> PathBuf {
    let p = seed_file(dir, &["8.8.8.0/24"], 64);
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .unwrap();
    p
}

#[test]
fn serve_refuses_foreign_newer_and_corrupt_files_and_leaves_them_alone() {
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = foreign_dir.path().join("foreign.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .unwrap();
    let newer_dir = tempfile::tempdir().unwrap();
    let newer = with_meta(newer_dir.path(), "schema_version", "99");
    let newer_coord_dir = tempfile::tempdir().unwrap();
    let newer_coord = with_meta(newer_coord_dir.path(), "coordinator_schema_version", "99");
    let corrupt_dir = tempfile::tempdir().unwrap();
    let corrupt = corrupt_dir.path().join("corrupt.sqlite");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    let text = corrupt_dir.path().join("notes.txt");
    std::fs::write(&text, "not a database\n".repeat(100)).unwrap();
    for (db, needle) in [
        (&foreign, "not an rdapfleet seed file"),
        (&newer, "newer than this program supports"),
        (&newer_coord, "coordinator tables of version 99"),
        (&corrupt, "not a readable SQLite database"),
        (&text, "not a readable SQLite database"),
    ] {
        let before = bytes_of(db);
        let out = assert_cmd::Command::cargo_bin(BIN)
            .unwrap()
            .args(["serve", "--insecure", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        // Nothing on stdout: it never said it was listening.
        rdapfleet_testkit::assert_refused(&out, BIN, needle);
        assert_eq!(bytes_of(db), before, "{} was modified", db.display());
    }
}
