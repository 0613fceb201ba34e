//! The `rdapfleet-worker` binary, run for real (assert_cmd): `parse` on saved responses,
//! `lookup` against a loopback RDAP server through an http bootstrap, `refresh-bootstrap`
//! against a loopback "IANA". Nothing here leaves 127.0.0.1.

mod common;

use assert_cmd::Command;
use common::{Reply, Server, fixture, fixture_path};
use predicates::prelude::*;

const ENV: [&str; 9] = [
    "RDAPFLEET_BOOTSTRAP",
    "RDAPFLEET_RATE",
    "RDAPFLEET_LOG_FORMAT",
    "RDAPFLEET_HTTP_TIMEOUT",
    "RDAPFLEET_CONNECT_TIMEOUT",
    "RDAPFLEET_MAX_BODY_BYTES",
    "RDAPFLEET_MAX_ATTEMPTS",
    "RDAPFLEET_MAX_WAIT",
    "RDAPFLEET_BOOTSTRAP_URL",
];

/// The binary with a clean environment (no RDAPFLEET_* from the caller).
fn worker() -> Command {
    let mut c = Command::cargo_bin("rdapfleet-worker").unwrap();
    for v in ENV {
        c.env_remove(v);
    }
    c.env("RUST_LOG", "warn");
    c.timeout(std::time::Duration::from_secs(60));
    c
}

fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn parse_prints_the_normalized_network() {
    let out = worker()
        .args(["parse"])
        .arg(fixture_path("arin/13.72.183.192__whoisit-2022.json"))
        .assert()
        .success()
        .get_output()
        .clone();
    let v = stdout_json(&out);
    assert_eq!(v["start_address"], "13.64.0.0");
    assert_eq!(v["end_address"], "13.107.255.255");
    assert_eq!(
        v["cidrs"],
        serde_json::json!(["13.64.0.0/11", "13.96.0.0/13", "13.104.0.0/14"])
    );
    assert_eq!(v["handle"], "NET-13-64-0-0-1");
    assert_eq!(v["registry"], "arin");
    assert_eq!(v["type"], "DIRECT ALLOCATION");
    assert_eq!(v["leaf"], false);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --compact is one line.
    let out = worker()
        .args(["parse", "--compact"])
        .arg(fixture_path("lacnic/200.57.141.161__ipwhois-2015.json"))
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1);
    assert_eq!(
        stdout_json(&out)["cidrs"],
        serde_json::json!(["200.57.141.161/32"])
    );
}

#[test]
fn parse_refuses_what_is_not_an_ip_network() {
    worker()
        .arg("parse")
        .arg(fixture_path(
            "ripe/errors/404-nameservers-not-found__rdap_client-2022.json",
        ))
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::starts_with("rdapfleet-worker: error: ")
                .and(predicate::str::contains(
                    "is not an RDAP ip network response",
                ))
                .and(predicate::str::contains(
                    "not found (RDAP error 404: nameservers not found)",
                )),
        );
    worker()
        .arg("parse")
        .arg(fixture_path(
            "apnic/history/101.203.88.0_24__20c-rdap-2025.json",
        ))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "not an RDAP ip network: no objectClassName",
        ));

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.json");
    std::fs::write(
        &html,
        "<!DOCTYPE html><html><body>Too Many Requests</body></html>",
    )
    .unwrap();
    worker()
        .arg("parse")
        .arg(&html)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "malformed RDAP response: an HTML page, not JSON",
        ));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    worker()
        .arg("parse")
        .arg(&text)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "malformed RDAP response: not JSON",
        ));

    worker()
        .arg("parse")
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("rdapfleet-worker: error: cannot read ")
                .and(predicate::str::contains("missing.json")),
        );
    // Errors are printed once.
    let out = worker().arg("parse").arg(&text).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("error:")
            .count(),
        1
    );
}

#[test]
fn lookup_against_a_loopback_world() {
    let s = Server::start();
    s.route(
        "/arin/registry/ip/3.3.3.3",
        Reply::json(200, fixture("arin/3.3.3.3__rdap_client-2022.json")),
    );
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("bootstrap.json");
    std::fs::write(&boot, s.bootstrap_json()).unwrap();

    // Plain: the normalized network.
    let out = worker()
        .args(["lookup", "3.3.3.3", "--bootstrap"])
        .arg(&boot)
        .assert()
        .success()
        .get_output()
        .clone();
    let v = stdout_json(&out);
    assert_eq!(v["start_address"], "3.0.0.0");
    assert_eq!(v["cidrs"], serde_json::json!(["3.0.0.0/9"]));
    assert_eq!(v["registry"], "arin");
    assert_eq!(v["source_url"], s.url("/arin/registry/ip/3.3.3.3"));

    // --json: the whole outcome, raw JSON included; bootstrap from an http URL via the env.
    s.route("/bootstrap/ipv4.json", Reply::json(200, s.bootstrap_json()));
    let out = worker()
        .args(["lookup", "3.3.3.3", "--json"])
        .env("RDAPFLEET_BOOTSTRAP", s.url("/bootstrap/ipv4.json"))
        .env("RDAPFLEET_RATE", "arin=5/s lacnic=9/min,900/h")
        .assert()
        .success()
        .get_output()
        .clone();
    let v = stdout_json(&out);
    assert_eq!(v["outcome"], "found");
    assert_eq!(v["registry"], "arin");
    assert_eq!(v["redirects"], 0);
    assert_eq!(v["network"]["handle"], "NET-3-0-0-0-1");
    assert_eq!(v["raw"]["handle"], "NET-3-0-0-0-1");
    assert_eq!(v["raw"]["objectClassName"], "ip network");
}

#[test]
fn lookup_follows_a_cross_registry_redirect() {
    // The test bootstrap sends 193.0.6.0/24 to ARIN (as if transferred); ARIN redirects.
    let s = Server::start();
    s.route(
        "/arin/registry/ip/193.0.6.139",
        Reply::redirect(301, s.url("/ripencc/ip/193.0.6.139")),
    );
    s.route(
        "/ripencc/ip/193.0.6.139",
        Reply::json(200, fixture("ripe/193.0.6.139__rdap_client-2022.json")),
    );
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("b.json");
    std::fs::write(&boot, s.bootstrap_json()).unwrap();
    let out = worker()
        .args(["lookup", "193.0.6.139", "--json", "--bootstrap"])
        .arg(&boot)
        .assert()
        .success()
        .get_output()
        .clone();
    let v = stdout_json(&out);
    assert_eq!(v["registry"], "ripencc");
    assert_eq!(v["redirects"], 1);
    assert_eq!(v["network"]["registry"], "ripencc");
    assert_eq!(
        s.hits(),
        ["/arin/registry/ip/193.0.6.139", "/ripencc/ip/193.0.6.139"]
    );
}

#[test]
fn lookup_not_found_and_failures() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("b.json");
    std::fs::write(&boot, s.bootstrap_json()).unwrap();

    // Not found is an answer: exit 0, a note on stderr, nothing on stdout (or the outcome with --json).
    worker()
        .args(["lookup", "193.1.2.3", "--bootstrap"])
        .arg(&boot)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains(
            "193.1.2.3: no registered network (ripencc answered 404",
        ));
    let out = worker()
        .args(["lookup", "193.1.2.3", "--json", "--bootstrap"])
        .arg(&boot)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stdout_json(&out)["outcome"], "not_found");

    // A malformed answer: exit 2 with the reason.
    s.route(
        "/lacnic/rdap/ip/200.1.1.1",
        Reply::json(200, "<html>oops</html>"),
    );
    worker()
        .args(["lookup", "200.1.1.1", "--bootstrap"])
        .arg(&boot)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("rdapfleet-worker: error: lookup of 200.1.1.1 failed: ")
                .and(predicate::str::contains("an HTML page, not JSON")),
        );
    // With --json the failure is also on stdout.
    let out = worker()
        .args(["lookup", "200.1.1.1", "--json", "--bootstrap"])
        .arg(&boot)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let v = stdout_json(&out);
    assert_eq!(
        (v["outcome"].as_str(), v["retryable"].as_bool()),
        (Some("failed"), Some(false))
    );

    // Outside the bootstrap: an input error.
    worker()
        .args(["lookup", "10.0.0.1", "--bootstrap"])
        .arg(&boot)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no RDAP service for 10.0.0.1"));
}

#[test]
fn lookup_input_errors_exit_1_with_a_clear_message() {
    worker()
        .args(["lookup", "300.1.2.3"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::starts_with("rdapfleet-worker: error: ").and(predicate::str::contains(
                "\"300.1.2.3\" is not an IPv4 or IPv6 address",
            )),
        );
    worker()
        .args(["lookup", "3.3.3.3", "--rate", "lacnic=9"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid rate \"lacnic=9\""));
    worker()
        .args(["lookup", "3.3.3.3"])
        .env("RDAPFLEET_RATE", "arin=10/fortnight")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown unit \"fortnight\""));
    worker()
        .args(["lookup", "3.3.3.3", "--timeout", "soon"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid duration"));
    worker()
        .args(["lookup", "3.3.3.3", "--bootstrap", "/nonexistent/ipv4.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bootstrap /nonexistent/ipv4.json: cannot read",
        ));
    worker().args(["lookup", "--help"]).assert().success();
    worker().assert().code(1);
}

#[test]
fn refresh_bootstrap_downloads_validates_and_writes_atomically() {
    let s = Server::start();
    let shipped = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rdap/data/ipv4.json"),
    )
    .unwrap();
    s.route("/rdap/ipv4.json", Reply::json(200, shipped.clone()));
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("ipv4.json");
    worker()
        .args([
            "refresh-bootstrap",
            "--url",
            &s.url("/rdap/ipv4.json"),
            "--out",
        ])
        .arg(&out_file)
        .assert()
        .success()
        .stdout("")
        .stderr(
            predicate::str::contains("wrote ").and(predicate::str::contains(
                "IPv4 prefixes, 5 services, publication 2019-06-07T19:00:02Z",
            )),
        );
    assert_eq!(std::fs::read(&out_file).unwrap(), shipped);
    // Only the file: no temporary left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // To stdout without --out.
    worker()
        .args(["refresh-bootstrap", "--url", &s.url("/rdap/ipv4.json")])
        .assert()
        .success()
        .stdout(predicate::eq(shipped.as_slice()));

    // A bad download leaves the existing file alone.
    s.route("/bad.json", Reply::json(200, "<html>maintenance</html>"));
    worker()
        .args(["refresh-bootstrap", "--url", &s.url("/bad.json"), "--out"])
        .arg(&out_file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an RFC 9224 bootstrap file"));
    worker()
        .args(["refresh-bootstrap", "--url", &s.url("/gone.json"), "--out"])
        .arg(&out_file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("HTTP 404"));
    s.route(
        "/v6.json",
        Reply::json(
            200,
            r#"{"services":[[["2001:db8::/32"],["https://x.example/"]]]}"#,
        ),
    );
    worker()
        .args(["refresh-bootstrap", "--url", &s.url("/v6.json"), "--out"])
        .arg(&out_file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("lists no IPv4 prefix"));
    assert_eq!(std::fs::read(&out_file).unwrap(), shipped);
    worker()
        .args(["refresh-bootstrap", "--url", "ftp://example.invalid/x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not an http(s) URL"));
}

#[test]
fn json_log_format_goes_to_stderr_only() {
    let out = worker()
        .args(["parse"])
        .arg(fixture_path("apnic/1.1.1.1__whoisit-2024-07-26.json"))
        .env("RDAPFLEET_LOG_FORMAT", "json")
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout_json(&out)["registrant"],
        "APNIC Research and Development"
    );
}
