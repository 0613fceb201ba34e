//! The crate's one error type, and the one place where errors become gRPC statuses.

use thiserror::Error;

/// Errors of the coordinator library.
#[derive(Debug, Error)]
pub enum Error {
    /// A request field is malformed or not allowed (maps to `INVALID_ARGUMENT`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The lease, worker or batch asked about does not exist for the caller (`NOT_FOUND`).
    #[error("{0}")]
    NotFound(String),
    /// The call is well-formed but not allowed in the current state (`FAILED_PRECONDITION`):
    /// wrong protocol version, no Hello yet, a lease that is no longer live.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Invalid configuration (flags); the server refuses to start.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database file is missing, not a seed file, corrupt, or from a newer version.
    #[error("{path}: {message}")]
    Database {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Operator input (a CIDR, a stride prefix) is invalid.
    #[error("{0}")]
    Input(String),
    /// SQLite failed while the coordinator was running.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The seed crate failed.
    #[error(transparent)]
    Seed(#[from] rdapfleet_seed::Error),
    /// The store thread stopped (shutdown or an earlier fatal store error).
    #[error("the coordinator's store is unavailable: {0}")]
    StoreUnavailable(String),
    /// I/O failed (binding, serving).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The gRPC server failed.
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// An internal invariant broke (a bug); the request is refused.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the error comes from operator input (flags, files, CIDRs) rather than from an
    /// unexpected failure: binaries exit 1 for these and 2 for the rest.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidArgument(_)
                | Error::NotFound(_)
                | Error::FailedPrecondition(_)
                | Error::Config(_)
                | Error::Database { .. }
                | Error::Input(_)
        ) || matches!(self, Error::Seed(e) if e.is_input_error())
    }
}

/// Result alias of the coordinator library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Map an error to the gRPC status the caller sees. The closed set of codes:
/// `INVALID_ARGUMENT`, `NOT_FOUND`, `FAILED_PRECONDITION`, `UNAVAILABLE` (store stopped) and
/// `INTERNAL` (everything unexpected; details are logged, not sent).
pub fn to_status(err: Error) -> tonic::Status {
    match err {
        Error::InvalidArgument(m) => tonic::Status::invalid_argument(m),
        Error::NotFound(m) => tonic::Status::not_found(m),
        Error::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
        Error::StoreUnavailable(m) => {
            tonic::Status::unavailable(format!("coordinator store unavailable: {m}"))
        }
        other => {
            tracing::error!(error = %other, "request failed");
            tonic::Status::internal("internal coordinator error (see its log)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_set_of_codes() {
        use tonic::Code;
        let cases = [
            (Error::InvalidArgument("x".into()), Code::InvalidArgument),
            (Error::NotFound("x".into()), Code::NotFound),
            (
                Error::FailedPrecondition("x".into()),
                Code::FailedPrecondition,
            ),
            (Error::StoreUnavailable("x".into()), Code::Unavailable),
            (Error::Internal("x".into()), Code::Internal),
            (Error::Sqlite(rusqlite::Error::InvalidQuery), Code::Internal),
        ];
        for (err, code) in cases {
            assert_eq!(to_status(err).code(), code);
        }
    }
}
