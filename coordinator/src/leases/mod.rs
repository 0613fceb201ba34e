//! The lease engine: the in-memory state machine of batches, leases, retries and workers.
//!
//! A batch goes `pending -> leased -> done`; a lease that expires (see [`Engine::reap`]) or is
//! returned puts its batch back to pending, and a completed lease leaves it done only when every
//! IP has a final outcome. Each IP ends with exactly one final outcome (found, skipped,
//! not_found or failed); retryable failures wait in the retry queue with a not-before time.
//!
//! Every operation takes the current time (Unix ms) and returns the [`Write`]s that make its
//! changes durable; the caller submits them to the store in the same order, while still holding
//! the engine's lock, and answers the RPC once they are committed. SQLite is the truth: the
//! engine is rebuilt from it at start ([`Engine::restore`]).
//!
//! - this file: the engine's state, restoring it, the pending queue, ending leases.
//! - `lifecycle`: Hello, Lease (with the pre-filter), Heartbeat, CompleteBatch, ReturnLeases,
//!   and the reaper's pass ([`Engine::reap`]) that expires leases.
//! - `record`: ReportOutcomes (validate whole, then apply) and ReportTelemetry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rdapfleet_proto::v1 as pb;
use rdapfleet_proto::{PROTOCOL_VERSION, coverage, ip_to_string};

use crate::config::Config;
use crate::db::{
    BatchRow, BatchStatus, Loaded, LoadedBatch, NetworkRow, OutcomeKind, OutcomeRow, RetryRow,
    TelemetryRow, WorkerRow,
};
use crate::outcomes::{self, Reported, ReportedKind};
use crate::prefilter::Prefilter;
use crate::store::Write;
use crate::{Error, Result};

mod lifecycle;
mod record;

/// Most batches one Lease call examines (pre-filtering some to done) before it answers.
const MAX_EXAMINED_PER_LEASE: usize = 1024;
/// Most writes one Lease call produces by pre-filtering before it answers.
const MAX_PREFILTER_WRITES: usize = 20_000;
/// Most lease ids in one Heartbeat or ReturnLeases call.
const MAX_IDS_PER_CALL: usize = 1024;
/// Longest accepted worker id, hostname or version.
const MAX_NAME_LEN: usize = 256;
/// Shortest `retry_after_ms` suggested to an idle worker.
const MIN_RETRY_AFTER_MS: i64 = 100;
/// Longest `retry_after_ms` suggested to an idle worker.
const MAX_RETRY_AFTER_MS: i64 = 10_000;

#[derive(Debug)]
struct Batch {
    hand_out: i64,
    status: BatchStatus,
    not_before_ms: i64,
    lease_id: Option<u64>,
    worker_id: Option<Arc<str>>,
    expires_at_ms: Option<i64>,
    leases: u32,
    expiries: u32,
    /// Seed IPs, ascending; emptied once done.
    ips: Vec<u32>,
    /// Parallel to `ips`: has a final outcome.
    settled: Vec<bool>,
    unsettled: u32,
}

impl Batch {
    fn row(&self, id: u64) -> BatchRow {
        BatchRow {
            id,
            status: self.status,
            not_before_ms: self.not_before_ms,
            lease_id: self.lease_id,
            worker_id: self.worker_id.clone(),
            expires_at_ms: self.expires_at_ms,
            leases: self.leases,
            expiries: self.expiries,
        }
    }
}

#[derive(Debug)]
struct LiveLease {
    batch_id: u64,
    worker: Arc<str>,
    expires_at_ms: i64,
    /// The IPs handed out with the lease, ascending.
    ips: Vec<u32>,
    /// IPs whose retryable failure was already counted in this lease (a re-sent report must
    /// not count an attempt twice).
    failed_here: HashSet<u32>,
}

#[derive(Debug, Clone)]
struct Retry {
    batch_id: u64,
    attempts: u32,
    not_before_ms: i64,
}

#[derive(Debug)]
struct Worker {
    row: WorkerRow,
    held: HashSet<u64>,
}

/// Counts from a `ReportOutcomes` call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReportCounts {
    /// Newly recorded final outcomes.
    pub accepted: u32,
    /// Outcomes for IPs already final (or a retryable failure already counted in this lease).
    pub duplicates: u32,
    /// Retryable failures put back in the queue.
    pub requeued: u32,
}

enum Prepared {
    Done,
    Delayed,
    Eligible(Vec<u32>),
}

/// The lease engine; see the module documentation.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    crawl_id: String,
    batches: HashMap<u64, Batch>,
    /// Pending batches that may be leased now, in hand-out order.
    ready: BTreeSet<(i64, u64)>,
    /// Pending batches waiting for a not-before time.
    delayed: BTreeSet<(i64, u64)>,
    leases: HashMap<u64, LiveLease>,
    /// Live leases by expiry.
    expiries: BTreeSet<(i64, u64)>,
    retries: HashMap<u32, Retry>,
    workers: HashMap<Arc<str>, Worker>,
    prefilter: Prefilter,
    next_lease_id: u64,
    max_batch_id: Option<u64>,
    undone: usize,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Engine {
    /// Rebuild the engine from the database state. Leases live at the crash stay live until
    /// their stored expiry (then the reaper re-queues them); retries keep their not-before times.
    pub fn restore(config: Config, loaded: Loaded, now: i64) -> Self {
        let mut engine = Engine {
            prefilter: Prefilter::new(config.skip_policy),
            config,
            crawl_id: loaded.crawl_id,
            batches: HashMap::new(),
            ready: BTreeSet::new(),
            delayed: BTreeSet::new(),
            leases: HashMap::new(),
            expiries: BTreeSet::new(),
            retries: HashMap::new(),
            workers: HashMap::new(),
            next_lease_id: loaded.max_lease_id + 1,
            max_batch_id: None,
            undone: 0,
        };
        for w in loaded.workers {
            engine.workers.insert(
                w.id.clone(),
                Worker {
                    row: w,
                    held: HashSet::new(),
                },
            );
        }
        for (start, end, leaf) in loaded.networks {
            engine.prefilter.insert(start, end, leaf);
        }
        engine.prefilter.compact();
        for r in loaded.retries {
            engine.retries.insert(
                r.ip,
                Retry {
                    batch_id: r.batch_id,
                    attempts: r.attempts,
                    not_before_ms: r.not_before_ms,
                },
            );
        }
        engine.add_batches(loaded.batches, now);
        // Retry rows of IPs that are final (should not exist) must not hold a batch back.
        let settled_retries: Vec<u32> = engine
            .retries
            .iter()
            .filter(|(ip, r)| {
                engine.batches.get(&r.batch_id).is_none_or(|b| {
                    b.status == BatchStatus::Done
                        || b.ips.binary_search(ip).is_ok_and(|p| b.settled[p])
                })
            })
            .map(|(ip, _)| *ip)
            .collect();
        for ip in settled_retries {
            engine.retries.remove(&ip);
        }
        engine
    }

    /// Add batches loaded from the database (at start, or appended by `add-range`).
    pub fn add_batches(&mut self, batches: Vec<LoadedBatch>, now: i64) -> usize {
        let mut added = 0;
        for lb in batches {
            let id = lb.row.id;
            if self.batches.contains_key(&id) {
                continue;
            }
            added += 1;
            self.max_batch_id = Some(self.max_batch_id.map_or(id, |m| m.max(id)));
            let unsettled = lb.settled.iter().filter(|s| !**s).count() as u32;
            let mut batch = Batch {
                hand_out: lb.hand_out,
                status: lb.row.status,
                not_before_ms: lb.row.not_before_ms,
                lease_id: lb.row.lease_id,
                worker_id: lb.row.worker_id.clone(),
                expires_at_ms: lb.row.expires_at_ms,
                leases: lb.row.leases,
                expiries: lb.row.expiries,
                ips: lb.ips,
                settled: lb.settled,
                unsettled,
            };
            match batch.status {
                BatchStatus::Done => {
                    batch.ips = Vec::new();
                    batch.settled = Vec::new();
                }
                BatchStatus::Pending => {
                    self.undone += 1;
                    self.enqueue(id, batch.hand_out, batch.not_before_ms, now);
                }
                BatchStatus::Leased => {
                    self.undone += 1;
                    match (batch.lease_id, batch.worker_id.clone(), batch.expires_at_ms) {
                        (Some(lease_id), Some(worker), Some(expires)) => {
                            // While the coordinator was down its workers could not
                            // heartbeat: give each restored lease at least a full TTL from
                            // now. Kept as stored, a lease with less time left than the
                            // outage lasted expired at the first reaper pass, before its
                            // holder (still walking it) could renew it; its batch was walked
                            // again and the expiry counted toward --max-lease-attempts (the
                            // fault suite saw 5 such expiries after a 5 s outage, 6 s TTL).
                            // A holder that died meanwhile is noticed one TTL after restart.
                            let expires =
                                expires.max(now.saturating_add(ms(self.config.lease_ttl)));
                            batch.expires_at_ms = Some(expires);
                            // What exactly was handed out is not stored: accept outcomes
                            // for any IP of the batch (settled ones count as duplicates).
                            let ips = batch.ips.clone();
                            self.workers
                                .entry(worker.clone())
                                .or_insert_with(|| Worker {
                                    row: WorkerRow {
                                        id: worker.clone(),
                                        hostname: String::new(),
                                        version: String::new(),
                                        first_seen_ms: now,
                                        last_seen_ms: now,
                                        last_heartbeat_ms: None,
                                    },
                                    held: HashSet::new(),
                                })
                                .held
                                .insert(lease_id);
                            self.leases.insert(
                                lease_id,
                                LiveLease {
                                    batch_id: id,
                                    worker,
                                    expires_at_ms: expires,
                                    ips,
                                    failed_here: HashSet::new(),
                                },
                            );
                            self.expiries.insert((expires, lease_id));
                            self.next_lease_id = self.next_lease_id.max(lease_id + 1);
                        }
                        _ => {
                            // A leased row without its lease fields: treat as pending.
                            batch.status = BatchStatus::Pending;
                            self.enqueue(id, batch.hand_out, batch.not_before_ms, now);
                        }
                    }
                }
            }
            self.batches.insert(id, batch);
        }
        added
    }

    /// The highest batch id known (new batches appended by `add-range` have higher ids).
    pub fn max_batch_id(&self) -> Option<u64> {
        self.max_batch_id
    }

    /// Whether every batch is done.
    pub fn crawl_complete(&self) -> bool {
        self.undone == 0
    }

    /// Pending batches that could be leased now or later, and live leases.
    pub fn queue_sizes(&self) -> (usize, usize, usize) {
        (self.ready.len(), self.delayed.len(), self.leases.len())
    }

    /// Batches pending (now or later), leased, and done.
    pub fn batch_counts(&self) -> (usize, usize, usize) {
        let leased = self.leases.len();
        (
            self.undone.saturating_sub(leased),
            leased,
            self.batches.len().saturating_sub(self.undone),
        )
    }

    /// The networks the pre-filter settles IPs with.
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    fn enqueue(&mut self, id: u64, hand_out: i64, not_before: i64, now: i64) {
        if not_before <= now {
            self.ready.insert((hand_out, id));
        } else {
            self.delayed.insert((not_before, id));
        }
    }

    fn promote(&mut self, now: i64) {
        while let Some(&(nb, id)) = self.delayed.first() {
            if nb > now {
                break;
            }
            self.delayed.remove(&(nb, id));
            if let Some(b) = self.batches.get(&id)
                && b.status == BatchStatus::Pending
            {
                self.ready.insert((b.hand_out, id));
            }
        }
    }

    fn known_worker(&self, worker_id: &str) -> Result<Arc<str>> {
        if worker_id.is_empty() {
            return Err(Error::InvalidArgument("worker_id is empty".into()));
        }
        match self.workers.get_key_value(worker_id) {
            Some((k, _)) => Ok(k.clone()),
            None => Err(Error::FailedPrecondition(format!(
                "worker {worker_id:?} has not said Hello"
            ))),
        }
    }

    /// Mark a batch whose IPs are all settled as done.
    fn finish(&mut self, id: u64, now: i64, writes: &mut Vec<Write>) {
        if let Some(batch) = self.batches.get_mut(&id) {
            if batch.status == BatchStatus::Done {
                return;
            }
            batch.status = BatchStatus::Done;
            batch.expires_at_ms = None;
            batch.ips = Vec::new();
            batch.settled = Vec::new();
            writes.push(Write::Batch(batch.row(id), now));
            self.undone -= 1;
            tracing::debug!(batch = id, "batch done");
        }
    }

    /// A lease ended: the batch is done if settled, else pending again (not before the earliest
    /// retry time of its unsettled IPs; IPs never tried are due at once).
    fn requeue_or_finish(&mut self, id: u64, now: i64, writes: &mut Vec<Write>) -> (bool, u32) {
        let Some(batch) = self.batches.get_mut(&id) else {
            return (false, 0);
        };
        if batch.unsettled == 0 {
            self.finish(id, now, writes);
            return (true, 0);
        }
        let mut not_before = i64::MAX;
        for (ip, settled) in batch.ips.iter().zip(&batch.settled) {
            if !*settled {
                not_before = not_before.min(
                    self.retries
                        .get(ip)
                        .map_or(now, |r| r.not_before_ms.max(now)),
                );
            }
        }
        batch.status = BatchStatus::Pending;
        batch.not_before_ms = not_before;
        batch.expires_at_ms = None;
        writes.push(Write::Batch(batch.row(id), now));
        let (hand_out, remaining) = (batch.hand_out, batch.unsettled);
        self.enqueue(id, hand_out, not_before, now);
        (false, remaining)
    }

    fn end_lease(&mut self, lease_id: u64) -> Option<LiveLease> {
        let lease = self.leases.remove(&lease_id)?;
        self.expiries.remove(&(lease.expires_at_ms, lease_id));
        if let Some(w) = self.workers.get_mut(&lease.worker) {
            w.held.remove(&lease_id);
        }
        Some(lease)
    }

    /// The caller's live lease, or why not.
    fn live_lease(&self, worker: &Arc<str>, lease_id: u64, now: i64) -> Result<&LiveLease> {
        match self.leases.get(&lease_id) {
            Some(l) if l.worker != *worker => Err(Error::NotFound(format!(
                "lease {lease_id} is not held by worker {worker:?}"
            ))),
            Some(l) if l.expires_at_ms <= now => Err(Error::FailedPrecondition(format!(
                "lease {lease_id} expired; its batch will be handed out again"
            ))),
            Some(l) => Ok(l),
            None if lease_id > 0 && lease_id < self.next_lease_id => {
                Err(Error::FailedPrecondition(format!(
                    "lease {lease_id} is no longer live (completed, returned or expired)"
                )))
            }
            None => Err(Error::NotFound(format!("unknown lease {lease_id}"))),
        }
    }
}

#[cfg(test)]
mod tests;
