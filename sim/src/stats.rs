//! Honest counters, kept outside any crawler: queries per registry and status, refused
//! connections, rate-limited answers, redirects, faults, and how many times each network was
//! answered, so that a crawl's efficiency (answers per distinct network) is measured from the
//! server's side. Lock-free (atomics); `GET /_sim/stats` renders [`Stats::snapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use rdapfleet_rdap::Registry;
use serde_json::{Value, json};

use crate::config::idx;
use crate::names;
use crate::world::{NetId, World};

const STATUSES: usize = 600;

/// Fault kinds counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 500 answers.
    Error,
    /// Delayed answers.
    Slow,
    /// Truncated JSON.
    Truncated,
    /// Bodies over 1 MiB.
    Oversized,
    /// Connections closed without an answer (outage, refuse mode).
    Refused,
    /// 503 answers (outage, 503 mode).
    Unavailable,
}

const FAULT_NAMES: [&str; 6] = [
    "error_500",
    "slow",
    "truncated",
    "oversized",
    "refused",
    "unavailable_503",
];

/// The counters.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    by_status: Vec<AtomicU64>,
    faults: Vec<AtomicU64>,
    rate_limited: [AtomicU64; 5],
    served: Vec<AtomicU32>,
}

impl Stats {
    /// Counters for a world of `networks` networks.
    pub fn new(networks: usize) -> Self {
        Stats {
            started: Instant::now(),
            by_status: (0..5 * STATUSES).map(|_| AtomicU64::new(0)).collect(),
            faults: (0..5 * FAULT_NAMES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            rate_limited: Default::default(),
            served: (0..networks).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Count an answer with this status.
    pub fn status(&self, r: Registry, status: u16) {
        let s = usize::from(status).min(STATUSES - 1);
        self.by_status[idx(r) * STATUSES + s].fetch_add(1, Relaxed);
    }

    /// Count a fault.
    pub fn fault(&self, r: Registry, kind: FaultKind) {
        self.faults[idx(r) * FAULT_NAMES.len() + kind as usize].fetch_add(1, Relaxed);
    }

    /// Count a rate-limited answer (429 or LACNIC's notice, whatever its status).
    pub fn rate_limited(&self, r: Registry) {
        self.rate_limited[idx(r)].fetch_add(1, Relaxed);
    }

    /// Count a network answer.
    pub fn served(&self, id: NetId) {
        if let Some(c) = self.served.get(id as usize) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// How many times a network was answered.
    pub fn served_count(&self, id: NetId) -> u32 {
        self.served.get(id as usize).map_or(0, |c| c.load(Relaxed))
    }

    /// Zero every counter.
    pub fn reset(&self) {
        for c in self
            .by_status
            .iter()
            .chain(&self.faults)
            .chain(&self.rate_limited)
        {
            c.store(0, Relaxed);
        }
        for c in &self.served {
            c.store(0, Relaxed);
        }
    }

    /// The JSON document of `GET /_sim/stats`; `networks` adds one entry per network answered.
    pub fn snapshot(&self, world: &World, networks: bool) -> Value {
        let mut per_registry = serde_json::Map::new();
        let (mut total, mut redirects, mut limited, mut not_found) = (0u64, 0u64, 0u64, 0u64);
        for r in Registry::ALL {
            let mut statuses = BTreeMap::new();
            let mut queries = 0u64;
            let mut reg_redirects = 0u64;
            for s in 0..STATUSES {
                let n = self.by_status[idx(r) * STATUSES + s].load(Relaxed);
                if n > 0 {
                    statuses.insert(s.to_string(), n);
                    queries += n;
                    if (300..400).contains(&s) {
                        reg_redirects += n;
                    }
                    if s == 404 {
                        not_found += n;
                    }
                }
            }
            let mut faults = serde_json::Map::new();
            for (k, name) in FAULT_NAMES.iter().enumerate() {
                let n = self.faults[idx(r) * FAULT_NAMES.len() + k].load(Relaxed);
                faults.insert((*name).to_string(), json!(n));
            }
            let refused =
                self.faults[idx(r) * FAULT_NAMES.len() + FaultKind::Refused as usize].load(Relaxed);
            queries += refused;
            let rl = self.rate_limited[idx(r)].load(Relaxed);
            total += queries;
            redirects += reg_redirects;
            limited += rl;
            per_registry.insert(
                r.as_str().to_string(),
                json!({
                    "queries": queries,
                    "by_status": statuses,
                    "redirects": reg_redirects,
                    "rate_limited": rl,
                    "faults": faults,
                }),
            );
        }
        let mut answers = 0u64;
        let mut distinct = 0u64;
        let mut max = 0u32;
        let mut per_reg_answers = [0u64; 5];
        let mut per_reg_distinct = [0u64; 5];
        let mut list = Vec::new();
        for (i, c) in self.served.iter().enumerate() {
            let n = c.load(Relaxed);
            if n == 0 {
                continue;
            }
            let net = world.net(i as NetId);
            answers += u64::from(n);
            distinct += 1;
            max = max.max(n);
            per_reg_answers[idx(net.registry)] += u64::from(n);
            per_reg_distinct[idx(net.registry)] += 1;
            if networks {
                list.push(json!({
                    "registry": net.registry,
                    "handle": names::handle(net),
                    "start": std::net::Ipv4Addr::from(net.range.start).to_string(),
                    "end": std::net::Ipv4Addr::from(net.range.end).to_string(),
                    "served": n,
                }));
            }
        }
        let ratio = |a: u64, d: u64| {
            if d == 0 {
                json!(null)
            } else {
                json!(a as f64 / d as f64)
            }
        };
        for r in Registry::ALL {
            if let Some(v) = per_registry.get_mut(r.as_str()) {
                v["answers"] = json!(per_reg_answers[idx(r)]);
                v["distinct_networks_served"] = json!(per_reg_distinct[idx(r)]);
                v["answers_per_distinct_network"] =
                    ratio(per_reg_answers[idx(r)], per_reg_distinct[idx(r)]);
            }
        }
        let mut doc = json!({
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "queries": total,
            "answers": answers,
            "redirects": redirects,
            "rate_limited": limited,
            "not_found": not_found,
            "distinct_networks_served": distinct,
            "answers_per_distinct_network": ratio(answers, distinct),
            "max_answers_per_network": max,
            "registries": per_registry,
        });
        if networks {
            doc["networks"] = Value::Array(list);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ratios() {
        let w = World::synthetic();
        let s = Stats::new(w.len());
        let id = w.lookup(0x0101_0101).unwrap();
        s.status(Registry::Apnic, 200);
        s.served(id);
        s.status(Registry::Apnic, 200);
        s.served(id);
        s.status(Registry::Arin, 302);
        s.status(Registry::Lacnic, 429);
        s.rate_limited(Registry::Lacnic);
        s.fault(Registry::RipeNcc, FaultKind::Refused);
        let v = s.snapshot(&w, true);
        assert_eq!(v["queries"], 5);
        assert_eq!(v["answers"], 2);
        assert_eq!(v["distinct_networks_served"], 1);
        assert_eq!(v["answers_per_distinct_network"], 2.0);
        assert_eq!(v["redirects"], 1);
        assert_eq!(v["rate_limited"], 1);
        assert_eq!(v["registries"]["apnic"]["by_status"]["200"], 2);
        assert_eq!(v["registries"]["ripencc"]["faults"]["refused"], 1);
        assert_eq!(v["networks"][0]["handle"], "1.1.1.0 - 1.1.1.255");
        s.reset();
        assert_eq!(s.snapshot(&w, false)["queries"], 0);
    }
}
