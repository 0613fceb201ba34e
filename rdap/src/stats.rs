//! Per-registry counters of a client (requests, outcomes, 429s, redirects, latency samples), for
//! the worker's telemetry.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Latency samples kept per registry between two drains (oldest dropped first).
pub const MAX_LATENCY_SAMPLES: usize = 10_000;

/// Live counters of one registry (or of "other" servers).
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    found: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
    rate_limited: AtomicU64,
    redirects: AtomicU64,
    latencies: Mutex<VecDeque<Duration>>,
}

/// A copy of one registry's counters (totals since the client started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// HTTP requests sent (redirect hops and retries included).
    pub requests: u64,
    /// Lookups that ended with a network from this registry.
    pub found: u64,
    /// Lookups that ended with "not found" from this registry.
    pub not_found: u64,
    /// Lookups that ended failed at this registry.
    pub failed: u64,
    /// 429 answers and rate-limit notices received.
    pub rate_limited: u64,
    /// Redirects this registry answered with.
    pub redirects: u64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Request,
    Found,
    NotFound,
    Failed,
    RateLimited,
    Redirect,
}

impl Counters {
    pub(crate) fn bump(&self, c: Count) {
        let a = match c {
            Count::Request => &self.requests,
            Count::Found => &self.found,
            Count::NotFound => &self.not_found,
            Count::Failed => &self.failed,
            Count::RateLimited => &self.rate_limited,
            Count::Redirect => &self.redirects,
        };
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_latency(&self, d: Duration) {
        let mut l = self
            .latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if l.len() == MAX_LATENCY_SAMPLES {
            l.pop_front();
        }
        l.push_back(d);
    }

    /// The totals.
    pub fn snapshot(&self) -> Snapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            requests: g(&self.requests),
            found: g(&self.found),
            not_found: g(&self.not_found),
            failed: g(&self.failed),
            rate_limited: g(&self.rate_limited),
            redirects: g(&self.redirects),
        }
    }

    /// Take the latency samples recorded since the last call (request sent to body read).
    pub fn drain_latencies(&self) -> Vec<Duration> {
        self.latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_drains() {
        let c = Counters::default();
        c.bump(Count::Request);
        c.bump(Count::Request);
        c.bump(Count::Found);
        c.bump(Count::Redirect);
        let s = c.snapshot();
        assert_eq!((s.requests, s.found, s.redirects, s.failed), (2, 1, 1, 0));
        for i in 0..(MAX_LATENCY_SAMPLES as u64 + 5) {
            c.record_latency(Duration::from_millis(i));
        }
        let l = c.drain_latencies();
        assert_eq!(l.len(), MAX_LATENCY_SAMPLES);
        assert_eq!(l[0], Duration::from_millis(5));
        assert!(c.drain_latencies().is_empty());
    }
}
