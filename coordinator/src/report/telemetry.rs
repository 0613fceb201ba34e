//! The telemetry view: the workers' per-period samples (the `telemetry` table: counters since
//! the node's previous sample, per registry) summed into cluster totals, per registry and per
//! node; rates per minute over a recent window; progress through the seed list (the `outcomes`
//! table) with an ETA; and nodes that stopped reporting.
//!
//! [`Aggregator`] reads each sample once: [`Aggregator::update`] picks up rows added since the
//! last call (so `telemetry --watch` costs only the new rows per refresh), and
//! [`Aggregator::report`] computes the view for a given time.
//!
//! Definitions:
//! - a node's **rate** counts what it reported over its last `window` of reported time (ending
//!   at the end of its latest sample, not at "now", so the period not reported yet does not
//!   dilute it), divided by that span; a stopped or stale node's rate is 0. Cluster and
//!   registry rates are sums over nodes.
//! - a node is **stopped** when its latest sample was its final one (it drained and exited),
//!   **stale** when it is not stopped and nothing came from it (no sample, no RPC recorded in
//!   `workers.last_seen_ms`) for `stale_after`.
//! - **progress** counts final outcomes; its rate counts outcomes settled (by workers or the
//!   coordinator's pre-filter) within the window before now; the ETA is what remains at that
//!   rate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::rfc3339_ms;
use crate::Result;

/// Counters of activity (totals since the start).
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// IPs skipped by the worker as covered (0 in per-registry views).
    #[serde(default)]
    pub skipped: u64,
    /// HTTP requests to registries (redirect hops and retries included).
    #[serde(default)]
    pub requests: u64,
    /// Lookups that ended with a network.
    #[serde(default)]
    pub found: u64,
    /// Lookups that ended "not found".
    #[serde(default)]
    pub not_found: u64,
    /// Lookups that failed (retryable ones included).
    #[serde(default)]
    pub failed: u64,
    /// Rate-limit answers (429 or a rate-limit notice).
    #[serde(default)]
    pub rate_limited: u64,
    /// Redirects followed.
    #[serde(default)]
    pub redirects: u64,
}

impl Counts {
    /// Saturating: the counters are whatever workers sent.
    fn add(&mut self, o: &Counts) {
        self.skipped = self.skipped.saturating_add(o.skipped);
        self.requests = self.requests.saturating_add(o.requests);
        self.found = self.found.saturating_add(o.found);
        self.not_found = self.not_found.saturating_add(o.not_found);
        self.failed = self.failed.saturating_add(o.failed);
        self.rate_limited = self.rate_limited.saturating_add(o.rate_limited);
        self.redirects = self.redirects.saturating_add(o.redirects);
    }

    fn scaled(&self, k: f64) -> Rates {
        Rates {
            skipped: self.skipped as f64 * k,
            requests: self.requests as f64 * k,
            found: self.found as f64 * k,
            not_found: self.not_found as f64 * k,
            failed: self.failed as f64 * k,
            rate_limited: self.rate_limited as f64 * k,
            redirects: self.redirects as f64 * k,
        }
    }
}

/// The same counters per minute.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct Rates {
    /// IPs skipped as covered per minute.
    pub skipped: f64,
    /// Requests per minute.
    pub requests: f64,
    /// Lookups found per minute.
    pub found: f64,
    /// Lookups not found per minute.
    pub not_found: f64,
    /// Failed lookups per minute.
    pub failed: f64,
    /// Rate-limit answers per minute.
    pub rate_limited: f64,
    /// Redirects per minute.
    pub redirects: f64,
}

impl Rates {
    fn add(&mut self, o: &Rates) {
        self.skipped += o.skipped;
        self.requests += o.requests;
        self.found += o.found;
        self.not_found += o.not_found;
        self.failed += o.failed;
        self.rate_limited += o.rate_limited;
        self.redirects += o.redirects;
    }
}

#[derive(Debug, Deserialize)]
struct StoredRegistry {
    registry: String,
    #[serde(flatten)]
    counts: Counts,
    #[serde(default)]
    latency_p50_ms: u32,
    #[serde(default)]
    latency_p90_ms: u32,
    #[serde(default)]
    latency_p99_ms: u32,
    #[serde(default)]
    latency_max_ms: u32,
}

#[derive(Debug, Deserialize)]
struct StoredSample {
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    queued: u64,
    #[serde(default)]
    in_flight: u64,
    #[serde(default)]
    registries: Vec<StoredRegistry>,
}

/// Lookup latency of one registry: the worst p50 / p90 / p99 / max (ms) among the latest
/// samples of the nodes still working.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50_ms: u32,
    /// 90th percentile.
    pub p90_ms: u32,
    /// 99th percentile.
    pub p99_ms: u32,
    /// Slowest.
    pub max_ms: u32,
}

impl Latency {
    fn worst(&mut self, o: &Latency) {
        self.p50_ms = self.p50_ms.max(o.p50_ms);
        self.p90_ms = self.p90_ms.max(o.p90_ms);
        self.p99_ms = self.p99_ms.max(o.p99_ms);
        self.max_ms = self.max_ms.max(o.max_ms);
    }
}

/// One registry across the cluster.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegistryView {
    /// arin, ripencc, apnic, lacnic, afrinic (or other).
    pub registry: String,
    /// Since the crawl began.
    pub totals: Counts,
    /// Per minute (sum of the working nodes' rates).
    pub per_minute: Rates,
    /// Latency of the working nodes' latest samples.
    pub latency: Latency,
}

/// A node's state.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Reporting.
    Ok,
    /// Its last sample was its final one: it drained and exited.
    Stopped,
    /// Nothing came from it for `stale_after` without a final sample.
    Stale,
}

/// One worker.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeView {
    /// Worker id.
    pub worker_id: String,
    /// Host name from Hello.
    pub hostname: String,
    /// When its last sample arrived (RFC 3339), if it sent any.
    pub last_report: Option<String>,
    /// Seconds since anything came from it (sample or RPC).
    pub idle_s: u64,
    /// Ok, stopped or stale.
    pub state: NodeState,
    /// Samples received.
    pub samples: u64,
    /// Since it started.
    pub totals: Counts,
    /// Per minute over its last window.
    pub per_minute: Rates,
    /// Leases it held (batches being walked) at its last sample.
    pub in_flight: u64,
    /// Lookups queued at its last sample.
    pub queued: u64,
}

/// Progress through the seed list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    /// Seed IPs.
    pub seed_ips: u64,
    /// Seed IPs with a final outcome.
    pub settled: u64,
    /// Final outcomes by kind (found, skipped, not_found, failed).
    pub by_kind: BTreeMap<String, u64>,
    /// settled ÷ seed_ips.
    pub share: f64,
    /// IPs settled per minute over the window before now.
    pub settled_per_minute: f64,
    /// Seconds to go at that rate (none when nothing moves; 0 when complete).
    pub eta_s: Option<u64>,
}

/// Node counts by state.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct NodeCounts {
    /// Reporting.
    pub ok: u64,
    /// Exited cleanly.
    pub stopped: u64,
    /// Stopped reporting.
    pub stale: u64,
}

/// The whole view (`telemetry --json` prints it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TelemetryReport {
    /// When the view was computed (RFC 3339).
    pub generated_at: String,
    /// Window for rates, seconds.
    pub window_s: u64,
    /// A node is stale after this many seconds without a sign of life.
    pub stale_after_s: u64,
    /// Progress.
    pub progress: Progress,
    /// Cluster totals since the start.
    pub totals: Counts,
    /// Cluster rates per minute.
    pub per_minute: Rates,
    /// Per registry.
    pub registries: Vec<RegistryView>,
    /// Nodes by state.
    pub node_counts: NodeCounts,
    /// Per node.
    pub nodes: Vec<NodeView>,
    /// Ids of stale nodes.
    pub stale_nodes: Vec<String>,
}

/// A sample kept for rates.
#[derive(Debug)]
struct Recent {
    start: i64,
    end: i64,
    total: Counts,
    registries: Vec<(Arc<str>, Counts)>,
}

#[derive(Debug, Default)]
struct NodeAcc {
    hostname: String,
    last_seen_ms: Option<i64>,
    samples: u64,
    totals: Counts,
    first_start: Option<i64>,
    last_end: i64,
    last_received: Option<i64>,
    last_final: bool,
    in_flight: u64,
    queued: u64,
    /// Latency per registry from the latest sample that carried it: (received, latency).
    latency: BTreeMap<Arc<str>, (i64, Latency)>,
    recent: VecDeque<Recent>,
}

/// Telemetry read incrementally from a crawl database; see the module documentation.
#[derive(Debug)]
pub struct Aggregator {
    window_ms: i64,
    stale_ms: i64,
    last_id: i64,
    nodes: BTreeMap<String, NodeAcc>,
    registries: BTreeMap<Arc<str>, Counts>,
    /// Samples whose counters did not parse (damaged rows), skipped.
    pub damaged: u64,
    progress: Option<Progress>,
}

impl Aggregator {
    /// Rates over `window_ms`; nodes stale after `stale_ms`.
    pub fn new(window_ms: i64, stale_ms: i64) -> Self {
        Self {
            window_ms: window_ms.max(1),
            stale_ms: stale_ms.max(0),
            last_id: 0,
            nodes: BTreeMap::new(),
            registries: BTreeMap::new(),
            damaged: 0,
            progress: None,
        }
    }

    /// Read the samples added since the last call, the workers table and the outcomes, as of
    /// `now_ms`. `served` is false for a seed file that has no coordinator tables yet.
    pub fn update(&mut self, conn: &Connection, served: bool, now_ms: i64) -> Result<()> {
        let seed_ips: i64 =
            conn.query_row("SELECT coalesce(sum(ip_count), 0) FROM batches", [], |r| {
                r.get(0)
            })?;
        let mut by_kind = BTreeMap::new();
        let (mut settled, mut recent, mut first_at) = (0u64, 0u64, None::<i64>);
        if served {
            // One pass over outcomes without sorting: counts by kind and within the window.
            conn.query_row(
                "SELECT count(*), coalesce(sum(kind = 'found'), 0), coalesce(sum(kind = 'skipped'), 0),
                        coalesce(sum(kind = 'not_found'), 0), coalesce(sum(kind = 'failed'), 0),
                        coalesce(sum(at_ms >= ?1), 0), min(at_ms)
                 FROM outcomes",
                [now_ms.saturating_sub(self.window_ms)],
                |r| {
                    settled = r.get::<_, i64>(0)?.max(0) as u64;
                    for (i, k) in ["found", "skipped", "not_found", "failed"].iter().enumerate() {
                        by_kind.insert(k.to_string(), r.get::<_, i64>(i + 1)?.max(0) as u64);
                    }
                    recent = r.get::<_, i64>(5)?.max(0) as u64;
                    first_at = r.get(6)?;
                    Ok(())
                },
            )?;
            let mut stmt = conn.prepare(
                "SELECT worker_id, hostname, max(last_seen_ms, coalesce(last_heartbeat_ms, 0))
                 FROM workers",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                let node = self.nodes.entry(id).or_default();
                node.hostname = r.get(1)?;
                node.last_seen_ms = r.get(2)?;
            }
            let mut stmt = conn.prepare(
                "SELECT id, worker_id, period_start_ms, period_end_ms, received_at_ms, final,
                        counters_json
                 FROM telemetry WHERE id > ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([self.last_id])?;
            while let Some(r) = rows.next()? {
                self.last_id = r.get(0)?;
                let json: String = r.get(6)?;
                let Ok(sample) = serde_json::from_str::<StoredSample>(&json) else {
                    self.damaged += 1;
                    continue;
                };
                self.add_sample(
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, bool>(5)?,
                    sample,
                );
            }
        }
        let seed_ips = seed_ips.max(0) as u64;
        let span = first_at.map_or(self.window_ms, |f| {
            now_ms.saturating_sub(f).clamp(1, self.window_ms)
        });
        let rate = recent as f64 * 60_000.0 / span as f64;
        let remaining = seed_ips.saturating_sub(settled);
        self.progress = Some(Progress {
            seed_ips,
            settled,
            by_kind,
            share: if seed_ips == 0 {
                1.0
            } else {
                settled as f64 / seed_ips as f64
            },
            settled_per_minute: rate,
            eta_s: if remaining == 0 {
                Some(0)
            } else if rate > 0.0 {
                Some((remaining as f64 / rate * 60.0).round() as u64)
            } else {
                None
            },
        });
        Ok(())
    }

    fn add_sample(
        &mut self,
        worker: String,
        start: i64,
        end: i64,
        received: i64,
        fin: bool,
        sample: StoredSample,
    ) {
        let mut total = Counts {
            skipped: sample.skipped,
            ..Default::default()
        };
        let mut regs = Vec::with_capacity(sample.registries.len());
        let node = self.nodes.entry(worker).or_default();
        for reg in sample.registries {
            let name: Arc<str> = match self.registries.get_key_value(reg.registry.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(reg.registry.as_str()),
            };
            let counts = Counts {
                skipped: 0,
                ..reg.counts
            };
            total.add(&counts);
            self.registries
                .entry(name.clone())
                .or_default()
                .add(&counts);
            node.latency.insert(
                name.clone(),
                (
                    received,
                    Latency {
                        p50_ms: reg.latency_p50_ms,
                        p90_ms: reg.latency_p90_ms,
                        p99_ms: reg.latency_p99_ms,
                        max_ms: reg.latency_max_ms,
                    },
                ),
            );
            regs.push((name, counts));
        }
        node.samples += 1;
        node.totals.add(&total);
        node.first_start = Some(node.first_start.map_or(start, |f| f.min(start)));
        node.last_end = node.last_end.max(end);
        if node.last_received.is_none_or(|r| received >= r) {
            node.last_received = Some(received);
            node.last_final = fin;
            node.in_flight = sample.in_flight;
            node.queued = sample.queued;
        }
        node.recent.push_back(Recent {
            start,
            end,
            total,
            registries: regs,
        });
        let keep_from = node.last_end.saturating_sub(self.window_ms);
        while node.recent.front().is_some_and(|r| r.end < keep_from) {
            node.recent.pop_front();
        }
    }

    /// The view at `now_ms` (after [`Aggregator::update`]).
    pub fn report(&self, now_ms: i64) -> TelemetryReport {
        let mut totals = Counts::default();
        let mut per_minute = Rates::default();
        let mut reg_rates: BTreeMap<&str, Rates> = BTreeMap::new();
        let mut latency: BTreeMap<&str, Latency> = BTreeMap::new();
        let mut nodes = Vec::with_capacity(self.nodes.len());
        let mut stale_nodes = Vec::new();
        let mut node_counts = NodeCounts::default();
        for (id, n) in &self.nodes {
            let last_sign = n.last_received.max(n.last_seen_ms).unwrap_or(0);
            let idle_ms = now_ms.saturating_sub(last_sign).max(0);
            // A final sample is the last thing a draining worker sends; a worker seen after it
            // (same id, started again) is judged by its silence like any other.
            let state = if n.last_final && n.last_received.is_some_and(|r| r >= last_sign) {
                NodeState::Stopped
            } else if idle_ms > self.stale_ms {
                NodeState::Stale
            } else {
                NodeState::Ok
            };
            match state {
                NodeState::Ok => node_counts.ok += 1,
                NodeState::Stopped => node_counts.stopped += 1,
                NodeState::Stale => {
                    node_counts.stale += 1;
                    stale_nodes.push(id.clone());
                }
            }
            totals.add(&n.totals);
            let mut node_rate = Rates::default();
            if state == NodeState::Ok && !n.recent.is_empty() {
                let we = n.last_end;
                let ws = we
                    .saturating_sub(self.window_ms)
                    .max(n.first_start.unwrap_or(we));
                let span_min = we.saturating_sub(ws).max(1_000) as f64 / 60_000.0;
                for s in &n.recent {
                    let frac = overlap(s.start, s.end, ws, we);
                    if frac <= 0.0 {
                        continue;
                    }
                    node_rate.add(&s.total.scaled(frac / span_min));
                    for (reg, c) in &s.registries {
                        reg_rates
                            .entry(reg)
                            .or_default()
                            .add(&c.scaled(frac / span_min));
                    }
                }
                for (reg, (received, l)) in &n.latency {
                    if now_ms.saturating_sub(*received) <= self.window_ms {
                        latency.entry(reg).or_default().worst(l);
                    }
                }
            }
            per_minute.add(&node_rate);
            nodes.push(NodeView {
                worker_id: id.clone(),
                hostname: n.hostname.clone(),
                last_report: n.last_received.map(rfc3339_ms),
                idle_s: (idle_ms / 1000) as u64,
                state,
                samples: n.samples,
                totals: n.totals,
                per_minute: node_rate,
                in_flight: n.in_flight,
                queued: n.queued,
            });
        }
        let registries = self
            .registries
            .iter()
            .map(|(name, t)| RegistryView {
                registry: name.to_string(),
                totals: *t,
                per_minute: reg_rates.get(&**name).copied().unwrap_or_default(),
                latency: latency.get(&**name).copied().unwrap_or_default(),
            })
            .collect();
        TelemetryReport {
            generated_at: rfc3339_ms(now_ms),
            window_s: (self.window_ms / 1000) as u64,
            stale_after_s: (self.stale_ms / 1000) as u64,
            progress: self.progress.clone().unwrap_or(Progress {
                seed_ips: 0,
                settled: 0,
                by_kind: BTreeMap::new(),
                share: 1.0,
                settled_per_minute: 0.0,
                eta_s: Some(0),
            }),
            totals,
            per_minute,
            registries,
            node_counts,
            nodes,
            stale_nodes,
        }
    }
}

/// The share of a sample's period `start..end` inside `ws..=we` (a zero-length sample counts
/// whole when its instant is inside).
fn overlap(start: i64, end: i64, ws: i64, we: i64) -> f64 {
    if end <= start {
        return if (ws..=we).contains(&end) { 1.0 } else { 0.0 };
    }
    // In i128: a period stored as i64::MIN..i64::MAX is wider than an i64.
    let inside = (i128::from(end.min(we)) - i128::from(start.max(ws))).max(0) as f64;
    inside / (i128::from(end) - i128::from(start)) as f64
}

/// Compute the view once: read everything at `now_ms`.
pub fn compute(
    conn: &Connection,
    served: bool,
    now_ms: i64,
    window_ms: i64,
    stale_ms: i64,
) -> Result<TelemetryReport> {
    let mut a = Aggregator::new(window_ms, stale_ms);
    a.update(conn, served, now_ms)?;
    Ok(a.report(now_ms))
}

fn duration(s: u64) -> String {
    if s >= 86_400 {
        format!(
            "{}d{:02}h{:02}m",
            s / 86_400,
            (s % 86_400) / 3600,
            (s % 3600) / 60
        )
    } else if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The view as text for a terminal; `per_node` adds the node table.
pub fn render_text(r: &TelemetryReport, per_node: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let p = &r.progress;
    let eta = match p.eta_s {
        Some(0) if p.settled >= p.seed_ips => "done".to_string(),
        Some(e) => duration(e),
        None => "-".to_string(),
    };
    let _ = writeln!(
        s,
        "rdapfleet telemetry at {} (rates over the last {}, nodes stale after {})",
        r.generated_at,
        duration(r.window_s),
        duration(r.stale_after_s)
    );
    let _ = writeln!(
        s,
        "progress: {}/{} seed IPs settled ({:.2} %), {:.0}/min, ETA {eta}",
        p.settled,
        p.seed_ips,
        100.0 * p.share,
        p.settled_per_minute
    );
    let kinds: Vec<String> = p
        .by_kind
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "outcomes: {}",
        if kinds.is_empty() {
            "none yet".into()
        } else {
            kinds.join(", ")
        }
    );
    let c = &r.node_counts;
    let _ = writeln!(
        s,
        "nodes: {} reporting, {} stopped, {} stale",
        c.ok, c.stopped, c.stale
    );
    let _ = writeln!(
        s,
        "\n{:<9} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>9} {:>9} {:>18}",
        "registry",
        "requests",
        "found",
        "404",
        "failed",
        "429",
        "redir",
        "req/min",
        "found/min",
        "p50/p90/p99 ms"
    );
    for g in &r.registries {
        let t = &g.totals;
        let _ = writeln!(
            s,
            "{:<9} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>9.1} {:>9.1} {:>18}",
            g.registry,
            t.requests,
            t.found,
            t.not_found,
            t.failed,
            t.rate_limited,
            t.redirects,
            g.per_minute.requests,
            g.per_minute.found,
            format!(
                "{}/{}/{}",
                g.latency.p50_ms, g.latency.p90_ms, g.latency.p99_ms
            )
        );
    }
    let t = &r.totals;
    let _ = writeln!(
        s,
        "{:<9} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>9.1} {:>9.1}",
        "total",
        t.requests,
        t.found,
        t.not_found,
        t.failed,
        t.rate_limited,
        t.redirects,
        r.per_minute.requests,
        r.per_minute.found,
    );
    let _ = writeln!(
        s,
        "skipped as covered by workers: {} ({:.1}/min)",
        t.skipped, r.per_minute.skipped
    );
    if per_node {
        let _ = writeln!(
            s,
            "\n{:<24} {:<20} {:>8} {:>10} {:>9} {:>9} {:>9} {:>6}  state",
            "node", "host", "idle", "requests", "found", "skipped", "req/min", "leases"
        );
        for n in &r.nodes {
            let state = match n.state {
                NodeState::Ok => "ok",
                NodeState::Stopped => "stopped",
                NodeState::Stale => "STALE",
            };
            let _ = writeln!(
                s,
                "{:<24} {:<20} {:>8} {:>10} {:>9} {:>9} {:>9.1} {:>6}  {state}",
                n.worker_id,
                n.hostname,
                duration(n.idle_s),
                n.totals.requests,
                n.totals.found,
                n.totals.skipped,
                n.per_minute.requests,
                n.in_flight
            );
        }
    }
    if !r.stale_nodes.is_empty() {
        let _ = writeln!(
            s,
            "\nstale nodes (nothing from them for over {}): {}",
            duration(r.stale_after_s),
            r.stale_nodes.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(skipped: u64, regs: &[(&str, u64, u64, u32)]) -> StoredSample {
        StoredSample {
            skipped,
            queued: 0,
            in_flight: 2,
            registries: regs
                .iter()
                .map(|&(r, requests, found, p50)| StoredRegistry {
                    registry: r.into(),
                    counts: Counts {
                        requests,
                        found,
                        ..Default::default()
                    },
                    latency_p50_ms: p50,
                    latency_p90_ms: p50 * 2,
                    latency_p99_ms: p50 * 3,
                    latency_max_ms: p50 * 4,
                })
                .collect(),
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn rates_count_each_nodes_last_window_and_stop_with_it() {
        let mut a = Aggregator::new(5 * MIN, 3 * MIN);
        let t0 = 1_000_000 * MIN;
        // Node a: ten one-minute samples of 60 ARIN requests and 10 skipped.
        for i in 0..10 {
            let s = t0 + i * MIN;
            a.add_sample(
                "a".into(),
                s,
                s + MIN,
                s + MIN,
                false,
                sample(10, &[("arin", 60, 6, 100)]),
            );
        }
        // Node b: two samples 120 RIPE requests/min, its second one final.
        a.add_sample(
            "b".into(),
            t0,
            t0 + MIN,
            t0 + MIN,
            false,
            sample(0, &[("ripencc", 120, 0, 50)]),
        );
        a.add_sample(
            "b".into(),
            t0 + MIN,
            t0 + 2 * MIN,
            t0 + 2 * MIN,
            true,
            sample(0, &[("ripencc", 120, 0, 50)]),
        );
        let now = t0 + 10 * MIN + 20_000;
        let r = a.report(now);
        assert_eq!(r.totals.requests, 600 + 240);
        assert_eq!(r.totals.skipped, 100);
        // Only a is working: 60 requests and 10 skips a minute.
        assert!(
            (r.per_minute.requests - 60.0).abs() < 1e-9,
            "{:?}",
            r.per_minute
        );
        assert!((r.per_minute.skipped - 10.0).abs() < 1e-9);
        let arin = r.registries.iter().find(|g| g.registry == "arin").unwrap();
        assert!((arin.per_minute.requests - 60.0).abs() < 1e-9);
        assert_eq!(arin.latency.p99_ms, 300);
        let ripe = r
            .registries
            .iter()
            .find(|g| g.registry == "ripencc")
            .unwrap();
        assert_eq!(ripe.totals.requests, 240);
        assert_eq!(ripe.per_minute.requests, 0.0, "b stopped");
        assert_eq!(
            ripe.latency,
            Latency::default(),
            "no working node reports it"
        );
        let b = r.nodes.iter().find(|n| n.worker_id == "b").unwrap();
        assert_eq!(b.state, NodeState::Stopped);
        assert_eq!(
            r.node_counts,
            NodeCounts {
                ok: 1,
                stopped: 1,
                stale: 0
            }
        );
        assert!(r.stale_nodes.is_empty());

        // Four minutes later node a has said nothing: stale, and its rate is 0.
        let r = a.report(now + 4 * MIN);
        assert_eq!(r.stale_nodes, vec!["a".to_string()]);
        assert_eq!(r.per_minute.requests, 0.0);
        assert_eq!(r.node_counts.stale, 1);
    }

    #[test]
    fn a_young_node_is_not_diluted_by_the_window() {
        let mut a = Aggregator::new(5 * MIN, 3 * MIN);
        let t0 = 1_000 * MIN;
        // Thirty seconds of work: 30 requests -> 60/min, not 6/min.
        a.add_sample(
            "a".into(),
            t0,
            t0 + 30_000,
            t0 + 30_000,
            false,
            sample(0, &[("apnic", 30, 3, 10)]),
        );
        let r = a.report(t0 + 40_000);
        assert!(
            (r.per_minute.requests - 60.0).abs() < 1e-9,
            "{:?}",
            r.per_minute
        );
        // A sample straddling the window start counts for the part inside.
        let mut a = Aggregator::new(MIN, 3 * MIN);
        a.add_sample(
            "a".into(),
            t0,
            t0 + 2 * MIN,
            t0 + 2 * MIN,
            false,
            sample(0, &[("apnic", 120, 0, 10)]),
        );
        a.add_sample(
            "a".into(),
            t0 + 2 * MIN,
            t0 + 2 * MIN + 30_000,
            t0 + 2 * MIN + 30_000,
            false,
            sample(0, &[("apnic", 0, 0, 10)]),
        );
        let r = a.report(t0 + 2 * MIN + 30_000);
        // Window = the last minute: 30 s of the first sample (30 requests) + 30 s of nothing.
        assert!(
            (r.per_minute.requests - 30.0).abs() < 1e-9,
            "{:?}",
            r.per_minute
        );
    }

    #[test]
    fn latest_sample_gives_the_node_state() {
        let mut a = Aggregator::new(5 * MIN, 3 * MIN);
        a.add_sample("a".into(), 0, MIN, MIN, false, sample(1, &[]));
        a.add_sample(
            "a".into(),
            MIN,
            2 * MIN,
            2 * MIN,
            false,
            StoredSample {
                in_flight: 7,
                queued: 3,
                ..sample(1, &[])
            },
        );
        let r = a.report(2 * MIN);
        let n = &r.nodes[0];
        assert_eq!((n.in_flight, n.queued, n.samples), (7, 3, 2));
        assert_eq!(n.totals.skipped, 2);
        assert_eq!(n.last_report.as_deref(), Some("1970-01-01T00:02:00.000Z"));
        let text = render_text(&r, true);
        assert!(
            text.contains("nodes: 1 reporting, 0 stopped, 0 stale"),
            "{text}"
        );
    }

    /// Counters and periods come from workers over the wire (and from a file anyone may
    /// edit): extreme values must give a report, not an arithmetic overflow.
    #[test]
    fn extreme_counters_and_periods_do_not_overflow() {
        let mut a = Aggregator::new(5 * MIN, 3 * MIN);
        let huge = || sample(u64::MAX, &[("arin", u64::MAX, u64::MAX, 1_000)]);
        a.add_sample("a".into(), 0, MIN, MIN, false, huge());
        a.add_sample("a".into(), MIN, 2 * MIN, 2 * MIN, false, huge());
        a.add_sample("b".into(), i64::MIN, i64::MAX, 2 * MIN, false, huge());
        let r = a.report(2 * MIN);
        assert_eq!(r.totals.requests, u64::MAX, "saturated");
        assert_eq!(r.totals.skipped, u64::MAX);
        assert_eq!(r.registries[0].totals.found, u64::MAX);
        assert!(r.per_minute.requests.is_finite());
        let _ = render_text(&r, true);
    }

    #[test]
    fn overlap_of_the_widest_period() {
        assert_eq!(
            overlap(i64::MIN, i64::MAX, 0, MIN),
            MIN as f64 / u64::MAX as f64
        );
        assert_eq!(overlap(0, 2 * MIN, 0, MIN), 0.5);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(61), "1m01s");
        assert_eq!(duration(3 * 3600 + 5), "3h00m05s");
        assert_eq!(duration(2 * 86_400 + 3600), "2d01h00m");
    }
}
