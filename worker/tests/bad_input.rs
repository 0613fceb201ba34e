//! Bad input to `rdapfleet-worker run` and `lookup`, run for real (assert_cmd): unreadable,
//! non-JSON and non-bootstrap bootstrap files, bad flags, unparsable rates and durations,
//! unusable credentials. Each exits 1 with one clear line, before contacting anybody (the
//! coordinator URL points at a closed loopback port, and nothing listens there).

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

const ENV: [&str; 16] = [
    "RDAPFLEET_BOOTSTRAP",
    "RDAPFLEET_RATE",
    "RDAPFLEET_LOG_FORMAT",
    "RDAPFLEET_HTTP_TIMEOUT",
    "RDAPFLEET_CONNECT_TIMEOUT",
    "RDAPFLEET_MAX_BODY_BYTES",
    "RDAPFLEET_MAX_ATTEMPTS",
    "RDAPFLEET_MAX_WAIT",
    "RDAPFLEET_COORDINATOR",
    "RDAPFLEET_REDIS",
    "RDAPFLEET_TOKEN_FILE",
    "RDAPFLEET_TLS_CA",
    "RDAPFLEET_TLS_CERT",
    "RDAPFLEET_TLS_KEY",
    "RDAPFLEET_SKIP_POLICY",
    "RDAPFLEET_BATCHES",
];

fn worker() -> Command {
    let mut c = Command::cargo_bin("rdapfleet-worker").unwrap();
    for v in ENV {
        c.env_remove(v);
    }
    c.env("RUST_LOG", "warn");
    c.timeout(Duration::from_secs(60));
    c
}

/// A closed loopback port: nothing is ever dialled by these tests, and if something were, it
/// would be refused at once.
const COORDINATOR: &str = "http://127.0.0.1:9";

fn run(args: &[&str]) -> Command {
    let mut c = worker();
    c.args(["run", "--coordinator", COORDINATOR, "--redis", "none"])
        .args(args);
    c
}

#[track_caller]
fn fails(mut c: Command, needle: &str) {
    rdapfleet_testkit::assert_refused(&c.output().unwrap(), "rdapfleet-worker", needle);
}

fn write(dir: &Path, name: &str, body: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn unreadable_bootstrap_files_are_refused_by_run_and_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let not_json = write(d, "not.json", b"<html>IANA is down</html>\n");
    let not_bootstrap = write(d, "other.json", br#"{"hello": "world", "services": 3}"#);
    let empty_services = write(
        d,
        "empty.json",
        br#"{"version": "1.0", "publication": "2024-01-01T00:00:00Z", "services": []}"#,
    );
    let token = write(d, "token", b"0123456789abcdef0123456789abcdef\n");
    let cases = [
        (
            "/nonexistent/ipv4.json",
            "bootstrap /nonexistent/ipv4.json: cannot read",
        ),
        (not_json.as_str(), "not.json"),
        (not_bootstrap.as_str(), "other.json"),
        (empty_services.as_str(), "lists no services"),
    ];
    for (file, needle) in cases {
        fails(run(&["--token-file", &token, "--bootstrap", file]), needle);
        let mut lookup = worker();
        lookup.args(["lookup", "8.8.8.8", "--bootstrap", file]);
        fails(lookup, needle);
    }
    // The same through the environment.
    let mut c = run(&["--token-file", &token]);
    c.env("RDAPFLEET_BOOTSTRAP", &not_json);
    fails(c, "not.json");
}

#[test]
fn run_refuses_bad_flags_rates_durations_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let token = write(d, "token", b"0123456789abcdef0123456789abcdef\n");
    let empty = write(d, "empty-token", b"");
    let blank = write(d, "blank-token", b"\n\n");
    let pem = write(d, "c.pem", b"not a certificate");
    let t = token.as_str();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--token-file", t, "--batches", "0"],
            "invalid value '0' for '--batches",
        ),
        (
            vec!["--token-file", t, "--batches", "lots"],
            "invalid value 'lots'",
        ),
        (
            vec!["--token-file", t, "--flush-after", "soon"],
            "invalid duration \"soon\"",
        ),
        (
            vec!["--token-file", t, "--replay-wait", "1 fortnight"],
            "invalid duration",
        ),
        (
            vec!["--token-file", t, "--timeout", "forever"],
            "invalid duration",
        ),
        (
            vec!["--token-file", t, "--timeout", "0s"],
            "is zero; give a positive duration",
        ),
        (
            vec!["--token-file", t, "--telemetry-interval", "0"],
            "is zero; give a positive duration",
        ),
        (
            vec!["--token-file", t, "--max-body-bytes", "100"],
            "too small for an RDAP answer",
        ),
        (
            vec!["--token-file", t, "--rate", "lacnic=9"],
            "invalid rate \"lacnic=9\"",
        ),
        (
            vec!["--token-file", t, "--rate", "arin=10/fortnight"],
            "unknown unit \"fortnight\"",
        ),
        (vec!["--token-file", t, "--rate", "mars=1/s"], "mars"),
        (
            vec!["--token-file", t, "--skip-policy", "some"],
            "invalid value 'some'",
        ),
        (
            vec!["--token-file", t, "--max-attempts", "0"],
            "invalid value '0'",
        ),
        (
            vec!["--token-file", t, "--bind-address", "example"],
            "invalid value 'example'",
        ),
        (
            vec!["--token-file", t, "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (vec!["--token-file", &empty], "is empty"),
        (vec!["--token-file", &blank], "is empty"),
        (
            vec!["--token-file", "/nonexistent/token"],
            "cannot read the token file /nonexistent/token",
        ),
        (
            vec!["--token-file", t, "--tls-ca", "/nonexistent/ca.pem"],
            "cannot read the CA file /nonexistent/ca.pem",
        ),
        (
            vec!["--token-file", t, "--tls-cert", &pem],
            "--tls-key <TLS_KEY>",
        ),
        (
            vec!["--token-file", t, "--tls-key", &pem],
            "--tls-cert <TLS_CERT>",
        ),
    ];
    for (args, needle) in cases {
        fails(run(&args), needle);
    }
    let mut c = worker();
    c.args([
        "run",
        "--coordinator",
        "ftp://127.0.0.1:9",
        "--redis",
        "none",
        "--token-file",
        t,
    ]);
    fails(c, "must be an http:// or https:// URL");
    let mut c = worker();
    c.args([
        "run",
        "--coordinator",
        COORDINATOR,
        "--redis",
        "mysql://127.0.0.1:9",
        "--token-file",
        t,
    ]);
    fails(c, "must be a redis:// URL or `none`");
    let mut c = worker();
    c.args(["run", "--redis", "none"]);
    fails(c, "--coordinator <COORDINATOR>");
    // Rates and durations from the environment are checked the same way.
    let mut c = run(&["--token-file", t]);
    c.env("RDAPFLEET_RATE", "ripencc=1/s apnic=lots");
    fails(c, "invalid rate");
    let mut c = run(&["--token-file", t]);
    c.env("RDAPFLEET_FLUSH_AFTER", "whenever");
    fails(c, "invalid duration");
}

#[test]
fn help_lists_the_security_flags() {
    worker().args(["run", "--help"]).assert().success().stdout(
        predicate::str::contains("RDAPFLEET_TOKEN_FILE")
            .and(predicate::str::contains("RDAPFLEET_TLS_CA"))
            .and(predicate::str::contains("RDAPFLEET_TLS_CERT"))
            .and(predicate::str::contains("RDAPFLEET_TLS_KEY")),
    );
}

#[test]
fn a_token_the_coordinator_refuses_exits_1_at_once_and_changes_nothing() {
    use rdapfleet_testkit::{ChildProcess, binary_path, seed_file, write_token_file};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = seed_file(d, &["192.0.2.0/24"], 64);
    let token = write_token_file(d);
    let mut coordinator = ChildProcess::start(
        "rdapfleet-coordinator",
        [
            "serve".to_string(),
            "--db".into(),
            db.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--token-file".into(),
            token.display().to_string(),
        ],
    );
    let addr = coordinator.wait_for_listening(Duration::from_secs(60));
    let wrong = write(d, "wrong-token", b"not-the-fleet-token-0123456789abcdef\n");
    let mut c = worker();
    c.args([
        "run",
        "--coordinator",
        &format!("http://{addr}"),
        "--redis",
        "none",
        "--token-file",
        &wrong,
    ]);
    // Refused for good: a clear line and exit 1 (a configuration error), not a retry loop.
    fails(c, "coordinator refused hello");
    assert!(coordinator.is_running(), "the coordinator is unaffected");
    let out = std::process::Command::new(binary_path("rdapfleet-coordinator"))
        .args(["status", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["workers"],
        serde_json::json!([]),
        "nobody said hello: {status}"
    );
    assert_eq!(status["batches"]["leased"], 0, "{status}");
}
