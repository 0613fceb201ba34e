//! `sim-bench`: how fast the simulator answers, and what the full world costs to build.
//!
//! Builds the world (full shipped world by default), reports build time and resident memory,
//! serves it in-process on 127.0.0.1:0 (or drives `--target http://ADDR`, e.g. a separate
//! `rdapfleet-sim serve`), and drives it with `--clients` keep-alive HTTP/1.1 connections
//! (hyper), each sending its share of `--requests` queries one after another and reading every
//! body. Two workloads: `answers` (addresses asked at the registry that holds them: all 200)
//! and `crawl` (random addresses asked at the registry the bootstrap designates: 200s,
//! redirects and 404s, redirects not followed). Each is run `--rounds` times; the median is
//! reported.
//!
//! `cargo run --release -p rdapfleet-sim --bin sim-bench`

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rdapfleet_ranges::{Range, parse_cidr};
use rdapfleet_rdap::Registry;
use rdapfleet_sim::dialect::base_url;
use rdapfleet_sim::world::mix;
use rdapfleet_sim::{DataSource, SimConfig, World};
use tokio_util::sync::CancellationToken;

/// Measure the simulator: world build time and memory, answers per second.
#[derive(Debug, Parser)]
#[command(name = "sim-bench", version, about)]
struct Args {
    /// Queries per round and workload (the plans are built in memory first: at most 10 million).
    #[arg(long, default_value_t = 200_000, env = "RDAPFLEET_SIM_BENCH_REQUESTS", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    requests: u64,
    /// Concurrent keep-alive connections (1 to 10,000).
    #[arg(long, default_value_t = 32, env = "RDAPFLEET_SIM_BENCH_CLIENTS", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    clients: u64,
    /// Rounds per workload (the median is reported; 1 to 1,000).
    #[arg(long, default_value_t = 3, env = "RDAPFLEET_SIM_BENCH_ROUNDS", value_parser = clap::value_parser!(u64).range(1..=1_000))]
    rounds: u64,
    /// Worker threads of the in-process server's runtime (1 to 1,024).
    #[arg(long, default_value_t = 2, env = "RDAPFLEET_SIM_BENCH_SERVER_THREADS", value_parser = clap::value_parser!(u64).range(1..=1_024))]
    server_threads: u64,
    /// Worker threads of the clients' runtime (1 to 1,024).
    #[arg(long, default_value_t = 2, env = "RDAPFLEET_SIM_BENCH_CLIENT_THREADS", value_parser = clap::value_parser!(u64).range(1..=1_024))]
    client_threads: u64,
    /// Restrict the world to these CIDRs (default: the full world).
    #[arg(long = "only", value_name = "CIDR", value_parser = |s: &str| parse_cidr(s).map_err(|e| e.to_string()))]
    only: Vec<Range>,
    /// Drive an already running simulator at this origin (`http://127.0.0.1:PORT`) instead of
    /// serving in-process; it must serve the same world (same --only).
    #[arg(long, value_name = "ORIGIN", env = "RDAPFLEET_SIM_BENCH_TARGET")]
    target: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn rss_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.to_string();
            let text = text.split("\n\n").next().unwrap_or("").trim();
            eprintln!("sim-bench: error: {}", text.trim_start_matches("error: "));
            return ExitCode::from(1);
        }
    };
    match bench(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One query: path and whether a 200 is expected.
type Plan = Vec<String>;

fn plans(world: &World, n: u64) -> (Plan, Plan) {
    let nets = world.nets();
    let mut answers = Vec::with_capacity(n as usize);
    let mut crawl = Vec::with_capacity(n as usize);
    let mut i = 0u64;
    while answers.len() < n as usize && !nets.is_empty() {
        let h = mix(i);
        i += 1;
        let net = &nets[(h % nets.len() as u64) as usize];
        let ip = net.range.start + ((h >> 32) % net.range.size()) as u32;
        // Most specific network of that address (maybe a child of `net`).
        let Some(id) = world.lookup(ip) else { continue };
        let holder = world.net(id).registry;
        answers.push(path(holder, ip));
    }
    let mut j = 0u64;
    while crawl.len() < n as usize {
        let ip = mix(j ^ 0xC0FFEE) as u32;
        j += 1;
        let asked = world.designated(ip).unwrap_or(Registry::Arin);
        crawl.push(path(asked, ip));
    }
    (answers, crawl)
}

fn path(r: Registry, ip: u32) -> String {
    format!("{}/ip/{}", base_url("", r), Ipv4Addr::from(ip))
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
struct Round {
    seconds: f64,
    requests: u64,
    answers: u64,
    redirects: u64,
    not_found: u64,
    other: u64,
    bytes: u64,
}

impl Round {
    fn answers_per_s(&self) -> f64 {
        self.answers as f64 / self.seconds
    }
    fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

async fn client(host: String, paths: Arc<Plan>, from: usize, to: usize) -> anyhow::Result<Round> {
    let stream = tokio::net::TcpStream::connect(&host)
        .await
        .with_context(|| format!("connect {host}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut r = Round::default();
    for p in &paths[from..to] {
        let req = hyper::Request::get(p.as_str())
            .header(hyper::header::HOST, host.as_str())
            .body(Empty::<Bytes>::new())?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        r.requests += 1;
        r.bytes += body.len() as u64;
        match status {
            200 => r.answers += 1,
            300..=399 => r.redirects += 1,
            404 => r.not_found += 1,
            _ => r.other += 1,
        }
    }
    Ok(r)
}

async fn round(host: &str, paths: Arc<Plan>, clients: u64) -> anyhow::Result<Round> {
    let n = paths.len();
    let per = n.div_ceil(clients as usize);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients as usize {
        let (from, to) = ((c * per).min(n), ((c + 1) * per).min(n));
        tasks.push(tokio::spawn(client(
            host.to_string(),
            paths.clone(),
            from,
            to,
        )));
    }
    let mut total = Round::default();
    for t in tasks {
        let r = t.await??;
        total.requests += r.requests;
        total.answers += r.answers;
        total.redirects += r.redirects;
        total.not_found += r.not_found;
        total.other += r.other;
        total.bytes += r.bytes;
    }
    total.seconds = t0.elapsed().as_secs_f64();
    Ok(total)
}

fn median(mut rounds: Vec<Round>, key: fn(&Round) -> f64) -> Round {
    rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
    rounds[rounds.len() / 2]
}

fn bench(args: Args) -> anyhow::Result<()> {
    if args.clients == 0 || args.rounds == 0 || args.requests == 0 {
        bail!("--clients, --rounds and --requests must be at least 1");
    }
    let rss_before = rss_kib("VmRSS:").unwrap_or(0);
    let t0 = Instant::now();
    let world = Arc::new(World::load(&DataSource::Shipped, &args.only)?);
    let build = t0.elapsed();
    let rss_world = rss_kib("VmRSS:").unwrap_or(0);
    let peak_build = rss_kib("VmHWM:").unwrap_or(0);
    let info = world.info();
    let (answers, crawl) = plans(&world, args.requests);
    let (answers, crawl) = (Arc::new(answers), Arc::new(crawl));

    // The server: in-process on its own runtime, or an external one.
    let shutdown = CancellationToken::new();
    let mut server_rt = None;
    let host = match &args.target {
        Some(t) => t
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        None => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.server_threads as usize)
                .thread_name("sim-server")
                .enable_all()
                .build()?;
            let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            let addr = listener.local_addr()?;
            let config = SimConfig::new(world.clone());
            rt.spawn(rdapfleet_sim::run(listener, config, shutdown.clone()));
            server_rt = Some(rt);
            addr.to_string()
        }
    };
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads as usize)
        .thread_name("sim-bench-client")
        .enable_all()
        .build()?;
    let mut results = serde_json::Map::new();
    let mut text = String::new();
    text.push_str(&format!(
        "world: {} networks ({} delegations) built in {:.2} s; RSS {:.1} MiB after build ({:.1} MiB before), peak {:.1} MiB\n",
        info.total.networks,
        info.total.allocations,
        build.as_secs_f64(),
        rss_world as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        peak_build as f64 / 1024.0
    ));
    for (name, plan) in [("answers", &answers), ("crawl", &crawl)] {
        // Warm-up (connections, caches), not measured.
        let warm: Arc<Plan> = Arc::new(plan[..plan.len().min(2_000)].to_vec());
        clients_rt.block_on(round(&host, warm, args.clients))?;
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            rounds.push(clients_rt.block_on(round(&host, plan.clone(), args.clients))?);
        }
        let all: Vec<f64> = rounds.iter().map(Round::answers_per_s).collect();
        let m = median(rounds, Round::requests_per_s);
        text.push_str(&format!(
            "{name:<8} {} clients, {} requests x {} rounds: median {:.0} answers/s, {:.0} requests/s ({} answers, {} redirects, {} not found, {} other; {:.1} KiB/answer); answers/s per round {:?}\n",
            args.clients,
            args.requests,
            args.rounds,
            m.answers_per_s(),
            m.requests_per_s(),
            m.answers,
            m.redirects,
            m.not_found,
            m.other,
            m.bytes as f64 / m.requests.max(1) as f64 / 1024.0,
            all.iter().map(|v| v.round() as u64).collect::<Vec<_>>()
        ));
        results.insert(
            name.to_string(),
            serde_json::json!({
                "median": m,
                "median_answers_per_s": m.answers_per_s(),
                "median_requests_per_s": m.requests_per_s(),
                "answers_per_s_per_round": all,
            }),
        );
    }
    shutdown.cancel();
    if let Some(rt) = server_rt {
        rt.shutdown_timeout(Duration::from_secs(5));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = serde_json::json!({
            "world": {
                "networks": info.total.networks,
                "delegations": info.total.allocations,
                "build_seconds": build.as_secs_f64(),
                "rss_after_build_kib": rss_world,
                "rss_before_build_kib": rss_before,
                "peak_rss_kib": peak_build,
                "heap_bytes": info.heap_bytes,
            },
            "clients": args.clients,
            "requests": args.requests,
            "rounds": args.rounds,
            "workloads": results,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}
