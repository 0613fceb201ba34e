//! Deterministic faults: whether request number `n` (counted from 0 over all RDAP requests
//! since start, or since the last stats reset) at a registry fails, is slow, is truncated or is
//! oversized depends only on (`--fault-seed`, `n`, the fault kind) and the configured
//! fractions. A single sequential client therefore sees the same faults on every run;
//! concurrent clients share the counter, so which of them meets a fault depends on arrival
//! order.

use rdapfleet_rdap::Registry;

use crate::config::FaultConfig;
use crate::world::mix;

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Answer 500.
    pub error: bool,
    /// Wait `slow_delay` before answering.
    pub slow: bool,
    /// Cut a network answer's JSON in half.
    pub truncate: bool,
    /// Pad a network answer beyond 1 MiB.
    pub oversize: bool,
}

/// A uniform number in `[0, 1)` for (seed, request, kind).
pub fn roll(seed: u64, n: u64, kind: u64) -> f64 {
    let h = mix(mix(seed ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ n);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Decide the faults of request `n` at `registry`. At most one of `truncate` and `oversize`.
pub fn decide(cfg: &FaultConfig, registry: Registry, n: u64) -> Decision {
    let hit = |kind: u64, rate: f64| rate > 0.0 && roll(cfg.seed, n, kind) < rate;
    let truncate = hit(3, cfg.truncate_rate.of(registry));
    Decision {
        error: hit(1, cfg.error_rate.of(registry)),
        slow: hit(2, cfg.slow_rate.of(registry)),
        truncate,
        oversize: !truncate && hit(4, cfg.oversize_rate.of(registry)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Fractions;

    #[test]
    fn deterministic_and_close_to_the_rate() {
        let cfg = FaultConfig {
            seed: 7,
            error_rate: Fractions([0.1, 0.0, 0.0, 0.0, 1.0]),
            ..FaultConfig::default()
        };
        let a: Vec<Decision> = (0..10_000)
            .map(|n| decide(&cfg, Registry::Arin, n))
            .collect();
        let b: Vec<Decision> = (0..10_000)
            .map(|n| decide(&cfg, Registry::Arin, n))
            .collect();
        assert_eq!(a, b);
        let errors = a.iter().filter(|d| d.error).count();
        assert!((900..1100).contains(&errors), "{errors}");
        assert!((0..100).all(|n| !decide(&cfg, Registry::RipeNcc, n).error));
        assert!((0..100).all(|n| decide(&cfg, Registry::Afrinic, n).error));
        let other_seed = FaultConfig {
            seed: 8,
            ..cfg.clone()
        };
        let c: Vec<Decision> = (0..10_000)
            .map(|n| decide(&other_seed, Registry::Arin, n))
            .collect();
        assert_ne!(a, c);
    }
}
