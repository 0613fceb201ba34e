//! Exponential backoff with jitter, for 429s without `Retry-After` (per registry) and for
//! retries after 5xx answers and timeouts (per lookup).

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// Upper bound of a delay.
    pub max: Duration,
    /// Fraction (0..=1) of each delay that is randomised away: a delay `d` becomes a uniform
    /// value in `d * (1 - jitter) ..= d`. 0 gives exact delays (tests).
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            jitter: 0.5,
        }
    }
}

/// Computes delays; owns the jitter's random source.
#[derive(Debug)]
pub struct Backoff {
    config: BackoffConfig,
    rng: Mutex<StdRng>,
}

impl Backoff {
    /// A backoff with a random source seeded from `seed` (deterministic) or the OS.
    pub fn new(config: BackoffConfig, seed: Option<u64>) -> Backoff {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Backoff {
            config,
            rng: Mutex::new(rng),
        }
    }

    /// The nominal (jitter-free) delay after `failures` consecutive failures (1 = first).
    pub fn nominal(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        self.config
            .base
            .saturating_mul(1u32 << exp.min(31))
            .min(self.config.max)
    }

    /// The delay to wait after `failures` consecutive failures, jitter applied.
    pub fn delay(&self, failures: u32) -> Duration {
        let d = self.nominal(failures);
        let j = self.config.jitter.clamp(0.0, 1.0);
        if j == 0.0 {
            return d;
        }
        let r: f64 = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .random();
        d.mul_f64(1.0 - j * r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let exact = Backoff::new(
            BackoffConfig {
                base: Duration::from_secs(1),
                max: Duration::from_secs(10),
                jitter: 0.0,
            },
            None,
        );
        let d: Vec<u64> = (1..=6).map(|n| exact.delay(n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 10, 10]);
        assert_eq!(exact.delay(u32::MAX), Duration::from_secs(10));

        let jittered = Backoff::new(
            BackoffConfig {
                base: Duration::from_secs(8),
                max: Duration::from_secs(60),
                jitter: 0.5,
            },
            Some(7),
        );
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = jittered.delay(1);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 100, "jitter spreads delays");
        // Same seed, same delays.
        let a = Backoff::new(BackoffConfig::default(), Some(1));
        let b = Backoff::new(BackoffConfig::default(), Some(1));
        assert_eq!(a.delay(3), b.delay(3));
    }
}
