//! The lease lifecycle: Hello, Lease (pre-filtering batches before they leave), Heartbeat,
//! CompleteBatch, ReturnLeases, and the reaper's pass over expired leases.

use super::*;

impl Engine {
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
            max_message_bytes: u32::try_from(c.max_message_bytes).unwrap_or(u32::MAX),
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
                    .map(|(t, _)| t.saturating_add(ms(self.config.reaper_interval))),
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
        let expires = now.saturating_add(ms(self.config.lease_ttl));
        let batch = self.batches.get_mut(&id).expect("prepared batch exists");
        let attempt = batch.leases;
        batch.status = BatchStatus::Leased;
        batch.lease_id = Some(lease_id);
        batch.worker_id = Some(worker.clone());
        batch.expires_at_ms = Some(expires);
        batch.leases += 1;
        writes.push(Write::Batch(batch.row(id), now));
        tracing::debug!(worker = %worker, batch = id, lease = lease_id, ips = ips.len(), attempt, "lease granted");
        metrics::counter!(crate::metrics::LEASES_GRANTED).increment(1);
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
            lease.expires_at_ms = now.saturating_add(ttl);
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
        metrics::counter!(crate::metrics::LEASES_COMPLETED).increment(1);
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
        metrics::counter!(crate::metrics::LEASES_RETURNED).increment(u64::from(returned));
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
            metrics::counter!(crate::metrics::LEASES_EXPIRED).increment(1);
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
}
