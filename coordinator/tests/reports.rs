//! The report commands (`export`, `coverage`, `lookup`, `telemetry`) and the Prometheus
//! endpoint, run as the real binary against crawl databases made by the real coordinator
//! (see `reports_fixture`), and checked against the database itself and naive models.

mod common;
mod reports_fixture;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::BIN;
use rdapfleet_ranges::Range;
use reports_fixture::*;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// `BIN SUBCOMMAND --db DB ARGS...` (more arguments may be appended).
fn cmd(args: &[&str], db: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin(BIN).expect("binary built");
    c.arg(args[0]).arg("--db").arg(db).args(&args[1..]);
    c.env_remove("RUST_LOG");
    c.timeout(Duration::from_secs(120));
    c
}

#[track_caller]
fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}")))
        .collect()
}

fn open(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open crawl db")
}

/// One row of `outcomes` (or a pending seed).
#[derive(Debug)]
struct Row {
    kind: Option<String>,
    net: Option<(u32, u32)>,
    reason: Option<String>,
    worker: Option<String>,
}

fn seed_rows(conn: &Connection) -> BTreeMap<u32, Row> {
    let mut stmt = conn
        .prepare(
            "SELECT s.ip, o.kind, o.net_start, o.net_end, o.reason, o.worker_id
             FROM seeds s LEFT JOIN outcomes o ON o.ip = s.ip",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let s: Option<i64> = r.get(2)?;
        let e: Option<i64> = r.get(3)?;
        Ok((
            r.get::<_, i64>(0)? as u32,
            Row {
                kind: r.get(1)?,
                net: s.zip(e).map(|(s, e)| (s as u32, e as u32)),
                reason: r.get(4)?,
                worker: r.get(5)?,
            },
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Stored networks: (id, start, end, network JSON).
fn network_rows(conn: &Connection) -> Vec<(i64, u32, u32, Value)> {
    let mut stmt = conn
        .prepare("SELECT id, start_ip, end_ip, network_json FROM networks ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let json: String = r.get(3)?;
        Ok((
            r.get(0)?,
            r.get::<_, i64>(1)? as u32,
            r.get::<_, i64>(2)? as u32,
            serde_json::from_str(&json).unwrap(),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn count(conn: &Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// A crawled fixture, its running coordinator, its address and the number of leases used.
struct Crawled {
    f: Fixture,
    coordinator: rdapfleet_testkit::ChildProcess,
    addr: std::net::SocketAddr,
    leases: usize,
    crawled_batches: usize,
}

/// Build the fixture: crawl to the end with the real coordinator, then queue one more batch
/// (`add-range`) that nobody leases. Stop the coordinator to quiesce the file.
async fn crawled(extra: &[&str]) -> Crawled {
    let f = seed();
    let crawled_batches = batch_count(&f.db);
    let mut flags: Vec<&str> = FLAGS.to_vec();
    flags.extend(extra);
    let (coordinator, addr) = common::start(&f.db, "127.0.0.1:0", &flags);
    let mut crawler = Crawler::start(addr, "crawler-1").await;
    let leases = crawler.crawl().await;
    add_pending(&f.db);
    Crawled {
        f,
        coordinator,
        addr,
        leases,
        crawled_batches,
    }
}

fn stop(mut child: rdapfleet_testkit::ChildProcess) {
    child.terminate();
    let status = child.wait_exit(Duration::from_secs(30)).expect("exits");
    assert!(status.success(), "{status:?}");
}

/// The value of a Prometheus sample line `name{labels} value` (labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_round_trips_and_metrics_count_the_crawl() {
    let port = rdapfleet_testkit::free_port();
    let listen = format!("127.0.0.1:{port}");
    let Crawled {
        f,
        coordinator,
        leases,
        crawled_batches,
        ..
    } = crawled(&["--metrics-listen", &listen]).await;
    assert!(
        coordinator
            .stdout()
            .contains(&format!("metrics on http://{listen}/metrics")),
        "{}",
        coordinator.stdout()
    );
    let conn = open(&f.db);
    let seeds = seed_rows(&conn);
    let nets = network_rows(&conn);
    let leases = leases as f64;
    let found = count(&conn, "SELECT count(*) FROM outcomes WHERE kind = 'found'");
    let settled = count(&conn, "SELECT count(*) FROM outcomes");
    assert_eq!(nets.len(), 5, "every world network was found");

    // Prometheus, over real HTTP on loopback (gauges are sampled every second).
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    let mut text = String::new();
    let ready = rdapfleet_testkit::wait_until(Duration::from_secs(10), || {
        text = rdapfleet_testkit::cluster::http_get(addr, "/metrics").unwrap_or_default();
        sample(&text, "rdapfleet_coordinator_batches{state=\"pending\"}") == Some(1.0)
    });
    assert!(ready, "{text}");
    let m = |s: &str| sample(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(m("rdapfleet_coordinator_leases_granted_total"), leases);
    assert_eq!(m("rdapfleet_coordinator_leases_completed_total"), leases);
    assert_eq!(
        m("rdapfleet_coordinator_batches{state=\"done\"}"),
        crawled_batches as f64
    );
    assert_eq!(m("rdapfleet_coordinator_batches{state=\"pending\"}"), 1.0);
    assert_eq!(m("rdapfleet_coordinator_batches{state=\"leased\"}"), 0.0);
    assert_eq!(
        m("rdapfleet_coordinator_outcomes_total{kind=\"found\"}"),
        found as f64
    );
    let all_kinds: f64 = ["found", "skipped", "not_found", "failed"]
        .iter()
        .filter_map(|k| {
            sample(
                &text,
                &format!("rdapfleet_coordinator_outcomes_total{{kind=\"{k}\"}}"),
            )
        })
        .sum();
    assert_eq!(all_kinds, settled as f64);
    assert_eq!(m("rdapfleet_coordinator_networks_stored"), 5.0);
    assert_eq!(
        m("rdapfleet_coordinator_network_answers_total"),
        found as f64
    );
    assert!(m("rdapfleet_coordinator_store_commit_seconds_count") > 0.0);
    assert!(text.contains("rdapfleet_coordinator_store_commit_writes_bucket{le=\"1\"}"));

    // Export while the coordinator serves: one line per seed IP, equal to the database.
    let out = ok(cmd(&["export"], &f.db).output().unwrap());
    let plain = out.stdout.clone();
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.starts_with(&format!("exported {} lines", seeds.len()))
            && summary.contains("to stdout in"),
        "{summary}"
    );
    let exported = lines(&plain);
    assert_eq!(exported.len(), seeds.len());
    let by_start: HashMap<(u32, u32), &Value> =
        nets.iter().map(|(_, s, e, v)| ((*s, *e), v)).collect();
    let mut pending = 0;
    for (line, (ip, row)) in exported.iter().zip(&seeds) {
        assert_eq!(line["ip"], Ipv4Addr::from(*ip).to_string());
        assert_eq!(
            line["outcome"],
            row.kind.as_deref().unwrap_or("pending"),
            "{line}"
        );
        match row.kind.as_deref() {
            None => {
                pending += 1;
                assert!(line["network"].is_null() && line["fetched_at"].is_null());
            }
            Some("found" | "skipped") => {
                let net = by_start[&row.net.unwrap()];
                assert_eq!(&line["network"], net, "{line}");
            }
            Some("failed") => {
                assert_eq!(line["error"]["reason"], row.reason.as_deref().unwrap());
                assert!(line["network"].is_null());
            }
            Some(_) => assert!(line["network"].is_null()),
        }
        assert_eq!(line["worker"].as_str(), row.worker.as_deref());
    }
    assert_eq!(pending, 64);
    stop(coordinator);

    // gzip (from the extension) and zstd files: the same lines; written whole, renamed.
    let gz = f.dir.path().join("crawl.jsonl.gz");
    ok(cmd(&["export", "--quiet", "--out"], &f.db)
        .arg(&gz)
        .output()
        .unwrap());
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(lines(&text), exported);
    let zst = f.dir.path().join("crawl.out");
    let out = ok(cmd(&["export", "--compress", "zstd", "--out"], &f.db)
        .arg(&zst)
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("compressed"));
    let text = zstd::decode_all(std::fs::File::open(&zst).unwrap()).unwrap();
    assert_eq!(lines(&text), exported);
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --networks: one line per distinct network, in address order.
    let out = ok(cmd(&["export", "--networks"], &f.db).output().unwrap());
    let net_lines = lines(&out.stdout);
    assert_eq!(net_lines.len(), nets.len());
    let mut sorted = nets.clone();
    sorted.sort_by_key(|(_, s, e, _)| (*s, *e));
    for (line, (id, _, _, v)) in net_lines.iter().zip(&sorted) {
        assert_eq!(line["id"], *id);
        assert_eq!(&line["network"], v);
        assert!(line["answers"].as_u64().unwrap() >= 1);
        assert_eq!(line["worker"], "crawler-1");
    }
    let answers: u64 = net_lines
        .iter()
        .map(|l| l["answers"].as_u64().unwrap())
        .sum();
    assert_eq!(answers, found);

    // --layout ipwhois: the 2016 shape, one line per answered IP.
    let out = ok(cmd(&["export", "--layout", "ipwhois"], &f.db)
        .output()
        .unwrap());
    let who = lines(&out.stdout);
    assert_eq!(who.len() as u64, found);
    assert!(String::from_utf8_lossy(&out.stderr).contains("have no ipwhois line"));
    let found_ips: Vec<(&u32, &Row)> = seeds
        .iter()
        .filter(|(_, r)| r.kind.as_deref() == Some("found"))
        .collect();
    for (line, (ip, row)) in who.iter().zip(found_ips) {
        let ip_s = Ipv4Addr::from(*ip).to_string();
        assert_eq!(line["IP"], ip_s);
        assert_eq!(line["Host"], "crawler-1.test");
        let ts = line["Timestamp"].as_str().unwrap();
        assert!(ts.len() == 26 && !ts.ends_with('Z'), "{ts}");
        let w = &line["Whois"];
        assert_eq!(w["query"], ip_s);
        let (s, e) = row.net.unwrap();
        let net = by_start[&(s, e)];
        assert_eq!(w["asn_registry"], net["registry"]);
        assert_eq!(w["asn"], "15169");
        let n = &w["network"];
        for k in [
            "handle",
            "start_address",
            "end_address",
            "name",
            "type",
            "country",
            "parent_handle",
            "status",
        ] {
            assert_eq!(n[k], net[k], "network.{k}");
        }
        let cidrs: Vec<&str> = net["cidrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(n["cidr"], cidrs.join(", "));
        assert_eq!(w["asn_cidr"], cidrs[0]);
        assert_eq!(n["events"][0]["action"], "registration");
        assert_eq!(n["remarks"][0]["description"], "first line\nsecond line");
        let org = w["entities"][0].as_str().unwrap();
        assert!(org.starts_with("ORG-"));
        let abuse = w["objects"][org]["entities"][0].as_str().unwrap();
        assert_eq!(
            w["objects"][abuse]["contact"]["email"][0]["value"],
            net["abuse_emails"][0]
        );
        assert_eq!(w["objects"][org]["contact"]["name"], net["registrant"]);
        assert!(w["raw"].is_null());
    }
}

/// Naive coverage: addresses as a set, CIDRs of each merged run, groups by key.
fn naive_union(ranges: &[(u32, u32)]) -> BTreeSet<u32> {
    ranges.iter().flat_map(|&(s, e)| s..=e).collect()
}

fn runs(set: &BTreeSet<u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &a in set {
        match out.last_mut() {
            Some(r) if r.1 + 1 == a => r.1 = a,
            _ => out.push((a, a)),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_matches_a_naive_model_and_draws_the_map() {
    let Crawled { f, coordinator, .. } = crawled(&[]).await;
    stop(coordinator);
    let conn = open(&f.db);
    let nets = network_rows(&conn);
    let ranges: Vec<(u32, u32)> = nets.iter().map(|(_, s, e, _)| (*s, *e)).collect();
    let all = naive_union(&ranges);
    let png = f.dir.path().join("map.png");
    let out = ok(cmd(
        &[
            "coverage",
            "--json",
            "--top",
            "3",
            "--resolution",
            "20",
            "--png",
        ],
        &f.db,
    )
    .arg(&png)
    .output()
    .unwrap());
    let r: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["networks"], nets.len());
    assert_eq!(r["addresses"], all.len());
    assert_eq!(
        r["covered_non_special"],
        all.len(),
        "nothing special was crawled"
    );
    let share = r["share_of_ipv4"].as_f64().unwrap();
    assert!((share - all.len() as f64 / 2f64.powi(32)).abs() < 1e-12);
    let cidrs: usize = runs(&all)
        .iter()
        .map(|&(s, e)| Range { start: s, end: e }.cidrs().len())
        .sum();
    assert_eq!(r["union_cidrs"], cidrs);
    // Per registry and per holder: the union of each group's ranges.
    let group = |key: &str| -> BTreeMap<String, (usize, usize)> {
        let mut g: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
        for (_, s, e, v) in &nets {
            g.entry(v[key].as_str().unwrap().to_string())
                .or_default()
                .push((*s, *e));
        }
        g.into_iter()
            .map(|(k, rs)| (k, (rs.len(), naive_union(&rs).len())))
            .collect()
    };
    let regs = group("registry");
    let got: BTreeMap<String, (usize, usize)> = r["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["registry"].as_str().unwrap().to_string(),
                (
                    g["networks"].as_u64().unwrap() as usize,
                    g["addresses"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect();
    assert_eq!(got, regs);
    let holders = group("registrant");
    let mut want: Vec<(usize, String, usize)> = holders
        .iter()
        .map(|(h, (n, a))| (*a, h.clone(), *n))
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<(usize, String, usize)> = r["top_holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["addresses"].as_u64().unwrap() as usize,
                h["holder"].as_str().unwrap().to_string(),
                h["networks"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(top, want[..3].to_vec());
    let per8: BTreeMap<u64, u64> = r["slash8"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["octet"].as_u64().unwrap(),
                s["addresses"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut naive8: BTreeMap<u64, u64> = BTreeMap::new();
    for a in &all {
        *naive8.entry(u64::from(a >> 24)).or_default() += 1;
    }
    assert_eq!(per8, naive8);

    // The map: a PNG of the expected size; a covered cell takes its registry's colour.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut data = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut data).unwrap();
    assert_eq!((info.width, info.height), (1024, 1024 + 128));
    let pixel = |ip: u32| {
        let (x, y) =
            rdapfleet_coordinator::report::map::hilbert::cell_position(1024, u64::from(ip >> 12));
        let i = ((y * 1024 + x) * 3) as usize;
        [data[i], data[i + 1], data[i + 2]]
    };
    let palette = rdapfleet_coordinator::report::map::PALETTE;
    assert_eq!(
        pixel(u32::from(Ipv4Addr::new(8, 8, 8, 8))),
        palette[2].1,
        "ARIN"
    );
    assert_eq!(
        pixel(u32::from(Ipv4Addr::new(41, 0, 0, 1))),
        palette[6].1,
        "AFRINIC"
    );
    assert_eq!(
        pixel(u32::from(Ipv4Addr::new(10, 1, 2, 3))),
        palette[1].1,
        "special"
    );
    assert_eq!(
        pixel(u32::from(Ipv4Addr::new(100, 1, 2, 3))),
        palette[0].1,
        "unknown"
    );

    // The text report says the same.
    let out = ok(cmd(&["coverage"], &f.db).output().unwrap());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("networks:            {}", nets.len())),
        "{text}"
    );
    assert!(
        text.contains("afrinic") && text.contains("Google LLC"),
        "{text}"
    );
}

/// The most specific stored network holding `ip` (smallest; on a tie the one that starts
/// first).
fn naive_lookup(nets: &[(i64, u32, u32, Value)], ip: u32) -> Option<&(i64, u32, u32, Value)> {
    nets.iter()
        .filter(|(_, s, e, _)| *s <= ip && ip <= *e)
        .min_by_key(|(id, s, e, _)| (e - s, *s, *id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_answers_match_the_database() {
    let Crawled { f, coordinator, .. } = crawled(&[]).await;
    let conn = open(&f.db);
    let nets = network_rows(&conn);
    // Every seed IP, the edges of every network, and addresses nobody holds.
    let mut probes: Vec<u32> = seed_rows(&conn).keys().copied().collect();
    for (_, s, e, _) in &nets {
        probes.extend([s.saturating_sub(1), *s, *e, e.saturating_add(1)]);
    }
    probes.extend([0, u32::MAX, u32::from(Ipv4Addr::new(9, 9, 9, 9))]);
    let input: String = probes
        .iter()
        .map(|ip| format!("{}\n", Ipv4Addr::from(*ip)))
        .collect();

    // Text from stdin, while the coordinator serves.
    let out = ok(cmd(&["lookup"], &f.db)
        .write_stdin(input.clone())
        .output()
        .unwrap());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), probes.len());
    for (line, ip) in text.lines().zip(&probes) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[0], Ipv4Addr::from(*ip).to_string());
        match naive_lookup(&nets, *ip) {
            None => assert_eq!(fields[1..], ["unknown"], "{line}"),
            Some((_, s, e, v)) => {
                assert_eq!(fields.len(), 7, "{line:?}");
                assert_eq!(
                    fields[1],
                    format!("{}-{}", Ipv4Addr::from(*s), Ipv4Addr::from(*e))
                );
                assert_eq!(fields[2], v["handle"]);
                assert_eq!(
                    fields[3],
                    v["registrant"].as_str().unwrap().replace('\t', " ")
                );
                assert_eq!(fields[4], v["country"]);
                assert_eq!(fields[5], v["abuse_emails"][0]);
                assert_eq!(fields[6], v["registry"]);
            }
        }
    }
    stop(coordinator);

    // JSON, addresses as arguments.
    let args: Vec<String> = probes
        .iter()
        .take(200)
        .map(|ip| Ipv4Addr::from(*ip).to_string())
        .collect();
    let mut c = cmd(&["lookup", "--json"], &f.db);
    c.args(&args);
    let out = ok(c.output().unwrap());
    let answers = lines(&out.stdout);
    assert_eq!(answers.len(), args.len());
    for (a, ip) in answers.iter().zip(&probes) {
        assert_eq!(a["ip"], Ipv4Addr::from(*ip).to_string());
        match naive_lookup(&nets, *ip) {
            None => assert!(a["network"].is_null()),
            Some((_, s, _, v)) => {
                assert_eq!(
                    a["network"]["start_address"],
                    Ipv4Addr::from(*s).to_string()
                );
                assert_eq!(a["network"]["handle"], v["handle"]);
                assert_eq!(a["network"]["holder"], v["registrant"]);
                assert_eq!(a["network"]["abuse_emails"], v["abuse_emails"]);
            }
        }
    }

    // Bad lines are reported with their number and counted; good ones still answered; exit 1.
    let out = cmd(&["lookup"], &f.db)
        .write_stdin("8.8.8.8\nfoo\n\n1.2.3.256\n41.0.0.1\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "line 2: not an IPv4 address: \"foo\"\nline 4: not an IPv4 address: \"1.2.3.256\"\n\
         rdapfleet-coordinator: error: 2 of 4 lines were not IPv4 addresses\n"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_aggregates_samples_per_node_registry_and_cluster() {
    let Crawled {
        f,
        coordinator,
        addr,
        ..
    } = crawled(&[]).await;
    let mut c = common::client(addr).await;
    for w in ["w-a", "w-b", "w-c"] {
        common::hello(&mut c, w).await;
    }
    let t = now_ms();
    const MIN: i64 = 60_000;
    // w-a: three one-minute samples ending now, 120 ARIN requests each, 30 skipped each.
    for i in 0..3 {
        let s = t - (3 - i) * MIN;
        send_sample(
            &mut c,
            "w-a",
            s,
            s + MIN,
            30,
            vec![counters("arin", 120, 12, 400 + i as u32)],
            false,
        )
        .await;
    }
    // w-b: two samples of 600 RIPE requests, the second one final (it drained and exited).
    send_sample(
        &mut c,
        "w-b",
        t - 2 * MIN,
        t - MIN,
        0,
        vec![counters("ripencc", 600, 60, 90)],
        false,
    )
    .await;
    send_sample(
        &mut c,
        "w-b",
        t - MIN,
        t,
        0,
        vec![counters("ripencc", 600, 60, 90)],
        true,
    )
    .await;
    // w-c: half a minute of APNIC work.
    send_sample(
        &mut c,
        "w-c",
        t - 30_000,
        t,
        5,
        vec![counters("apnic", 30, 3, 250), counters("arin", 10, 1, 800)],
        false,
    )
    .await;

    let json = |extra: &[&str]| -> Value {
        let out = ok(cmd(&["telemetry", "--json"], &f.db)
            .args(extra)
            .output()
            .unwrap());
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "one object: {text}");
        serde_json::from_str(&text).unwrap()
    };
    let r = json(&["--window", "2m", "--stale-after", "1h"]);
    // Totals: every sample counted once.
    assert_eq!(r["totals"]["requests"], 360 + 1200 + 40);
    assert_eq!(r["totals"]["skipped"], 90 + 5);
    assert_eq!(r["totals"]["rate_limited"], 2 * 7);
    // Rates over each node's last two reported minutes; w-b stopped, so it adds nothing.
    let rate = |v: &Value| v.as_f64().unwrap();
    assert!(
        (rate(&r["per_minute"]["requests"]) - (120.0 + 80.0)).abs() < 1e-6,
        "{}",
        r["per_minute"]
    );
    assert!((rate(&r["per_minute"]["skipped"]) - (30.0 + 10.0)).abs() < 1e-6);
    let reg = |name: &str| {
        r["registries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["registry"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(reg("ripencc")["totals"]["requests"], 1200);
    assert_eq!(rate(&reg("ripencc")["per_minute"]["requests"]), 0.0);
    assert!((rate(&reg("arin")["per_minute"]["requests"]) - 140.0).abs() < 1e-6);
    assert!((rate(&reg("apnic")["per_minute"]["requests"]) - 60.0).abs() < 1e-6);
    // Latency: the worst among the working nodes' latest samples.
    assert_eq!(reg("arin")["latency"]["p99_ms"], 800);
    assert_eq!(reg("apnic")["latency"]["p99_ms"], 250);
    // Latest per node.
    let node = |name: &str| {
        r["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["worker_id"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(node("w-a")["samples"], 3);
    assert_eq!(node("w-a")["state"], "ok");
    assert_eq!(node("w-a")["hostname"], "w-a.test");
    assert_eq!(node("w-a")["in_flight"], 2);
    assert_eq!(node("w-b")["state"], "stopped");
    assert_eq!(node("crawler-1")["samples"], 0);
    assert_eq!(r["node_counts"]["stopped"], 1);
    assert_eq!(r["stale_nodes"], serde_json::json!([]));
    // Progress from the outcomes.
    let conn = open(&f.db);
    let settled = count(&conn, "SELECT count(*) FROM outcomes");
    let p = &r["progress"];
    assert_eq!(p["seed_ips"], 1280 + 64);
    assert_eq!(p["settled"], settled);
    assert_eq!(
        p["by_kind"]["failed"],
        count(&conn, "SELECT count(*) FROM outcomes WHERE kind = 'failed'")
    );
    assert!(rate(&p["settled_per_minute"]) > 0.0);
    assert!(p["eta_s"].as_u64().is_some(), "{p}");

    // Nodes that went silent are flagged stale; the stopped one is not.
    let mut r = Value::Null;
    let flagged = rdapfleet_testkit::wait_until(Duration::from_secs(15), || {
        r = json(&["--stale-after", "1s"]);
        r["stale_nodes"].as_array().is_some_and(|a| a.len() == 3)
    });
    assert!(flagged, "{r}");
    assert_eq!(
        r["stale_nodes"],
        serde_json::json!(["crawler-1", "w-a", "w-c"])
    );
    assert_eq!(r["per_minute"]["requests"], 0.0);

    // The text view, per node.
    let out = ok(
        cmd(&["telemetry", "--per-node", "--stale-after", "1h"], &f.db)
            .output()
            .unwrap(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("progress: {settled}/1344 seed IPs settled")),
        "{text}"
    );
    assert!(
        text.contains("nodes: 3 reporting, 1 stopped, 0 stale"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("w-b ") && l.ends_with("stopped")),
        "{text}"
    );

    // --watch off a terminal prints a view per refresh until stopped.
    let mut watch = rdapfleet_testkit::ChildProcess::start(
        BIN,
        [
            "telemetry",
            "--watch",
            "--json",
            "--interval",
            "200ms",
            "--db",
            f.db.to_str().unwrap(),
        ],
    );
    assert!(rdapfleet_testkit::wait_until(
        Duration::from_secs(10),
        || watch.stdout().lines().count() >= 3
    ));
    watch.signal(libc::SIGINT);
    let status = watch
        .wait_exit(Duration::from_secs(10))
        .expect("exits on SIGINT");
    assert!(status.success(), "{status:?}");
    for l in watch.stdout().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["progress"]["seed_ips"], 1344);
    }
    stop(coordinator);
}

/// Every file in `dir` with its size and a hash of its bytes; SQLite's sidecar files of a WAL
/// database (`-shm`, and an empty `-wal`), which any reader may leave, are left out.
fn snapshot(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let e = e.as_ref().unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let empty = e.metadata().map(|m| m.len() == 0).unwrap_or(false);
            !(name.ends_with("-shm") || (name.ends_with("-wal") && empty))
        })
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (
                e.file_name().to_string_lossy().into_owned(),
                (bytes.len(), h.finish()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_1_with_one_line_and_changes_nothing() {
    let Crawled { f, coordinator, .. } = crawled(&[]).await;
    stop(coordinator);
    let dir = f.dir.path();
    let corrupt = dir.join("corrupt.sqlite");
    std::fs::write(
        &corrupt,
        b"this is not a database, just some bytes ".repeat(100),
    )
    .unwrap();
    let missing = dir.join("missing.sqlite");
    let before = snapshot(dir);
    let db = f.db.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["export", "--db", missing.to_str().unwrap()],
            "no such file",
        ),
        (
            vec!["coverage", "--db", missing.to_str().unwrap()],
            "no such file",
        ),
        (
            vec!["lookup", "--db", missing.to_str().unwrap(), "8.8.8.8"],
            "no such file",
        ),
        (
            vec!["telemetry", "--db", missing.to_str().unwrap()],
            "no such file",
        ),
        (
            vec!["export", "--db", corrupt.to_str().unwrap()],
            "corrupt.sqlite",
        ),
        (
            vec![
                "coverage",
                "--db",
                corrupt.to_str().unwrap(),
                "--png",
                "x.png",
            ],
            "corrupt.sqlite",
        ),
        (
            vec!["lookup", "--db", corrupt.to_str().unwrap()],
            "corrupt.sqlite",
        ),
        (
            vec!["telemetry", "--db", corrupt.to_str().unwrap()],
            "corrupt.sqlite",
        ),
        (vec!["export", "--db", db, "--compress", "lzma"], "lzma"),
        (vec!["export", "--db", db, "--layout", "csv"], "csv"),
        (
            vec!["export", "--db", db, "--networks", "--layout", "ipwhois"],
            "no per-network form",
        ),
        (
            vec!["export", "--db", db, "--out", "/nonexistent-dir/x.jsonl"],
            "cannot create /nonexistent-dir/x.jsonl",
        ),
        (
            vec!["coverage", "--db", db, "--resolution", "16"],
            "invalid resolution",
        ),
        (vec!["coverage", "--db", db, "--top", "many"], "many"),
        (
            vec!["coverage", "--db", db, "--png", "/nonexistent-dir/map.png"],
            "cannot create",
        ),
        (
            vec!["telemetry", "--db", db, "--window", "5 parsecs"],
            "invalid duration",
        ),
        (
            vec!["telemetry", "--db", db, "--window", "0s"],
            "--window must be at least 1s",
        ),
        (
            vec!["lookup", "--db", db, "8.8.8.8", "-"],
            "cannot be mixed",
        ),
        (
            vec!["lookup", "--db", db, "8.8.8.8", "8.8.8.300"],
            "1 of 2 arguments were not IPv4 addresses",
        ),
        (vec!["lookup"], "--db"),
    ];
    for (args, needle) in cases {
        let out = assert_cmd::Command::cargo_bin(BIN)
            .unwrap()
            .args(&args)
            .current_dir(dir)
            .env_remove("RDAPFLEET_DB")
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let last: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("rdapfleet-coordinator: error: "))
            .collect();
        assert_eq!(last.len(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        if args[0] != "lookup" || args.len() < 5 {
            assert!(
                out.stdout.is_empty(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        assert_eq!(snapshot(dir), before, "{args:?} changed the directory");
    }
}
