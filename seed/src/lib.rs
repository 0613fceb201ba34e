//! Seed lists for rdapfleet: which IPv4 addresses to ask about, cut into batches, written to the
//! SQLite seed file that the coordinator serves from.
//!
//! # Layout
//! - [`schema`]: the seed file's tables and meta keys (the contract with the coordinator).

pub mod schema;

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
}

/// Result alias of the seed crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
