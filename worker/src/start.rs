//! `rdapfleet-worker run`: from flags to a running crawl. Reads the token file, builds the RDAP
//! client (bootstrap, rates, egress address), turns SIGTERM / SIGINT into a graceful drain,
//! starts the spot-notice watcher when asked, and runs [`crate::run::run`].

use std::time::Duration;

use rdapfleet_rdap::RdapClient;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::coverage::SkipPolicy;
use crate::error::{Error, Result};
use crate::lookup::{Done, client_config, load_bootstrap};
use crate::run::{RunConfig, run};
use crate::session::{ClientIdentity, SessionConfig};

fn read_secret(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::Input(format!("cannot read the {what} {}: {e}", path.display())))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Build the crawl's configuration from the flags (everything that can be checked before
/// contacting anybody is checked here).
pub async fn config_from_args(args: &RunArgs, drain: CancellationToken) -> Result<RunConfig> {
    let token = args
        .token_file
        .as_deref()
        .map(rdapfleet_cli::read_token_file)
        .transpose()
        .map_err(Error::Input)?;
    let tls_ca_pem = args
        .tls_ca
        .as_deref()
        .map(|p| read_secret(p, "CA file"))
        .transpose()?;
    if !(args.coordinator.starts_with("http://") || args.coordinator.starts_with("https://")) {
        return Err(Error::Input(format!(
            "--coordinator {:?} must be an http:// or https:// URL",
            args.coordinator
        )));
    }
    let redis_url = match args.redis.as_str() {
        "" | "none" => None,
        u if u.starts_with("redis://") || u.starts_with("rediss://") => Some(u.to_string()),
        other => {
            return Err(Error::Input(format!(
                "--redis {other:?} must be a redis:// URL or `none`"
            )));
        }
    };
    let skip_policy = args
        .skip_policy
        .as_deref()
        .map(str::parse::<SkipPolicy>)
        .transpose()
        .map_err(Error::Input)?;
    let bootstrap = load_bootstrap(args.http.bootstrap.as_deref()).await?;
    let rdap = RdapClient::new(bootstrap, client_config(&args.http))?;
    let hostname = host_name();
    let worker_id = args
        .worker_id
        .clone()
        .unwrap_or_else(|| format!("{hostname}-{}", std::process::id()));
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(ClientIdentity::load(cert, key)?),
        (None, None) => None,
        _ => {
            return Err(Error::Input(
                "--tls-cert and --tls-key go together (a client certificate and its key)".into(),
            ));
        }
    };
    Ok(RunConfig {
        identity,
        session: SessionConfig {
            url: args.coordinator.clone(),
            token,
            tls_ca_pem,
            worker_id,
            hostname,
            backoff: (Duration::from_millis(250), Duration::from_secs(30)),
        },
        redis_url,
        rdap,
        batches: args.batches,
        skip_policy,
        replay_wait: args.replay_wait,
        flush_after: args.flush_after,
        telemetry_interval: args.telemetry_interval,
        drain,
    })
}

/// Run the crawl until SIGTERM / SIGINT or a spot notice; exit 0 after a clean drain.
pub async fn start(args: &RunArgs) -> Result<Done> {
    let shutdown = CancellationToken::new();
    let drain = CancellationToken::new();
    let config = config_from_args(args, drain.clone()).await?;
    if let Some(addr) = args.metrics_listen {
        crate::metrics::start(addr, config.rdap.clone())?;
    }
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("signal received: draining");
            shutdown.cancel();
        });
    }
    if args.spot_interruption {
        tokio::spawn(crate::spot::watch(
            args.imds_url.clone(),
            args.spot_poll,
            drain,
            shutdown.clone(),
        ));
    }
    let summary = run(config, shutdown).await?;
    Ok(Done {
        note: Some(format!(
            "stopped: {} batches finished, {} returned, {} lost to expiry",
            summary.finished, summary.returned, summary.lost
        )),
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
            _ => {
                warn!("cannot install signal handlers; only Ctrl-C stops the worker");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
