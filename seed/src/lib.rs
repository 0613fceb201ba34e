//! Seed lists for rdapfleet: which IPv4 addresses to ask about, cut into batches, written to the
//! SQLite seed file that the coordinator serves from.
//!
//! A [`SeedPlan`] names a [`Strategy`] (the 2016 lattice, one address per /N block, or every
//! address of some ranges), include/exclude ranges, a batch size and a shuffle seed.
//! [`generate_ips`] turns it into sorted addresses; [`write_seed_file`] cuts them into batches
//! of contiguous addresses, orders the batches' hand-out by a seeded permutation spread across
//! the address space ([`order`]), and writes the file atomically. While a crawl runs,
//! [`append_ips`] queues more addresses and [`batch_ips`] reads a batch back.
//!
//! ```no_run
//! use rdapfleet_seed::{SeedPlan, Strategy, write_seed_file};
//! let plan = SeedPlan::new(Strategy::Lattice2016);
//! let summary = write_seed_file("seed.sqlite".as_ref(), &plan, false)?;
//! assert_eq!(summary.ip_count, 4_706_768);
//! # Ok::<(), rdapfleet_seed::Error>(())
//! ```
//!
//! # Layout
//! - [`schema`]: the seed file's tables and meta keys (the contract with the coordinator).
//! - [`strategy`]: [`Strategy`], [`SeedPlan`], [`generate_ips`], the 2016 lattice, [`stride_ips`].
//! - [`order`]: the hand-out permutation of batches (bit reversal xor a seeded mask).
//! - [`write`](mod@write): [`write_seed_file`]: temporary file, bulk insert, WAL, atomic rename.
//! - [`append`]: [`append_ips`] for a running crawl, [`batch_ips`].
//! - [`info`]: [`read_info`], what `rdapfleet-seed info` prints.

pub mod append;
pub mod info;
pub mod order;
pub mod schema;
pub mod strategy;
pub mod write;

use std::path::{Path, PathBuf};

pub use append::{AppendSummary, append_ips, batch_ips};
pub use info::{SeedInfo, read_info};
pub use rdapfleet_ranges::Range;
pub use strategy::{
    DEFAULT_BATCH_SIZE, DEFAULT_SHUFFLE_SEED, DEFAULT_STRIDE_PREFIX, LATTICE2016_COUNT, SeedPlan,
    Strategy, generate_ips, lattice2016, stride_count, stride_ips,
};
pub use write::{SeedSummary, write_seed_file, write_seed_file_with_progress};

use thiserror::Error;

/// Errors of the seed crate.
#[derive(Debug, Error)]
pub enum Error {
    /// SQLite failed (including "file is not a database").
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database is not an rdapfleet seed file.
    #[error("not an rdapfleet seed file: {0}")]
    NotASeedFile(String),
    /// The seed file was written by a newer rdapfleet.
    #[error(
        "seed file schema version {found} is newer than this program supports ({supported}); upgrade rdapfleet"
    )]
    NewerVersion {
        /// Version in the file.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// A CIDR typed by a person does not parse.
    #[error("{reason}")]
    InvalidCidr {
        /// What was typed.
        input: String,
        /// Why it is wrong (its message names the input).
        reason: rdapfleet_ranges::RangeError,
    },
    /// The plan's parameters are out of range or inconsistent.
    #[error("{0}")]
    InvalidPlan(String),
    /// The output path cannot be written to: its directory is missing, or it is a directory.
    #[error("{}: {reason}", path.display())]
    BadOutput {
        /// The output path (or its directory).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The output exists and overwriting was not asked for.
    #[error("{} already exists (use --force to replace it)", .0.display())]
    OutputExists(PathBuf),
    /// The plan yields no address.
    #[error("the plan yields no address (check --include / --exclude)")]
    Empty,
    /// The plan yields more addresses than one seed file may hold.
    #[error(
        "the plan yields {count} addresses, more than the limit of {max}; narrow it with --include or a longer prefix"
    )]
    TooMany {
        /// Addresses the plan would yield.
        count: u64,
        /// [`strategy::MAX_IPS`].
        max: u64,
    },
    /// A file operation failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The seed file does not exist.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// No batch has this id.
    #[error("no batch with id {0}")]
    UnknownBatch(i64),
    /// The file holds values a seed file cannot hold.
    #[error("corrupt seed file: {0}")]
    Corrupt(String),
    /// The write was interrupted (Ctrl-C, SIGTERM) and nothing was left behind.
    #[error("interrupted: no seed file was written")]
    Interrupted,
    /// Another process changed the seed list while this one was appending to it.
    #[error("{0}")]
    Concurrent(String),
}

impl Error {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    /// Whether the error comes from the input (bad arguments, a wrong or missing file) rather
    /// than from the system (disk full, SQLite failure): command-line tools exit 1 for these
    /// and 2 for the rest.
    pub fn is_input_error(&self) -> bool {
        !matches!(
            self,
            Error::Sqlite(_) | Error::Io { .. } | Error::Corrupt(_)
        )
    }
}

/// Result alias of the seed crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parse CIDRs typed by a person (`a.b.c.d/len`, or a bare address as a /32) into ranges, with
/// [`Error::InvalidCidr`] naming the first bad one.
pub fn parse_cidrs<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<Range>> {
    inputs
        .iter()
        .map(|s| {
            rdapfleet_ranges::parse_cidr(s.as_ref()).map_err(|reason| Error::InvalidCidr {
                input: s.as_ref().to_string(),
                reason,
            })
        })
        .collect()
}
