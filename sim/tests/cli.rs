//! The `rdapfleet-sim` binary: flags, exit codes, messages, `truth`, `world-info`, and `serve`
//! as a real process (prints its address, writes the bootstrap file, stops on SIGTERM).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;

fn sim() -> assert_cmd::Command {
    assert_cmd::Command::new(cargo_bin("rdapfleet-sim"))
}

#[test]
fn bad_flags_exit_1_with_one_clear_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--rate", "lacnic=10/fortnight"], "invalid rate"),
        (&["serve", "--rate", "mars=1/s"], "unknown registry"),
        (
            &["serve", "--outage", "ripencc=40s..10s"],
            "ends before it starts",
        ),
        (
            &["serve", "--error-rate", "arin=1.5"],
            "not between 0 and 1",
        ),
        (
            &["serve", "--redirect-status", "200", "--only", "41.0.0.0/8"],
            "is not a redirect",
        ),
        (&["serve", "--listen", "nowhere"], "invalid socket address"),
        (&["serve", "--slow-delay", "soon"], "invalid duration"),
        (
            &["truth", "--only", "1.2.3.4/8", "1.1.1.1"],
            "host bits set",
        ),
        (
            &["world-info", "--world", "/nonexistent/dir"],
            "/nonexistent/dir",
        ),
        (&["no-such-command"], "unrecognized subcommand"),
    ];
    for (args, msg) in cases {
        sim()
            .args(*args)
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("rdapfleet-sim: error: "))
            .stderr(predicate::str::contains(*msg));
    }
}

/// Run `serve` on `addr` and check: exit 1, nothing on stdout, and stderr is exactly one line
/// `rdapfleet-sim: error: cannot listen on ADDR: ...` (reported before the world is built).
#[track_caller]
fn serve_cannot_listen_on(addr: &str) {
    let out = sim()
        .args(["serve", "--only", "41.0.0.0/8", "--listen", addr])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    rdapfleet_testkit::assert_refused(
        &out,
        "rdapfleet-sim",
        &format!("rdapfleet-sim: error: cannot listen on {addr}: "),
    );
}

#[test]
fn serve_on_an_unusable_address_exits_1_with_one_line() {
    // An address already in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    serve_cannot_listen_on(&addr);
    drop(taken);
    // An address that is not local (TEST-NET-1); skipped where non-local binds are allowed.
    if std::net::TcpListener::bind("192.0.2.1:0").is_err() {
        serve_cannot_listen_on("192.0.2.1:0");
    }
}

#[test]
fn help_exits_0() {
    sim()
        .args(["serve", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--outage"));
}

#[test]
fn truth_prints_json_lines_from_args_and_stdin() {
    let out = sim()
        .args(["truth", "--only", "41.0.0.0/8", "41.0.0.1", "4.4.4.4"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["registry"], "afrinic");
    assert_eq!(lines[0]["allocated"], true);
    assert!(
        lines[0]["handle"]
            .as_str()
            .unwrap()
            .starts_with("41.0.0.0 - ")
    );
    assert_eq!(lines[1]["allocated"], false);
    assert_eq!(lines[1]["designated"], "arin");

    sim()
        .args(["truth", "--only", "41.0.0.0/8"])
        .write_stdin("41.0.0.1\n\nnot-an-ip\n")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"registry\":\"afrinic\""))
        .stdout(predicate::str::contains("\"error\""))
        .stderr(predicate::str::contains(
            "1 input line(s) were not IPv4 addresses",
        ));
}

#[test]
fn world_info_counts_a_slice() {
    let out = sim()
        .args(["world-info", "--json", "--only", "41.0.0.0/8"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let afrinic = &v["registries"]["afrinic"];
    assert!(afrinic["allocations"].as_u64().unwrap() > 100);
    assert!(afrinic["networks"].as_u64().unwrap() > afrinic["allocations"].as_u64().unwrap());
    assert_eq!(v["only"][0], "41.0.0.0/8");
    assert!(v["build_ms"].is_u64());
    assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0);
}

/// Kills (SIGKILL) and reaps the child if the test ends early.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn serve_prints_its_address_writes_the_bootstrap_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("ipv4.json");
    let log = dir.path().join("requests.jsonl");
    let mut child = Command::new(cargo_bin("rdapfleet-sim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--only", "41.0.0.0/8"])
        .arg("--bootstrap-out")
        .arg(&boot)
        .arg("--request-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = Guard(Some(child));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line: {line:?}"))
        .to_string();

    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&boot).unwrap()).unwrap();
    let afrinic = b["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[0].as_array().unwrap().iter().any(|p| p == "41.0.0.0/8"))
        .unwrap();
    assert_eq!(afrinic[1][0], format!("http://{addr}/afrinic/rdap/"));
    let total: usize = b["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_array().unwrap().len())
        .sum();
    assert!(total > 200, "every designated /8 is listed ({total})");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(format!("http://{addr}/afrinic/rdap/ip/41.0.0.1"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let net = rdapfleet_rdap::parse(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(net.start_address, "41.0.0.0");
    });

    let child = guard.0.as_mut().unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    guard.0 = None;
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1, "request log flushed on shutdown");
}

/// `sim-bench` flags that used to panic (a zero-thread runtime) or abort (plans of 10^14
/// queries allocated up front) are refused with exit 1 and one line.
#[test]
fn sim_bench_refuses_flags_it_cannot_honour() {
    let cases: &[(&[&str], &str)] = &[
        (&["--server-threads", "0"], "--server-threads"),
        (&["--client-threads", "0"], "--client-threads"),
        (&["--requests", "100000000000000"], "--requests"),
        (&["--rounds", "0"], "--rounds"),
        (&["--clients", "0"], "--clients"),
    ];
    for (args, flag) in cases {
        assert_cmd::Command::new(cargo_bin("sim-bench"))
            .args(["--only", "8.8.8.0/24"])
            .args(*args)
            .timeout(Duration::from_secs(60))
            .assert()
            .code(1)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("sim-bench: error: "))
            .stderr(predicate::str::contains(*flag));
    }
}
