//! Recording what workers report: outcomes (validated whole, then applied; idempotent) and
//! telemetry samples.

use super::*;

impl Engine {
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
                        // Saturating: --max-retry-delay may be longer than an i64 of ms.
                        let not_before =
                            now.saturating_add(ms(self.config.retry_delay_for(attempts)));
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
        if s.period_start_ms < 0 {
            return Err(Error::InvalidArgument(
                "telemetry period starts before 1970 (is the worker's clock set?)".into(),
            ));
        }
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
