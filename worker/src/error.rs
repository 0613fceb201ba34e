//! The worker's error type and how errors map to exit codes.

use thiserror::Error;

/// Errors of the worker's commands.
#[derive(Debug, Error)]
pub enum Error {
    /// Bad input from the operator: a file that is not what it should be, a bad flag value.
    #[error("{0}")]
    Input(String),
    /// A bad bootstrap file or URL, a bad rate, an HTTP client that cannot be built.
    #[error(transparent)]
    Rdap(#[from] rdapfleet_rdap::Error),
    /// A lookup that got no answer (network failure, registry failing or rate limiting).
    #[error("{0}")]
    LookupFailed(String),
    /// Something else went wrong (I/O on stdout, a download that failed, ...).
    #[error("{0}")]
    Unexpected(String),
    /// A setting that cannot work (a malformed coordinator URL, a token that cannot be sent).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The coordinator refused a call for good (retrying cannot change its answer).
    #[error("coordinator refused {call}: {}", .status.message())]
    Rpc {
        /// The RPC.
        call: &'static str,
        /// Its status.
        status: tonic::Status,
    },
    /// Shutdown was requested while waiting.
    #[error("shutting down")]
    ShuttingDown,
}

impl Error {
    /// Process exit code: 1 for input/usage errors, 2 for unexpected failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Config(_) => 1,
            Error::Rdap(rdapfleet_rdap::Error::Client(_)) => 2,
            Error::Rdap(_) => 1,
            // Refused credentials or settings are the operator's to fix, like a bad flag.
            Error::Rpc { status, .. }
                if matches!(
                    status.code(),
                    tonic::Code::Unauthenticated
                        | tonic::Code::PermissionDenied
                        | tonic::Code::InvalidArgument
                ) =>
            {
                1
            }
            Error::LookupFailed(_) | Error::Unexpected(_) | Error::Rpc { .. } => 2,
            Error::ShuttingDown => 0,
        }
    }

    /// The message with its causes, joined with ": ".
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur = std::error::Error::source(self);
        while let Some(c) = cur {
            let m = c.to_string();
            if !s.contains(&m) {
                s.push_str(": ");
                s.push_str(&m);
            }
            cur = c.source();
        }
        s
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
