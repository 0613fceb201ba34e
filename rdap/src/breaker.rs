//! Circuit breaker, one per registry: after `failure_threshold` consecutive failures (5xx,
//! timeouts, connection errors) the registry is left alone for `cool_down`; then a single probe
//! request is let through (half-open). Its success closes the circuit, its failure opens it for
//! another cool-down. While open (or while the probe is in flight) requests are refused at once,
//! so a worker moves on to other registries instead of hammering one that is down.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit (>= 1).
    pub failure_threshold: u32,
    /// How long an open circuit refuses requests before probing.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Requests are refused until `until`.
    Open {
        /// End of the cool-down.
        until: Instant,
    },
    /// The cool-down is over; one probe may go (or is in flight).
    HalfOpen {
        /// Whether the probe has been let through and not yet reported.
        probing: bool,
    },
}

/// A circuit breaker (cheap to share: clone the `Arc`).
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<BreakerState>,
}

/// Permission to send one request; report its result with [`Permit::success`] or
/// [`Permit::failure`]. Dropping it unreported (a cancelled request, or an answer that says
/// nothing about the server's health such as a 429) frees the probe slot without a verdict.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    reported: bool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Arc<Breaker> {
        Arc::new(Breaker {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        *self.lock()
    }

    /// How long the circuit stays open, when it is open now (a peek: admits nothing).
    pub fn open_for(&self) -> Option<Duration> {
        match *self.lock() {
            BreakerState::Open { until } => {
                let now = Instant::now();
                (now < until).then(|| until - now)
            }
            _ => None,
        }
    }

    /// Ask to send a request now: a permit, or how long until a probe may be tried.
    pub fn admit(self: &Arc<Self>) -> Result<Permit, Duration> {
        let now = Instant::now();
        let mut s = self.lock();
        let probe = match *s {
            BreakerState::Closed { .. } => false,
            BreakerState::Open { until } if now < until => return Err(until - now),
            BreakerState::Open { .. } | BreakerState::HalfOpen { probing: false } => {
                *s = BreakerState::HalfOpen { probing: true };
                true
            }
            // Another request is the probe; ask again after a short while.
            BreakerState::HalfOpen { probing: true } => return Err(Duration::from_secs(1)),
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            reported: false,
        })
    }
}

impl Permit {
    /// Whether this request is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The server answered: close the circuit.
    pub fn success(mut self) {
        self.reported = true;
        *self.breaker.lock() = BreakerState::Closed { failures: 0 };
    }

    /// The server failed (5xx, timeout, connection error).
    pub fn failure(mut self) {
        self.reported = true;
        let b = &self.breaker;
        let mut s = b.lock();
        let open = BreakerState::Open {
            until: Instant::now() + b.config.cool_down,
        };
        *s = match *s {
            _ if self.probe => open,
            BreakerState::Closed { failures } if failures + 1 >= b.config.failure_threshold => open,
            BreakerState::Closed { failures } => BreakerState::Closed {
                failures: failures + 1,
            },
            // Opened meanwhile by concurrent failures: leave it.
            other => other,
        };
        if matches!(*s, BreakerState::Open { .. }) {
            tracing::warn!(
                cool_down_s = b.config.cool_down.as_secs_f64(),
                "circuit opened after repeated failures"
            );
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            let mut s = self.breaker.lock();
            if *s == (BreakerState::HalfOpen { probing: true }) {
                *s = BreakerState::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Arc<Breaker> {
        Breaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(60),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_then_probes() {
        let b = breaker();
        b.admit().unwrap().failure();
        b.admit().unwrap().failure();
        b.admit().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        for _ in 0..3 {
            b.admit().unwrap().failure();
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.admit().unwrap_err(), Duration::from_secs(60));
        assert_eq!(b.open_for(), Some(Duration::from_secs(60)));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(b.admit().unwrap_err(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.open_for(), None);
        let probe = b.admit().unwrap();
        assert!(probe.is_probe());
        // Only one probe at a time.
        assert!(b.admit().is_err());
        // A failed probe re-opens for a full cool-down.
        probe.failure();
        assert_eq!(b.admit().unwrap_err(), Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(60)).await;
        let probe = b.admit().unwrap();
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(!b.admit().unwrap().is_probe());
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_frees_the_slot() {
        let b = breaker();
        for _ in 0..3 {
            b.admit().unwrap().failure();
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        drop(b.admit().unwrap());
        assert_eq!(b.state(), BreakerState::HalfOpen { probing: false });
        assert!(b.admit().unwrap().is_probe());
    }
}
