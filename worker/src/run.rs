//! `rdapfleet-worker run`: the crawl loop.
//!
//! Hello; replay the coverage log; then keep up to `batches` leases walking at once (each walk
//! is sequential in address order; walks run side by side so every registry's budget stays
//! busy); heartbeat the live leases; report telemetry every interval. On SIGTERM or a spot
//! notice (`drain`): stop leasing, stop the walks at the next IP, flush what they settled,
//! return their leases, send a final telemetry sample, exit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdapfleet_proto::v1::{Lease, WorkerSettings};
use rdapfleet_rdap::client::RdapClient;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::coverage::{self, Coverage, SkipPolicy, TailConfig, TailState};
use crate::session::{ClientIdentity, Session, SessionConfig};
use crate::telemetry::Stats;
use crate::walk::{WalkContext, WalkEnd, walk};
use crate::{Error, Result};

/// Everything `run` needs; the binary builds it from flags.
pub struct RunConfig {
    /// How to reach the coordinator.
    pub session: SessionConfig,
    /// TLS client certificate for mutual TLS (https coordinators only).
    pub identity: Option<ClientIdentity>,
    /// The local Redis replica holding the coverage log (None: no replication).
    pub redis_url: Option<String>,
    /// The RDAP client (bootstrap, rates, timeouts already applied).
    pub rdap: RdapClient,
    /// Batches walked at once (capped by the coordinator's setting).
    pub batches: u32,
    /// Overrides the coordinator's skip policy when set.
    pub skip_policy: Option<SkipPolicy>,
    /// How long to wait at start-up for the coverage replay before walking anyway.
    pub replay_wait: Duration,
    /// Longest time an outcome waits before being sent.
    pub flush_after: Duration,
    /// Telemetry interval override (the coordinator's setting otherwise).
    pub telemetry_interval: Option<Duration>,
    /// Cancelled on a spot interruption notice (or by tests) to drain like SIGTERM.
    pub drain: CancellationToken,
}

/// What a run did, for the exit log line.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    /// Leases walked to the end.
    pub finished: u64,
    /// Leases returned on the way out.
    pub returned: u64,
    /// Leases lost to expiry.
    pub lost: u64,
}

struct Held {
    cancel: CancellationToken,
    lost: bool,
}

type HeldMap = Arc<Mutex<HashMap<u64, Held>>>;

fn lock(m: &HeldMap) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Crawl until `shutdown` (SIGTERM) or `config.drain` (spot notice) is cancelled.
pub async fn run(config: RunConfig, shutdown: CancellationToken) -> Result<RunSummary> {
    let drain = config.drain.clone();
    // One token for "stop leasing and wind down": either signal.
    let stop = CancellationToken::new();
    {
        let (stop, shutdown, drain) = (stop.clone(), shutdown.clone(), drain.clone());
        tokio::spawn(async move {
            tokio::select! { _ = shutdown.cancelled() => {}, _ = drain.cancelled() => {} }
            stop.cancel();
        });
    }
    let session = Session::with_identity(config.session, config.identity, stop.clone())?;
    let hello = match session.hello(env!("CARGO_PKG_VERSION")).await {
        Ok(h) => h,
        Err(Error::ShuttingDown) => return Ok(RunSummary::default()),
        Err(e) => return Err(e),
    };
    let settings: WorkerSettings = hello.settings.unwrap_or_default();
    let policy = match config.skip_policy {
        Some(p) => p,
        None => settings.skip_policy.parse().unwrap_or_else(|e| {
            warn!(error = %e, "coordinator sent an unknown skip policy; using covered");
            SkipPolicy::Covered
        }),
    };
    let batches = config
        .batches
        .clamp(1, settings.max_batches_per_worker.max(1));
    info!(worker = %session.worker_id(), crawl = %hello.crawl_id, policy = policy.as_str(), batches,
        lease_ttl_ms = settings.lease_ttl_ms, "hello: crawl settings received");

    // Coverage: replay, then follow, on a task of its own.
    let coverage = Arc::new(Coverage::new(policy));
    let tail_stop = CancellationToken::new();
    let (tail_state_tx, mut tail_state) = tokio::sync::watch::channel(TailState::Connecting);
    let tail_task = config.redis_url.clone().map(|url| {
        let stream = if settings.coverage_stream.is_empty() {
            rdapfleet_proto::coverage::DEFAULT_STREAM.to_string()
        } else {
            settings.coverage_stream.clone()
        };
        tokio::spawn(coverage::tail(
            coverage.clone(),
            TailConfig::new(url, stream),
            tail_state_tx,
            tail_stop.clone(),
        ))
    });
    if tail_task.is_some() {
        let waited = tokio::time::timeout(
            config.replay_wait,
            tail_state.wait_for(|s| *s == TailState::Following),
        )
        .await;
        if waited.is_err() {
            warn!(
                wait_ms = config.replay_wait.as_millis() as u64,
                known = coverage.len(),
                "coverage log not replayed yet; walking with what is known"
            );
        }
    }

    let stats = Arc::new(Stats::default());
    let ctx = WalkContext {
        session: session.clone(),
        coverage: coverage.clone(),
        rdap: Arc::new(config.rdap),
        stats: stats.clone(),
        report_chunk: settings.max_outcomes_per_report.clamp(1, 500) as usize,
        report_bytes: report_bytes(settings.max_message_bytes),
        flush_after: config.flush_after,
    };

    let held: HeldMap = Arc::new(Mutex::new(HashMap::new()));
    crate::metrics::watch_run(&stats, &coverage, {
        let held = held.clone();
        move || lock(&held).len()
    });
    let tracker = TaskTracker::new();
    let freed = Arc::new(Notify::new());
    let summary = Arc::new(Mutex::new(RunSummary::default()));
    let to_return = Arc::new(Mutex::new(Vec::<u64>::new()));

    // Heartbeats.
    let hb_every = Duration::from_millis(u64::from(settings.heartbeat_interval_ms.max(100)));
    let hb = {
        let (session, held, stop) = (session.clone(), held.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! { _ = stop.cancelled() => return, _ = tokio::time::sleep(hb_every) => {} }
                let ids: Vec<u64> = lock(&held).keys().copied().collect();
                if ids.is_empty() {
                    continue;
                }
                match session.heartbeat(ids).await {
                    Ok(resp) => {
                        let mut map = lock(&held);
                        for st in resp.leases.iter().filter(|s| !s.live) {
                            if let Some(h) = map.get_mut(&st.lease_id) {
                                warn!(
                                    lease_id = st.lease_id,
                                    "lease no longer live; stopping its walk"
                                );
                                h.lost = true;
                                h.cancel.cancel();
                            }
                        }
                    }
                    Err(e) => warn!(error = %e, "heartbeat failed; will retry next tick"),
                }
            }
        })
    };

    // Telemetry.
    let tele_every = config
        .telemetry_interval
        .unwrap_or(Duration::from_millis(u64::from(
            settings.telemetry_interval_ms.max(1000),
        )));
    let tele = {
        let (session, stats, held, stop, coverage, rdap) = (
            session.clone(),
            stats.clone(),
            held.clone(),
            stop.clone(),
            coverage.clone(),
            ctx.rdap.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::select! { _ = stop.cancelled() => return, _ = tokio::time::sleep(tele_every) => {} }
                let in_flight = lock(&held).len() as u64;
                let sample = stats.take_sample(&rdap, in_flight, false);
                debug!(known = coverage.len(), "telemetry sample");
                if let Err(e) = session.telemetry(sample).await {
                    warn!(error = %e, "telemetry sample not delivered");
                }
            }
        })
    };

    // Leasing.
    while !stop.is_cancelled() {
        let active = lock(&held).len() as u32;
        if active >= batches {
            tokio::select! { _ = stop.cancelled() => break, _ = freed.notified() => continue }
        }
        let resp = match session.lease(batches - active).await {
            Ok(r) => r,
            Err(Error::ShuttingDown) => break,
            Err(e) => {
                warn!(error = %e, "lease refused; retrying shortly");
                tokio::select! { _ = stop.cancelled() => break, _ = tokio::time::sleep(Duration::from_secs(2)) => {} }
                continue;
            }
        };
        if resp.leases.is_empty() {
            let wait = if resp.crawl_complete {
                Duration::from_secs(10)
            } else {
                Duration::from_millis(u64::from(resp.retry_after_ms.clamp(100, 30_000)))
            };
            debug!(
                complete = resp.crawl_complete,
                wait_ms = wait.as_millis() as u64,
                "no batch to lease"
            );
            tokio::select! { _ = stop.cancelled() => break, _ = freed.notified() => {}, _ = tokio::time::sleep(wait) => {} }
            continue;
        }
        for lease in resp.leases {
            spawn_walk(
                &tracker, &ctx, lease, &held, &freed, &summary, &to_return, &stop,
            );
        }
    }

    // Wind down: stop the walks (they flush), return what is unfinished, final telemetry.
    info!(
        held = lock(&held).len(),
        "draining: no more leases; stopping walks"
    );
    for h in lock(&held).values() {
        h.cancel.cancel();
    }
    tracker.close();
    tracker.wait().await;
    hb.abort();
    tele.abort();
    let ids = std::mem::take(&mut *to_return.lock().unwrap_or_else(|p| p.into_inner()));
    if !ids.is_empty() {
        match session.return_leases(ids.clone()).await {
            Ok(n) => info!(returned = n, "leases returned"),
            Err(e) => {
                warn!(error = %e, leases = ids.len(), "could not return leases; they will expire and be re-leased")
            }
        }
    }
    let sample = stats.take_sample(&ctx.rdap, 0, true);
    if let Err(e) = session.telemetry(sample).await {
        warn!(error = %e, "final telemetry sample not delivered");
    }
    tail_stop.cancel();
    if let Some(t) = tail_task {
        let _ = t.await;
    }
    let mut s = summary.lock().unwrap_or_else(|p| p.into_inner()).clone();
    s.returned = ids.len() as u64;
    info!(
        finished = s.finished,
        returned = s.returned,
        lost = s.lost,
        known = coverage.len(),
        "worker stopped"
    );
    Ok(s)
}

#[allow(clippy::too_many_arguments)]
fn spawn_walk(
    tracker: &TaskTracker,
    ctx: &WalkContext,
    lease: Lease,
    held: &HeldMap,
    freed: &Arc<Notify>,
    summary: &Arc<Mutex<RunSummary>>,
    to_return: &Arc<Mutex<Vec<u64>>>,
    stop: &CancellationToken,
) {
    let cancel = stop.child_token();
    lock(held).insert(
        lease.lease_id,
        Held {
            cancel: cancel.clone(),
            lost: false,
        },
    );
    let (ctx, held, freed, summary, to_return) = (
        ctx.clone(),
        held.clone(),
        freed.clone(),
        summary.clone(),
        to_return.clone(),
    );
    tracker.spawn(async move {
        let id = lease.lease_id;
        let end = walk(&ctx, &lease, &cancel).await;
        let lost = lock(&held).get(&id).is_some_and(|h| h.lost);
        match end {
            Ok(WalkEnd::Finished) => match ctx.session.complete(id).await {
                Ok(r) => {
                    debug!(lease_id = id, done = r.batch_done, remaining = r.remaining, "batch completed");
                    summary.lock().unwrap_or_else(|p| p.into_inner()).finished += 1;
                }
                Err(e) => warn!(lease_id = id, error = %e, "could not complete the batch; it will be re-leased"),
            },
            Ok(WalkEnd::Interrupted) if !lost => to_return.lock().unwrap_or_else(|p| p.into_inner()).push(id),
            Ok(_) => summary.lock().unwrap_or_else(|p| p.into_inner()).lost += 1,
            Err(Error::ShuttingDown) => to_return.lock().unwrap_or_else(|p| p.into_inner()).push(id),
            Err(e) => {
                warn!(lease_id = id, error = %e, "walk failed; returning the lease");
                to_return.lock().unwrap_or_else(|p| p.into_inner()).push(id);
            }
        }
        lock(&held).remove(&id);
        freed.notify_one();
    });
}

/// The most encoded outcome bytes one report may carry: half the coordinator's message limit
/// (room for the envelope and for one more outcome of the largest size the RDAP client takes),
/// 4 MiB when the coordinator did not say.
fn report_bytes(max_message_bytes: u32) -> usize {
    match max_message_bytes {
        0 => 4 << 20,
        n => (n as usize / 2).max(16 << 10),
    }
}
