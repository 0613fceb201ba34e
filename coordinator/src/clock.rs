//! Wall-clock milliseconds that follow tokio's clock, so paused-time tests move them too.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds, advanced by `tokio::time` (which tests can pause and advance).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall_ms: i64,
    start: tokio::time::Instant,
}

impl Clock {
    /// A clock anchored at the current system time. Call within a tokio runtime.
    pub fn new() -> Self {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            wall_ms,
            start: tokio::time::Instant::now(),
        }
    }

    /// The current Unix time in milliseconds.
    pub fn now_ms(&self) -> i64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        self.wall_ms
            .saturating_add(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The current system time in Unix milliseconds (for code outside the server, like `status`).
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
