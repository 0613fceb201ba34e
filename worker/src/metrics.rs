//! Prometheus metrics of a crawling worker (`run --metrics-listen ADDR`: the exporter's own
//! HTTP listener serves `GET /metrics`).
//!
//! Nothing on the lookup path records anything: a sampler copies, every second, the RDAP
//! client's own cumulative counters ([`RdapClient::stats`]) and the crawl loop's state (IPs
//! skipped as covered, known networks, leases held: attached by [`watch_run`] once the loop
//! has them) into the recorder.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `rdapfleet_worker_requests_total` | counter | `registry` | HTTP requests (redirect hops and retries included) |
//! | `rdapfleet_worker_found_total` | counter | `registry` | lookups that ended with a network |
//! | `rdapfleet_worker_not_found_total` | counter | `registry` | lookups that ended "not found" |
//! | `rdapfleet_worker_failed_total` | counter | `registry` | lookups that failed |
//! | `rdapfleet_worker_rate_limited_total` | counter | `registry` | 429s and rate-limit notices |
//! | `rdapfleet_worker_redirects_total` | counter | `registry` | redirects answered |
//! | `rdapfleet_worker_skipped_total` | counter | | IPs skipped as covered by a known network |
//! | `rdapfleet_worker_known_networks` | gauge | | networks in the local coverage index |
//! | `rdapfleet_worker_leases_held` | gauge | | batches being walked |

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use rdapfleet_rdap::RdapClient;

use crate::coverage::Coverage;
use crate::error::{Error, Result};
use crate::telemetry::Stats;

/// HTTP requests per registry.
pub const REQUESTS: &str = "rdapfleet_worker_requests_total";
/// Lookups found per registry.
pub const FOUND: &str = "rdapfleet_worker_found_total";
/// Lookups not found per registry.
pub const NOT_FOUND: &str = "rdapfleet_worker_not_found_total";
/// Failed lookups per registry.
pub const FAILED: &str = "rdapfleet_worker_failed_total";
/// Rate-limit answers per registry.
pub const RATE_LIMITED: &str = "rdapfleet_worker_rate_limited_total";
/// Redirects per registry.
pub const REDIRECTS: &str = "rdapfleet_worker_redirects_total";
/// IPs skipped as covered.
pub const SKIPPED: &str = "rdapfleet_worker_skipped_total";
/// Networks in the local index.
pub const KNOWN_NETWORKS: &str = "rdapfleet_worker_known_networks";
/// Batches being walked.
pub const LEASES_HELD: &str = "rdapfleet_worker_leases_held";

/// What the crawl loop shows the sampler.
struct RunView {
    stats: Arc<Stats>,
    coverage: Arc<Coverage>,
    leases_held: Box<dyn Fn() -> usize + Send + Sync>,
}

/// The running crawl's state, once attached (one crawl per process).
static RUN: Mutex<Option<RunView>> = Mutex::new(None);

/// Let the sampler read the crawl loop's counters (a no-op cost without an exporter: the
/// sampler is the only reader).
pub fn watch_run(
    stats: &Arc<Stats>,
    coverage: &Arc<Coverage>,
    leases_held: impl Fn() -> usize + Send + Sync + 'static,
) {
    let view = RunView {
        stats: stats.clone(),
        coverage: coverage.clone(),
        leases_held: Box::new(leases_held),
    };
    *RUN.lock().unwrap_or_else(|p| p.into_inner()) = Some(view);
}

/// Install the Prometheus recorder with its HTTP listener on `addr` (on the current tokio
/// runtime) and sample `rdap` and the crawl loop every second for as long as the runtime runs
/// (draining included). Call once, from the binary; a refused address is an input error.
pub fn start(addr: SocketAddr, rdap: RdapClient) -> Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| Error::Input(format!("cannot serve metrics on {addr}: {e}")))?;
    describe();
    tokio::spawn(async move {
        loop {
            sample(&rdap);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        REQUESTS,
        "HTTP requests to the registry (redirect hops and retries included)."
    );
    describe_counter!(
        FOUND,
        "Lookups that ended with a network from the registry."
    );
    describe_counter!(
        NOT_FOUND,
        "Lookups that ended \"not found\" at the registry."
    );
    describe_counter!(FAILED, "Lookups that failed at the registry.");
    describe_counter!(
        RATE_LIMITED,
        "Rate-limit answers (429 or a notice) from the registry."
    );
    describe_counter!(REDIRECTS, "Redirects the registry answered with.");
    describe_counter!(SKIPPED, "IPs skipped as covered by a known network.");
    describe_gauge!(KNOWN_NETWORKS, "Networks in the worker's coverage index.");
    describe_gauge!(LEASES_HELD, "Batches this worker is walking.");
}

/// Copy the current counters into the recorder.
pub fn sample(rdap: &RdapClient) {
    for (target, s) in rdap.stats() {
        let registry = target.to_string();
        for (name, value) in [
            (REQUESTS, s.requests),
            (FOUND, s.found),
            (NOT_FOUND, s.not_found),
            (FAILED, s.failed),
            (RATE_LIMITED, s.rate_limited),
            (REDIRECTS, s.redirects),
        ] {
            metrics::counter!(name, "registry" => registry.clone()).absolute(value);
        }
    }
    let run = RUN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = run.as_ref() {
        metrics::counter!(SKIPPED).absolute(v.stats.skipped_total());
        metrics::gauge!(KNOWN_NETWORKS).set(v.coverage.len() as f64);
        metrics::gauge!(LEASES_HELD).set((v.leases_held)() as f64);
    }
}
