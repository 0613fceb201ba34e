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

    /// `Hello`: check the protocol version and register the worker.
    pub fn hello(
        &mut self,
        req: pb::HelloRequest,
        now: i64,
    ) -> Result<(pb::HelloResponse, Vec<Write>)> {
        if req.protocol_version != PROTOCOL_VERSION {
            return Err(Error::FailedPrecondition(format!(
                "protocol version {} is not supported: this coordinator speaks version {PROTOCOL_VERSION}",
                req.protocol_version
            )));
        }
        if req.worker_id.is_empty() {
            return Err(Error::InvalidArgument("worker_id is empty".into()));
        }
        for (field, v) in [
            ("worker_id", &req.worker_id),
            ("hostname", &req.hostname),
            ("version", &req.version),
        ] {
            if v.len() > MAX_NAME_LEN {
                return Err(Error::InvalidArgument(format!(
                    "{field} is longer than {MAX_NAME_LEN} bytes"
                )));
            }
        }
        let id: Arc<str> = match self.workers.get_key_value(req.worker_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(req.worker_id.as_str()),
        };
        let worker = self.workers.entry(id.clone()).or_insert_with(|| Worker {
            row: WorkerRow {
                id: id.clone(),
                hostname: String::new(),
                version: String::new(),
                first_seen_ms: now,
                last_seen_ms: now,
                last_heartbeat_ms: None,
            },
            held: HashSet::new(),
        });
        worker.row.hostname = req.hostname;
        worker.row.version = req.version;
        worker.row.last_seen_ms = now;
        let c = &self.config;
        let settings = pb::WorkerSettings {
            lease_ttl_ms: u32::try_from(c.lease_ttl.as_millis()).unwrap_or(u32::MAX),
            heartbeat_interval_ms: u32::try_from(c.heartbeat_interval.as_millis())
                .unwrap_or(u32::MAX),
            max_batches_per_worker: c.max_batches_per_worker,
            skip_policy: c.skip_policy.as_str().to_string(),
            coverage_stream: coverage::DEFAULT_STREAM.to_string(),
            telemetry_interval_ms: u32::try_from(c.telemetry_interval.as_millis())
                .unwrap_or(u32::MAX),
            max_outcomes_per_report: c.max_outcomes_per_report,
        };
        Ok((
            pb::HelloResponse {
                protocol_version: PROTOCOL_VERSION,
                settings: Some(settings),
                crawl_id: self.crawl_id.clone(),
            },
            vec![Write::Worker(worker.row.clone())],
        ))
    }

    /// `Lease`: hand out up to `max_batches` pending batches (pre-filtered) to the worker.
    pub fn lease(
        &mut self,
        worker_id: &str,
        max_batches: u32,
        now: i64,
    ) -> Result<(pb::LeaseResponse, Vec<Write>)> {
        let worker = self.known_worker(worker_id)?;
        if max_batches == 0 {
            return Err(Error::InvalidArgument(
                "max_batches must be at least 1".into(),
            ));
        }
        let held = self.workers.get(&worker).map_or(0, |w| w.held.len());
        let room = (self.config.max_batches_per_worker as usize).saturating_sub(held);
        let want = room.min(max_batches as usize);
        let mut writes = Vec::new();
        let mut leases = Vec::new();
        self.promote(now);
        let mut examined = 0;
        while leases.len() < want
            && examined < MAX_EXAMINED_PER_LEASE
            && writes.len() < MAX_PREFILTER_WRITES
        {
            let Some(&(hand_out, id)) = self.ready.first() else {
                break;
            };
            self.ready.remove(&(hand_out, id));
            examined += 1;
            let ips = match self.prepare(id, now, &mut writes) {
                Prepared::Done | Prepared::Delayed => continue,
                Prepared::Eligible(ips) => ips,
            };
            leases.push(self.grant(id, &worker, ips, now, &mut writes));
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.row.last_seen_ms = now;
        }
        let crawl_complete = self.crawl_complete();
        let retry_after_ms = if !leases.is_empty() || crawl_complete {
            0
        } else if want == 0 {
            ms(self.config.heartbeat_interval).clamp(MIN_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS)
        } else if !self.ready.is_empty() {
            MIN_RETRY_AFTER_MS
        } else {
            let next = [
                self.delayed.first().map(|(t, _)| *t),
                self.expiries
                    .first()
                    .map(|(t, _)| *t + ms(self.config.reaper_interval)),
            ]
            .into_iter()
            .flatten()
            .min();
            next.map_or(MAX_RETRY_AFTER_MS, |t| t - now)
                .clamp(MIN_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS)
        };
        Ok((
            pb::LeaseResponse {
                leases,
                crawl_complete,
                retry_after_ms: u32::try_from(retry_after_ms).unwrap_or(u32::MAX),
            },
            writes,
        ))
    }

    /// Pre-filter a batch taken from the ready queue and decide what to do with it.
    fn prepare(&mut self, id: u64, now: i64, writes: &mut Vec<Write>) -> Prepared {
        let Some(batch) = self.batches.get_mut(&id) else {
            return Prepared::Delayed;
        };
        if batch.status != BatchStatus::Pending {
            return Prepared::Delayed;
        }
        let mut covered: Vec<(usize, u32, u32)> = Vec::new();
        self.prefilter.covered(&batch.ips, |pos, r| {
            if !batch.settled[pos] {
                covered.push((pos, r.start, r.end));
            }
        });
        for (pos, start, end) in covered {
            let ip = batch.ips[pos];
            let retry = self.retries.remove(&ip);
            batch.settled[pos] = true;
            batch.unsettled -= 1;
            writes.push(Write::Outcome(OutcomeRow {
                ip,
                batch_id: id,
                kind: OutcomeKind::Skipped,
                inferred: true,
                net: Some((start, end)),
                registry: None,
                reason: None,
                redirects: None,
                attempts: retry.as_ref().map_or(0, |r| r.attempts),
                worker_id: None,
                at_ms: now,
                clear_retry: retry.is_some(),
            }));
        }
        if batch.unsettled == 0 {
            self.finish(id, now, writes);
            return Prepared::Done;
        }
        let mut eligible = Vec::new();
        let mut next_retry = i64::MAX;
        for (ip, settled) in batch.ips.iter().zip(&batch.settled) {
            if *settled {
                continue;
            }
            match self.retries.get(ip) {
                Some(r) if r.not_before_ms > now => next_retry = next_retry.min(r.not_before_ms),
                _ => eligible.push(*ip),
            }
        }
        if eligible.is_empty() {
            batch.not_before_ms = next_retry;
            writes.push(Write::Batch(batch.row(id), now));
            self.delayed.insert((next_retry, id));
            return Prepared::Delayed;
        }
        Prepared::Eligible(eligible)
    }

    fn grant(
        &mut self,
        id: u64,
        worker: &Arc<str>,
        ips: Vec<u32>,
        now: i64,
        writes: &mut Vec<Write>,
    ) -> pb::Lease {
        let lease_id = self.next_lease_id;
        self.next_lease_id += 1;
        let expires = now + ms(self.config.lease_ttl);
        let batch = self.batches.get_mut(&id).expect("prepared batch exists");
        let attempt = batch.leases;
        batch.status = BatchStatus::Leased;
        batch.lease_id = Some(lease_id);
        batch.worker_id = Some(worker.clone());
        batch.expires_at_ms = Some(expires);
        batch.leases += 1;
        writes.push(Write::Batch(batch.row(id), now));
        tracing::debug!(worker = %worker, batch = id, lease = lease_id, ips = ips.len(), attempt, "lease granted");
        self.expiries.insert((expires, lease_id));
        if let Some(w) = self.workers.get_mut(worker) {
            w.held.insert(lease_id);
        }
        self.leases.insert(
            lease_id,
            LiveLease {
                batch_id: id,
                worker: worker.clone(),
                expires_at_ms: expires,
                ips: ips.clone(),
                failed_here: HashSet::new(),
            },
        );
        pb::Lease {
            lease_id,
            batch_id: id,
            expires_at_ms: expires,
            ips,
            attempt,
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

    /// `Heartbeat`: renew the caller's live leases; report the others as not live.
    pub fn heartbeat(
        &mut self,
        worker_id: &str,
        lease_ids: &[u64],
        now: i64,
    ) -> Result<(pb::HeartbeatResponse, Vec<Write>)> {
        let worker = self.known_worker(worker_id)?;
        if lease_ids.len() > MAX_IDS_PER_CALL {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_IDS_PER_CALL} lease ids per heartbeat"
            )));
        }
        let mut writes = Vec::new();
        let mut states = Vec::with_capacity(lease_ids.len());
        let ttl = ms(self.config.lease_ttl);
        for &lease_id in lease_ids {
            let live = self.live_lease(&worker, lease_id, now).is_ok();
            if !live {
                states.push(pb::LeaseState {
                    lease_id,
                    live: false,
                    expires_at_ms: 0,
                });
                continue;
            }
            let lease = self.leases.get_mut(&lease_id).expect("live lease");
            self.expiries.remove(&(lease.expires_at_ms, lease_id));
            lease.expires_at_ms = now + ttl;
            self.expiries.insert((lease.expires_at_ms, lease_id));
            let batch_id = lease.batch_id;
            let expires = lease.expires_at_ms;
            if let Some(b) = self.batches.get_mut(&batch_id) {
                b.expires_at_ms = Some(expires);
                writes.push(Write::Batch(b.row(batch_id), now));
            }
            states.push(pb::LeaseState {
                lease_id,
                live: true,
                expires_at_ms: expires,
            });
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.row.last_seen_ms = now;
            w.row.last_heartbeat_ms = Some(now);
        }
        writes.push(Write::WorkerHeartbeat {
            id: worker,
            at_ms: now,
        });
        Ok((pb::HeartbeatResponse { leases: states }, writes))
    }

    /// `ReportOutcomes`: validate everything, then record. Nothing changes on error.
    pub fn report(
        &mut self,
        worker_id: &str,
        lease_id: u64,
        outcomes: Vec<pb::Outcome>,
        now: i64,
    ) -> Result<(ReportCounts, Vec<Write>)> {
        let worker = self.known_worker(worker_id)?;
        let max = self.config.max_outcomes_per_report as usize;
        if outcomes.len() > max {
            return Err(Error::InvalidArgument(format!(
                "{} outcomes in one report; at most {max} are allowed",
                outcomes.len()
            )));
        }
        let lease = self.live_lease(&worker, lease_id, now)?;
        let mut seen = HashSet::with_capacity(outcomes.len());
        let mut valid: Vec<Reported> = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let r = outcomes::validate(o)?;
            if lease.ips.binary_search(&r.ip).is_err() {
                return Err(Error::InvalidArgument(format!(
                    "{} is not in lease {lease_id}",
                    ip_to_string(r.ip)
                )));
            }
            if !seen.insert(r.ip) {
                return Err(Error::InvalidArgument(format!(
                    "{} appears twice in one report",
                    ip_to_string(r.ip)
                )));
            }
            valid.push(r);
        }
        // Everything is valid: apply.
        let batch_id = lease.batch_id;
        let mut counts = ReportCounts::default();
        let mut writes = Vec::with_capacity(valid.len() + 8);
        let lease = self.leases.get_mut(&lease_id).expect("validated lease");
        let batch = self.batches.get_mut(&batch_id).ok_or_else(|| {
            Error::Internal(format!("lease {lease_id} names unknown batch {batch_id}"))
        })?;
        for r in valid {
            let ip = r.ip;
            let pos = batch.ips.binary_search(&ip).map_err(|_| {
                Error::Internal(format!("lease IP {ip} missing from batch {batch_id}"))
            })?;
            if batch.settled[pos] {
                counts.duplicates += 1;
                continue;
            }
            let at_ms = if r.at_ms > 0 { r.at_ms } else { now };
            let mut row = OutcomeRow {
                ip,
                batch_id,
                kind: OutcomeKind::Failed,
                inferred: false,
                net: None,
                registry: None,
                reason: None,
                redirects: None,
                attempts: self.retries.get(&ip).map_or(0, |r| r.attempts),
                worker_id: Some(worker.clone()),
                at_ms,
                clear_retry: false,
            };
            match r.kind {
                ReportedKind::Failed {
                    reason,
                    retryable: true,
                    registry,
                } => {
                    if !lease.failed_here.insert(ip) {
                        counts.duplicates += 1;
                        continue;
                    }
                    let attempts = row.attempts + 1;
                    if attempts < self.config.max_attempts {
                        let not_before = now + ms(self.config.retry_delay_for(attempts));
                        self.retries.insert(
                            ip,
                            Retry {
                                batch_id,
                                attempts,
                                not_before_ms: not_before,
                            },
                        );
                        writes.push(Write::Retry(RetryRow {
                            ip,
                            batch_id,
                            attempts,
                            not_before_ms: not_before,
                            reason,
                            registry,
                        }));
                        counts.requeued += 1;
                        continue;
                    }
                    row.attempts = attempts;
                    row.reason = Some(reason);
                    row.registry = registry;
                }
                ReportedKind::Failed {
                    reason, registry, ..
                } => {
                    row.reason = Some(reason);
                    row.registry = registry;
                }
                ReportedKind::NotFound { registry } => {
                    row.kind = OutcomeKind::NotFound;
                    row.registry = registry;
                }
                ReportedKind::Skipped { start, end } => {
                    row.kind = OutcomeKind::Skipped;
                    row.inferred = true;
                    row.net = Some((start, end));
                }
                ReportedKind::Found {
                    start,
                    end,
                    leaf,
                    network_json,
                    raw_json,
                    redirects,
                } => {
                    row.kind = OutcomeKind::Found;
                    row.net = Some((start, end));
                    row.redirects = Some(redirects);
                    row.registry = serde_json::from_str::<serde_json::Value>(&network_json)
                        .ok()
                        .and_then(|v| {
                            v.get("registry")
                                .and_then(|r| r.as_str())
                                .map(str::to_string)
                        });
                    self.prefilter.insert(start, end, leaf);
                    writes.push(Write::Network(NetworkRow {
                        start,
                        end,
                        leaf,
                        network_json,
                        raw_json,
                        worker_id: worker.clone(),
                        at_ms,
                    }));
                }
            }
            row.clear_retry = self.retries.remove(&ip).is_some();
            batch.settled[pos] = true;
            batch.unsettled -= 1;
            counts.accepted += 1;
            writes.push(Write::Outcome(row));
        }
        Ok((counts, writes))
    }

    /// `CompleteBatch`: end the lease; the batch is done when every IP is final, else pending.
    pub fn complete(
        &mut self,
        worker_id: &str,
        lease_id: u64,
        now: i64,
    ) -> Result<(pb::CompleteBatchResponse, Vec<Write>)> {
        let worker = self.known_worker(worker_id)?;
        self.live_lease(&worker, lease_id, now)?;
        let lease = self.end_lease(lease_id).expect("validated lease");
        let mut writes = Vec::new();
        let (batch_done, remaining) = self.requeue_or_finish(lease.batch_id, now, &mut writes);
        Ok((
            pb::CompleteBatchResponse {
                batch_done,
                remaining,
            },
            writes,
        ))
    }

    /// `ReturnLeases`: the caller's leases end and their batches are pending at once (no expiry
    /// is counted). Ids that are not the caller's live leases are ignored.
    pub fn return_leases(
        &mut self,
        worker_id: &str,
        lease_ids: &[u64],
        now: i64,
    ) -> Result<(u32, Vec<Write>)> {
        let worker = self.known_worker(worker_id)?;
        if lease_ids.len() > MAX_IDS_PER_CALL {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_IDS_PER_CALL} lease ids per call"
            )));
        }
        let mut writes = Vec::new();
        let mut returned = 0;
        for &lease_id in lease_ids {
            if self
                .leases
                .get(&lease_id)
                .is_none_or(|l| l.worker != worker)
            {
                continue;
            }
            if let Some(lease) = self.end_lease(lease_id) {
                self.requeue_or_finish(lease.batch_id, now, &mut writes);
                returned += 1;
            }
        }
        Ok((returned, writes))
    }

    /// The reaper's pass: leases whose expiry has passed end; their batches count an expiry and
    /// go back to pending, or, after `max_lease_attempts` expiries, their unsettled IPs are
    /// recorded as failed ("lease expired N times") and the batch is done.
    pub fn reap(&mut self, now: i64) -> (usize, Vec<Write>) {
        let mut writes = Vec::new();
        let mut reaped = 0;
        while let Some(&(expires, lease_id)) = self.expiries.first() {
            if expires > now {
                break;
            }
            let Some(lease) = self.end_lease(lease_id) else {
                self.expiries.remove(&(expires, lease_id));
                continue;
            };
            reaped += 1;
            let id = lease.batch_id;
            let Some(batch) = self.batches.get_mut(&id) else {
                continue;
            };
            batch.expiries += 1;
            let expiries = batch.expiries;
            tracing::info!(worker = %lease.worker, batch = id, lease = lease_id, expiries, "lease expired");
            if expiries >= self.config.max_lease_attempts {
                let reason = format!("lease expired {expiries} times");
                tracing::warn!(batch = id, unsettled = batch.unsettled, %reason, "giving up on batch");
                for pos in 0..batch.ips.len() {
                    if batch.settled[pos] {
                        continue;
                    }
                    let ip = batch.ips[pos];
                    let retry = self.retries.remove(&ip);
                    batch.settled[pos] = true;
                    batch.unsettled -= 1;
                    writes.push(Write::Outcome(OutcomeRow {
                        ip,
                        batch_id: id,
                        kind: OutcomeKind::Failed,
                        inferred: false,
                        net: None,
                        registry: None,
                        reason: Some(reason.clone()),
                        redirects: None,
                        attempts: retry.as_ref().map_or(0, |r| r.attempts),
                        worker_id: None,
                        at_ms: now,
                        clear_retry: retry.is_some(),
                    }));
                }
            }
            self.requeue_or_finish(id, now, &mut writes);
        }
        (reaped, writes)
    }

    /// `ReportTelemetry`: store one sample.
    pub fn telemetry(
        &mut self,
        worker_id: &str,
        sample: Option<pb::TelemetrySample>,
        now: i64,
    ) -> Result<Vec<Write>> {
        let worker = self.known_worker(worker_id)?;
        let Some(s) = sample else {
            return Err(Error::InvalidArgument("telemetry sample is missing".into()));
        };
        if s.period_end_ms < s.period_start_ms {
            return Err(Error::InvalidArgument(
                "telemetry period ends before it starts".into(),
            ));
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.row.last_seen_ms = now;
        }
        let registries: Vec<serde_json::Value> = s
            .registries
            .iter()
            .map(|r| {
                serde_json::json!({
                    "registry": r.registry,
                    "requests": r.requests,
                    "found": r.found,
                    "not_found": r.not_found,
                    "failed": r.failed,
                    "rate_limited": r.rate_limited,
                    "redirects": r.redirects,
                    "latency_p50_ms": r.latency_p50_ms,
                    "latency_p90_ms": r.latency_p90_ms,
                    "latency_p99_ms": r.latency_p99_ms,
                    "latency_max_ms": r.latency_max_ms,
                })
            })
            .collect();
        let counters = serde_json::json!({
            "skipped": s.skipped,
            "queued": s.queued,
            "in_flight": s.in_flight,
            "registries": registries,
        });
        Ok(vec![Write::Telemetry(TelemetryRow {
            worker_id: worker,
            period_start_ms: s.period_start_ms,
            period_end_ms: s.period_end_ms,
            received_at_ms: now,
            final_sample: s.r#final,
            counters_json: counters.to_string(),
        })])
    }
}

#[cfg(test)]
#[path = "leases_tests.rs"]
mod tests;
