//! The command line of `rdapfleet-coordinator` (clap derive): flags, their environment
//! variables and defaults, and human-readable durations.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, SkipPolicy};

/// rdapfleet coordinator: leases seed batches to workers over gRPC and keeps the crawl's
/// outcomes, networks and telemetry in the seed SQLite file.
#[derive(Debug, Parser)]
#[command(name = "rdapfleet-coordinator", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log format on stderr: human-readable text, or one JSON object per line (fleet hosts).
    #[arg(long, global = true, env = "RDAPFLEET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the crawl: lease batches to workers, ingest their outcomes.
    Serve(ServeArgs),
    /// Print the crawl's state (works whether `serve` runs or not).
    Status(StatusArgs),
    /// Queue more seed addresses (one per /N block of CIDR) while the crawl runs.
    AddRange(AddRangeArgs),
}

/// Skip policy as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SkipPolicyArg {
    /// Skip any IP inside any known network.
    Covered,
    /// Skip only inside networks the registry marks as assignments.
    Leaf,
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The seed SQLite file (from `rdapfleet-seed generate`); it becomes the crawl database.
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// Address to listen on for gRPC (use port 0 for any free port).
    #[arg(
        long,
        env = "RDAPFLEET_LISTEN",
        default_value = "127.0.0.1:50051",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,
    /// How long a lease lives without a heartbeat (at least 3 x --heartbeat-interval).
    #[arg(long, env = "RDAPFLEET_LEASE_TTL", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub lease_ttl: Duration,
    /// How often workers must heartbeat their leases.
    #[arg(long, env = "RDAPFLEET_HEARTBEAT_INTERVAL", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub heartbeat_interval: Duration,
    /// The most batches one worker may hold at once.
    #[arg(long, env = "RDAPFLEET_MAX_BATCHES_PER_WORKER", default_value_t = 8)]
    pub max_batches_per_worker: u32,
    /// Retryable failures of one IP before it is recorded as failed with its last reason.
    #[arg(long, env = "RDAPFLEET_MAX_ATTEMPTS", default_value_t = 4)]
    pub max_attempts: u32,
    /// Delay before a retryable IP is handed out again; doubled per attempt.
    #[arg(long, env = "RDAPFLEET_RETRY_DELAY", default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_delay: Duration,
    /// Cap of the doubled retry delay.
    #[arg(long, env = "RDAPFLEET_MAX_RETRY_DELAY", default_value = "6h", value_parser = parse_duration, value_name = "DURATION")]
    pub max_retry_delay: Duration,
    /// Lease expiries of one batch after which its unsettled IPs are recorded as failed
    /// ("lease expired N times").
    #[arg(long, env = "RDAPFLEET_MAX_LEASE_ATTEMPTS", default_value_t = 6)]
    pub max_lease_attempts: u32,
    /// Skip policy: `covered` skips IPs inside any known network, `leaf` only inside
    /// assignments.
    #[arg(long, env = "RDAPFLEET_SKIP_POLICY", value_enum, default_value_t = SkipPolicyArg::Covered)]
    pub skip_policy: SkipPolicyArg,
    /// How often expired leases are looked for.
    #[arg(long, env = "RDAPFLEET_REAPER_INTERVAL", default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub reaper_interval: Duration,
    /// How often to look for batches added by `add-range` (also whenever the queue runs dry).
    #[arg(long, env = "RDAPFLEET_POLL_INTERVAL", default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub poll_interval: Duration,
    /// The Redis master that carries the coverage log to the workers' replicas, e.g.
    /// `redis://:PASSWORD@127.0.0.1:6379` (without it networks are not replicated).
    #[arg(long, env = "RDAPFLEET_REDIS", value_name = "URL")]
    pub redis: Option<String>,
}

impl ServeArgs {
    /// The library configuration these flags describe.
    pub fn config(&self) -> Config {
        let mut c = Config::new(self.db.clone());
        c.lease_ttl = self.lease_ttl;
        c.heartbeat_interval = self.heartbeat_interval;
        c.max_batches_per_worker = self.max_batches_per_worker;
        c.max_attempts = self.max_attempts;
        c.retry_delay = self.retry_delay;
        c.max_retry_delay = self.max_retry_delay;
        c.max_lease_attempts = self.max_lease_attempts;
        c.skip_policy = match self.skip_policy {
            SkipPolicyArg::Covered => SkipPolicy::Covered,
            SkipPolicyArg::Leaf => SkipPolicy::Leaf,
        };
        c.reaper_interval = self.reaper_interval;
        c.poll_interval = self.poll_interval;
        c.redis = self.redis.clone().filter(|u| !u.is_empty() && u != "none");
        c
    }
}

/// Flags of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// Print one JSON document on stdout instead of the human-readable report.
    #[arg(long, env = "RDAPFLEET_STATUS_JSON")]
    pub json: bool,
}

/// Flags of `add-range`.
#[derive(Debug, Args)]
pub struct AddRangeArgs {
    /// The range to add, as a.b.c.d/len (a bare address means /32).
    #[arg(value_name = "CIDR")]
    pub cidr: String,
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// One seed address per /N block of the range.
    #[arg(
        long,
        env = "RDAPFLEET_STRIDE_PREFIX",
        default_value_t = 24,
        value_name = "N"
    )]
    pub stride_prefix: u8,
}

/// Parse a human duration such as `30s`, `5m`, `1h 30m` or `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?}: {e} (examples: 500ms, 30s, 5m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_from_human_strings() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        let e = parse_duration("5 parsecs").unwrap_err();
        assert!(e.contains("invalid duration \"5 parsecs\""), "{e}");
    }

    #[test]
    fn flags_map_to_config() {
        let cli = Cli::try_parse_from([
            "rdapfleet-coordinator",
            "serve",
            "--db",
            "x.sqlite",
            "--lease-ttl",
            "2s",
            "--heartbeat-interval",
            "500ms",
            "--skip-policy",
            "leaf",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        let c = args.config();
        assert_eq!(c.lease_ttl, Duration::from_secs(2));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.skip_policy, SkipPolicy::Leaf);
        c.validate().unwrap();
    }
}
