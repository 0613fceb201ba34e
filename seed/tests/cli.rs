//! The `rdapfleet-seed` binary, run for real: files written, `info` read back, every error case
//! exits 1 with one clear line and leaves no file behind.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use rusqlite::Connection;
use serde_json::Value;

fn seed() -> Command {
    let mut cmd = Command::cargo_bin("rdapfleet-seed").expect("binary built");
    // Keep the environment from changing flags.
    for (k, _) in std::env::vars() {
        if k.starts_with("RDAPFLEET_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// File names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn info_json(path: &Path) -> Value {
    let out = seed()
        .args(["info", "--json"])
        .arg(path)
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("info --json prints JSON")
}

/// Assert a failing run: exit 1, exactly one stderr line with the prefix and `needle`.
fn fails_with(cmd: &mut Command, needle: &str) {
    let out = cmd.assert().code(1).stdout("").get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr:?}");
    assert!(
        stderr.starts_with("rdapfleet-seed: error: "),
        "prefix: {stderr:?}"
    );
    assert!(stderr.contains(needle), "{needle:?} in {stderr:?}");
}

#[test]
fn generates_a_small_stride_file_and_describes_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.sqlite");
    seed()
        .args(["generate", "--strategy", "stride", "--include", "8.8.0.0/16"])
        .args(["--include", "9.9.0.0/20", "--exclude", "8.8.128.0/17"])
        .args(["--batch-size", "50", "--shuffle-seed", "7", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::is_match(
            r"^rdapfleet-seed: wrote .*seed\.sqlite \(stride\): 144 addresses in 3 batches of 50 in [0-9.]+s\n$",
        )
        .unwrap());
    assert_eq!(listing(dir.path()), ["seed.sqlite"]);

    let info = info_json(&out);
    let meta = &info["meta"];
    assert_eq!(meta["format"], "rdapfleet-seed");
    assert_eq!(meta["schema_version"], "1");
    assert_eq!(meta["generator_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["strategy"], "stride");
    assert_eq!(meta["ip_count"], "144");
    assert_eq!(meta["batch_count"], "3");
    assert_eq!(meta["batch_size"], "50");
    assert_eq!(meta["shuffle_seed"], "7");
    assert_eq!(meta["params"]["stride_prefix"], 24);
    assert_eq!(meta["params"]["includes"][0], "8.8.0.0/16");
    assert_eq!(meta["params"]["excludes"][0], "8.8.128.0/17");
    let crawl_id = meta["crawl_id"].as_str().unwrap();
    assert_eq!(crawl_id.len(), 32);
    assert!(crawl_id.chars().all(|c| c.is_ascii_hexdigit()));
    let created = meta["created_at"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
    assert!(created.ends_with('Z'));
    assert_eq!(info["counts"]["seeds"], 144);
    assert_eq!(info["counts"]["batches"], 3);
    assert_eq!(info["journal_mode"], "wal");

    // The file as the coordinator sees it: WAL, contiguous batches, a full hand-out order.
    let conn = Connection::open(&out).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let batches: Vec<(i64, i64, i64, i64, i64)> = conn
        .prepare("SELECT id, first_ip, last_ip, ip_count, hand_out FROM batches ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(batches.len(), 3);
    assert_eq!(
        batches.iter().map(|b| b.3).collect::<Vec<_>>(),
        [50, 50, 44]
    );
    let mut hand_outs: Vec<i64> = batches.iter().map(|b| b.4).collect();
    hand_outs.sort_unstable();
    assert_eq!(hand_outs, [0, 1, 2]);
    assert_eq!(batches[0].1, i64::from(u32::from_be_bytes([8, 8, 0, 1])));
    for (id, _, _, count, _) in &batches {
        let ips = rdapfleet_seed::batch_ips(&conn, *id).unwrap();
        assert_eq!(ips.len() as i64, *count);
    }
}

#[test]
fn ranges_and_lattice_slices_with_text_info() {
    let dir = tempfile::tempdir().unwrap();
    let ranges = dir.path().join("ranges.sqlite");
    seed()
        .args([
            "generate",
            "--strategy",
            "ranges",
            "--include",
            "192.0.2.0/28",
        ])
        .args(["--include", "198.51.100.7", "--quiet", "--out"])
        .arg(&ranges)
        .assert()
        .success()
        .stdout("")
        .stderr("");
    seed().arg("info").arg(&ranges).assert().success().stdout(
        predicate::str::contains("strategy")
            .and(predicate::str::contains("ranges"))
            .and(predicate::str::is_match(r"ip_count\s+17\n").unwrap())
            .and(predicate::str::is_match(r"seeds \(rows\)\s+17\n").unwrap()),
    );

    let lattice = dir.path().join("lattice.sqlite");
    seed()
        .args([
            "generate",
            "--include",
            "1.0.0.0/16",
            "--include",
            "172.16.0.0/12",
        ])
        .args(["-q", "--out"])
        .arg(&lattice)
        .assert()
        .success();
    let info = info_json(&lattice);
    assert_eq!(info["meta"]["strategy"], "lattice2016");
    assert_eq!(info["counts"]["seeds"], 88);
    assert_eq!(info["counts"]["batches"], 1);
    assert_eq!(listing(dir.path()), ["lattice.sqlite", "ranges.sqlite"]);
}

#[test]
fn settings_come_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.sqlite");
    seed()
        .arg("generate")
        .env("RDAPFLEET_SEED_OUT", &out)
        .env("RDAPFLEET_SEED_STRATEGY", "stride")
        .env("RDAPFLEET_SEED_STRIDE_PREFIX", "20")
        .env("RDAPFLEET_SEED_INCLUDE", "8.0.0.0/12,9.0.0.0/12")
        .env("RDAPFLEET_SEED_QUIET", "true")
        .assert()
        .success()
        .stderr("");
    let info = info_json(&out);
    assert_eq!(info["counts"]["seeds"], 2 * 256);
    assert_eq!(info["meta"]["params"]["stride_prefix"], 20);
}

#[test]
fn input_errors_exit_1_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.sqlite");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--include", "10.0.0.0/33"],
            "invalid IPv4 CIDR \"10.0.0.0/33\"",
        ),
        (&["--exclude", "banana"], "invalid IPv4 CIDR \"banana\""),
        (
            &["--include", "10.0.0.1/8"],
            "host bits set (did you mean 10.0.0.0/8?)",
        ),
        (
            &["--strategy", "stride", "--include", "10.0.0.0/8"],
            "yields no address",
        ),
        (
            &["--include", "1.0.0.0/8", "--exclude", "0.0.0.0/0"],
            "yields no address",
        ),
        (&["--strategy", "ranges"], "needs at least one --include"),
        (
            &["--stride-prefix", "16"],
            "only applies to --strategy stride",
        ),
        (
            &["--strategy", "stride", "--stride-prefix", "7"],
            "7 is not in 8..=32",
        ),
        (&["--strategy", "nope"], "invalid value 'nope'"),
        (&["--batch-size", "0"], "0 is not in 1..=1000000"),
        (
            &["--strategy", "ranges", "--include", "0.0.0.0/0"],
            "more than the limit",
        ),
    ];
    for (args, needle) in cases {
        fails_with(
            seed().arg("generate").args(*args).arg("--out").arg(&out),
            needle,
        );
        assert!(listing(dir.path()).is_empty(), "{args:?} left files");
    }
    fails_with(
        seed()
            .args(["generate", "--out"])
            .arg(dir.path().join("no/such/dir/seed.sqlite")),
        "directory does not exist",
    );
    fails_with(
        seed().args(["generate", "--out"]).arg(dir.path()),
        "is a directory",
    );
    fails_with(seed().arg("generate"), "--out <FILE>");
    // A directory nobody may create files in (even root, which runs CI): the error names
    // the output asked for.
    fails_with(
        seed().args(["generate", "--out", "/proc/rdapfleet-seed.sqlite"]),
        "/proc/rdapfleet-seed.sqlite: cannot create a file in /proc",
    );
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn an_interrupted_generate_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.sqlite");
    // The whole stride list (14.5 M addresses) takes seconds even in a release build.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rdapfleet-seed"))
        .args(["generate", "--strategy", "stride", "-q", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is writing its temporary file, then interrupt it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while listing(dir.path()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary file appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "generate ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("interrupted: no seed file was written"),
        "{stderr}"
    );
    assert!(
        listing(dir.path()).is_empty(),
        "left {:?}",
        listing(dir.path())
    );
}

#[test]
fn an_existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.sqlite");
    let gen_args = [
        "generate",
        "--strategy",
        "ranges",
        "--include",
        "192.0.2.0/24",
        "-q",
    ];
    seed()
        .args(gen_args)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let before = fs::read(&out).unwrap();
    let first_id = info_json(&out)["meta"]["crawl_id"].clone();

    fails_with(
        seed().args(gen_args).arg("--out").arg(&out),
        "already exists (use --force to replace it)",
    );
    assert_eq!(fs::read(&out).unwrap(), before, "left untouched");
    assert_eq!(listing(dir.path()), ["seed.sqlite"]);

    // A stale WAL of the old file must not be replayed into the new one.
    fs::write(dir.path().join("seed.sqlite-wal"), b"stale junk").unwrap();
    fs::write(dir.path().join("seed.sqlite-shm"), b"stale junk").unwrap();
    seed()
        .args(gen_args)
        .args(["--include", "198.51.100.0/24", "--force", "--out"])
        .arg(&out)
        .assert()
        .success();
    let info = info_json(&out);
    assert_ne!(info["meta"]["crawl_id"], first_id);
    assert_eq!(info["counts"]["seeds"], 512);
    assert_eq!(listing(dir.path()), ["seed.sqlite"]);

    // --force without an existing file is fine too.
    let other = dir.path().join("other.sqlite");
    seed()
        .args(gen_args)
        .arg("--force")
        .arg("--out")
        .arg(&other)
        .assert()
        .success();
}

#[test]
fn info_rejects_what_is_not_a_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    fails_with(
        seed().arg("info").arg(d.join("missing.sqlite")),
        "missing.sqlite does not exist",
    );

    let text = d.join("notes.txt");
    fs::write(&text, "hello, this is not a database at all\n".repeat(200)).unwrap();
    fails_with(
        seed().arg("info").arg(&text),
        "not an rdapfleet seed file: it is not an SQLite database",
    );

    let empty = d.join("empty.sqlite");
    fs::write(&empty, b"").unwrap();
    fails_with(seed().arg("info").arg(&empty), "it has no meta table");

    let foreign = d.join("foreign.sqlite");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('format', 'other');")
        .unwrap();
    fails_with(seed().arg("info").arg(&foreign), "meta.format is \"other\"");

    let newer = d.join("newer.sqlite");
    seed()
        .args([
            "generate",
            "--strategy",
            "ranges",
            "--include",
            "192.0.2.0/30",
            "-q",
            "--out",
        ])
        .arg(&newer)
        .assert()
        .success();
    Connection::open(&newer)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    fails_with(
        seed().arg("info").arg(&newer),
        "schema version 99 is newer than this program supports (1)",
    );

    // A seed file whose pages were overwritten with garbage.
    let corrupt = d.join("corrupt.sqlite");
    seed()
        .args([
            "generate",
            "--strategy",
            "stride",
            "--include",
            "8.0.0.0/8",
            "-q",
            "--out",
        ])
        .arg(&corrupt)
        .assert()
        .success();
    let mut bytes = fs::read(&corrupt).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0xa5;
    }
    fs::write(&corrupt, &bytes).unwrap();
    fails_with(seed().arg("info").arg(&corrupt), "cannot read seed file");

    // Usage errors are exit 1 too; --help is not an error.
    fails_with(seed().args(["info"]), "<FILE>");
    seed()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("generate"));
}
