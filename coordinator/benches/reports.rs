//! Report benchmarks on crawl databases of about 1 M outcomes and 1 M networks (and a 10 %
//! one, to show that export memory does not grow with the data).
//!
//! The databases are built through the coordinator's real write path, not by inserting rows:
//! a seed file of 1,024 random non-special /22 blocks (1,048,576 seed IPs, `ranges` strategy,
//! 1,000-IP batches) is served by the library's [`Server`] on loopback, and 4 gRPC clients
//! lease every batch and report every IP as found with a network of its own (`[ip - w, ip]`,
//! w < 64, so networks overlap; registry by first octet, one of 50,000 holders, a ~0.5 KB
//! normalized network and a ~0.4 KB raw body), exactly as workers do. IPs that a network found
//! in another batch already covers are settled by the coordinator's pre-filter, as in a crawl.
//! The files are kept in `target/tmp/` and reused (`--rebuild` makes them again).
//!
//! Then, with the release binary as a child process (wall time, peak RSS from `wait4`), and
//! in process for the pure rates:
//! - `export` (rdapfleet layout, plain and zstd) of both databases: lines/s, MB/s, peak RSS;
//! - `coverage --json` and `coverage --png` (one pixel per /24) of the 1 M networks;
//! - `lookup` of 10 M addresses from stdin (half inside crawled blocks), end to end through the
//!   binary and in process, with a baseline in the same run: `BufRead::lines()` + `parse()` +
//!   `format!` per line, the obvious way.
//!
//! Run: `cargo bench -p rdapfleet-coordinator --bench reports [-- --runs N] [--rebuild]`.

use std::io::{BufRead, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use rdapfleet_coordinator::report::lookup::{Format, LookupTable};
use rdapfleet_coordinator::report::{self, coverage};
use rdapfleet_coordinator::{Config, Server};
use rdapfleet_proto::v1::{self as pb, outcome};
use rdapfleet_ranges::Range;
use rdapfleet_seed::{SeedPlan, Strategy, write_seed_file};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_rdapfleet-coordinator");
const CLIENTS: usize = 4;
const HOLDERS: u64 = 50_000;
/// Bump when the generated data changes (cached files are rebuilt).
const DATA_VERSION: &str = "reports-bench-1";

/// splitmix64: a small deterministic generator (the data must be the same on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn mix(x: u32) -> u64 {
    Rng(u64::from(x)).next()
}

/// `blocks` distinct random non-special /22s.
fn blocks(n: usize, seed: u64) -> Vec<Range> {
    let mut rng = Rng(seed);
    let mut out: Vec<Range> = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::new();
    while out.len() < n {
        let start = (rng.next() as u32) & !0x3FF;
        let r = Range {
            start,
            end: start + 0x3FF,
        };
        if rdapfleet_ranges::special::is_special(r.start)
            || rdapfleet_ranges::special::is_special(r.end)
            || !seen.insert(start)
        {
            continue;
        }
        out.push(r);
    }
    out
}

const REGISTRIES: [(&str, &str); 5] = [
    ("arin", "US"),
    ("ripencc", "NL"),
    ("apnic", "AU"),
    ("lacnic", "BR"),
    ("afrinic", "ZA"),
];

fn found(ip: u32) -> pb::Outcome {
    let h = mix(ip);
    let w = (h % 64) as u32;
    // Within the IP's /22 block: networks overlap their neighbours, not other blocks.
    let (start, end) = ((ip & !0x3FF).max(ip.saturating_sub(w)), ip);
    let (registry, country) = REGISTRIES[(ip >> 24) as usize % 5];
    let holder = (h >> 8) % HOLDERS;
    let (s, e) = (Ipv4Addr::from(start), Ipv4Addr::from(end));
    let cidrs: Vec<String> = rdapfleet_ranges::range::to_cidrs(start, end)
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect();
    let network_json = format!(
        r#"{{"start_address":"{s}","end_address":"{e}","cidrs":[{}],"handle":"NET-{start:08X}-{end:08X}","name":"NET-{holder}","type":"ASSIGNED PA","country":"{country}","parent_handle":"NET-PARENT-{}","status":["active"],"registry":"{registry}","origin_asns":[{}],"registrant":"Holder {holder} Networks Ltd","abuse_emails":["abuse@holder{holder}.example"],"registration_date":"2016-01-01T00:00:00Z","last_changed_date":"2020-01-01T00:00:00Z","source_url":"https://rdap.{registry}.example/ip/{s}","ip_version":"v4","leaf":true}}"#,
        cidrs.join(","),
        start >> 16,
        64512 + holder % 1000,
    );
    let raw_json = format!(
        r#"{{"objectClassName":"ip network","handle":"NET-{start:08X}-{end:08X}","startAddress":"{s}","endAddress":"{e}","ipVersion":"v4","events":[{{"eventAction":"registration","eventDate":"2016-01-01T00:00:00Z"}}],"entities":[{{"objectClassName":"entity","handle":"ORG-{holder}","roles":["registrant"],"vcardArray":["vcard",[["version",{{}},"text","4.0"],["fn",{{}},"text","Holder {holder} Networks Ltd"]]]}}]}}"#
    );
    pb::Outcome {
        ip,
        at_ms: 0,
        kind: Some(outcome::Kind::Found(pb::Found {
            start,
            end,
            network_json: network_json.into_bytes(),
            raw_json: raw_json.into_bytes(),
            redirects: 0,
        })),
    }
}

async fn crawler(addr: SocketAddr, worker: String) -> u64 {
    let mut c = common::worker_client(addr, &worker).await;
    let (_, outcomes) = common::crawl(&mut c, &worker, None, |chunk| {
        Some(chunk.iter().map(|&ip| found(ip)).collect())
    })
    .await;
    outcomes
}

/// Build (or reuse) a crawl database of `n_blocks` /22s, all crawled.
fn crawl_db(rt: &tokio::runtime::Runtime, dir: &Path, n_blocks: usize, rebuild: bool) -> PathBuf {
    let db = dir.join(format!("reports-{n_blocks}.sqlite"));
    let marker = dir.join(format!("reports-{n_blocks}.done"));
    if !rebuild && std::fs::read_to_string(&marker).is_ok_and(|m| m == DATA_VERSION) {
        return db;
    }
    let _ = std::fs::remove_file(&marker);
    for suffix in ["", "-wal", "-shm", ".coordinator-lock"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let mut plan = SeedPlan::new(Strategy::Ranges);
    plan.includes = blocks(n_blocks, 2016);
    plan.batch_size = 1000;
    let summary = write_seed_file(&db, &plan, true).expect("seed file");
    eprintln!(
        "building {} ({} seed IPs) through the coordinator ...",
        db.display(),
        summary.ip_count
    );
    let started = Instant::now();
    let outcomes = rt.block_on(async {
        let mut config = Config::new(&db);
        config.security.insecure = true;
        let server = Server::open(config).await.expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(server.serve(listener, shutdown.clone()));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(crawler(addr, format!("bench-{i}"))))
            .collect();
        let mut outcomes = 0;
        for c in clients {
            outcomes += c.await.expect("client");
        }
        shutdown.cancel();
        serving.await.expect("join").expect("serve");
        outcomes
    });
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "  {outcomes} outcomes reported by workers in {secs:.0}s ({:.0}/s), the rest settled by the pre-filter",
        outcomes as f64 / secs
    );
    std::fs::write(&marker, DATA_VERSION).expect("marker");
    db
}

/// Wall time and peak RSS (KiB) of a child process.
fn measure(mut cmd: Command) -> (Duration, u64, std::process::ExitStatus) {
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4");
    let elapsed = started.elapsed();
    // Reaped by wait4: the Child handle must not wait again.
    std::mem::forget(child);
    use std::os::unix::process::ExitStatusExt;
    (
        elapsed,
        usage.ru_maxrss as u64,
        std::process::ExitStatus::from_raw(status),
    )
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn count(db: &Path, sql: &str) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql) as u64
}

/// The uncompressed size in the summary line (`exported N lines (X MiB...`), in bytes.
fn summary_bytes(stderr: &str) -> f64 {
    let Some(rest) = stderr.split_once(" lines (").map(|(_, r)| r) else {
        return 0.0;
    };
    let mut it = rest.split([' ', ',', ')']);
    let (Some(v), Some(unit)) = (it.next(), it.next()) else {
        return 0.0;
    };
    let v: f64 = v.parse().unwrap_or(0.0);
    v * match unit {
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    }
}

/// Export `db`: plain to stdout (into /dev/null, so the disk does not count), or zstd to a
/// file (removed afterwards).
fn bench_export(db: &Path, dir: &Path, runs: usize, zstd: bool) {
    let out = dir.join("export.jsonl.zst");
    let lines = count(db, "SELECT count(*) FROM seeds");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    let (mut bytes, mut written) = (0.0, 0.0);
    for _ in 0..runs {
        let mut c = Command::new(BIN);
        c.args(["export", "--db"]).arg(db);
        if zstd {
            c.arg("--out").arg(&out);
        }
        c.stdout(Stdio::null());
        let log = dir.join("export.log");
        c.stderr(std::fs::File::create(&log).expect("log"));
        let (wall, kib, status) = measure(c);
        let summary = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "export failed: {summary}");
        bytes = summary_bytes(&summary);
        written = if zstd {
            std::fs::metadata(&out)
                .map(|m| m.len() as f64)
                .unwrap_or(0.0)
        } else {
            bytes
        };
        let _ = std::fs::remove_file(&out);
        walls.push(wall.as_secs_f64());
        rss.push(kib as f64);
    }
    let (w, lo, hi) = median(walls);
    let (r, _, rhi) = median(rss);
    println!(
        "export {:<5} {:>9} lines: {:>6.2}s [{lo:.2}..{hi:.2}]  {:>9.0} lines/s  {:>6.1} MB/s of JSON ({:.0} MB{})  peak RSS {:.1} MiB (max {:.1})",
        if zstd { "zstd" } else { "plain" },
        lines,
        w,
        lines as f64 / w,
        bytes / 1e6 / w,
        bytes / 1e6,
        if zstd {
            format!(", {:.0} MB written", written / 1e6)
        } else {
            String::new()
        },
        r / 1024.0,
        rhi / 1024.0
    );
}

fn bench_coverage(db: &Path, dir: &Path, runs: usize) {
    let networks = count(db, "SELECT count(*) FROM networks");
    // In process: load and compute separately.
    let rdb = report::open(db).expect("open");
    let (mut load, mut compute) = (Vec::new(), Vec::new());
    let mut r = None;
    for _ in 0..runs {
        let t = Instant::now();
        let nets = coverage::load(&rdb).expect("load");
        load.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        r = Some(coverage::compute(&nets, 20));
        compute.push(t.elapsed().as_secs_f64());
    }
    let r = r.expect("ran");
    let (l, llo, lhi) = median(load);
    let (c, clo, chi) = median(compute);
    println!(
        "coverage {networks} networks (union {} addresses, {} CIDRs): load {l:.2}s [{llo:.2}..{lhi:.2}], compute {c:.3}s [{clo:.3}..{chi:.3}] ({:.1} M ranges/s)",
        r.addresses,
        r.union_cidrs,
        networks as f64 / c / 1e6
    );
    for (what, extra) in [
        ("coverage --json (binary)", vec!["--json"]),
        ("coverage --png, /24 (binary)", vec!["--png", "map.png"]),
    ] {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(BIN);
            cmd.args(["coverage", "--db"])
                .arg(db)
                .args(&extra)
                .current_dir(dir);
            cmd.stdout(Stdio::null());
            let (wall, kib, status) = measure(cmd);
            assert!(status.success(), "{what} failed");
            walls.push(wall.as_secs_f64());
            rss.push(kib as f64);
        }
        let (w, lo, hi) = median(walls);
        let (m, _, _) = median(rss);
        println!(
            "{what:<30} {w:.2}s [{lo:.2}..{hi:.2}]  peak RSS {:.0} MiB",
            m / 1024.0
        );
    }
    let _ = std::fs::remove_file(dir.join("map.png"));
}

/// 10 M addresses, one per line: half inside the crawled blocks, half anywhere.
fn lookup_input(n: usize) -> Vec<u8> {
    let blocks = blocks(1024, 2016);
    let mut rng = Rng(7);
    let mut out = Vec::with_capacity(n * 15);
    for i in 0..n {
        let ip = if i % 2 == 0 {
            let b = blocks[(rng.next() % 1024) as usize];
            b.start + (rng.next() % 1024) as u32
        } else {
            rng.next() as u32
        };
        writeln!(out, "{}", Ipv4Addr::from(ip)).expect("vec");
    }
    out
}

fn bench_lookup(db: &Path, dir: &Path, runs: usize) {
    const N: usize = 10_000_000;
    let input = lookup_input(N);
    let networks = count(db, "SELECT count(*) FROM networks");
    let rdb = report::open(db).expect("open");
    let t = Instant::now();
    let table = LookupTable::load(&rdb, Format::Text).expect("load");
    let load = t.elapsed().as_secs_f64();
    // In process: the allocation-free stream path into a buffered sink.
    let mut rates = Vec::new();
    for _ in 0..runs {
        let mut out = BufWriter::with_capacity(1 << 16, std::io::sink());
        let mut err = std::io::sink();
        let t = Instant::now();
        let c = table
            .answer_stream(&input[..], &mut out, &mut err)
            .expect("lookups");
        out.flush().expect("flush");
        rates.push(c.answered as f64 / t.elapsed().as_secs_f64());
    }
    let (r, lo, hi) = median(rates);
    println!(
        "lookup in process ({networks} networks, loaded in {load:.2}s): {:.2} M lookups/s [{:.2}..{:.2}]",
        r / 1e6,
        lo / 1e6,
        hi / 1e6
    );
    // Baseline, same run: lines() + parse + format! per line.
    let mut rates = Vec::new();
    for _ in 0..runs {
        let mut out = BufWriter::with_capacity(1 << 16, std::io::sink());
        let t = Instant::now();
        let mut n = 0u64;
        for line in input.lines() {
            let line = line.expect("utf-8");
            if let Ok(ip) = line.trim().parse::<Ipv4Addr>() {
                let answer = match table.get(u32::from(ip)) {
                    Some((_, tail)) => format!("{ip}{}", String::from_utf8_lossy(tail)),
                    None => format!("{ip}\tunknown\n"),
                };
                out.write_all(answer.as_bytes()).expect("sink");
                n += 1;
            }
        }
        out.flush().expect("flush");
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let (b, blo, bhi) = median(rates);
    println!(
        "lookup baseline (lines() + parse + format! per line): {:.2} M lookups/s [{:.2}..{:.2}]",
        b / 1e6,
        blo / 1e6,
        bhi / 1e6
    );
    // End to end: the release binary reading a file on stdin, output to /dev/null; the load
    // time (same command, empty stdin) is subtracted.
    let file = dir.join("lookup-input.txt");
    std::fs::write(&file, &input).expect("input file");
    let run = |stdin: &Path| {
        let mut cmd = Command::new(BIN);
        cmd.args(["lookup", "--db"]).arg(db);
        cmd.stdin(std::fs::File::open(stdin).expect("stdin"));
        cmd.stdout(Stdio::null());
        let (wall, kib, status) = measure(cmd);
        assert!(status.success(), "lookup failed");
        (wall.as_secs_f64(), kib)
    };
    let empty = dir.join("lookup-empty.txt");
    std::fs::write(&empty, b"").expect("empty");
    let mut loads = Vec::new();
    let mut totals = Vec::new();
    let mut rss = 0;
    for _ in 0..runs {
        loads.push(run(&empty).0);
        let (t, kib) = run(&file);
        totals.push(t);
        rss = kib;
    }
    let (l, _, _) = median(loads);
    let (t, _, _) = median(totals);
    println!(
        "lookup binary, {N} lines on stdin: {t:.2}s total, {l:.2}s of it loading -> {:.2} M lookups/s; peak RSS {:.0} MiB",
        N as f64 / (t - l) / 1e6,
        rss as f64 / 1024.0
    );
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&empty);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let rebuild = args.iter().any(|a| a == "--rebuild");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rdapfleet-reports-bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let small = crawl_db(&rt, &dir, 103, rebuild);
    let big = crawl_db(&rt, &dir, 1024, rebuild);
    drop(rt);
    for db in [&small, &big] {
        println!(
            "{}: {} seed IPs, {} outcomes ({} found, {} skipped), {} networks, {:.0} MB",
            db.file_name().unwrap_or_default().to_string_lossy(),
            count(db, "SELECT count(*) FROM seeds"),
            count(db, "SELECT count(*) FROM outcomes"),
            count(db, "SELECT count(*) FROM outcomes WHERE kind = 'found'"),
            count(db, "SELECT count(*) FROM outcomes WHERE kind = 'skipped'"),
            count(db, "SELECT count(*) FROM networks"),
            std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
        );
    }
    println!("median of {runs} runs [min..max]; release binary as a child process unless noted");
    for db in [&small, &big] {
        bench_export(db, &dir, runs, false);
    }
    bench_export(&big, &dir, runs, true);
    bench_coverage(&big, &dir, runs);
    bench_lookup(&big, &dir, runs);
}
