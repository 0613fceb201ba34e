//! The rdapfleet worker: the crawl loop (`run`: lease batches from the coordinator, skip
//! addresses inside known networks, look the rest up politely over RDAP, report every outcome)
//! and one-shot RDAP commands (`lookup`, `parse`, `refresh-bootstrap`).
//!
//! # Layout
//! - [`cli`]: clap flags of the `rdapfleet-worker` binary.
//! - [`start`]: `run`'s flags to a [`run::RunConfig`], signals, the spot-notice watcher.
//! - [`run`]: the crawl loop: hello, coverage replay, leasing, heartbeats, telemetry, draining.
//! - [`walk`]: one leased batch, in address order: skip or look up, report in chunks.
//! - [`coverage`]: the range index of known networks, fed by the Redis log and own results.
//! - [`session`]: the gRPC client to the coordinator (token, retries with backoff).
//! - [`telemetry`]: per-period samples from the RDAP client's counters.
//! - [`metrics`]: Prometheus metrics (`--metrics-listen`), sampled from the same counters.
//! - [`spot`]: EC2 spot interruption notices (IMDSv2).
//! - [`lookup`]: one polite lookup, printed as the normalized network or the whole outcome.
//! - [`parse_file`]: the normalized network of a saved response.
//! - [`refresh`]: download, validate and atomically save IANA's `ipv4.json`.
//! - [`logging`]: tracing set-up (text or JSON on stderr).
//! - [`error`]: the crate's [`Error`], [`Result`] and exit codes.

pub mod cli;
pub mod coverage;
pub mod error;
pub mod logging;
pub mod lookup;
pub mod metrics;
pub mod parse_file;
pub mod refresh;
pub mod run;
pub mod session;
pub mod spot;
pub mod start;
pub mod telemetry;
pub mod walk;

use std::io::Write;

pub use error::{Error, Result};
pub use lookup::Done;

/// Run one subcommand, writing its machine-readable output to `out`.
pub async fn run_command(command: &cli::Command, out: &mut dyn Write) -> Result<Done> {
    match command {
        cli::Command::Run(args) => start::start(args).await,
        cli::Command::Lookup(args) => lookup::run(args, out).await,
        cli::Command::Parse(args) => {
            parse_file::run(&args.file, args.compact, out).map(|()| Done::default())
        }
        cli::Command::RefreshBootstrap(args) => refresh::run(args, out).await,
    }
}
