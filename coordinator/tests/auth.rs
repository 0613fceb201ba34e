//! Authentication against the real coordinator binary: every RPC without the token or with a
//! wrong one is UNAUTHENTICATED and changes nothing; the token never reaches the log; TLS and
//! mutual TLS with real certificates; start-up refusals (no token, `--insecure` off loopback,
//! empty or missing token files, unusable TLS files) exit 1 with one clear line and leave
//! the database untouched; Redis AUTH through the URL, with the password never logged.

mod common;

use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use common::{BIN, not_found, status_json};
use rdapfleet_proto::PROTOCOL_VERSION;
use rdapfleet_proto::v1 as pb;
use rdapfleet_proto::v1::coordinator_client::CoordinatorClient;
use rdapfleet_testkit::{
    ChildProcess, RedisOptions, RedisServer, TEST_TOKEN, TestPki, bearer, binary_path, seed_file,
    wait_until, write_token_file,
};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Adds `authorization` metadata (or not) to every call.
#[derive(Clone)]
struct Bearer(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

type Client = CoordinatorClient<InterceptedService<Channel, Bearer>>;

fn client_on(channel: Channel, authorization: Option<&str>) -> Client {
    let value = authorization.map(|a| a.parse().expect("ascii metadata"));
    CoordinatorClient::with_interceptor(channel, Bearer(value))
}

fn plain_channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

fn tls_channel(addr: std::net::SocketAddr, ca: &Path, identity: Option<(&Path, &Path)>) -> Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(TestPki::read(ca)));
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(TestPki::read(cert), TestPki::read(key)));
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .expect("client TLS config")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

/// Start `serve` with `args` (plus `--db` and a free loopback port), with debug logging so a
/// leaked secret would show up in its output.
fn serve(db: &Path, args: &[String]) -> (ChildProcess, std::net::SocketAddr) {
    let mut cmd = StdCommand::new(binary_path(BIN));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .env("RUST_LOG", "debug");
    for v in [
        "RDAPFLEET_TOKEN",
        "RDAPFLEET_TOKEN_FILE",
        "RDAPFLEET_INSECURE",
        "RDAPFLEET_TLS_CERT",
        "RDAPFLEET_TLS_KEY",
        "RDAPFLEET_TLS_CLIENT_CA",
    ] {
        cmd.env_remove(v);
    }
    let mut child = ChildProcess::spawn(BIN, cmd);
    let addr = child.wait_for_listening(Duration::from_secs(30));
    (child, addr)
}

fn token_args(token_file: &Path) -> Vec<String> {
    vec!["--token-file".into(), token_file.display().to_string()]
}

/// Every RPC once, with plausible arguments; the status of each.
async fn every_rpc(c: &mut Client, worker: &str) -> Vec<(&'static str, Result<(), tonic::Status>)> {
    let w = || worker.to_string();
    vec![
        (
            "Hello",
            c.hello(pb::HelloRequest {
                protocol_version: PROTOCOL_VERSION,
                worker_id: w(),
                hostname: "h".into(),
                version: "v".into(),
            })
            .await
            .map(drop),
        ),
        (
            "Lease",
            c.lease(pb::LeaseRequest {
                worker_id: w(),
                max_batches: 1,
            })
            .await
            .map(drop),
        ),
        (
            "Heartbeat",
            c.heartbeat(pb::HeartbeatRequest {
                worker_id: w(),
                lease_ids: vec![1],
            })
            .await
            .map(drop),
        ),
        (
            "ReportOutcomes",
            c.report_outcomes(pb::ReportOutcomesRequest {
                worker_id: w(),
                lease_id: 1,
                outcomes: vec![not_found(0x0808_0801)],
            })
            .await
            .map(drop),
        ),
        (
            "CompleteBatch",
            c.complete_batch(pb::CompleteBatchRequest {
                worker_id: w(),
                lease_id: 1,
            })
            .await
            .map(drop),
        ),
        (
            "ReturnLeases",
            c.return_leases(pb::ReturnLeasesRequest {
                worker_id: w(),
                lease_ids: vec![1],
            })
            .await
            .map(drop),
        ),
        (
            "ReportTelemetry",
            c.report_telemetry(pb::ReportTelemetryRequest {
                worker_id: w(),
                sample: Some(pb::TelemetrySample {
                    period_start_ms: 1,
                    period_end_ms: 2,
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        ),
    ]
}

#[track_caller]
fn all_refused(results: &[(&str, Result<(), tonic::Status>)], code: Code, needle: &str) {
    assert_eq!(results.len(), 7);
    for (rpc, r) in results {
        match r {
            Ok(()) => panic!("{rpc}: accepted, expected {code:?}"),
            Err(s) => {
                assert_eq!(s.code(), code, "{rpc}: {}", s.message());
                assert!(s.message().contains(needle), "{rpc}: {}", s.message());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_requires_the_token_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let token = write_token_file(dir.path());
    let (coordinator, addr) = serve(&db, &token_args(&token));
    let channel = plain_channel(addr);

    // A worker with the token works (and leases a batch, so there is state to protect).
    let mut good = client_on(channel.clone(), Some(&bearer(TEST_TOKEN)));
    good.hello(pb::HelloRequest {
        protocol_version: PROTOCOL_VERSION,
        worker_id: "w1".into(),
        hostname: "h".into(),
        version: "v".into(),
    })
    .await
    .expect("hello with the token");
    let lease = good
        .lease(pb::LeaseRequest {
            worker_id: "w1".into(),
            max_batches: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let before = status_json(&db);

    let mut none = client_on(channel.clone(), None);
    all_refused(
        &every_rpc(&mut none, "w1").await,
        Code::Unauthenticated,
        "missing credentials",
    );
    let wrong = format!("{TEST_TOKEN}x");
    for (authorization, needle) in [
        (bearer(&wrong), "invalid token"),
        (bearer(&TEST_TOKEN[..TEST_TOKEN.len() - 1]), "invalid token"),
        (bearer("a"), "invalid token"),
        (format!("Basic {TEST_TOKEN}"), "malformed"),
        (TEST_TOKEN.to_string(), "malformed"),
    ] {
        let mut c = client_on(channel.clone(), Some(&authorization));
        all_refused(
            &every_rpc(&mut c, "w1").await,
            Code::Unauthenticated,
            needle,
        );
    }
    // The refused calls named a live lease and a real worker: nothing moved.
    assert_eq!(status_json(&db), before, "refused calls changed the crawl");
    let hb = good
        .heartbeat(pb::HeartbeatRequest {
            worker_id: "w1".into(),
            lease_ids: vec![lease.lease_id],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(hb.leases[0].live, "the lease survived the refused calls");
    // The token's holder can report for the lease as usual.
    let r = good
        .report_outcomes(pb::ReportOutcomesRequest {
            worker_id: "w1".into(),
            lease_id: lease.lease_id,
            outcomes: lease.ips.iter().map(|&ip| not_found(ip)).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted as usize, lease.ips.len());

    // The log says calls were refused, and never shows the token.
    let log = format!("{}{}", coordinator.stdout(), coordinator.stderr());
    assert!(
        log.contains("refused an unauthenticated gRPC call"),
        "{log}"
    );
    assert!(log.contains("auth=\"bearer token\""), "{log}");
    assert!(
        !log.contains(TEST_TOKEN),
        "the token leaked into the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_the_environment_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let token = write_token_file(dir.path());
    let mut cmd = StdCommand::new(binary_path(BIN));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("RDAPFLEET_TOKEN_FILE", &token)
        .env_remove("RDAPFLEET_INSECURE")
        .env_remove("RDAPFLEET_TOKEN");
    let mut child = ChildProcess::spawn(BIN, cmd);
    let addr = child.wait_for_listening(Duration::from_secs(30));
    let mut c = client_on(plain_channel(addr), None);
    all_refused(
        &every_rpc(&mut c, "w").await,
        Code::Unauthenticated,
        "missing credentials",
    );
    let mut c = client_on(plain_channel(addr), Some(&bearer(TEST_TOKEN)));
    assert!(every_rpc(&mut c, "w").await[0].1.is_ok());
    drop(child);

    // --token (tests only; the file is preferred): works, and `--help` hides its env value.
    let (child, addr) = serve(
        &db,
        &["--token".into(), "cli-token-0123456789abcdef".into()],
    );
    let mut c = client_on(
        plain_channel(addr),
        Some(&bearer("cli-token-0123456789abcdef")),
    );
    assert!(every_rpc(&mut c, "w").await[0].1.is_ok());
    let mut c = client_on(plain_channel(addr), Some(&bearer(TEST_TOKEN)));
    all_refused(
        &every_rpc(&mut c, "w").await,
        Code::Unauthenticated,
        "invalid token",
    );
    drop(child);
    let help = Command::cargo_bin(BIN)
        .unwrap()
        .args(["serve", "--help"])
        .env("RDAPFLEET_TOKEN", "env-secret-0123456789")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("RDAPFLEET_TOKEN_FILE"), "{help}");
    assert!(
        !help.contains("env-secret"),
        "--help shows the token: {help}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let token = write_token_file(dir.path());
    let pki = TestPki::generate(dir.path(), "fleet-");
    let stranger = TestPki::generate(dir.path(), "stranger-");
    let hello = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            c.hello(pb::HelloRequest {
                protocol_version: PROTOCOL_VERSION,
                worker_id: "w1".into(),
                hostname: "h".into(),
                version: "v".into(),
            })
            .await
        }
    };

    // TLS without client certificates: the token still decides.
    let mut args = token_args(&token);
    args.extend(pki.server_args());
    let (tls_only, addr) = serve(&db, &args);
    let ch = tls_channel(addr, &pki.ca_cert, None);
    hello(&mut client_on(ch.clone(), Some(&bearer(TEST_TOKEN))))
        .await
        .expect("TLS + token");
    let e = hello(&mut client_on(ch, None)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    // Plain HTTP/2 to a TLS port gets no answer.
    let e = hello(&mut client_on(
        plain_channel(addr),
        Some(&bearer(TEST_TOKEN)),
    ))
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    // A client that does not trust the server's CA refuses it.
    let e = hello(&mut client_on(
        tls_channel(addr, &stranger.ca_cert, None),
        Some(&bearer(TEST_TOKEN)),
    ))
    .await
    .unwrap_err();
    assert_ne!(
        e.code(),
        Code::Unauthenticated,
        "refused before any call: {e}"
    );
    drop(tls_only);

    // Mutual TLS: a client certificate signed by the fleet's CA is required.
    let mut args = token_args(&token);
    args.extend(pki.mtls_server_args());
    let (mtls, addr) = serve(&db, &args);
    let before = status_json(&db);
    let e = hello(&mut client_on(
        tls_channel(addr, &pki.ca_cert, None),
        Some(&bearer(TEST_TOKEN)),
    ))
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Ok, "no client certificate: {e}");
    let e = hello(&mut client_on(
        tls_channel(
            addr,
            &pki.ca_cert,
            Some((&stranger.client_cert, &stranger.client_key)),
        ),
        Some(&bearer(TEST_TOKEN)),
    ))
    .await
    .unwrap_err();
    assert_ne!(e.code(), Code::Ok, "a certificate from another CA: {e}");
    assert_eq!(
        status_json(&db),
        before,
        "refused handshakes changed the crawl"
    );
    let fleet = tls_channel(
        addr,
        &pki.ca_cert,
        Some((&pki.client_cert, &pki.client_key)),
    );
    hello(&mut client_on(fleet.clone(), Some(&bearer(TEST_TOKEN))))
        .await
        .expect("mTLS + token");
    // A certificate is not a token: the token is still required.
    let e = hello(&mut client_on(fleet, None)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let log = mtls.stderr();
    assert!(log.contains("tls=true mtls=true"), "{log}");
    assert!(!log.contains(TEST_TOKEN), "{log}");
}

fn cmd() -> Command {
    let mut c = Command::cargo_bin(BIN).unwrap();
    for v in [
        "RDAPFLEET_TOKEN",
        "RDAPFLEET_TOKEN_FILE",
        "RDAPFLEET_INSECURE",
        "RDAPFLEET_TLS_CERT",
        "RDAPFLEET_TLS_KEY",
        "RDAPFLEET_TLS_CLIENT_CA",
        "RDAPFLEET_LISTEN",
    ] {
        c.env_remove(v);
    }
    c.timeout(Duration::from_secs(60));
    c
}

/// `serve` must exit 1 with exactly one stderr line containing `needle`, print nothing on
/// stdout (it never got to listen), and leave the database as it was.
#[track_caller]
fn refused(db: &Path, args: &[&str], needle: &str) {
    let mut c = cmd();
    c.args(["serve", "--db"]).arg(db).args(args);
    rdapfleet_testkit::assert_refused(&c.output().unwrap(), "rdapfleet-coordinator", needle);
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('outcomes', 'batch_state')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "{args:?}: the database was opened for serving");
}

#[test]
fn start_up_refuses_missing_or_unusable_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = seed_file(d, &["8.8.8.0/24"], 64);
    let token = write_token_file(d);
    let token = token.to_str().unwrap();
    let pki = TestPki::generate(d, "");
    let other = TestPki::generate(d, "other-");
    let file = |name: &str, body: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let empty = file("empty-token", b"");
    let newline = file("newline-token", b"\n");
    let spaced = file("spaced-token", b"two words\n");
    let not_pem = file("not.pem", b"hello, I am not a certificate\n");
    let s = |p: &Path| p.display().to_string();
    let (cert, key, ca) = (s(&pki.server_cert), s(&pki.server_key), s(&pki.ca_cert));
    let loopback = ["--listen", "127.0.0.1:0"];

    refused(
        &db,
        &loopback,
        "no token: every gRPC call must carry the fleet's shared token",
    );
    refused(
        &db,
        &["--insecure", "--listen", "0.0.0.0:0"],
        "--insecure serves without authentication and is refused on the non-loopback address 0.0.0.0:0",
    );
    refused(
        &db,
        &["--insecure", "--listen", "[::]:0"],
        "refused on the non-loopback address [::]:0",
    );
    refused(
        &db,
        &[
            "--insecure",
            "--token-file",
            token,
            "--listen",
            "127.0.0.1:0",
        ],
        "--insecure cannot be combined with a token",
    );
    refused(&db, &["--token-file", &empty], "is empty");
    refused(&db, &["--token-file", &newline], "is empty");
    refused(
        &db,
        &["--token-file", &spaced],
        "cannot travel in a gRPC header",
    );
    refused(
        &db,
        &["--token-file", "/nonexistent/token"],
        "cannot read the token file /nonexistent/token",
    );
    refused(
        &db,
        &["--token", "has space"],
        "cannot travel in a gRPC header",
    );
    refused(
        &db,
        &["--token", "t0123456789abcdef", "--token-file", token],
        "cannot be used with",
    );
    let with_token = |extra: &[&str]| {
        let mut v = vec!["--token-file", token];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let check = |extra: &[&str], needle: &str| {
        let args = with_token(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&db, &args, needle);
    };
    check(&["--tls-cert", &cert], "--tls-key <FILE>");
    check(&["--tls-key", &key], "--tls-cert <FILE>");
    check(&["--tls-client-ca", &ca], "--tls-cert <FILE>");
    check(
        &["--tls-cert", "/nonexistent/c.pem", "--tls-key", &key],
        "cannot read --tls-cert /nonexistent/c.pem",
    );
    check(
        &["--tls-cert", &cert, "--tls-key", "/nonexistent/k.pem"],
        "cannot read --tls-key /nonexistent/k.pem",
    );
    check(
        &["--tls-cert", &not_pem, "--tls-key", &key],
        "holds no PEM certificate",
    );
    check(
        &["--tls-cert", &cert, "--tls-key", &not_pem],
        "holds no usable PEM private key",
    );
    check(
        &["--tls-cert", &key, "--tls-key", &key],
        "holds no PEM certificate",
    );
    check(
        &["--tls-cert", &cert, "--tls-key", &s(&other.server_key)],
        "are unusable",
    );
    check(
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &not_pem,
        ],
        "--tls-client-ca",
    );
    check(
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            "/nonexistent/ca.pem",
        ],
        "cannot read --tls-client-ca /nonexistent/ca.pem",
    );
    check(&["--max-message-size", "lots"], "invalid size \"lots\"");
    check(
        &["--max-message-size", "1KiB"],
        "--max-message-size (1024 bytes) must be at least 131072 bytes (64 KiB, and 8 KiB per \
         batch of --max-batches-per-worker 16)",
    );

    // The environment works like the flags.
    let mut c = cmd();
    c.args(["serve", "--db"])
        .arg(&db)
        .env("RDAPFLEET_INSECURE", "true")
        .env("RDAPFLEET_LISTEN", "0.0.0.0:0");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback address 0.0.0.0:0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_serves_loopback_only_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let (child, addr) = serve(&db, &["--insecure".into()]);
    let mut c = client_on(plain_channel(addr), None);
    assert!(every_rpc(&mut c, "w").await[0].1.is_ok());
    let log = child.stderr();
    assert!(log.contains("serving WITHOUT authentication"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_auth_through_the_url_and_the_password_is_never_logged() {
    const PASSWORD: &str = "redis-pass-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let token = write_token_file(dir.path());
    let redis = RedisServer::start_with(RedisOptions {
        password: Some(PASSWORD.into()),
        ..Default::default()
    });
    assert_eq!(redis.command(&["PING"]).unwrap().text(), "PONG");

    // A wrong password: the coordinator serves anyway, says why publishing paused, and never
    // prints either password.
    let wrong = format!("redis://:wrong-{PASSWORD}@127.0.0.1:{}", redis.port());
    let mut args = token_args(&token);
    args.extend(["--redis".into(), wrong]);
    let (bad, addr) = serve(&db, &args);
    let mut c = client_on(plain_channel(addr), Some(&bearer(TEST_TOKEN)));
    assert!(every_rpc(&mut c, "w").await[0].1.is_ok());
    let mut bad = bad;
    assert!(
        wait_until(Duration::from_secs(20), || bad
            .stderr()
            .contains("coverage publishing paused")),
        "{}",
        bad.stderr()
    );
    bad.kill();
    let log = format!("{}{}", bad.stdout(), bad.stderr());
    assert!(!log.contains(PASSWORD), "the Redis password leaked:\n{log}");
    drop(bad);

    // The right password: a network found by a worker reaches the coverage stream.
    let mut args = token_args(&token);
    args.extend(["--redis".into(), redis.url()]);
    let (good, addr) = serve(&db, &args);
    let mut c = client_on(plain_channel(addr), Some(&bearer(TEST_TOKEN)));
    c.hello(pb::HelloRequest {
        protocol_version: PROTOCOL_VERSION,
        worker_id: "w1".into(),
        hostname: "h".into(),
        version: "v".into(),
    })
    .await
    .unwrap();
    let lease = c
        .lease(pb::LeaseRequest {
            worker_id: "w1".into(),
            max_batches: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .leases
        .remove(0);
    let ip = lease.ips[0];
    c.report_outcomes(pb::ReportOutcomesRequest {
        worker_id: "w1".into(),
        lease_id: lease.lease_id,
        outcomes: vec![common::found(ip, ip & !0xff, ip | 0xff)],
    })
    .await
    .unwrap();
    let stream = rdapfleet_proto::coverage::DEFAULT_STREAM;
    assert!(
        wait_until(Duration::from_secs(20), || redis
            .command(&["XLEN", stream])
            .is_ok_and(|r| r.text() != "0")),
        "the network was not published:\n{}",
        good.stderr()
    );
    let log = format!("{}{}", good.stdout(), good.stderr());
    assert!(!log.contains(PASSWORD), "the Redis password leaked:\n{log}");
}
