//! `rdapfleet-coordinator`: parses flags, sets up logging, and calls the library.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use rdapfleet_coordinator::cli::{AddRangeArgs, Cli, Command, LogFormat, ServeArgs, StatusArgs};
use rdapfleet_coordinator::{Error, Server, add_range, status};
use tokio_util::sync::CancellationToken;

const NAME: &str = "rdapfleet-coordinator";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
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

/// Print clap's outcome: help and version as clap renders them (exit 0), usage errors as one
/// line (exit 1).
fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(1)
        }
        _ => {
            // clap's message up to its usage block, folded onto one line.
            let rendered = e.render().to_string();
            let message = rendered
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.trim_start_matches("error: ");
            eprintln!("{NAME}: error: {message} (see --help)");
            ExitCode::from(1)
        }
    }
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
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config();
    let server = Server::open(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Input(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}").context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()));
    server.serve(listener, shutdown).await?;
    Ok(())
}

/// Cancel `shutdown` on SIGTERM or SIGINT.
async fn on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
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
