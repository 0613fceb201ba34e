//! The telemetry view: workers' per-period samples (the `telemetry` table) summed into cluster
//! totals, per registry and per node, rates per minute over a recent window, progress through
//! the seed list (the `outcomes` table), an ETA, and nodes that stopped reporting.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::rfc3339_ms;
use crate::Result;

/// Counters of one kind of activity.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// IPs skipped as covered.
    #[serde(default)]
    pub skipped: f64,
    /// HTTP requests to registries.
    #[serde(default)]
    pub requests: f64,
    /// IPs answered with a network.
    #[serde(default)]
    pub found: f64,
    /// IPs answered 404.
    #[serde(default)]
    pub not_found: f64,
    /// Lookups that failed.
    #[serde(default)]
    pub failed: f64,
    /// Rate-limit answers.
    #[serde(default)]
    pub rate_limited: f64,
    /// Redirects followed.
    #[serde(default)]
    pub redirects: f64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.skipped += o.skipped;
        self.requests += o.requests;
        self.found += o.found;
        self.not_found += o.not_found;
        self.failed += o.failed;
        self.rate_limited += o.rate_limited;
        self.redirects += o.redirects;
    }

    fn scaled(&self, k: f64) -> Counters {
        Counters {
            skipped: self.skipped * k,
            requests: self.requests * k,
            found: self.found * k,
            not_found: self.not_found * k,
            failed: self.failed * k,
            rate_limited: self.rate_limited * k,
            redirects: self.redirects * k,
        }
    }

    /// IPs settled (skipped + found + not found + failed).
    pub fn settled(&self) -> f64 {
        self.skipped + self.found + self.not_found + self.failed
    }
}

#[derive(Debug, Deserialize)]
struct StoredRegistry {
    registry: String,
    #[serde(flatten)]
    counters: Counters,
    #[serde(default)]
    latency_p50_ms: u32,
    #[serde(default)]
    latency_p90_ms: u32,
    #[serde(default)]
    latency_p99_ms: u32,
}

#[derive(Debug, Deserialize)]
struct StoredSample {
    #[serde(default)]
    skipped: f64,
    #[serde(default)]
    in_flight: f64,
    #[serde(default)]
    registries: Vec<StoredRegistry>,
}

/// One registry across the cluster.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegistryView {
    /// arin, ripencc, ...
    pub registry: String,
    /// Since the crawl began.
    pub totals: Counters,
    /// Per minute over the window.
    pub per_minute: Counters,
    /// Worst p50 / p90 / p99 latency (ms) among the nodes' latest samples.
    pub latency_ms: [u32; 3],
}

/// One worker.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeView {
    /// Worker id.
    pub worker_id: String,
    /// Host name from Hello.
    pub hostname: String,
    /// When its last sample arrived.
    pub last_report: String,
    /// Seconds since then.
    pub age_s: u64,
    /// Its last sample said it was stopping.
    pub stopped: bool,
    /// It stopped reporting without saying so.
    pub stale: bool,
    /// Since it started.
    pub totals: Counters,
    /// Per minute over the window.
    pub per_minute: Counters,
    /// Lookups in flight in its last sample.
    pub in_flight: u64,
}

/// Progress through the seed list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Progress {
    /// Seed IPs.
    pub seed_ips: u64,
    /// Seed IPs with a final outcome.
    pub settled: u64,
    /// Final outcomes by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// settled ÷ seed_ips.
    pub share: f64,
    /// IPs settled per minute over the window (from telemetry).
    pub settled_per_minute: f64,
    /// Seconds to go at that rate (none when nothing moves).
    pub eta_s: Option<u64>,
}

/// The whole view (`telemetry --json` prints it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TelemetryReport {
    /// When the view was computed.
    pub generated_at: String,
    /// Window for rates, seconds.
    pub window_s: u64,
    /// Progress.
    pub progress: Progress,
    /// Cluster totals since the start.
    pub totals: Counters,
    /// Cluster rates per minute over the window.
    pub per_minute: Counters,
    /// Per registry.
    pub registries: Vec<RegistryView>,
    /// Per node.
    pub nodes: Vec<NodeView>,
    /// Ids of nodes that stopped reporting (stale).
    pub stale_nodes: Vec<String>,
}

/// Compute the view at `now_ms`, with rates over `window_ms` and nodes stale after `stale_ms`.
pub fn compute(
    conn: &Connection,
    now_ms: i64,
    window_ms: i64,
    stale_ms: i64,
) -> Result<TelemetryReport> {
    let seed_ips: i64 = conn.query_row("SELECT count(*) FROM seeds", [], |r| r.get(0))?;
    let mut by_kind = BTreeMap::new();
    let has_outcomes: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'telemetry'",
        [],
        |r| r.get::<_, i64>(0),
    )? > 0;
    let mut registries: BTreeMap<String, (Counters, Counters, [u32; 3])> = BTreeMap::new();
    let mut nodes: BTreeMap<String, NodeView> = BTreeMap::new();
    let mut totals = Counters::default();
    let mut recent = Counters::default();
    let window_start = now_ms - window_ms;
    // Spread a period's counters over the window by the fraction of it inside the window.
    let overlap = |start: i64, end: i64| -> f64 {
        if end <= start {
            return if end >= window_start { 1.0 } else { 0.0 };
        }
        let inside = (end.min(now_ms) - start.max(window_start)).max(0) as f64;
        inside / (end - start) as f64
    };
    if has_outcomes {
        let mut stmt = conn.prepare("SELECT kind, count(*) FROM outcomes GROUP BY kind")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (k, n) = row?;
            by_kind.insert(k, n as u64);
        }
        let mut stmt = conn.prepare(
            "SELECT t.worker_id, coalesce(w.hostname, ''), t.period_start_ms, t.period_end_ms,
                    t.received_at_ms, t.final, t.counters_json
             FROM telemetry t LEFT JOIN workers w ON w.worker_id = t.worker_id
             ORDER BY t.received_at_ms, t.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)? != 0,
                r.get::<_, String>(6)?,
            ))
        })?;
        for row in rows {
            let (worker, host, start, end, received, fin, json) = row?;
            let Ok(sample) = serde_json::from_str::<StoredSample>(&json) else {
                continue;
            };
            let frac = overlap(start, end);
            let mut node_total = Counters {
                skipped: sample.skipped,
                ..Default::default()
            };
            for reg in &sample.registries {
                node_total.add(&Counters {
                    skipped: 0.0,
                    ..reg.counters
                });
                let e = registries.entry(reg.registry.clone()).or_default();
                e.0.add(&reg.counters);
                e.1.add(&reg.counters.scaled(frac));
            }
            let node = nodes.entry(worker.clone()).or_insert_with(|| NodeView {
                worker_id: worker.clone(),
                hostname: host.clone(),
                last_report: String::new(),
                age_s: 0,
                stopped: false,
                stale: false,
                totals: Counters::default(),
                per_minute: Counters::default(),
                in_flight: 0,
            });
            node.totals.add(&node_total);
            node.per_minute.add(&node_total.scaled(frac));
            node.last_report = rfc3339_ms(received);
            node.age_s = ((now_ms - received).max(0) / 1000) as u64;
            node.stopped = fin;
            node.in_flight = sample.in_flight as u64;
            totals.add(&node_total);
            recent.add(&node_total.scaled(frac));
            // Latest latencies per registry: keep the worst among nodes' latest samples.
            if now_ms - received <= window_ms {
                for reg in &sample.registries {
                    let e = registries.entry(reg.registry.clone()).or_default();
                    e.2 = [
                        e.2[0].max(reg.latency_p50_ms),
                        e.2[1].max(reg.latency_p90_ms),
                        e.2[2].max(reg.latency_p99_ms),
                    ];
                }
            }
        }
    }
    let minutes = (window_ms as f64 / 60_000.0).max(1.0 / 60.0);
    let per_minute = recent.scaled(1.0 / minutes);
    let mut stale_nodes = Vec::new();
    let nodes: Vec<NodeView> = nodes
        .into_values()
        .map(|mut n| {
            n.per_minute = n.per_minute.scaled(1.0 / minutes);
            n.stale = !n.stopped && (n.age_s as i64) * 1000 > stale_ms;
            if n.stale {
                stale_nodes.push(n.worker_id.clone());
            }
            n
        })
        .collect();
    let settled: u64 = by_kind.values().sum();
    let seed_ips = seed_ips as u64;
    let remaining = seed_ips.saturating_sub(settled);
    let rate = per_minute.settled();
    Ok(TelemetryReport {
        generated_at: rfc3339_ms(now_ms),
        window_s: (window_ms / 1000) as u64,
        progress: Progress {
            seed_ips,
            settled,
            by_kind,
            share: if seed_ips == 0 {
                1.0
            } else {
                settled as f64 / seed_ips as f64
            },
            settled_per_minute: rate,
            eta_s: (rate > 0.0).then(|| (remaining as f64 / rate * 60.0).round() as u64),
        },
        totals,
        per_minute,
        registries: registries
            .into_iter()
            .map(|(registry, (t, w, l))| RegistryView {
                registry,
                totals: t,
                per_minute: w.scaled(1.0 / minutes),
                latency_ms: l,
            })
            .collect(),
        nodes,
        stale_nodes,
    })
}

/// The view as text for a terminal; `per_node` adds the node table.
pub fn render_text(r: &TelemetryReport, per_node: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let p = &r.progress;
    let eta = p.eta_s.map_or_else(
        || "-".to_string(),
        |e| format!("{}h{:02}m{:02}s", e / 3600, (e % 3600) / 60, e % 60),
    );
    let _ = writeln!(
        s,
        "rdapfleet telemetry at {} (rates over the last {} s)",
        r.generated_at, r.window_s
    );
    let _ = writeln!(
        s,
        "progress: {}/{} seed IPs settled ({:.2} %), {:.0}/min, ETA {eta}",
        p.settled,
        p.seed_ips,
        100.0 * p.share,
        p.settled_per_minute
    );
    let kinds: Vec<String> = p.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        s,
        "outcomes: {}",
        if kinds.is_empty() {
            "none yet".into()
        } else {
            kinds.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "\n{:<9} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>17}",
        "registry",
        "requests",
        "found",
        "404",
        "failed",
        "429",
        "redir",
        "req/min",
        "p50/p90/p99 ms"
    );
    for g in &r.registries {
        let t = &g.totals;
        let _ = writeln!(
            s,
            "{:<9} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9.1} {:>17}",
            g.registry,
            t.requests,
            t.found,
            t.not_found,
            t.failed,
            t.rate_limited,
            t.redirects,
            g.per_minute.requests,
            format!(
                "{}/{}/{}",
                g.latency_ms[0], g.latency_ms[1], g.latency_ms[2]
            )
        );
    }
    let t = &r.totals;
    let _ = writeln!(
        s,
        "{:<9} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9.1}   skipped {} ({:.0}/min)",
        "total",
        t.requests,
        t.found,
        t.not_found,
        t.failed,
        t.rate_limited,
        t.redirects,
        r.per_minute.requests,
        t.skipped,
        r.per_minute.skipped
    );
    if per_node {
        let _ = writeln!(
            s,
            "\n{:<24} {:<18} {:>8} {:>10} {:>9} {:>9} {:>9}  state",
            "node", "host", "age", "requests", "found", "skipped", "req/min"
        );
        for n in &r.nodes {
            let state = if n.stopped {
                "stopped"
            } else if n.stale {
                "STALE"
            } else {
                "ok"
            };
            let _ = writeln!(
                s,
                "{:<24} {:<18} {:>7}s {:>10} {:>9} {:>9} {:>9.1}  {state}",
                n.worker_id,
                n.hostname,
                n.age_s,
                n.totals.requests,
                n.totals.found,
                n.totals.skipped,
                n.per_minute.requests
            );
        }
    }
    if !r.stale_nodes.is_empty() {
        let _ = writeln!(
            s,
            "\nstale nodes (no report for a while): {}",
            r.stale_nodes.join(", ")
        );
    }
    s
}
