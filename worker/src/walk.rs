//! Walking one leased batch: its IPs in address order, each either skipped (inside a known
//! network, named in the outcome) or looked up; every network found is added to the worker's
//! index at once, so the rest of the batch skips it. Outcomes go back in small acknowledged
//! chunks; a chunk is sent when full (by count or by encoded size) or when its oldest outcome
//! has waited long enough.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use rdapfleet_proto::v1::{self, Lease, Outcome, outcome};
use rdapfleet_ranges::Range;
use rdapfleet_rdap::client::{LookupOutcome, RdapClient};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tracing::{debug, instrument, warn};

use crate::coverage::Coverage;
use crate::session::Session;
use crate::telemetry::Stats;
use crate::{Error, Result};

/// What a walk needs.
#[derive(Clone)]
pub struct WalkContext {
    /// The coordinator.
    pub session: Session,
    /// Known networks.
    pub coverage: Arc<Coverage>,
    /// The polite RDAP client.
    pub rdap: Arc<RdapClient>,
    /// Counters for telemetry.
    pub stats: Arc<Stats>,
    /// Outcomes per report (at most the coordinator's limit).
    pub report_chunk: usize,
    /// Encoded bytes per report: a chunk is sent before it would grow past this (found
    /// outcomes carry the raw answer, up to the RDAP client's body cap each).
    pub report_bytes: usize,
    /// Longest time an outcome waits before being sent.
    pub flush_after: Duration,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkEnd {
    /// Every IP has an acknowledged outcome.
    Finished,
    /// The coordinator no longer knows the lease as ours (expired and re-leased): stop.
    LeaseLost,
    /// Asked to stop (shutdown, or the heartbeat saw the lease die); what was done is reported.
    Interrupted,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn skipped(ip: u32, r: Range) -> Outcome {
    Outcome {
        ip,
        at_ms: now_ms(),
        kind: Some(outcome::Kind::Skipped(v1::Skipped {
            start: r.start,
            end: r.end,
        })),
    }
}

/// Turn a lookup into an outcome, inserting a found network into the index. A network that
/// does not contain the IP asked about is never recorded as its answer.
fn settle(ctx: &WalkContext, ip: u32, lookup: LookupOutcome) -> Outcome {
    let kind = match lookup {
        LookupOutcome::Found {
            network,
            raw,
            redirects,
            ..
        } => match network.v4_range() {
            Some(r) if r.contains(ip) => {
                ctx.coverage.insert_own(r, network.leaf);
                match serde_json::to_vec(&network) {
                    Ok(json) => outcome::Kind::Found(v1::Found {
                        start: r.start,
                        end: r.end,
                        network_json: json,
                        raw_json: raw.get().as_bytes().to_vec(),
                        redirects,
                    }),
                    Err(e) => outcome::Kind::Failed(v1::Failed {
                        reason: format!("could not encode the network: {e}"),
                        retryable: false,
                        registry: network.registry.map(|r| r.to_string()).unwrap_or_default(),
                    }),
                }
            }
            other => outcome::Kind::Failed(v1::Failed {
                reason: match other {
                    Some(r) => format!("answer {r} does not contain {}", Ipv4Addr::from(ip)),
                    None => "answer is not an IPv4 network".to_string(),
                },
                retryable: false,
                registry: network.registry.map(|r| r.to_string()).unwrap_or_default(),
            }),
        },
        LookupOutcome::NotFound { registry, .. } => outcome::Kind::NotFound(v1::NotFound {
            registry: registry.map(|r| r.to_string()).unwrap_or_default(),
        }),
        LookupOutcome::Failed {
            reason,
            retryable,
            registry,
        } => outcome::Kind::Failed(v1::Failed {
            reason,
            retryable,
            registry: registry.map(|r| r.to_string()).unwrap_or_default(),
        }),
    };
    Outcome {
        ip,
        at_ms: now_ms(),
        kind: Some(kind),
    }
}

/// Send buffered outcomes; `Ok(false)` when the lease is gone.
async fn flush(ctx: &WalkContext, lease_id: u64, buf: &mut Vec<Outcome>) -> Result<bool> {
    if buf.is_empty() {
        return Ok(true);
    }
    let n = buf.len();
    match ctx.session.report(lease_id, std::mem::take(buf)).await {
        Ok(ack) => {
            debug!(
                lease_id,
                sent = n,
                accepted = ack.accepted,
                duplicates = ack.duplicates,
                "outcomes acknowledged"
            );
            Ok(true)
        }
        Err(Error::Rpc { status, .. })
            if matches!(
                status.code(),
                Code::NotFound | Code::FailedPrecondition | Code::PermissionDenied
            ) =>
        {
            warn!(lease_id, error = %status.message(), "lease lost; dropping the rest of the batch to its next holder");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Walk one lease until finished, lost or cancelled.
#[instrument(skip_all, fields(lease_id = lease.lease_id, batch_id = lease.batch_id, ips = lease.ips.len()))]
pub async fn walk(ctx: &WalkContext, lease: &Lease, cancel: &CancellationToken) -> Result<WalkEnd> {
    let ips = &lease.ips;
    let known = ctx.coverage.covering_sorted(ips);
    let mut buf: Vec<Outcome> = Vec::with_capacity(ctx.report_chunk);
    let mut buf_bytes = 0usize;
    let mut oldest: Option<Instant> = None;
    for (i, &ip) in ips.iter().enumerate() {
        if cancel.is_cancelled() {
            return Ok(if flush(ctx, lease.lease_id, &mut buf).await? {
                WalkEnd::Interrupted
            } else {
                WalkEnd::LeaseLost
            });
        }
        let outcome = match known[i].or_else(|| ctx.coverage.covering(ip)) {
            Some(r) => {
                ctx.stats.skipped();
                skipped(ip, r)
            }
            None => {
                let lookup = tokio::select! {
                    _ = cancel.cancelled() => {
                        return Ok(if flush(ctx, lease.lease_id, &mut buf).await? { WalkEnd::Interrupted } else { WalkEnd::LeaseLost });
                    }
                    l = ctx.rdap.lookup(IpAddr::V4(Ipv4Addr::from(ip))) => l,
                };
                settle(ctx, ip, lookup)
            }
        };
        let size = outcome.encoded_len();
        if !buf.is_empty() && buf_bytes + size > ctx.report_bytes {
            // Send what is buffered first: one report never outgrows the coordinator's limit.
            oldest = None;
            buf_bytes = 0;
            if !flush(ctx, lease.lease_id, &mut buf).await? {
                return Ok(WalkEnd::LeaseLost);
            }
        }
        buf.push(outcome);
        buf_bytes += size;
        let first = *oldest.get_or_insert_with(Instant::now);
        if buf.len() >= ctx.report_chunk
            || buf_bytes >= ctx.report_bytes
            || first.elapsed() >= ctx.flush_after
        {
            oldest = None;
            buf_bytes = 0;
            if !flush(ctx, lease.lease_id, &mut buf).await? {
                return Ok(WalkEnd::LeaseLost);
            }
        }
    }
    Ok(if flush(ctx, lease.lease_id, &mut buf).await? {
        WalkEnd::Finished
    } else {
        WalkEnd::LeaseLost
    })
}
