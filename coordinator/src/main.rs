//! `rdapfleet-coordinator`: parses flags, sets up logging, and calls the library.

use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdapfleet_coordinator::cli::{
    AddRangeArgs, Cli, Command, CompressArg, CoverageArgs, ExportArgs, LayoutArg, LogFormat,
    LookupArgs, ServeArgs, StatusArgs, TelemetryArgs,
};
use rdapfleet_coordinator::clock::system_now_ms;
use rdapfleet_coordinator::report::export::{self, Compression, ExportOptions, Layout};
use rdapfleet_coordinator::report::lookup::{Format, LookupTable};
use rdapfleet_coordinator::report::{self, AtomicFile, coverage, map, telemetry};
use rdapfleet_coordinator::{Error, Server, add_range, metrics, status};
use tokio_util::sync::CancellationToken;

const NAME: &str = "rdapfleet-coordinator";

fn main() -> ExitCode {
    let cli: Cli = match rdapfleet_cli::parse(NAME) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`lookup ... | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME}: error: {e:#}");
            let input = e
                .chain()
                .find_map(|c| c.downcast_ref::<Error>())
                .is_some_and(Error::is_input_error);
            ExitCode::from(if input { 1 } else { 2 })
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .or_else(|| match c.downcast_ref::<Error>() {
                Some(Error::Io(io)) => Some(io),
                _ => None,
            })
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Status(args) => show_status(&args),
        Command::AddRange(args) => add(&args),
        Command::Telemetry(args) => show_telemetry(args).await,
        Command::Export(args) => export(args).await,
        Command::Coverage(args) => show_coverage(&args),
        Command::Lookup(args) => lookup(&args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config();
    // The metrics listener is bound first: a refused address changes nothing in the database.
    if let Some(addr) = args.metrics_listen {
        metrics::install(addr)?;
    }
    let server = Server::open(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Input(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let shutdown = CancellationToken::new();
    if let Some(maddr) = args.metrics_listen {
        metrics::count_stored_networks(&args.db)?;
        tokio::spawn(metrics::run_gauges(
            server.shared().clone(),
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        tracing::info!(addr = %maddr, "serving Prometheus metrics on /metrics");
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}").context("writing to stdout")?;
        if let Some(maddr) = args.metrics_listen {
            writeln!(out, "metrics on http://{maddr}/metrics").context("writing to stdout")?;
        }
        out.flush().context("writing to stdout")?;
    }
    tokio::spawn(on_signal(shutdown.clone()));
    server.serve(listener, shutdown).await?;
    Ok(())
}

/// Wait for SIGTERM or SIGINT; returns its name.
async fn signal_received() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Cancel `shutdown` on SIGTERM or SIGINT.
async fn on_signal(shutdown: CancellationToken) {
    let name = signal_received().await;
    tracing::info!(signal = name, "shutting down");
    shutdown.cancel();
}

fn show_status(args: &StatusArgs) -> anyhow::Result<()> {
    let st = status::read(&args.db)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &st).context("writing JSON")?;
        writeln!(out).context("writing to stdout")?;
    } else {
        write!(out, "{}", st.render()).context("writing to stdout")?;
    }
    Ok(())
}

fn add(args: &AddRangeArgs) -> anyhow::Result<()> {
    let s = add_range::add_range(&args.db, &args.cidr, args.stride_prefix)?;
    println!(
        "added {} seed IPs in {} new batches ({} already present); the crawl now has {} seed IPs in {} batches",
        s.added, s.new_batches, s.already_present, s.ip_count, s.batch_count
    );
    Ok(())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn show_telemetry(args: TelemetryArgs) -> anyhow::Result<()> {
    if args.window < Duration::from_secs(1) {
        return Err(Error::Input("--window must be at least 1s".into()).into());
    }
    if args.watch && args.interval < Duration::from_millis(100) {
        return Err(Error::Input("--interval must be at least 100ms".into()).into());
    }
    let mut db = report::open(&args.db)?;
    let mut agg = telemetry::Aggregator::new(millis(args.window), millis(args.stale_after));
    let tty = std::io::stdout().is_terminal();
    let stop = signal_received();
    tokio::pin!(stop);
    let mut first = true;
    loop {
        if !db.served {
            // A seed file gains the coordinator's tables when `serve` first opens it.
            db.served = rdapfleet_coordinator::db::has_coordinator_tables(&db.conn)?;
        }
        let now = system_now_ms();
        agg.update(&db.conn, db.served, now)?;
        let r = agg.report(now);
        let mut out = std::io::stdout().lock();
        if args.json {
            // One object (one line per refresh with --watch).
            serde_json::to_writer(&mut out, &r).context("writing JSON")?;
            writeln!(out)?;
        } else if args.watch && tty {
            // Redraw in place: home, each line cleared to its end, the rest of the screen cleared.
            let text = telemetry::render_text(&r, args.per_node);
            let mut frame = String::with_capacity(text.len() + 256);
            frame.push_str(if first { "\x1b[2J\x1b[H" } else { "\x1b[H" });
            for line in text.lines() {
                frame.push_str(line);
                frame.push_str("\x1b[K\n");
            }
            frame.push_str("(refreshing every ");
            frame.push_str(&humantime::format_duration(args.interval).to_string());
            frame.push_str("; Ctrl-C to quit)\x1b[K\n\x1b[J");
            out.write_all(frame.as_bytes())?;
        } else {
            if !first {
                writeln!(out)?;
            }
            write!(out, "{}", telemetry::render_text(&r, args.per_node))?;
        }
        out.flush()?;
        drop(out);
        first = false;
        if !args.watch {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(args.interval) => {}
            _ = &mut stop => return Ok(()),
        }
    }
}

/// Compression asked for, or taken from the output file's extension.
fn compression_of(args: &ExportArgs) -> Compression {
    match args.compress {
        Some(CompressArg::None) => Compression::None,
        Some(CompressArg::Gzip) => Compression::Gzip,
        Some(CompressArg::Zstd) => Compression::Zstd,
        None => match args.out.extension().and_then(|e| e.to_str()) {
            Some("gz" | "gzip") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            _ => Compression::None,
        },
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let options = ExportOptions {
        networks: args.networks,
        layout: match args.layout {
            LayoutArg::Rdapfleet => Layout::Rdapfleet,
            LayoutArg::Ipwhois => Layout::Ipwhois,
        },
        compression: compression_of(&args),
    };
    options.validate()?;
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout && options.compression != Compression::None && std::io::stdout().is_terminal() {
        return Err(Error::Input(
            "refusing to write compressed data to a terminal; use --out FILE or a pipe".into(),
        )
        .into());
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            let name = signal_received().await;
            tracing::debug!(signal = name, "export interrupted");
            interrupted.store(true, Ordering::Relaxed);
        })
    };
    let result = tokio::task::spawn_blocking(move || run_export(&args, &options, &interrupted))
        .await
        .context("the export thread failed");
    signals.abort();
    result?
}

fn run_export(
    args: &ExportArgs,
    options: &ExportOptions,
    interrupted: &AtomicBool,
) -> anyhow::Result<()> {
    let db = report::open(&args.db)?;
    let total = export::row_count(&db, options)?;
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40.cyan/blue}] {human_pos}/{human_len} rows ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let progress = |rows: u64| {
        if let Some(b) = &bar {
            b.set_position(rows);
        }
        if interrupted.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let started = Instant::now();
    let (counts, written) = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        let c = export::export(&db, options, &mut out, progress)?;
        out.flush()?;
        (c, None)
    } else {
        let mut file = AtomicFile::create(&args.out)?;
        let c = export::export(&db, options, &mut file, progress)?;
        file.commit()?;
        let size = std::fs::metadata(&args.out).map(|m| m.len()).ok();
        (c, size)
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        let target = if args.out.as_os_str() == "-" {
            "stdout".to_string()
        } else {
            args.out.display().to_string()
        };
        let mut line = format!(
            "exported {} lines ({}",
            counts.lines,
            human_bytes(counts.bytes)
        );
        if let Some(w) = written.filter(|_| options.compression != Compression::None) {
            line.push_str(&format!(", {} compressed", human_bytes(w)));
        }
        line.push_str(&format!(
            ") to {target} in {secs:.1}s ({:.0} lines/s)",
            counts.lines as f64 / secs.max(1e-9)
        ));
        if counts.left_out > 0 {
            line.push_str(&format!(
                "; {} seed IPs without an answered network have no ipwhois line",
                counts.left_out
            ));
        }
        if counts.malformed > 0 {
            line.push_str(&format!(
                "; {} stored networks did not parse and were written as null",
                counts.malformed
            ));
        }
        eprintln!("{line}");
    }
    Ok(())
}

fn show_coverage(args: &CoverageArgs) -> anyhow::Result<()> {
    let db = report::open(&args.db)?;
    // Refuse an unwritable map location before the work, not after it.
    let png = args.png.as_deref().map(AtomicFile::create).transpose()?;
    let networks = coverage::load(&db)?;
    let r = coverage::compute(&networks, args.top);
    let mut map_note = None;
    if let (Some(mut file), Some(path)) = (png, &args.png) {
        let resolution = if args.resolution == 20 {
            map::Resolution::Slash20
        } else {
            map::Resolution::Slash24
        };
        let crawl =
            rdapfleet_seed::schema::get_meta(&db.conn, rdapfleet_seed::schema::META_CRAWL_ID)?
                .unwrap_or_default();
        let title = format!("rdapfleet coverage of IPv4, crawl {crawl}");
        let subtitle = format!(
            "{} networks, {:.2} % of IPv4, {:.2} % of non-special space; one pixel per /{}; {}",
            r.networks,
            100.0 * r.share_of_ipv4,
            100.0 * r.share_of_non_special,
            args.resolution,
            &report::rfc3339_ms(system_now_ms())[..10]
        );
        let layers = coverage::map_layers(&networks);
        let (w, h) = map::render_png(resolution, &title, &subtitle, &layers, &mut file)?;
        file.commit()?;
        map_note = Some(format!("\nmap: {} ({w} x {h} px)", path.display()));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r).context("writing JSON")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", coverage::render_text(&r))?;
        if let Some(n) = map_note {
            writeln!(out, "{n}")?;
        }
        if networks.damaged > 0 {
            writeln!(
                out,
                "({} stored networks with an impossible range were left out)",
                networks.damaged
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn lookup(args: &LookupArgs) -> anyhow::Result<()> {
    let from_stdin = args.ips.is_empty() || args.ips == ["-"];
    if !from_stdin && args.ips.iter().any(|a| a == "-") {
        return Err(Error::Input("`-` (read stdin) cannot be mixed with addresses".into()).into());
    }
    let db = report::open(&args.db)?;
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let table = LookupTable::load(&db, format)?;
    drop(db);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut errors = std::io::stderr().lock();
    let c = if from_stdin {
        table.answer_stream(std::io::stdin().lock(), &mut out, &mut errors)?
    } else {
        table.answer_args(&args.ips, &mut out, &mut errors)?
    };
    out.flush()?;
    if c.invalid > 0 {
        let what = if from_stdin { "lines" } else { "arguments" };
        return Err(Error::Input(format!(
            "{} of {} {what} were not IPv4 addresses",
            c.invalid,
            c.invalid + c.answered
        ))
        .into());
    }
    Ok(())
}
