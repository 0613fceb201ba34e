//! Per-registry rate limits per client address (the real registries limit per source IP).
//!
//! Each limit `N per T` is a GCRA (generic cell rate algorithm, the leaky bucket as a meter):
//! a client may send `N` queries at once, then one every `T/N`; a query that would exceed any
//! of the registry's limits is refused and consumes nothing, with a Retry-After of the time
//! until the strictest violated limit admits one again (whole seconds, at least 1). Time is
//! passed in, so tests drive it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdapfleet_rdap::Registry;

use crate::config::{Limit, MAX_WINDOW, RateSpec, idx};

/// The answer of the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused; retry after this long; `limit` is the one violated (the longest wait).
    Limited {
        /// Time until a query would be admitted.
        retry_after: Duration,
        /// The violated limit.
        limit: Limit,
    },
}

impl Verdict {
    /// Retry-After header value: whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(d: Duration) -> u64 {
        (d.as_millis().div_ceil(1000) as u64).max(1)
    }
}

/// Limits of the five registries, with per-(registry, client) state.
#[derive(Debug)]
pub struct Limiter {
    limits: [Vec<Limit>; 5],
    /// Theoretical arrival time per limit, per (registry, client).
    state: Mutex<HashMap<(u8, IpAddr), Vec<Instant>>>,
}

impl Limiter {
    /// Build from the `--rate` specs (later specs replace earlier ones per registry).
    pub fn new(specs: &[RateSpec]) -> Self {
        let mut limits: [Vec<Limit>; 5] = Default::default();
        for s in specs {
            for &r in &s.registries {
                limits[idx(r)] = s.limits.clone();
            }
        }
        Limiter {
            limits,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Whether any registry has limits.
    pub fn is_active(&self) -> bool {
        self.limits.iter().any(|l| !l.is_empty())
    }

    /// The limits of a registry.
    pub fn limits(&self, r: Registry) -> &[Limit] {
        &self.limits[idx(r)]
    }

    /// Count a query from `client` at `registry` at time `now`.
    pub fn check(&self, registry: Registry, client: IpAddr, now: Instant) -> Verdict {
        let limits = &self.limits[idx(registry)];
        if limits.is_empty() {
            return Verdict::Allowed;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let tats = state
            .entry((idx(registry) as u8, client))
            .or_insert_with(|| vec![now; limits.len()]);
        let mut worst: Option<(Duration, Limit)> = None;
        let mut next = Vec::with_capacity(limits.len());
        for (tat, l) in tats.iter().zip(limits) {
            // Capped (the parser refuses longer windows): `tat + interval` must not overflow
            // the clock.
            let per = l.per.min(MAX_WINDOW);
            let interval = per / u32::try_from(l.count).unwrap_or(u32::MAX);
            let tolerance = per.saturating_sub(interval);
            let tat = (*tat).max(now);
            let ahead = tat - now;
            if ahead > tolerance {
                let wait = ahead - tolerance;
                if worst.is_none_or(|(w, _)| wait > w) {
                    worst = Some((wait, *l));
                }
            }
            next.push(tat + interval);
        }
        match worst {
            Some((retry_after, limit)) => Verdict::Limited { retry_after, limit },
            None => {
                *tats = next;
                Verdict::Allowed
            }
        }
    }

    /// Forget every client's state.
    pub fn reset(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lacnic() -> Limiter {
        Limiter::new(&["lacnic=10/min,1000/h".parse().unwrap()])
    }

    /// A window longer than the clock can add (`--rate arin=1/18446744073709551615s`) is
    /// refused by the parser, and a `Limit` built with one directly limits without panicking.
    #[test]
    fn endless_windows_are_refused_or_capped() {
        let e = "arin=1/18446744073709551615s"
            .parse::<RateSpec>()
            .unwrap_err();
        assert!(e.contains("at most a year"), "{e}");
        assert!("arin=1/365days".parse::<RateSpec>().is_ok());
        let l = Limiter::new(&[RateSpec {
            registries: vec![Registry::Arin],
            limits: vec![Limit {
                count: 1,
                per: Duration::MAX,
            }],
        }]);
        let c: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(l.check(Registry::Arin, c, t0), Verdict::Allowed);
        assert!(matches!(
            l.check(Registry::Arin, c, t0 + Duration::from_secs(86_400)),
            Verdict::Limited { .. }
        ));
    }

    #[test]
    fn burst_then_one_per_interval() {
        let l = lacnic();
        let c: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.check(Registry::Lacnic, c, t0), Verdict::Allowed);
        }
        let Verdict::Limited { retry_after, limit } = l.check(Registry::Lacnic, c, t0) else {
            panic!("11th query in a minute must be limited");
        };
        assert_eq!(retry_after, Duration::from_secs(6));
        assert_eq!(limit.count, 10);
        assert_eq!(Verdict::retry_after_secs(retry_after), 6);
        // Refused queries consume nothing: 6 s later exactly one more is admitted.
        let t1 = t0 + Duration::from_secs(6);
        assert_eq!(l.check(Registry::Lacnic, c, t1), Verdict::Allowed);
        assert!(matches!(
            l.check(Registry::Lacnic, c, t1),
            Verdict::Limited { .. }
        ));
        // Another client and another registry are not affected.
        let d: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(l.check(Registry::Lacnic, d, t0), Verdict::Allowed);
        assert_eq!(l.check(Registry::Arin, c, t0), Verdict::Allowed);
    }

    #[test]
    fn hourly_limit_bites_after_the_minute_one() {
        let l = Limiter::new(&["lacnic=10/min,20/h".parse().unwrap()]);
        let c: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let mut admitted = 0;
        for s in 0..600u64 {
            if l.check(Registry::Lacnic, c, t0 + Duration::from_secs(s)) == Verdict::Allowed {
                admitted += 1;
            }
        }
        // 20 at once allowed by the hourly bucket, then one per 180 s.
        assert!((20..=24).contains(&admitted), "{admitted}");
        match l.check(Registry::Lacnic, c, t0 + Duration::from_secs(600)) {
            Verdict::Limited { limit, .. } => assert_eq!(limit.count, 20),
            v => panic!("{v:?}"),
        }
        assert_eq!(Verdict::retry_after_secs(Duration::from_millis(1)), 1);
    }
}
