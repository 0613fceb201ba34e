//! The coordinator's settings, their defaults, and the relations checked before it starts.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

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

/// Everything `run` needs; the binary fills it from flags and environment.
#[derive(Debug, Clone)]
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
}

impl Config {
    /// Defaults for everything but the database path.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        Self {
            db: db.into(),
            lease_ttl: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(30),
            max_batches_per_worker: 8,
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
        }
    }

    /// Check the relations between settings; the message says what to change.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        let ms_u32 = |d: Duration| d.as_millis() <= u128::from(u32::MAX);
        if self.heartbeat_interval.is_zero() {
            return fail("--heartbeat-interval must be greater than 0".into());
        }
        if self.lease_ttl < self.heartbeat_interval * 3 {
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
        Ok(())
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

    #[test]
    fn defaults_are_valid() {
        Config::new("x").validate().unwrap();
    }

    #[test]
    fn lease_ttl_relation_is_enforced() {
        let mut c = Config::new("x");
        c.lease_ttl = Duration::from_secs(60);
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
