//! The crate's error type. Lookup results (found, not found, failed) are values
//! ([`crate::client::LookupOutcome`]) and parse results are [`crate::ParseError`]; this enum is
//! for set-up problems: a bad bootstrap file, a bad rate string, an HTTP client that cannot be
//! built.

use thiserror::Error;

/// Set-up errors of the RDAP crate.
#[derive(Debug, Error)]
pub enum Error {
    /// A bootstrap file that cannot be read or is not a usable RFC 9224 file.
    #[error("bootstrap {origin}: {reason}")]
    Bootstrap {
        /// The file path or URL it came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rate limit string that does not parse (`lacnic=9/min,900/h`).
    #[error("invalid rate {input:?}: {reason}")]
    Rate {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
