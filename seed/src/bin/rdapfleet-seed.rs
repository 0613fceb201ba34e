//! `rdapfleet-seed`: generate and inspect rdapfleet seed files. A thin layer over the
//! `rdapfleet_seed` library: parse flags, call it, print one summary line or one error line.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rdapfleet_seed::{
    SeedPlan, Strategy, parse_cidrs, read_info, schema, write_seed_file_with_progress,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Generate and inspect rdapfleet seed files (the SQLite list of IPv4 addresses, cut into
/// batches, that the coordinator hands out).
#[derive(Debug, Parser)]
#[command(name = "rdapfleet-seed", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new seed file.
    Generate(GenerateArgs),
    /// Print a seed file's metadata and counts.
    Info(InfoArgs),
}

/// Seed strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    /// The 2016 list, bit for bit: 4,706,768 addresses.
    Lattice2016,
    /// One address per /N block (--stride-prefix) outside IANA special-purpose space.
    Stride,
    /// Every address of the --include ranges (small test slices).
    Ranges,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Seed file to write (SQLite). Written to a temporary file next to it, then renamed.
    #[arg(long, value_name = "FILE", env = "RDAPFLEET_SEED_OUT")]
    out: PathBuf,

    /// Which addresses to seed.
    #[arg(
        long,
        value_enum,
        default_value = "lattice2016",
        env = "RDAPFLEET_SEED_STRATEGY"
    )]
    strategy: StrategyArg,

    /// Block size of the stride strategy as a prefix length, 8..=32 (24 when not given):
    /// one address per /N block.
    #[arg(long, value_name = "N", env = "RDAPFLEET_SEED_STRIDE_PREFIX",
          value_parser = clap::value_parser!(u8).range(8..=32))]
    stride_prefix: Option<u8>,

    /// Only seed addresses inside this CIDR (repeatable; a bare address is a /32).
    #[arg(
        long,
        value_name = "CIDR",
        env = "RDAPFLEET_SEED_INCLUDE",
        value_delimiter = ','
    )]
    include: Vec<String>,

    /// Never seed addresses inside this CIDR (repeatable).
    #[arg(
        long,
        value_name = "CIDR",
        env = "RDAPFLEET_SEED_EXCLUDE",
        value_delimiter = ','
    )]
    exclude: Vec<String>,

    /// Contiguous addresses per batch (the last batch is shorter).
    #[arg(long, value_name = "N", default_value_t = rdapfleet_seed::DEFAULT_BATCH_SIZE,
          env = "RDAPFLEET_SEED_BATCH_SIZE",
          value_parser = clap::value_parser!(u64).range(1..=rdapfleet_seed::strategy::MAX_BATCH_SIZE as u64).map(|v| v as usize))]
    batch_size: usize,

    /// Seed of the hand-out order of batches (same seed, same order).
    #[arg(long, value_name = "N", default_value_t = rdapfleet_seed::DEFAULT_SHUFFLE_SEED,
          env = "RDAPFLEET_SEED_SHUFFLE_SEED")]
    shuffle_seed: u64,

    /// Replace the output file if it exists.
    #[arg(long, env = "RDAPFLEET_SEED_FORCE")]
    force: bool,

    /// Print nothing on success (no progress bar, no summary line).
    #[arg(long, short, env = "RDAPFLEET_SEED_QUIET")]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct InfoArgs {
    /// Seed file to describe.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Print JSON on stdout instead of a table.
    #[arg(long, env = "RDAPFLEET_SEED_JSON")]
    json: bool,
}

/// An error with the exit code it deserves: 1 for input and usage errors, 130 when
/// interrupted (as a shell reports Ctrl-C), 2 for the rest.
struct Failure {
    error: anyhow::Error,
    code: u8,
}

impl Failure {
    fn classify(error: anyhow::Error, input_by_default: bool) -> Self {
        let code = match error.downcast_ref::<rdapfleet_seed::Error>() {
            Some(rdapfleet_seed::Error::Interrupted) => 130,
            Some(e) if input_by_default || e.is_input_error() => 1,
            Some(_) => 2,
            None if input_by_default => 1,
            None => 2,
        };
        Self { error, code }
    }
}

fn main() -> ExitCode {
    let cli: Cli = match rdapfleet_cli::parse("rdapfleet-seed") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let result = match cli.command {
        Command::Generate(args) => generate(args).map_err(|e| Failure::classify(e, false)),
        Command::Info(args) => info(args).map_err(|e| Failure::classify(e, true)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("rdapfleet-seed: error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let strategy = match args.strategy {
        StrategyArg::Lattice2016 | StrategyArg::Ranges if args.stride_prefix.is_some() => {
            return Err(rdapfleet_seed::Error::InvalidPlan(
                "--stride-prefix only applies to --strategy stride".into(),
            )
            .into());
        }
        StrategyArg::Lattice2016 => Strategy::Lattice2016,
        StrategyArg::Ranges => Strategy::Ranges,
        StrategyArg::Stride => Strategy::Stride {
            prefix: args
                .stride_prefix
                .unwrap_or(rdapfleet_seed::DEFAULT_STRIDE_PREFIX),
        },
    };
    let plan = SeedPlan {
        strategy,
        includes: parse_cidrs(&args.include)?,
        excludes: parse_cidrs(&args.exclude)?,
        batch_size: args.batch_size,
        shuffle_seed: args.shuffle_seed,
    };

    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} writing {pos}/{len} addresses {wide_bar} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    // Ctrl-C or SIGTERM stops the write between two progress calls; the temporary file is
    // removed and nothing is left behind.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .context("cannot install the signal handler")?;
    }
    let mut progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
        if interrupted.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let summary = write_seed_file_with_progress(&args.out, &plan, args.force, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    if !args.quiet {
        eprintln!(
            "rdapfleet-seed: wrote {} ({}): {} addresses in {} batches of {} in {:.2}s",
            summary.path.display(),
            summary.strategy,
            summary.ip_count,
            summary.batch_count,
            summary.batch_size,
            summary.elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn info(args: InfoArgs) -> anyhow::Result<()> {
    let info = read_info(&args.file)
        .with_context(|| format!("cannot read seed file {}", args.file.display()))?;
    if args.json {
        let mut meta = serde_json::Map::new();
        for (k, v) in &info.meta {
            // params is itself JSON: embed it as an object rather than a string.
            let value = if k == schema::META_PARAMS {
                serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.clone()))
            } else {
                serde_json::Value::String(v.clone())
            };
            meta.insert(k.clone(), value);
        }
        let out = serde_json::json!({
            "path": info.path,
            "schema_version": info.schema_version,
            "journal_mode": info.journal_mode,
            "meta": meta,
            "counts": { "seeds": info.seeds, "batches": info.batches },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let width = info
            .meta
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0)
            .max(13);
        println!("{:width$}  {}", "file", info.path.display());
        for (k, v) in &info.meta {
            println!("{k:width$}  {v}");
        }
        println!("{:width$}  {}", "journal_mode", info.journal_mode);
        println!("{:width$}  {}", "seeds (rows)", info.seeds);
        println!("{:width$}  {}", "batches (rows)", info.batches);
    }
    Ok(())
}
