//! Prometheus metrics of the coordinator: what the lease engine and the store do, as counters,
//! histograms and gauges named `rdapfleet_coordinator_*`.
//!
//! The library only records (through the `metrics` facade: without an installed recorder every
//! call is a no-op). The binary installs the exporter with [`install`] (`serve --metrics-listen
//! ADDR`: the exporter's own HTTP listener serves `GET /metrics`) and runs [`run_gauges`],
//! which samples the engine's queue sizes.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `rdapfleet_coordinator_leases_granted_total` | counter | | leases handed out |
//! | `rdapfleet_coordinator_leases_completed_total` | counter | | leases ended by CompleteBatch |
//! | `rdapfleet_coordinator_leases_returned_total` | counter | | leases handed back (ReturnLeases) |
//! | `rdapfleet_coordinator_leases_expired_total` | counter | | leases the reaper expired |
//! | `rdapfleet_coordinator_outcomes_total` | counter | `kind` | final outcomes stored (found, skipped, not_found, failed) |
//! | `rdapfleet_coordinator_network_answers_total` | counter | | network answers stored (repeats included) |
//! | `rdapfleet_coordinator_networks_stored` | gauge | | distinct networks in the database |
//! | `rdapfleet_coordinator_telemetry_samples_total` | counter | | worker telemetry samples stored |
//! | `rdapfleet_coordinator_store_commit_seconds` | histogram | | time of one group-commit transaction |
//! | `rdapfleet_coordinator_store_commit_writes` | histogram | | writes in one transaction |
//! | `rdapfleet_coordinator_store_failures_total` | counter | | failed transactions |
//! | `rdapfleet_coordinator_batches` | gauge | `state` | batches pending, leased, done |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio_util::sync::CancellationToken;

use crate::service::Shared;
use crate::{Error, Result};

/// Leases handed out.
pub const LEASES_GRANTED: &str = "rdapfleet_coordinator_leases_granted_total";
/// Leases ended by CompleteBatch.
pub const LEASES_COMPLETED: &str = "rdapfleet_coordinator_leases_completed_total";
/// Leases handed back by their worker.
pub const LEASES_RETURNED: &str = "rdapfleet_coordinator_leases_returned_total";
/// Leases the reaper expired.
pub const LEASES_EXPIRED: &str = "rdapfleet_coordinator_leases_expired_total";
/// Final outcomes stored, by `kind`.
pub const OUTCOMES: &str = "rdapfleet_coordinator_outcomes_total";
/// Network answers stored (repeats of a known network included).
pub const NETWORK_ANSWERS: &str = "rdapfleet_coordinator_network_answers_total";
/// Distinct networks in the database.
pub const NETWORKS_STORED: &str = "rdapfleet_coordinator_networks_stored";
/// Telemetry samples stored.
pub const TELEMETRY_SAMPLES: &str = "rdapfleet_coordinator_telemetry_samples_total";
/// Seconds per store transaction.
pub const COMMIT_SECONDS: &str = "rdapfleet_coordinator_store_commit_seconds";
/// Writes per store transaction.
pub const COMMIT_WRITES: &str = "rdapfleet_coordinator_store_commit_writes";
/// Failed store transactions.
pub const STORE_FAILURES: &str = "rdapfleet_coordinator_store_failures_total";
/// Batches by `state`.
pub const BATCHES: &str = "rdapfleet_coordinator_batches";

/// Install the Prometheus recorder globally and start its HTTP listener on `addr` (on the
/// current tokio runtime). Call once, from the binary; binding errors are input errors.
pub fn install(addr: SocketAddr) -> Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full(COMMIT_SECONDS.into()),
            &[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
            ],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(COMMIT_WRITES.into()),
                &[
                    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
                ],
            )
        })
        .and_then(PrometheusBuilder::install)
        .map_err(|e| Error::Input(format!("cannot serve metrics on {addr}: {e}")))?;
    describe();
    Ok(())
}

/// Help texts of every metric.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(LEASES_GRANTED, "Leases handed out to workers.");
    describe_counter!(LEASES_COMPLETED, "Leases ended by CompleteBatch.");
    describe_counter!(
        LEASES_RETURNED,
        "Leases handed back by their worker (ReturnLeases)."
    );
    describe_counter!(
        LEASES_EXPIRED,
        "Leases expired by the reaper (no heartbeat in time)."
    );
    describe_counter!(OUTCOMES, "Final outcomes stored, by kind.");
    describe_counter!(
        NETWORK_ANSWERS,
        "Network answers stored (repeats included)."
    );
    describe_gauge!(NETWORKS_STORED, "Distinct networks in the crawl database.");
    describe_counter!(TELEMETRY_SAMPLES, "Worker telemetry samples stored.");
    describe_histogram!(
        COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one store transaction (group commit)."
    );
    describe_histogram!(COMMIT_WRITES, "Writes folded into one store transaction.");
    describe_counter!(STORE_FAILURES, "Store transactions that failed.");
    describe_gauge!(BATCHES, "Batches by state (pending, leased, done).");
}

/// Set the distinct-networks gauge from the database (at start; the store adds new ones).
pub fn count_stored_networks(db: &std::path::Path) -> Result<()> {
    let conn = crate::db::open(db, crate::db::Access::ReadOnly)?;
    let n: i64 = if crate::db::has_coordinator_tables(&conn)? {
        conn.query_row("SELECT count(*) FROM networks", [], |r| r.get(0))?
    } else {
        0
    };
    metrics::gauge!(NETWORKS_STORED).set(n as f64);
    Ok(())
}

/// Set the gauges that describe the engine's state now.
pub fn sample_engine(shared: &Shared) {
    let Ok(engine) = shared.engine.lock() else {
        return;
    };
    let (pending, leased, done) = engine.batch_counts();
    drop(engine);
    metrics::gauge!(BATCHES, "state" => "pending").set(pending as f64);
    metrics::gauge!(BATCHES, "state" => "leased").set(leased as f64);
    metrics::gauge!(BATCHES, "state" => "done").set(done as f64);
}

/// Sample the engine's gauges every `every` until `stop` is cancelled.
pub async fn run_gauges(shared: Arc<Shared>, every: Duration, stop: CancellationToken) {
    loop {
        sample_engine(&shared);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
