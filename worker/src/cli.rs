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

    /// RFC 9224 bootstrap file or http(s) URL (default: IANA's ipv4.json shipped in the binary).
    #[arg(long, env = "RDAPFLEET_BOOTSTRAP")]
    pub bootstrap: Option<String>,

    /// Rate limit of one registry, e.g. `lacnic=9/min,900/h` or `arin=10/s`; repeatable
    /// (the environment variable takes a space-separated list). Unlisted registries keep their
    /// safe defaults: arin, ripencc, apnic 1/s; lacnic 9/min,900/h; afrinic 3/min,4000/d.
    #[arg(long = "rate", value_name = "REGISTRY=N/UNIT", env = "RDAPFLEET_RATE", value_delimiter = ' ', value_parser = parse_rate)]
    pub rates: Vec<RateSpec>,

    /// Print the whole outcome as one JSON object (found / not_found / failed, with the raw
    /// RDAP JSON, the final URL and the redirect count) instead of the bare network.
    #[arg(long)]
    pub json: bool,

    /// Total time allowed for one HTTP request, body included.
    #[arg(long, env = "RDAPFLEET_HTTP_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Time allowed to open a connection.
    #[arg(long, env = "RDAPFLEET_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Largest response body accepted, in bytes.
    #[arg(long, env = "RDAPFLEET_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Attempts over retryable failures (429, 5xx, timeouts).
    #[arg(long, env = "RDAPFLEET_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// Longest registry pause (Retry-After, backoff) to wait for before giving up.
    #[arg(long, env = "RDAPFLEET_MAX_WAIT", default_value = "2m", value_parser = parse_duration)]
    pub max_wait: Duration,
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
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
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

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like 30s, 2m or 1h ({e})"))
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
                .contains("not a duration")
        );
        assert!(parse_rate("lacnic=9").unwrap_err().contains("invalid rate"));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    }
}
