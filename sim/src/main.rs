//! `rdapfleet-sim`: serve a local five-registry RDAP world, print ground truth and world
//! counts, or re-derive the shipped world tables. See the library documentation.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rdapfleet_ranges::{Range, parse_cidr, parse_ipv4};
use rdapfleet_sim::config::{
    FaultConfig, FractionSpec, Outage, OutageMode, RateSpec, SimConfig, fold_fractions,
    parse_duration, validate_statuses,
};
use rdapfleet_sim::{DataSource, World};
use tokio_util::sync::CancellationToken;

const BIN: &str = "rdapfleet-sim";

/// A local RDAP world with five registries, built from real registry data.
#[derive(Debug, Parser)]
#[command(name = BIN, version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "RDAPFLEET_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the five registries on one listener; prints `listening on ADDR` once ready.
    Serve(Box<ServeArgs>),
    /// Print the ground truth for each IP (arguments, or one per line on stdin) as JSON lines.
    Truth(TruthArgs),
    /// Print the world's counts per registry and its build time and memory.
    WorldInfo(InfoArgs),
    /// Re-derive the shipped world tables from the raw public data (shared/data).
    DeriveData(DeriveArgs),
}

#[derive(Debug, Args)]
struct WorldArgs {
    /// Directory with iana-slash8.csv, allocations-ipv4.csv.gz and asn-ipv4-2026.csv.gz
    /// (default: the tables shipped in the binary).
    #[arg(long, value_name = "DIR", env = "RDAPFLEET_SIM_WORLD")]
    world: Option<PathBuf>,
    /// Keep only the delegations overlapping this CIDR, whole, with everything inside them
    /// (repeatable; addresses inside the slices answer as in the full world).
    #[arg(long = "only", value_name = "CIDR", value_parser = parse_only, env = "RDAPFLEET_SIM_ONLY", value_delimiter = ',')]
    only: Vec<Range>,
}

impl WorldArgs {
    fn load(&self) -> Result<World, rdapfleet_sim::Error> {
        let source = match &self.world {
            Some(d) => DataSource::Dir(d.clone()),
            None => DataSource::Shipped,
        };
        World::load(&source, &self.only)
    }
}

fn parse_only(s: &str) -> Result<Range, String> {
    parse_cidr(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        env = "RDAPFLEET_SIM_LISTEN"
    )]
    listen: SocketAddr,
    #[command(flatten)]
    world: WorldArgs,
    /// Write the RFC 9224 bootstrap file (every /8 to its designated registry) here once bound.
    #[arg(long, value_name = "FILE", env = "RDAPFLEET_SIM_BOOTSTRAP_OUT")]
    bootstrap_out: Option<PathBuf>,
    /// Write one JSON line per RDAP request here.
    #[arg(long, value_name = "FILE", env = "RDAPFLEET_SIM_REQUEST_LOG")]
    request_log: Option<PathBuf>,
    /// Rate limit per client address: REGISTRY=N/UNIT[,N/UNIT...] (repeatable; `all=` for every
    /// registry), e.g. lacnic=10/min,1000/h. Answered 429 with Retry-After.
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_RATE",
        value_delimiter = ';'
    )]
    rate: Vec<RateSpec>,
    /// Status of LACNIC's "Rate Limit Notice" answer (the real one is a bare JSON notice).
    #[arg(
        long,
        value_name = "STATUS",
        default_value_t = 429,
        env = "RDAPFLEET_SIM_LACNIC_LIMIT_STATUS"
    )]
    lacnic_limit_status: u16,
    /// Outage window relative to start: REGISTRY=START..END[:refuse|:503] (repeatable), e.g.
    /// ripencc=10s..40s. `refuse` closes connections to that registry's paths unanswered.
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_OUTAGE",
        value_delimiter = ';'
    )]
    outage: Vec<Outage>,
    /// Mode of outage windows that do not name one.
    #[arg(long, value_enum, default_value_t = OutageModeArg::Refuse, env = "RDAPFLEET_SIM_OUTAGE_MODE")]
    outage_mode: OutageModeArg,
    /// Fraction of queries answered 500: REGISTRY=F[,REGISTRY=F...] or F for all (repeatable).
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_ERROR_RATE",
        value_delimiter = ';'
    )]
    error_rate: Vec<FractionSpec>,
    /// Fraction of queries answered after --slow-delay (same syntax as --error-rate).
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_SLOW_RATE",
        value_delimiter = ';'
    )]
    slow_rate: Vec<FractionSpec>,
    /// Delay of slow answers.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration, env = "RDAPFLEET_SIM_SLOW_DELAY")]
    slow_delay: Duration,
    /// Fraction of network answers whose JSON is cut in half (same syntax as --error-rate).
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_TRUNCATE_RATE",
        value_delimiter = ';'
    )]
    truncate_rate: Vec<FractionSpec>,
    /// Fraction of network answers padded beyond 1 MiB (same syntax as --error-rate).
    #[arg(
        long,
        value_name = "SPEC",
        env = "RDAPFLEET_SIM_OVERSIZE_RATE",
        value_delimiter = ';'
    )]
    oversize_rate: Vec<FractionSpec>,
    /// Seed of the fault rolls (faults are a function of seed and request number).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "RDAPFLEET_SIM_FAULT_SEED"
    )]
    fault_seed: u64,
    /// Status of redirects to the registry holding a block (301, 302, 303, 307 or 308).
    #[arg(
        long,
        value_name = "STATUS",
        default_value_t = 302,
        env = "RDAPFLEET_SIM_REDIRECT_STATUS"
    )]
    redirect_status: u16,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutageModeArg {
    /// Close the connection without answering.
    Refuse,
    /// Answer 503.
    #[value(name = "503")]
    Unavailable,
}

#[derive(Debug, Args)]
struct TruthArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// IPv4 addresses (none: read one per line from stdin).
    #[arg(value_name = "IP")]
    ips: Vec<String>,
}

#[derive(Debug, Args)]
struct InfoArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DeriveArgs {
    /// The raw data directory (with iana/, rir-stats/, world/).
    #[arg(long, value_name = "DIR", env = "RDAPFLEET_SIM_DERIVE_FROM")]
    from: PathBuf,
    /// Where to write the tables (the repository's sim/data).
    #[arg(long, value_name = "DIR", env = "RDAPFLEET_SIM_DERIVE_OUT")]
    out: PathBuf,
}

/// An error with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn input(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 1,
        error: e.into(),
    }
}

fn unexpected(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: e.into(),
    }
}

fn from_lib(e: rdapfleet_sim::Error) -> Failure {
    match e {
        rdapfleet_sim::Error::Server(_) => unexpected(e),
        _ => input(e),
    }
}

fn main() -> ExitCode {
    let cli: Cli = match rdapfleet_cli::parse(BIN) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_tracing(cli.log_format);
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{BIN}: error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Truth(args) => truth(args),
        Command::WorldInfo(args) => world_info(args),
        Command::DeriveData(args) => {
            let t0 = std::time::Instant::now();
            let report = rdapfleet_sim::derive::derive(&args.from, &args.out).map_err(from_lib)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &report).map_err(unexpected)?;
            writeln!(out).map_err(unexpected)?;
            eprintln!(
                "derived tables into {} in {:.1}s",
                args.out.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    // Refuse bad values before the world is built.
    validate_statuses(args.redirect_status, args.lacnic_limit_status)
        .map_err(|e| input(anyhow::anyhow!(e)))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(unexpected)?;
    // Bind before building the world too: an address in use or not local is a configuration
    // error (exit 1) and is reported at once, without spending the world's build time.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .with_context(|| format!("cannot listen on {}", args.listen))
        .map_err(input)?;
    let world = Arc::new(args.world.load().map_err(from_lib)?);
    tracing::info!(
        networks = world.len(),
        build_ms = world.build_time().as_millis() as u64,
        "world built"
    );
    let mut config = SimConfig::new(world);
    config.rates = args.rate;
    config.outages = args.outage;
    config.outage_mode = match args.outage_mode {
        OutageModeArg::Refuse => OutageMode::Refuse,
        OutageModeArg::Unavailable => OutageMode::Unavailable,
    };
    config.faults = FaultConfig {
        seed: args.fault_seed,
        error_rate: fold_fractions(&args.error_rate),
        slow_rate: fold_fractions(&args.slow_rate),
        slow_delay: args.slow_delay,
        truncate_rate: fold_fractions(&args.truncate_rate),
        oversize_rate: fold_fractions(&args.oversize_rate),
    };
    config.redirect_status = args.redirect_status;
    config.lacnic_limit_status = args.lacnic_limit_status;
    config.request_log = args.request_log;
    config.bootstrap_out = args.bootstrap_out;
    config.validate().map_err(|e| input(anyhow::anyhow!(e)))?;

    rt.block_on(async move {
        let mut config = config;
        let addr = listener.local_addr().map_err(unexpected)?;
        // Write the bootstrap file before announcing the address, so that whoever reads the
        // line can use the file at once.
        if let Some(path) = config.bootstrap_out.take() {
            rdapfleet_sim::bootstrap::write(&config.world, &format!("http://{addr}"), &path)
                .map_err(from_lib)?;
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {addr}").map_err(unexpected)?;
            out.flush().map_err(unexpected)?;
        }
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received, shutting down");
            signals.cancel();
        });
        rdapfleet_sim::run(listener, config, shutdown)
            .await
            .map_err(from_lib)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn truth(args: TruthArgs) -> Result<(), Failure> {
    let world = args.world.load().map_err(from_lib)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = 0u64;
    let mut one = |text: &str, out: &mut dyn Write| -> Result<(), Failure> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        match parse_ipv4(text) {
            Ok(ip) => {
                let t = rdapfleet_sim::truth::truth(&world, ip);
                serde_json::to_writer(&mut *out, &t).map_err(unexpected)?;
            }
            Err(e) => {
                bad += 1;
                serde_json::to_writer(
                    &mut *out,
                    &serde_json::json!({"ip": text, "error": e.to_string()}),
                )
                .map_err(unexpected)?;
            }
        }
        writeln!(out).map_err(unexpected)
    };
    if args.ips.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading stdin").map_err(input)?;
            one(&line, &mut out)?;
        }
    } else {
        for ip in &args.ips {
            one(ip, &mut out)?;
        }
    }
    out.flush().map_err(unexpected)?;
    if bad > 0 {
        return Err(input(anyhow::anyhow!(
            "{bad} input line(s) were not IPv4 addresses"
        )));
    }
    Ok(())
}

/// Peak resident set size of this process, from /proc (Linux), in bytes.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn world_info(args: InfoArgs) -> Result<(), Failure> {
    let world = args.world.load().map_err(from_lib)?;
    let info = world.info();
    let rss = peak_rss();
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = serde_json::to_value(&info).map_err(unexpected)?;
        v["peak_rss_bytes"] = serde_json::json!(rss);
        serde_json::to_writer_pretty(&mut out, &v).map_err(unexpected)?;
        writeln!(out).map_err(unexpected)?;
        return Ok(());
    }
    let w = |out: &mut std::io::StdoutLock<'_>, s: String| writeln!(out, "{s}").map_err(unexpected);
    w(
        &mut out,
        format!(
            "{:<10} {:>10} {:>12} {:>12} {:>10} {:>14}",
            "registry", "networks", "allocations", "assignments", "leaves", "addresses"
        ),
    )?;
    for (name, r) in info
        .registries
        .iter()
        .map(|(n, r)| (n.as_str(), r))
        .chain(std::iter::once(("total", &info.total)))
    {
        w(
            &mut out,
            format!(
                "{:<10} {:>10} {:>12} {:>12} {:>10} {:>14}",
                name, r.networks, r.allocations, r.assignments, r.leaves, r.addresses
            ),
        )?;
    }
    w(
        &mut out,
        format!(
            "organisations {}; delegations dropped (overlap) {}; routed ranges outside delegations {}",
            info.organisations,
            info.overlapping_delegations_dropped,
            info.assignments_outside_delegations
        ),
    )?;
    if !info.only.is_empty() {
        w(&mut out, format!("only: {}", info.only.join(", ")))?;
    }
    w(
        &mut out,
        format!(
            "built in {} ms; world heap ~{:.1} MiB; peak RSS {}",
            info.build_ms,
            info.heap_bytes as f64 / (1 << 20) as f64,
            rss.map_or("unknown".to_string(), |b| format!(
                "{:.1} MiB",
                b as f64 / (1 << 20) as f64
            ))
        ),
    )?;
    Ok(())
}
