//! The binary's command line: status and add-range on good, missing, corrupt, foreign and newer
//! files; bad flags and durations exit 1 with one clear line.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::BIN;
use predicates::prelude::*;
use rdapfleet_testkit::seed_file;

fn cmd() -> Command {
    Command::cargo_bin(BIN).unwrap()
}

/// Run and check: exit code 1, and stderr is exactly one line starting with the binary's name
/// and containing `needle`.
#[track_caller]
fn fails_with_one_line(mut c: Command, needle: &str) {
    rdapfleet_testkit::assert_refused(&c.output().unwrap(), "rdapfleet-coordinator", needle);
}

fn corrupt(dir: &Path) -> PathBuf {
    let p = dir.join("corrupt.sqlite");
    std::fs::write(&p, vec![0x5a; 8192]).unwrap();
    p
}

fn foreign(dir: &Path) -> PathBuf {
    let p = dir.join("foreign.sqlite");
    let conn = rusqlite::Connection::open(&p).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .unwrap();
    p
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

fn status(db: &Path) -> Command {
    let mut c = cmd();
    c.args(["status", "--db"]).arg(db);
    c
}

fn add_range(db: &Path, cidr: &str) -> Command {
    let mut c = cmd();
    c.args(["add-range", cidr, "--db"]).arg(db);
    c
}

#[test]
fn status_of_a_fresh_seed_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    status(&db)
        .assert()
        .success()
        .stdout(predicate::str::contains("256 seed IPs in 4 batches"))
        .stdout(predicate::str::contains("pending 4"))
        .stdout(predicate::str::contains("complete  no"));
    let out = status(&db).arg("--json").output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seed_ips"], 256);
    assert_eq!(v["batches"]["total"], 4);
    assert_eq!(v["batches"]["pending"], 4);
    assert_eq!(v["queue"]["ips_remaining"], 256);
    assert_eq!(v["crawl_complete"], false);
    assert_eq!(v["strategy"], "ranges");
    // status only reads: the coordinator's tables were not added.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'outcomes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn status_refuses_missing_corrupt_foreign_and_newer_files() {
    let dir = tempfile::tempdir().unwrap();
    fails_with_one_line(status(&dir.path().join("nope.sqlite")), "no such file");
    fails_with_one_line(
        status(&corrupt(dir.path())),
        "not a readable SQLite database",
    );
    fails_with_one_line(status(&foreign(dir.path())), "not an rdapfleet seed file");
    let newer = tempfile::tempdir().unwrap();
    fails_with_one_line(
        status(&with_meta(newer.path(), "schema_version", "99")),
        "newer than this program supports",
    );
    let newer = tempfile::tempdir().unwrap();
    fails_with_one_line(
        status(&with_meta(newer.path(), "coordinator_schema_version", "99")),
        "coordinator tables of version 99",
    );
}

#[test]
fn add_range_queues_more_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    add_range(&db, "9.9.0.0/16")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "added 256 seed IPs in 4 new batches",
        ));
    // Again: nothing new.
    add_range(&db, "9.9.0.0/16")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "added 0 seed IPs in 0 new batches (256 already present)",
        ));
    let mut c = add_range(&db, "9.10.0.0/16");
    c.args(["--stride-prefix", "20"]);
    c.assert().success().stdout(predicate::str::contains(
        "added 16 seed IPs in 1 new batches",
    ));
    let out = status(&db).arg("--json").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seed_ips"], 256 + 256 + 16);
    assert_eq!(v["batches"]["total"], 9);
}

#[test]
fn add_range_refuses_bad_input_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    fails_with_one_line(add_range(&db, "9.9.0.0/33"), "invalid IPv4 CIDR");
    fails_with_one_line(add_range(&db, "9.9.1.0/16"), "host bits set");
    fails_with_one_line(
        add_range(&db, "10.0.0.0/8"),
        "holds no address outside the special-purpose registry",
    );
    let mut c = add_range(&db, "9.9.0.0/16");
    c.args(["--stride-prefix", "4"]);
    fails_with_one_line(c, "--stride-prefix 4 is out of range");
    let mut c = add_range(&db, "0.0.0.0/0");
    c.args(["--stride-prefix", "32"]);
    fails_with_one_line(
        c,
        "4294967296 addresses, more than the 67108864 one add-range may queue",
    );
    // None of the refusals changed the seed list.
    let out = status(&db).arg("--json").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seed_ips"], 256);
    assert_eq!(v["batches"]["total"], 4);
    fails_with_one_line(
        add_range(&dir.path().join("nope.sqlite"), "9.9.0.0/16"),
        "no such file",
    );
    fails_with_one_line(
        add_range(&corrupt(dir.path()), "9.9.0.0/16"),
        "not a readable SQLite database",
    );
    fails_with_one_line(
        add_range(&foreign(dir.path()), "9.9.0.0/16"),
        "not an rdapfleet seed file",
    );
}

fn serve(db: &Path, extra: &[&str]) -> Command {
    let mut c = cmd();
    c.args(["serve", "--insecure", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra);
    c
}

#[test]
fn serve_refuses_bad_flags_and_files_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    fails_with_one_line(
        serve(&db, &["--lease-ttl", "5 parsecs"]),
        "invalid duration \"5 parsecs\"",
    );
    fails_with_one_line(
        serve(&db, &["--heartbeat-interval", "soon"]),
        "invalid duration \"soon\"",
    );
    fails_with_one_line(
        serve(&db, &["--lease-ttl", "10s", "--heartbeat-interval", "5s"]),
        "--lease-ttl (10s) must be at least 3 x --heartbeat-interval (5s)",
    );
    fails_with_one_line(
        serve(&db, &["--max-attempts", "0"]),
        "--max-attempts must be at least 1",
    );
    fails_with_one_line(
        serve(&db, &["--max-attempts", "many"]),
        "invalid value 'many'",
    );
    fails_with_one_line(
        serve(&db, &["--skip-policy", "some"]),
        "invalid value 'some'",
    );
    fails_with_one_line(
        serve(&db, &["--frobnicate"]),
        "unexpected argument '--frobnicate'",
    );
    fails_with_one_line(
        serve(&corrupt(dir.path()), &[]),
        "not a readable SQLite database",
    );
    fails_with_one_line(serve(&dir.path().join("nope.sqlite"), &[]), "no such file");
    let mut c = cmd();
    c.args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("RDAPFLEET_DB");
    fails_with_one_line(c, "--db <FILE>");
    let mut c = cmd();
    c.args(["serve", "--db"])
        .arg(&db)
        .args(["--listen", "localhost"]);
    fails_with_one_line(c, "invalid value 'localhost' for '--listen <ADDR>'");
    // An address already in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut c = cmd();
    c.args(["serve", "--insecure", "--db"])
        .arg(&db)
        .args(["--listen", &addr]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn environment_variables_fill_flags() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    cmd()
        .arg("status")
        .env("RDAPFLEET_DB", &db)
        .assert()
        .success()
        .stdout(predicate::str::contains("256 seed IPs"));
    let mut c = cmd();
    c.args(["serve", "--db"])
        .arg(&db)
        .env("RDAPFLEET_LEASE_TTL", "1s");
    fails_with_one_line(
        c,
        "--lease-ttl (1s) must be at least 3 x --heartbeat-interval (30s)",
    );
}

#[test]
fn help_and_version_exit_zero() {
    cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("serve"))
        .stdout(predicate::str::contains("add-range"));
    cmd()
        .args(["serve", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("RDAPFLEET_LEASE_TTL"));
    cmd().arg("--version").assert().success();
}

#[test]
fn a_second_server_on_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = seed_file(dir.path(), &["8.8.8.0/24"], 64);
    let (_first, _) = common::start(&db, "127.0.0.1:0", &[]);
    fails_with_one_line(
        serve(&db, &[]),
        "another rdapfleet-coordinator is serving this database",
    );
    // status and add-range still work while it serves.
    status(&db).assert().success();
    add_range(&db, "9.9.0.0/16").assert().success();
}
