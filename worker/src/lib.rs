//! The rdapfleet worker. For now: one-shot RDAP commands built on `rdapfleet-rdap` (`lookup`,
//! `parse`, `refresh-bootstrap`); the crawl loop (`run`) comes with a later issue.
//!
//! # Layout
//! - [`cli`]: clap flags of the `rdapfleet-worker` binary.
//! - [`lookup`]: one polite lookup, printed as the normalized network or the whole outcome.
//! - [`parse_file`]: the normalized network of a saved response.
//! - [`refresh`]: download, validate and atomically save IANA's `ipv4.json`.
//! - [`logging`]: tracing set-up (text or JSON on stderr).
//! - [`error`]: the crate's [`Error`], [`Result`] and exit codes.

pub mod cli;
pub mod error;
pub mod logging;
pub mod lookup;
pub mod parse_file;
pub mod refresh;

use std::io::Write;

pub use error::{Error, Result};
pub use lookup::Done;

/// Run one subcommand, writing its machine-readable output to `out`.
pub async fn run_command(command: &cli::Command, out: &mut dyn Write) -> Result<Done> {
    match command {
        cli::Command::Lookup(args) => lookup::run(args, out).await,
        cli::Command::Parse(args) => {
            parse_file::run(&args.file, args.compact, out).map(|()| Done::default())
        }
        cli::Command::RefreshBootstrap(args) => refresh::run(args, out).await,
    }
}
