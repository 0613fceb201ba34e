//! Command-line flags of `rdapfleet-worker` (clap derive; every flag has an `RDAPFLEET_*`
//! environment variable where it makes sense on a fleet host).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rdapfleet_rdap::RateSpec;

use crate::logging::LogFormat;

/// rdapfleet worker: polite RDAP lookups against the five RIRs.
#[derive(Debug, Parser)]
#[command(name = "rdapfleet-worker", version, about)]
pub struct Cli {
    /// Log format on stderr (`RUST_LOG` sets the level, default info).
    #[arg(
        long,
        env = "RDAPFLEET_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Crawl: lease batches from the coordinator, skip what is known, look up the rest, report.
    Run(Box<RunArgs>),
    /// One polite RDAP lookup of an address; the normalized network as JSON on stdout.
    Lookup(LookupArgs),
    /// Parse a saved RDAP response; the normalized network as JSON on stdout.
    Parse(ParseArgs),
    /// Download IANA's RDAP bootstrap file for IPv4, validate it, and save it.
    RefreshBootstrap(RefreshArgs),
}

/// Flags of `lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The IPv4 (or IPv6) address to look up.
    #[arg(value_parser = parse_ip)]
    pub ip: IpAddr,

    /// Print the whole outcome as one JSON object (found / not_found / failed, with the raw
    /// RDAP JSON, the final URL and the redirect count) instead of the bare network.
    #[arg(long)]
    pub json: bool,

    /// Bootstrap, rates and HTTP limits.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// The RDAP client's flags, shared by `lookup` and `run`.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// RFC 9224 bootstrap file or http(s) URL (default: IANA's ipv4.json shipped in the binary).
    #[arg(long, env = "RDAPFLEET_BOOTSTRAP")]
    pub bootstrap: Option<String>,

    /// Rate limit of one registry, e.g. `lacnic=9/min,900/h` or `arin=10/s`; repeatable
    /// (the environment variable takes a space-separated list). Unlisted registries keep their
    /// safe defaults: arin, ripencc, apnic 1/s; lacnic 9/min,900/h; afrinic 3/min,4000/d.
    #[arg(long = "rate", value_name = "REGISTRY=N/UNIT", env = "RDAPFLEET_RATE", value_delimiter = ' ', value_parser = parse_rate)]
    pub rates: Vec<RateSpec>,

    /// Total time allowed for one HTTP request, body included.
    #[arg(long, env = "RDAPFLEET_HTTP_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Time allowed to open a connection.
    #[arg(long, env = "RDAPFLEET_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,

    /// Largest response body accepted (`1MiB`, `256KiB`, or bytes; at least 4KiB: real
    /// answers run from 2 to 60 KiB).
    #[arg(long, env = "RDAPFLEET_MAX_BODY_BYTES", default_value = "1MiB", value_parser = parse_body_cap)]
    pub max_body_bytes: usize,

    /// Attempts over retryable failures (429, 5xx, timeouts) within one lookup.
    #[arg(long, env = "RDAPFLEET_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Longest registry pause (Retry-After, backoff) a lookup waits for before failing as
    /// retryable.
    #[arg(long, env = "RDAPFLEET_MAX_WAIT", default_value = "2m", value_parser = parse_duration)]
    pub max_wait: Duration,

    /// Local address to send RDAP queries from (registries limit per source address).
    #[arg(long, env = "RDAPFLEET_BIND_ADDRESS")]
    pub bind_address: Option<IpAddr>,
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The coordinator's gRPC address, `http://HOST:50051` (or `https://` with TLS).
    #[arg(long, env = "RDAPFLEET_COORDINATOR")]
    pub coordinator: String,

    /// The local Redis read replica carrying the coverage log, e.g.
    /// `redis://:PASSWORD@127.0.0.1:6379`; `none` crawls without replication.
    #[arg(
        long,
        env = "RDAPFLEET_REDIS",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis: String,

    /// File holding the shared bearer token (no token: the coordinator must run `--insecure`).
    #[arg(long, env = "RDAPFLEET_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// PEM file of the CA that signed the coordinator's certificate (https only).
    #[arg(long, env = "RDAPFLEET_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// This worker's TLS client certificate (PEM), for a coordinator that requires client
    /// certificates (`--tls-client-ca`); https only, needs --tls-key.
    #[arg(long, env = "RDAPFLEET_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "RDAPFLEET_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Batches walked at once (each walk is sequential; enough of them keep every registry's
    /// budget busy). Capped by the coordinator's per-worker limit.
    #[arg(long, env = "RDAPFLEET_BATCHES", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batches: u32,

    /// This worker's identity (default: host name and process id).
    #[arg(long, env = "RDAPFLEET_WORKER_ID")]
    pub worker_id: Option<String>,

    /// Override the coordinator's skip policy: `covered` or `leaf`.
    #[arg(long, env = "RDAPFLEET_SKIP_POLICY", value_parser = ["covered", "leaf"])]
    pub skip_policy: Option<String>,

    /// Poll the EC2 instance metadata for a spot interruption notice and drain when it comes.
    #[arg(long, env = "RDAPFLEET_SPOT_INTERRUPTION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub spot_interruption: bool,

    /// Base URL of the instance metadata service (tests point it at loopback).
    #[arg(
        long,
        env = "RDAPFLEET_IMDS_URL",
        default_value = "http://169.254.169.254"
    )]
    pub imds_url: String,

    /// How often to poll for a spot interruption notice.
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub spot_poll: Duration,

    /// Longest wait at start-up for the coverage log replay before walking anyway.
    #[arg(long, env = "RDAPFLEET_REPLAY_WAIT", default_value = "60s", value_parser = parse_duration)]
    pub replay_wait: Duration,

    /// Longest time a settled IP waits before its outcome is sent.
    #[arg(long, env = "RDAPFLEET_FLUSH_AFTER", default_value = "1s", value_parser = parse_duration)]
    pub flush_after: Duration,

    /// Telemetry interval (default: the coordinator's setting, normally a minute).
    #[arg(long, env = "RDAPFLEET_TELEMETRY_INTERVAL", value_parser = parse_positive_duration)]
    pub telemetry_interval: Option<Duration>,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9465).
    #[arg(long, env = "RDAPFLEET_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// Bootstrap, rates and HTTP limits.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Flags of `parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// A saved RDAP response body (JSON).
    pub file: PathBuf,

    /// One line of JSON instead of pretty-printed.
    #[arg(long)]
    pub compact: bool,
}

/// Flags of `refresh-bootstrap`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Where to download the bootstrap file from.
    #[arg(
        long,
        env = "RDAPFLEET_BOOTSTRAP_URL",
        default_value = "https://data.iana.org/rdap/ipv4.json"
    )]
    pub url: String,

    /// File to write (atomically); without it the file goes to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Time allowed for the download.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))
}

fn parse_rate(s: &str) -> Result<RateSpec, String> {
    s.parse().map_err(|e: rdapfleet_rdap::Error| e.to_string())
}

use rdapfleet_cli::{parse_duration, parse_positive_duration};

fn parse_body_cap(s: &str) -> Result<usize, String> {
    match rdapfleet_cli::parse_size(s)? {
        n if n < 4096 => Err(format!(
            "{s:?} is too small for an RDAP answer (at least 4KiB)"
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn readable_value_errors() {
        assert!(
            parse_ip("1.2.3")
                .unwrap_err()
                .contains("not an IPv4 or IPv6 address")
        );
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("invalid duration")
        );
        assert!(parse_body_cap("1KiB").unwrap_err().contains("too small"));
        assert_eq!(parse_body_cap("1MiB"), Ok(1 << 20));
        assert!(parse_rate("lacnic=9").unwrap_err().contains("invalid rate"));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    }
}
