//! Circuit breaker, one per registry: after `failure_threshold` consecutive failures (5xx,
//! timeouts, connection errors) the registry is left alone for `cool_down`; then a single probe
//! request is let through (half-open). Its success closes the circuit, its failure opens it for
//! twice the last cool-down, up to `max_cool_down` (a registry down for 30 s costs a few probes
//! and is back in use seconds after it returns; one down for hours gets a probe a minute).
//! While open (or while the probe is in flight) requests are refused at once,
//! so a worker moves on to other registries instead of hammering one that is down.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit (>= 1).
    pub failure_threshold: u32,
    /// How long a circuit that just opened refuses requests before probing.
    pub cool_down: Duration,
    /// The longest cool-down: each failed probe doubles it up to this.
    pub max_cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(5),
            max_cool_down: Duration::from_secs(60),
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
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// The cool-down of the next opening from half-open (doubles per failed probe).
    next_cool_down: Duration,
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
                max_cool_down: config.max_cool_down.max(config.cool_down),
                ..config
            },
            inner: Mutex::new(Inner {
                state: BreakerState::Closed { failures: 0 },
                next_cool_down: config.cool_down,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// How long the circuit stays open, when it is open now (a peek: admits nothing).
    pub fn open_for(&self) -> Option<Duration> {
        match self.lock().state {
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
        let probe = match s.state {
            BreakerState::Closed { .. } => false,
            BreakerState::Open { until } if now < until => return Err(until - now),
            BreakerState::Open { .. } | BreakerState::HalfOpen { probing: false } => {
                s.state = BreakerState::HalfOpen { probing: true };
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
        let b = &self.breaker;
        let mut s = b.lock();
        s.state = BreakerState::Closed { failures: 0 };
        s.next_cool_down = b.config.cool_down;
    }

    /// The server failed (5xx, timeout, connection error).
    pub fn failure(mut self) {
        self.reported = true;
        let b = &self.breaker;
        let mut s = b.lock();
        let cool_down = match s.state {
            // A failed probe: the registry is still down; wait longer before the next one.
            _ if self.probe => {
                let cool_down = s.next_cool_down;
                s.next_cool_down = (cool_down * 2).min(b.config.max_cool_down);
                cool_down
            }
            BreakerState::Closed { failures } if failures + 1 >= b.config.failure_threshold => {
                s.next_cool_down = (b.config.cool_down * 2).min(b.config.max_cool_down);
                b.config.cool_down
            }
            BreakerState::Closed { failures } => {
                s.state = BreakerState::Closed {
                    failures: failures + 1,
                };
                return;
            }
            // Opened meanwhile by concurrent failures: leave it.
            _ => return,
        };
        s.state = BreakerState::Open {
            until: Instant::now() + cool_down,
        };
        tracing::warn!(
            cool_down_s = cool_down.as_secs_f64(),
            probe = self.probe,
            "circuit opened after repeated failures"
        );
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            let mut s = self.breaker.lock();
            if s.state == (BreakerState::HalfOpen { probing: true }) {
                s.state = BreakerState::HalfOpen { probing: false };
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
            max_cool_down: Duration::from_secs(60),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn each_failed_probe_doubles_the_cool_down_up_to_the_cap() {
        let b = Breaker::new(BreakerConfig::default());
        for _ in 0..5 {
            b.admit().unwrap().failure();
        }
        let mut waits = Vec::new();
        for _ in 0..6 {
            let wait = b.open_for().expect("open");
            waits.push(wait.as_secs());
            tokio::time::advance(wait).await;
            b.admit().unwrap().failure();
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        // Back up: closed, and the next opening starts from the first cool-down again.
        tokio::time::advance(b.open_for().unwrap()).await;
        b.admit().unwrap().success();
        for _ in 0..5 {
            b.admit().unwrap().failure();
        }
        assert_eq!(b.open_for(), Some(Duration::from_secs(5)));
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
