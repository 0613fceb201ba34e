//! Background tasks of the server: the reaper that returns expired leases to pending, and the
//! poller that picks up batches appended by `add-range` while the server runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::service::Shared;

/// Every `interval`, end the leases whose expiry has passed (see `Engine::reap`).
pub async fn run_reaper(shared: Arc<Shared>, interval: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        match shared.apply(|e, now| Ok(e.reap(now))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired leases returned to pending"),
            Err(e) => {
                tracing::error!(error = %e, "reaper failed");
                break;
            }
        }
    }
}

/// Look for new batches every `interval`, and when a Lease found the queue dry (at most once
/// per `min_gap`).
pub async fn run_poller(
    shared: Arc<Shared>,
    interval: Duration,
    min_gap: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
            () = shared.poll.notified() => {}
        }
        if let Err(e) = poll_once(&shared).await {
            tracing::error!(error = %e, "polling for new batches failed");
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(min_gap.min(interval)) => {}
        }
    }
}

/// Load batches appended since the last look and queue them; returns how many were added.
pub async fn poll_once(shared: &Shared) -> crate::Result<usize> {
    let after = shared
        .engine
        .lock()
        .map_err(|_| crate::Error::Internal("lease engine lock poisoned".into()))?
        .max_batch_id();
    let new = shared
        .store
        .read(move |conn| db::load_batches(conn, after))
        .await?;
    if new.is_empty() {
        return Ok(0);
    }
    let ips: usize = new.iter().map(|b| b.ips.len()).sum();
    let added = {
        let mut engine = shared
            .engine
            .lock()
            .map_err(|_| crate::Error::Internal("lease engine lock poisoned".into()))?;
        engine.add_batches(new, shared.clock.now_ms())
    };
    tracing::info!(batches = added, ips, "new batches queued");
    Ok(added)
}
