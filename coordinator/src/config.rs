//! The coordinator's settings, their defaults, and the relations checked before it starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::TokenSource;
use crate::tls::TlsFiles;
use crate::{Error, Result};

/// Default largest gRPC message, each way (16 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Smallest allowed `--max-message-size`.
pub const MIN_MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Room one leased batch takes in a `LeaseResponse` (1,000 `fixed32` IPs plus framing, with
/// margin), used to check `--max-message-size` against `--max-batches-per-worker`.
pub const LEASED_BATCH_BYTES: usize = 8 * 1024;

/// Who may call the coordinator, and over what.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// The fleet's shared bearer token; every call must carry it. `None` requires `insecure`.
    pub token: Option<TokenSource>,
    /// Serve without a token: allowed only on a loopback address.
    pub insecure: bool,
    /// Serve TLS with these files (and require client certificates when a client CA is set).
    pub tls: Option<TlsFiles>,
    /// The address the binary is about to listen on, so `--insecure` on a non-loopback
    /// address is refused before anything is opened (the bound address is checked again by
    /// [`crate::Server::serve`]).
    pub listen: Option<SocketAddr>,
}

/// Which known networks the pre-filter (and the workers) may skip inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkipPolicy {
    /// Skip any IP inside any known network (the 2016 semantics).
    #[default]
    Covered,
    /// Skip only inside networks the registry marks as assignments (leaves).
    Leaf,
}

impl SkipPolicy {
    /// The name sent to workers in `WorkerSettings.skip_policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipPolicy::Covered => "covered",
            SkipPolicy::Leaf => "leaf",
        }
    }
}

impl std::str::FromStr for SkipPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "covered" => Ok(SkipPolicy::Covered),
            "leaf" => Ok(SkipPolicy::Leaf),
            other => Err(format!(
                "unknown skip policy {other:?} (expected covered or leaf)"
            )),
        }
    }
}

/// Everything `run` needs; the binary fills it from flags and environment. Its `Debug` hides
/// the Redis password and the token.
#[derive(Clone)]
pub struct Config {
    /// The seed SQLite file, which becomes the crawl database.
    pub db: PathBuf,
    /// How long a lease lives without a heartbeat.
    pub lease_ttl: Duration,
    /// How often workers heartbeat their leases.
    pub heartbeat_interval: Duration,
    /// The most batches one worker may hold at once.
    pub max_batches_per_worker: u32,
    /// Retryable failures of one IP before it ends as failed.
    pub max_attempts: u32,
    /// Delay before a retryable IP is handed out again, doubled per attempt.
    pub retry_delay: Duration,
    /// Cap of the doubled retry delay.
    pub max_retry_delay: Duration,
    /// Lease expiries of one batch before its unsettled IPs are recorded as failed.
    pub max_lease_attempts: u32,
    /// The skip policy of the crawl.
    pub skip_policy: SkipPolicy,
    /// How often the reaper looks for expired leases.
    pub reaper_interval: Duration,
    /// How often the server looks for batches added by `add-range` (also when its queue runs dry).
    pub poll_interval: Duration,
    /// How often workers send telemetry.
    pub telemetry_interval: Duration,
    /// The most outcomes one `ReportOutcomes` call may carry.
    pub max_outcomes_per_report: u32,
    /// The Redis master to publish coverage to (`None`: no replication; the pre-filter and the
    /// workers' own inserts still work).
    pub redis: Option<String>,
    /// Authentication and TLS.
    pub security: Security,
    /// Largest gRPC message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Most operations (RPCs, reaper passes) whose writes may wait for the store at once;
    /// more wait before touching the engine, so a slow disk slows callers down instead of
    /// queueing writes without bound.
    pub max_pending_writes: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("db", &self.db)
            .field("lease_ttl", &self.lease_ttl)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("max_batches_per_worker", &self.max_batches_per_worker)
            .field("max_attempts", &self.max_attempts)
            .field("retry_delay", &self.retry_delay)
            .field("max_retry_delay", &self.max_retry_delay)
            .field("max_lease_attempts", &self.max_lease_attempts)
            .field("skip_policy", &self.skip_policy)
            .field("reaper_interval", &self.reaper_interval)
            .field("poll_interval", &self.poll_interval)
            .field("telemetry_interval", &self.telemetry_interval)
            .field("max_outcomes_per_report", &self.max_outcomes_per_report)
            .field(
                "redis",
                &self.redis.as_deref().map(rdapfleet_cli::redact_url),
            )
            .field("security", &self.security)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_pending_writes", &self.max_pending_writes)
            .finish()
    }
}

impl Config {
    /// Defaults for everything but the database path.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        Self {
            db: db.into(),
            lease_ttl: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(30),
            max_batches_per_worker: 16,
            max_attempts: 4,
            retry_delay: Duration::from_secs(600),
            max_retry_delay: Duration::from_secs(6 * 3600),
            max_lease_attempts: 6,
            skip_policy: SkipPolicy::Covered,
            reaper_interval: Duration::from_secs(5),
            poll_interval: Duration::from_secs(5),
            telemetry_interval: Duration::from_secs(60),
            max_outcomes_per_report: 500,
            redis: None,
            security: Security::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_pending_writes: 1024,
        }
    }

    /// Check the relations between settings; the message says what to change.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        let ms_u32 = |d: Duration| d.as_millis() <= u128::from(u32::MAX);
        if self.heartbeat_interval.is_zero() {
            return fail("--heartbeat-interval must be greater than 0".into());
        }
        // A heartbeat interval so long that three of them overflow is "too long" as well.
        if self
            .heartbeat_interval
            .checked_mul(3)
            .is_none_or(|min_ttl| self.lease_ttl < min_ttl)
        {
            return fail(format!(
                "--lease-ttl ({}) must be at least 3 x --heartbeat-interval ({}), so one lost heartbeat does not expire a lease",
                humantime::format_duration(self.lease_ttl),
                humantime::format_duration(self.heartbeat_interval)
            ));
        }
        if !ms_u32(self.lease_ttl) || !ms_u32(self.telemetry_interval) {
            return fail("--lease-ttl must be shorter than 49 days".into());
        }
        if self.max_batches_per_worker == 0 {
            return fail("--max-batches-per-worker must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return fail("--max-attempts must be at least 1".into());
        }
        if self.max_lease_attempts == 0 {
            return fail("--max-lease-attempts must be at least 1".into());
        }
        if self.retry_delay > self.max_retry_delay {
            return fail(format!(
                "--retry-delay ({}) must not exceed --max-retry-delay ({})",
                humantime::format_duration(self.retry_delay),
                humantime::format_duration(self.max_retry_delay)
            ));
        }
        if self.reaper_interval.is_zero() || self.poll_interval.is_zero() {
            return fail("--reaper-interval and --poll-interval must be greater than 0".into());
        }
        if self.max_outcomes_per_report == 0 {
            return fail("max outcomes per report must be at least 1".into());
        }
        if self.max_pending_writes == 0 {
            return fail("max pending writes must be at least 1".into());
        }
        let need = (self.max_batches_per_worker as usize)
            .saturating_mul(LEASED_BATCH_BYTES)
            .max(MIN_MAX_MESSAGE_BYTES);
        if self.max_message_bytes < need {
            return fail(format!(
                "--max-message-size ({} bytes) must be at least {need} bytes (64 KiB, and 8 KiB per batch of --max-batches-per-worker {})",
                self.max_message_bytes, self.max_batches_per_worker
            ));
        }
        self.validate_security()
    }

    /// The rules of [`Security`]: a token or `--insecure` (not both), and `--insecure` only on
    /// a loopback address.
    fn validate_security(&self) -> Result<()> {
        let s = &self.security;
        match (&s.token, s.insecure) {
            (Some(_), true) => Err(Error::Config(
                "--insecure cannot be combined with a token: drop one of them".into(),
            )),
            (None, false) => Err(Error::Config(
                "no token: every gRPC call must carry the fleet's shared token; give --token-file FILE \
                 (RDAPFLEET_TOKEN_FILE), or --insecure to serve without authentication on a loopback address"
                    .into(),
            )),
            (None, true) => match s.listen {
                Some(addr) => crate::auth::check_insecure_listen(addr),
                None => Ok(()),
            },
            (Some(_), false) => Ok(()),
        }
    }

    /// The delay before an IP that failed `attempts` times (1..) is handed out again:
    /// `retry_delay * 2^(attempts-1)`, capped at `max_retry_delay`.
    pub fn retry_delay_for(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(30);
        self.retry_delay
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max_retry_delay)
            .min(self.max_retry_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(db: &str) -> Config {
        let mut c = Config::new(db);
        c.security.insecure = true;
        c
    }

    #[test]
    fn defaults_are_valid() {
        insecure("x").validate().unwrap();
    }

    #[test]
    fn a_token_or_insecure_on_loopback_is_required() {
        let e = Config::new("x").validate().unwrap_err().to_string();
        assert!(e.contains("no token"), "{e}");
        let mut c = insecure("x");
        c.security.listen = Some("127.0.0.1:50051".parse().unwrap());
        c.validate().unwrap();
        c.security.listen = Some("0.0.0.0:50051".parse().unwrap());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("non-loopback address 0.0.0.0:50051"), "{e}");
        let token = crate::auth::Token::new("0123456789abcdef0123").unwrap();
        c.security.token = Some(TokenSource::Value(token));
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("cannot be combined"), "{e}");
        c.security.insecure = false;
        c.validate().unwrap();
    }

    #[test]
    fn message_size_must_fit_a_lease() {
        let mut c = insecure("x");
        // The floor: 64 KiB, whatever the lease size.
        c.max_batches_per_worker = 4;
        c.max_message_bytes = 1024;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("--max-message-size (1024 bytes) must be at least 65536"),
            "{e}"
        );
        c.max_message_bytes = 1 << 20;
        c.max_batches_per_worker = 1000;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("--max-batches-per-worker 1000"), "{e}");
    }

    #[test]
    fn debug_hides_secrets() {
        let mut c = insecure("x");
        c.redis = Some("redis://:s3cret@127.0.0.1:6379/0".into());
        c.security.insecure = false;
        c.security.token = Some(TokenSource::Value(
            crate::auth::Token::new("tok-0123456789abcdef").unwrap(),
        ));
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret") && !d.contains("tok-0123"), "{d}");
        assert!(d.contains("redis://***@127.0.0.1:6379/0"), "{d}");
    }

    #[test]
    fn lease_ttl_relation_is_enforced() {
        let mut c = insecure("x");
        c.lease_ttl = Duration::from_secs(60);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("at least 3 x --heartbeat-interval"), "{err}");
    }

    #[test]
    fn absurd_heartbeat_interval_is_an_error_not_an_overflow() {
        let mut c = insecure("x");
        // `--heartbeat-interval 10000000000000000000s`: three of them overflow a Duration.
        c.heartbeat_interval = Duration::from_secs(10_000_000_000_000_000_000);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("at least 3 x --heartbeat-interval"), "{err}");
    }

    #[test]
    fn retry_delay_doubles_and_caps() {
        let mut c = Config::new("x");
        c.retry_delay = Duration::from_secs(10);
        c.max_retry_delay = Duration::from_secs(50);
        let d: Vec<u64> = (1..=5).map(|a| c.retry_delay_for(a).as_secs()).collect();
        assert_eq!(d, [10, 20, 40, 50, 50]);
        assert_eq!(c.retry_delay_for(1000).as_secs(), 50);
    }
}
