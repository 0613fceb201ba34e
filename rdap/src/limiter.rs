//! One rate limiter per registry: `governor` GCRA limiters (one per window) on a clock built on
//! `tokio::time::Instant`, so paused tokio time drives them in tests, plus the registry-wide
//! pause that a 429 / Retry-After / LACNIC notice sets.
//!
//! Waiting order: first any pause, then the windows from the longest to the shortest, so a token
//! of a long window is taken at most one short spacing before the request leaves.

use std::ops::Add;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::rates::Window;

/// A `tokio::time::Instant` that governor can use as its clock reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokioInstant(pub Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, rhs: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from_nanos(rhs.as_u64()))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from_nanos(duration.as_u64()))
                .unwrap_or(self.0),
        )
    }
}

/// governor clock reading tokio's (pausable) time.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// The politeness gate of one registry (per client, so per egress address).
pub struct RegistryLimiter {
    /// Longest window first.
    windows: Vec<(Window, Gcra)>,
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RegistryLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLimiter")
            .field(
                "windows",
                &self.windows.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
            )
            .field("paused_until", &self.paused_until())
            .finish()
    }
}

impl RegistryLimiter {
    /// A limiter enforcing every window (none: unlimited).
    pub fn new(windows: &[Window]) -> RegistryLimiter {
        let mut ws: Vec<Window> = windows.to_vec();
        ws.sort_by_key(|w| std::cmp::Reverse(w.per));
        let windows = ws
            .into_iter()
            .filter_map(|w| {
                let spacing = w.spacing().max(Duration::from_nanos(1));
                Quota::with_period(spacing)
                    .map(|q| (w, RateLimiter::direct_with_clock(q, TokioClock)))
            })
            .collect();
        RegistryLimiter {
            windows,
            paused_until: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Pause the registry until `until` (a later pause extends, an earlier one never shortens).
    pub fn pause_until(&self, until: Instant) {
        let mut p = self.lock();
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
    }

    /// The end of the current pause, if one is in force.
    pub fn paused_until(&self) -> Option<Instant> {
        let p = *self.lock();
        p.filter(|t| *t > Instant::now())
    }

    /// How long the current pause still lasts (zero when none).
    pub fn pause_remaining(&self) -> Duration {
        self.paused_until().map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    async fn wait_pause(&self) {
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Wait until a request may leave: the pause is over and every window has a token.
    pub async fn until_ready(&self) {
        self.wait_pause().await;
        for (_, gcra) in &self.windows {
            loop {
                match gcra.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(TokioClock.now());
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        // A 429 seen by a concurrent request while we waited pauses us too.
        self.wait_pause().await;
    }

    /// The configured windows.
    pub fn windows(&self) -> Vec<Window> {
        self.windows.iter().map(|(w, _)| *w).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn w(count: u32, secs: u64) -> Window {
        Window {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn evenly_spaced_at_exact_instants() {
        let l = RegistryLimiter::new(&[w(10, 60), w(1000, 3600)]);
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..4 {
            l.until_ready().await;
            at.push(t0.elapsed());
        }
        let s = Duration::from_secs(6);
        assert_eq!(at, [Duration::ZERO, s, s * 2, s * 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn spacing_that_is_not_whole_milliseconds_rounds_up() {
        // tokio timers have millisecond resolution: 60 s / 9 = 6.666666666 s waits 6.667 s, and
        // the next spacing counts from the actual (later) instant, so never faster than asked.
        let l = RegistryLimiter::new(&[w(9, 60)]);
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..4 {
            l.until_ready().await;
            at.push(t0.elapsed().as_millis());
        }
        assert_eq!(at, [0, 6667, 13334, 20001]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_long_window_binds_when_stricter() {
        // 10/s but only 3600/h: one per second.
        let l = RegistryLimiter::new(&[w(10, 1), w(3600, 3600)]);
        let t0 = Instant::now();
        for i in 0..3u64 {
            l.until_ready().await;
            assert_eq!(t0.elapsed(), Duration::from_secs(i));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_back_concurrent_waiters() {
        let l = Arc::new(RegistryLimiter::new(&[w(1, 1)]));
        let t0 = Instant::now();
        l.until_ready().await;
        l.pause_until(t0 + Duration::from_secs(30));
        // An earlier pause never shortens a later one.
        l.pause_until(t0 + Duration::from_secs(5));
        assert_eq!(l.pause_remaining(), Duration::from_secs(30));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                l.until_ready().await;
                t0.elapsed()
            }));
        }
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap());
        }
        at.sort();
        assert_eq!(
            at,
            [
                Duration::from_secs(30),
                Duration::from_secs(31),
                Duration::from_secs(32)
            ]
        );
        assert_eq!(l.paused_until(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn no_windows_means_no_waiting() {
        let l = RegistryLimiter::new(&[]);
        let t0 = Instant::now();
        for _ in 0..100 {
            l.until_ready().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }
}
