//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the simulator library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed (the cause follows in the error chain).
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed.
    #[error("{file}:{line}: {message}")]
    Data {
        /// Which file (or embedded table).
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A flag or configuration value is invalid.
    #[error("{0}")]
    Config(String),
    /// Serving failed (accepting connections, the request log writer).
    #[error("serving failed")]
    Server(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn data(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        Error::Data {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
