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

/// The raw answer to send with a found network: all of it, unless the outcome would not fit
/// one report (the coordinator's message limit can be set below the RDAP client's body cap).
/// Then the normalized network alone is sent, so that the address still gets its answer.
fn raw_that_fits(ctx: &WalkContext, ip: u32, network_bytes: usize, raw: &str) -> Vec<u8> {
    if network_bytes + raw.len() <= ctx.report_bytes {
        return raw.as_bytes().to_vec();
    }
    tracing::warn!(
        ip = %Ipv4Addr::from(ip),
        raw_bytes = raw.len(),
        report_bytes = ctx.report_bytes,
        "answer larger than the coordinator's message limit allows: sending the normalized \
         network without its raw body"
    );
    Vec::new()
}

/// Turn a lookup into an outcome, inserting a found network into the index. The RDAP client
/// already fails answers that do not contain the address asked about; the range check here
/// only guards the index, which must never hold a network for an address outside it.
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
                        raw_json: raw_that_fits(ctx, ip, json.len(), raw.get()),
                        network_json: json,
                        redirects,
                    }),
                    Err(e) => outcome::Kind::Failed(v1::Failed {
                        reason: format!("could not encode the network: {e}"),
                        retryable: false,
                        registry: network.registry.map(|r| r.to_string()).unwrap_or_default(),
                    }),
                }
            }
            _ => outcome::Kind::Failed(v1::Failed {
                reason: format!(
                    "answer is not an IPv4 network holding {}",
                    Ipv4Addr::from(ip)
                ),
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

/// Outcomes waiting to be reported: their encoded size and when the oldest was buffered.
#[derive(Default)]
struct Chunk {
    outcomes: Vec<Outcome>,
    bytes: usize,
    oldest: Option<Instant>,
}

impl Chunk {
    fn push(&mut self, outcome: Outcome, size: usize) {
        self.outcomes.push(outcome);
        self.bytes += size;
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// Whether an outcome of `size` bytes would take the chunk past the size cap.
    fn overflows_with(&self, ctx: &WalkContext, size: usize) -> bool {
        !self.outcomes.is_empty() && self.bytes + size > ctx.report_bytes
    }

    /// Whether the chunk is due: full by count or size, or its oldest outcome waited enough.
    fn due(&self, ctx: &WalkContext) -> bool {
        self.outcomes.len() >= ctx.report_chunk
            || self.bytes >= ctx.report_bytes
            || self.oldest.is_some_and(|t| t.elapsed() >= ctx.flush_after)
    }
}

/// Send the chunk (and empty it); `Ok(false)` when the lease is gone.
async fn flush(ctx: &WalkContext, lease_id: u64, chunk: &mut Chunk) -> Result<bool> {
    let outcomes = std::mem::take(chunk).outcomes;
    if outcomes.is_empty() {
        return Ok(true);
    }
    let n = outcomes.len();
    match ctx.session.report(lease_id, outcomes).await {
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
    let mut chunk = Chunk::default();
    // Report what is buffered, then end with `end` (or LeaseLost if the lease is gone).
    let finish = async |chunk: &mut Chunk, end: WalkEnd| -> Result<WalkEnd> {
        Ok(if flush(ctx, lease.lease_id, chunk).await? {
            end
        } else {
            WalkEnd::LeaseLost
        })
    };
    for (i, &ip) in ips.iter().enumerate() {
        if cancel.is_cancelled() {
            return finish(&mut chunk, WalkEnd::Interrupted).await;
        }
        let outcome = match known[i].or_else(|| ctx.coverage.covering(ip)) {
            Some(r) => {
                ctx.stats.skipped();
                skipped(ip, r)
            }
            None => {
                let lookup = tokio::select! {
                    _ = cancel.cancelled() => return finish(&mut chunk, WalkEnd::Interrupted).await,
                    l = ctx.rdap.lookup(IpAddr::V4(Ipv4Addr::from(ip))) => l,
                };
                settle(ctx, ip, lookup)
            }
        };
        let size = outcome.encoded_len();
        // Send what is buffered first: one report never outgrows the coordinator's limit.
        if chunk.overflows_with(ctx, size) && !flush(ctx, lease.lease_id, &mut chunk).await? {
            return Ok(WalkEnd::LeaseLost);
        }
        chunk.push(outcome, size);
        if chunk.due(ctx) && !flush(ctx, lease.lease_id, &mut chunk).await? {
            return Ok(WalkEnd::LeaseLost);
        }
    }
    finish(&mut chunk, WalkEnd::Finished).await
}
