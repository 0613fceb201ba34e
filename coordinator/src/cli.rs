//! The command line of `rdapfleet-coordinator` (clap derive): flags, their environment
//! variables and defaults, and human-readable durations.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{Token, TokenSource};
use crate::config::{Config, Security, SkipPolicy};
use crate::tls::TlsFiles;

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
// Parsed once at start-up: the size of the largest variant (`serve`'s flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the crawl: lease batches to workers, ingest their outcomes.
    Serve(ServeArgs),
    /// Print the crawl's state (works whether `serve` runs or not).
    Status(StatusArgs),
    /// Queue more seed addresses (one per /N block of CIDR) while the crawl runs.
    AddRange(AddRangeArgs),
    /// Workers' telemetry: cluster totals, per registry and per node, rates, progress, ETA,
    /// nodes that stopped reporting (`--watch` for a live view).
    Telemetry(TelemetryArgs),
    /// Stream the crawl as JSON lines (one per seed IP, or per network), plain, gzip or zstd.
    Export(ExportArgs),
    /// Exact coverage of the networks found (union, per registry, per /8, largest holders),
    /// and a Hilbert-curve map of the address space (`--png`).
    Coverage(CoverageArgs),
    /// Who holds these addresses, answered from the crawled networks alone (IPs as arguments,
    /// or one per line on stdin).
    Lookup(LookupArgs),
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
    #[arg(long, env = "RDAPFLEET_MAX_BATCHES_PER_WORKER", default_value_t = 16)]
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
    /// Serve Prometheus metrics on this address (`GET /metrics`), e.g. 127.0.0.1:9464.
    #[arg(long, env = "RDAPFLEET_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// File holding the fleet's shared bearer token (one line; one trailing newline is
    /// ignored). Every gRPC call must carry it as `authorization: Bearer <token>`. Preferred
    /// over --token: a file stays out of the process list and the environment.
    #[arg(
        long,
        env = "RDAPFLEET_TOKEN_FILE",
        value_name = "FILE",
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,
    /// The shared bearer token itself (for tests and throwaway runs; prefer --token-file).
    #[arg(long, env = "RDAPFLEET_TOKEN", value_name = "TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub token: Option<Token>,
    /// Serve without a token: anyone who can connect may lease and report. Refused unless
    /// --listen is a loopback address.
    #[arg(long, env = "RDAPFLEET_INSECURE", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure: bool,
    /// The server's TLS certificate chain (PEM); with --tls-key, gRPC is served over TLS.
    #[arg(
        long,
        env = "RDAPFLEET_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The server's TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "RDAPFLEET_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// CA certificate (PEM) that must have signed every client's certificate (mutual TLS);
    /// clients without one are refused during the handshake. Needs --tls-cert.
    #[arg(
        long,
        env = "RDAPFLEET_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// Largest gRPC message accepted or sent, e.g. `16MiB`, `4MB` or `1048576` (bytes).
    #[arg(long, env = "RDAPFLEET_MAX_MESSAGE_SIZE", default_value = "16MiB", value_parser = parse_size, value_name = "SIZE")]
    pub max_message_size: usize,
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
        c.security = Security {
            token: match (&self.token_file, &self.token) {
                (Some(path), _) => Some(TokenSource::File(path.clone())),
                (None, Some(token)) => Some(TokenSource::Value(token.clone())),
                (None, None) => None,
            },
            insecure: self.insecure,
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls_client_ca.clone(),
                }),
                _ => None,
            },
            listen: Some(self.listen),
        };
        c.max_message_bytes = self.max_message_size;
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

/// Parse a token given on the command line (`--token`); its value never appears in errors.
pub fn parse_token(s: &str) -> Result<Token, String> {
    Token::new(s).map_err(|e| match e {
        crate::Error::Config(m) => m,
        other => other.to_string(),
    })
}

pub use rdapfleet_cli::{parse_duration, parse_size};

/// Flags of `telemetry`.
#[derive(Debug, Args)]
pub struct TelemetryArgs {
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// Print one JSON object on stdout instead of the text view (with --watch: one per refresh,
    /// one per line).
    #[arg(long, env = "RDAPFLEET_TELEMETRY_JSON")]
    pub json: bool,
    /// Add the per-node table to the text view.
    #[arg(long, env = "RDAPFLEET_TELEMETRY_PER_NODE")]
    pub per_node: bool,
    /// Refresh until Ctrl-C (redrawn in place on a terminal).
    #[arg(long, env = "RDAPFLEET_TELEMETRY_WATCH")]
    pub watch: bool,
    /// How often --watch refreshes.
    #[arg(long, env = "RDAPFLEET_WATCH_INTERVAL", default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Rates are computed over this much of the most recent reported time.
    #[arg(long, env = "RDAPFLEET_TELEMETRY_WINDOW", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub window: Duration,
    /// A node that sent nothing (no sample, no heartbeat) for this long, without a final
    /// sample, is flagged stale.
    #[arg(long, env = "RDAPFLEET_STALE_AFTER", default_value = "3m", value_parser = parse_duration, value_name = "DURATION")]
    pub stale_after: Duration,
}

/// Compression of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressArg {
    /// No compression.
    None,
    /// gzip (.gz).
    Gzip,
    /// zstd (.zst).
    Zstd,
}

/// Line layout of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// rdapfleet's own lines (ip, outcome, network or error, worker, fetched_at).
    Rdapfleet,
    /// The 2016 crawler's lines (Host, IP, Timestamp, Whois{...}) for answered IPs.
    Ipwhois,
}

/// Flags of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// Output file (written under a temporary name, renamed when complete), or `-` for stdout.
    #[arg(
        long,
        env = "RDAPFLEET_EXPORT_OUT",
        default_value = "-",
        value_name = "FILE"
    )]
    pub out: PathBuf,
    /// Compression; by default taken from the --out extension (.gz, .zst), else none.
    #[arg(
        long,
        env = "RDAPFLEET_EXPORT_COMPRESS",
        value_enum,
        value_name = "KIND"
    )]
    pub compress: Option<CompressArg>,
    /// One line per distinct network instead of one per seed IP.
    #[arg(long, env = "RDAPFLEET_EXPORT_NETWORKS")]
    pub networks: bool,
    /// Line layout.
    #[arg(long, env = "RDAPFLEET_EXPORT_LAYOUT", value_enum, default_value_t = LayoutArg::Rdapfleet)]
    pub layout: LayoutArg,
    /// No progress bar and no summary line.
    #[arg(long, short, env = "RDAPFLEET_QUIET")]
    pub quiet: bool,
}

/// Flags of `coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long, env = "RDAPFLEET_COVERAGE_JSON")]
    pub json: bool,
    /// Also draw the address space on a Hilbert curve, coloured by registry, into this PNG.
    #[arg(long, env = "RDAPFLEET_COVERAGE_PNG", value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Map resolution: one pixel per /24 (4096 px wide) or per /20 (1024 px wide).
    #[arg(long, env = "RDAPFLEET_COVERAGE_RESOLUTION", default_value_t = 24, value_parser = parse_resolution, value_name = "PREFIX")]
    pub resolution: u8,
    /// How many of the largest holders to list.
    #[arg(
        long,
        env = "RDAPFLEET_COVERAGE_TOP",
        default_value_t = 20,
        value_name = "N"
    )]
    pub top: usize,
}

/// Flags of `lookup`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The crawl database (seed SQLite file).
    #[arg(long, env = "RDAPFLEET_DB", value_name = "FILE")]
    pub db: PathBuf,
    /// One JSON object per answer instead of tab-separated text.
    #[arg(long, env = "RDAPFLEET_LOOKUP_JSON")]
    pub json: bool,
    /// Addresses to look up; none (or `-`) reads one per line from stdin.
    #[arg(value_name = "IP")]
    pub ips: Vec<String>,
}

/// Parse the map resolution: 24 or 20 (a leading `/` is accepted).
pub fn parse_resolution(s: &str) -> Result<u8, String> {
    match s.trim().trim_start_matches('/') {
        "24" => Ok(24),
        "20" => Ok(20),
        _ => Err(format!(
            "invalid resolution {s:?} (24: one pixel per /24, 20: one pixel per /20)"
        )),
    }
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
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("512 KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("4MB").unwrap(), 4_000_000);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert!(
            parse_size("lots")
                .unwrap_err()
                .contains("invalid size \"lots\"")
        );
        assert!(
            parse_size("16 parsecs")
                .unwrap_err()
                .contains("invalid size")
        );
        assert!(parse_size("99GiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn security_flags_map_to_config() {
        let cli = Cli::try_parse_from([
            "rdapfleet-coordinator",
            "serve",
            "--db",
            "x.sqlite",
            "--listen",
            "0.0.0.0:50051",
            "--token-file",
            "/etc/rdapfleet/token",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-client-ca",
            "ca.pem",
            "--max-message-size",
            "4MiB",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        let c = args.config();
        assert!(matches!(&c.security.token, Some(TokenSource::File(p)) if p.ends_with("token")));
        assert!(!c.security.insecure);
        let tls = c.security.tls.clone().unwrap();
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        assert_eq!(c.max_message_bytes, 4 << 20);
        c.validate().unwrap();
        let with_token = Cli::try_parse_from([
            "rdapfleet-coordinator",
            "serve",
            "--db",
            "x",
            "--token",
            "secret-secret-secret",
        ])
        .unwrap();
        assert!(
            !format!("{with_token:?}").contains("secret-secret"),
            "the token leaks through Debug"
        );
        for bad in [
            vec!["--tls-cert", "c.pem"],
            vec!["--tls-key", "k.pem"],
            vec!["--tls-client-ca", "ca.pem"],
            vec!["--token", "a b"],
            vec!["--token", "t0123456789abcdef", "--token-file", "f"],
        ] {
            let mut argv = vec!["rdapfleet-coordinator", "serve", "--db", "x"];
            argv.extend(bad.iter().copied());
            assert!(Cli::try_parse_from(&argv).is_err(), "{bad:?}");
        }
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
            "--insecure",
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
