//! Who may call the coordinator: the fleet's shared bearer token, checked on every gRPC call
//! before its body is even decoded.
//!
//! Every call must carry `authorization: Bearer <token>` metadata; the token is compared in
//! constant time ([`subtle`]), and a missing, malformed or wrong token is answered
//! `UNAUTHENTICATED` with a message saying which. The token itself is never logged: [`Token`]
//! prints as `***` in `Debug` and `Display`, and refusals log only the peer and the reason.
//! Without a token the coordinator serves only with `--insecure`, and only on a loopback
//! address ([`check_insecure_listen`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq as _;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::{Error, Result};

/// Tokens shorter than this are accepted with a warning (use a long random one).
pub const SHORT_TOKEN: usize = 16;

/// The shared secret. Its `Debug` and `Display` print `***`, so it cannot leak into logs by
/// accident.
#[derive(Clone)]
pub struct Token(Arc<[u8]>);

impl Token {
    /// A token from its text. It must be non-empty visible ASCII without spaces (it travels
    /// in an HTTP/2 header as `Bearer <token>`).
    pub fn new(value: &str) -> Result<Self> {
        rdapfleet_cli::check_token(value).map_err(Error::Config)?;
        if value.len() < SHORT_TOKEN {
            tracing::warn!(
                length = value.len(),
                "the token is short; use at least 32 random characters (`openssl rand -hex 32`)"
            );
        }
        Ok(Self(Arc::from(value.as_bytes())))
    }

    /// Read a token file (see [`rdapfleet_cli::read_token_file`]: one trailing newline
    /// dropped, the rest checked). An unreadable or empty file is an error naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::new(&rdapfleet_cli::read_token_file(path).map_err(Error::Config)?)
    }

    /// Whether `presented` is this token, compared in constant time (the comparison takes
    /// the same time wherever the first difference is; only the length is not hidden).
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_ref().ct_eq(presented))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the token comes from: a file (preferred: it stays out of the process list and the
/// environment) or a value given on the command line (`--token`, for tests).
#[derive(Clone, Debug)]
pub enum TokenSource {
    /// A file holding the token (one line; one trailing newline is ignored).
    File(PathBuf),
    /// The token itself.
    Value(Token),
}

impl TokenSource {
    /// Load the token.
    pub fn load(&self) -> Result<Token> {
        match self {
            TokenSource::File(p) => Token::from_file(p),
            TokenSource::Value(t) => Ok(t.clone()),
        }
    }
}

/// Refuse `--insecure` on an address other hosts can reach: without a token, anyone who can
/// connect could lease batches and write outcomes.
pub fn check_insecure_listen(addr: SocketAddr) -> Result<()> {
    if is_loopback(addr) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "--insecure serves without authentication and is refused on the non-loopback address {addr}; \
         give the fleet's token with --token-file (and --tls-cert/--tls-key), or listen on 127.0.0.1"
    )))
}

/// Whether `addr` is reachable only from this host (127.0.0.0/8, ::1, or ::ffff:127.x).
pub fn is_loopback(addr: SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The interceptor in front of every RPC: checks the bearer token (or lets everything through
/// when the coordinator runs `--insecure`).
#[derive(Clone)]
pub struct Authenticator {
    token: Option<Token>,
    refusals: Arc<RefusalLog>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("requires_token", &self.token.is_some())
            .finish()
    }
}

impl Authenticator {
    /// Every call must carry `token`.
    pub fn require(token: Token) -> Self {
        Self {
            token: Some(token),
            refusals: Arc::default(),
        }
    }

    /// No authentication (`--insecure`, loopback only).
    pub fn allow_all() -> Self {
        Self {
            token: None,
            refusals: Arc::default(),
        }
    }

    /// Whether a token is required.
    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    /// Check the `authorization` metadata of a call.
    pub fn check(&self, metadata: &MetadataMap) -> std::result::Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let mut values = metadata.get_all("authorization").iter();
        let Some(value) = values.next() else {
            return Err(Status::unauthenticated(
                "missing credentials: this coordinator requires the fleet's shared token as \
                 `authorization: Bearer <token>` metadata (rdapfleet-worker --token-file)",
            ));
        };
        if values.next().is_some() {
            return Err(Status::unauthenticated(
                "more than one `authorization` metadata entry; send exactly one `Bearer <token>`",
            ));
        }
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, rest)| rest.trim_start_matches(' '));
        let Some(presented) = presented else {
            return Err(Status::unauthenticated(
                "malformed `authorization` metadata: expected `Bearer <token>`",
            ));
        };
        if token.matches(presented.as_bytes()) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "invalid token: the bearer token does not match this coordinator's \
                 (compare the worker's --token-file with the coordinator's)",
            ))
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        match self.check(request.metadata()) {
            Ok(()) => Ok(request),
            Err(status) => {
                self.refusals.note(request.remote_addr(), status.message());
                Err(status)
            }
        }
    }
}

/// Logs refused calls at most once a second (a scanner must not flood the log), with the
/// number of refusals folded into each line.
#[derive(Default)]
struct RefusalLog {
    last_second: AtomicU64,
    since_last: AtomicU64,
}

impl RefusalLog {
    fn note(&self, peer: Option<SocketAddr>, reason: &str) {
        self.since_last.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_second.load(Ordering::Relaxed);
        if now != last
            && self
                .last_second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let refused = self.since_last.swap(0, Ordering::Relaxed);
            let peer = peer.map_or_else(|| "unknown".to_string(), |p| p.to_string());
            // Only the first words of the reason (never anything the caller sent).
            let reason = reason.split(':').next().unwrap_or(reason);
            tracing::warn!(%peer, reason, refused, "refused an unauthenticated gRPC call");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn meta(values: &[&str]) -> MetadataMap {
        let mut m = MetadataMap::new();
        for v in values {
            m.append("authorization", MetadataValue::try_from(*v).unwrap());
        }
        m
    }

    #[test]
    fn bearer_token_is_checked() {
        let auth = Authenticator::require(Token::new("0123456789abcdef-secret").unwrap());
        assert!(
            auth.check(&meta(&["Bearer 0123456789abcdef-secret"]))
                .is_ok()
        );
        assert!(
            auth.check(&meta(&["bearer 0123456789abcdef-secret"]))
                .is_ok()
        );
        let cases = [
            (vec![], "missing credentials"),
            (vec!["Bearer nope"], "invalid token"),
            (vec!["Bearer 0123456789abcdef-secre"], "invalid token"),
            (vec!["Bearer 0123456789abcdef-secretX"], "invalid token"),
            (vec!["Bearer "], "invalid token"),
            (vec!["Basic 0123456789abcdef-secret"], "malformed"),
            (vec!["0123456789abcdef-secret"], "malformed"),
            (
                vec![
                    "Bearer 0123456789abcdef-secret",
                    "Bearer 0123456789abcdef-secret",
                ],
                "more than one",
            ),
        ];
        for (values, needle) in cases {
            let err = auth.check(&meta(&values)).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{values:?}");
            assert!(
                err.message().contains(needle),
                "{values:?}: {}",
                err.message()
            );
            assert!(!err.message().contains("secret"), "{}", err.message());
        }
        assert!(Authenticator::allow_all().check(&meta(&[])).is_ok());
    }

    #[test]
    fn the_token_never_prints() {
        let t = Token::new("0123456789abcdef-secret").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(format!("{t}"), "***");
        let src = TokenSource::Value(t.clone());
        assert!(!format!("{src:?}").contains("secret"));
        let auth = Authenticator::require(t);
        assert!(!format!("{auth:?}").contains("secret"));
    }

    #[test]
    fn token_files_are_read_by_the_shared_reader() {
        // The reader's cases are tested in rdapfleet-cli; here, that Token uses it.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, b"0123456789abcdef\r\n").unwrap();
        assert!(Token::from_file(&p).unwrap().matches(b"0123456789abcdef"));
        std::fs::write(&p, b"two words\n").unwrap();
        let e = Token::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("cannot travel in a gRPC header"), "{e}");
    }

    #[test]
    fn insecure_only_on_loopback() {
        for ok in [
            "127.0.0.1:1",
            "127.8.9.10:0",
            "[::1]:5",
            "[::ffff:127.0.0.1]:5",
        ] {
            check_insecure_listen(ok.parse().unwrap()).unwrap();
        }
        for bad in ["0.0.0.0:50051", "10.1.2.3:50051", "[::]:50051"] {
            let e = check_insecure_listen(bad.parse().unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains("refused on the non-loopback address"), "{e}");
        }
    }
}
