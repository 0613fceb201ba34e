//! The worker's telemetry: per-period samples sent to the coordinator (normally every minute,
//! and once more on the way out). Registry counters come from the RDAP client's own cumulative
//! counters (a sample is the difference since the previous one) and its latency samples; the
//! worker adds what only it knows: IPs skipped as covered.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdapfleet_proto::v1::{RegistryCounters, TelemetrySample};
use rdapfleet_rdap::client::RdapClient;
use rdapfleet_rdap::rates::RateTarget;
use rdapfleet_rdap::stats::Snapshot;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Counters the walks bump, and what the last sample already reported.
#[derive(Debug)]
pub struct Stats {
    skipped: AtomicU64,
    skipped_total: AtomicU64,
    last: Mutex<(i64, HashMap<RateTarget, Snapshot>)>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            skipped: AtomicU64::new(0),
            skipped_total: AtomicU64::new(0),
            last: Mutex::new((now_ms(), HashMap::new())),
        }
    }
}

/// The value at quantile `q` of sorted samples, in ms.
fn quantile_ms(sorted: &[Duration], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_millis().min(u128::from(u32::MAX)) as u32
}

impl Stats {
    /// One IP skipped as covered.
    pub fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.skipped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// IPs skipped since start.
    pub fn skipped_total(&self) -> u64 {
        self.skipped_total.load(Ordering::Relaxed)
    }

    /// Close the current period: counters since the previous sample, per registry.
    pub fn take_sample(&self, rdap: &RdapClient, in_flight: u64, last: bool) -> TelemetrySample {
        let mut guard = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let (start, previous) = &mut *guard;
        let end = now_ms();
        let mut registries = Vec::new();
        for (target, now) in rdap.stats() {
            let before = previous.get(&target).copied().unwrap_or_default();
            let mut lat = rdap.drain_latencies(target);
            lat.sort_unstable();
            let delta = RegistryCounters {
                registry: match target {
                    RateTarget::Registry(r) => r.to_string(),
                    RateTarget::Other => "other".to_string(),
                },
                requests: now.requests.saturating_sub(before.requests),
                found: now.found.saturating_sub(before.found),
                not_found: now.not_found.saturating_sub(before.not_found),
                failed: now.failed.saturating_sub(before.failed),
                rate_limited: now.rate_limited.saturating_sub(before.rate_limited),
                redirects: now.redirects.saturating_sub(before.redirects),
                latency_p50_ms: quantile_ms(&lat, 0.5),
                latency_p90_ms: quantile_ms(&lat, 0.9),
                latency_p99_ms: quantile_ms(&lat, 0.99),
                latency_max_ms: lat
                    .last()
                    .map_or(0, |d| d.as_millis().min(u128::from(u32::MAX)) as u32),
            };
            previous.insert(target, now);
            if delta.requests > 0 || delta.found > 0 || delta.not_found > 0 || delta.failed > 0 {
                registries.push(delta);
            }
        }
        let sample = TelemetrySample {
            period_start_ms: *start,
            period_end_ms: end,
            skipped: self.skipped.swap(0, Ordering::Relaxed),
            queued: 0,
            in_flight,
            registries,
            r#final: last,
        };
        *start = end;
        sample
    }
}
