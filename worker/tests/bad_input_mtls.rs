//! The worker's side of TLS and mutual TLS, against the real coordinator binary: a session
//! with the fleet's client certificate and token says hello; a wrong token is refused for good
//! (UNAUTHENTICATED, not retried); without a client certificate the coordinator never answers.
//! Needs the workspace binaries (`cargo build --workspace --bins`).

use std::process::Command;
use std::time::Duration;

use rdapfleet_testkit::{
    ChildProcess, TEST_TOKEN, TestPki, binary_path, seed_file, write_token_file,
};
use rdapfleet_worker::Error;
use rdapfleet_worker::session::{ClientIdentity, Session, SessionConfig};
use tokio_util::sync::CancellationToken;

fn config(addr: std::net::SocketAddr, token: &str, ca: &[u8]) -> SessionConfig {
    SessionConfig {
        url: format!("https://{addr}"),
        token: Some(token.to_string()),
        tls_ca_pem: Some(ca.to_vec()),
        worker_id: "mtls-worker".into(),
        hostname: "worker.test".into(),
        backoff: (Duration::from_millis(50), Duration::from_millis(200)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_with_and_without_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let token = write_token_file(dir.path());
    let pki = TestPki::generate(dir.path(), "fleet-");
    let stranger = TestPki::generate(dir.path(), "stranger-");
    let mut cmd = Command::new(binary_path("rdapfleet-coordinator"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--token-file")
        .arg(&token)
        .args(pki.mtls_server_args())
        .env_remove("RDAPFLEET_INSECURE");
    let mut coordinator = ChildProcess::spawn("rdapfleet-coordinator", cmd);
    let addr = coordinator.wait_for_listening(Duration::from_secs(30));
    let ca = TestPki::read(&pki.ca_cert);
    let identity = ClientIdentity::load(&pki.client_cert, &pki.client_key).unwrap();

    // The fleet's certificate and token: hello works.
    let s = Session::with_identity(
        config(addr, TEST_TOKEN, &ca),
        Some(identity.clone()),
        CancellationToken::new(),
    )
    .unwrap();
    let hello = s.hello("test").await.expect("hello over mTLS");
    assert!(hello.settings.is_some());

    // A wrong token is a final answer, not a transient fault.
    let s = Session::with_identity(
        config(addr, "wrong-token-0123456789abcdef", &ca),
        Some(identity),
        CancellationToken::new(),
    )
    .unwrap();
    match s.hello("test").await {
        Err(Error::Rpc { status, .. }) => {
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
            assert!(status.message().contains("invalid token"), "{status:?}");
        }
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }

    // No client certificate, or one from another CA: the handshake fails, the session keeps
    // retrying (the coordinator may be restarting) until told to stop, and never succeeds.
    let strangers_id = ClientIdentity::load(&stranger.client_cert, &stranger.client_key).unwrap();
    for identity in [None, Some(strangers_id)] {
        let stop = CancellationToken::new();
        let s =
            Session::with_identity(config(addr, TEST_TOKEN, &ca), identity, stop.clone()).unwrap();
        let stopper = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                stop.cancel();
            })
        };
        let r = s.hello("test").await;
        assert!(matches!(r, Err(Error::ShuttingDown)), "{r:?}");
        stopper.await.unwrap();
    }
    assert!(coordinator.is_running());
    let log = coordinator.stderr();
    assert!(!log.contains(TEST_TOKEN), "{log}");
}
