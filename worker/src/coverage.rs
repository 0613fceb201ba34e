//! What this worker knows is covered: one [`RangeIndex`] fed by the coordinator's coverage
//! change log (replayed, then tailed, from the local Redis read replica) and by the worker's own
//! results, inserted the moment they arrive.
//!
//! The skip policy decides what is skipped: `covered` skips inside any known network, `leaf`
//! only inside networks the registry marks as assignments (DESIGN.md §3).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdapfleet_proto::coverage::{self, CoverageRecord};
use rdapfleet_ranges::{Range, RangeIndex};
use redis::AsyncCommands;
use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Which known networks make an IP skippable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkipPolicy {
    /// Skip inside any known network (the 2016 semantics; fewest lookups).
    #[default]
    Covered,
    /// Skip only inside assignments, so every answer is the most specific one.
    Leaf,
}

impl SkipPolicy {
    /// The policy's name as used in flags and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipPolicy::Covered => "covered",
            SkipPolicy::Leaf => "leaf",
        }
    }
}

impl FromStr for SkipPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "covered" => Ok(SkipPolicy::Covered),
            "leaf" => Ok(SkipPolicy::Leaf),
            other => Err(format!(
                "unknown skip policy {other:?} (expected covered or leaf)"
            )),
        }
    }
}

/// The worker's coverage index, shared by the batch walkers and the Redis tailer.
#[derive(Debug)]
pub struct Coverage {
    policy: SkipPolicy,
    index: RwLock<RangeIndex<()>>,
    from_log: AtomicU64,
    from_self: AtomicU64,
}

impl Coverage {
    /// An empty index under `policy`.
    pub fn new(policy: SkipPolicy) -> Self {
        Self {
            policy,
            index: RwLock::new(RangeIndex::new()),
            from_log: AtomicU64::new(0),
            from_self: AtomicU64::new(0),
        }
    }

    /// The skip policy in force.
    pub fn policy(&self) -> SkipPolicy {
        self.policy
    }

    fn admits(&self, leaf: bool) -> bool {
        self.policy == SkipPolicy::Covered || leaf
    }

    /// Record a network this worker just found; returns whether the index grew.
    pub fn insert_own(&self, range: Range, leaf: bool) -> bool {
        if !self.admits(leaf) {
            return false;
        }
        let new = self.write().insert(range, ());
        if new {
            self.from_self.fetch_add(1, Ordering::Relaxed);
        }
        new
    }

    /// Record networks from the coverage log; returns how many were new.
    pub fn insert_log(&self, records: &[CoverageRecord]) -> usize {
        let items = records.iter().filter(|r| self.admits(r.leaf)).map(|r| {
            (
                Range {
                    start: r.start,
                    end: r.end,
                },
                (),
            )
        });
        let mut index = self.write();
        let new = index.extend_bulk(items);
        drop(index);
        self.from_log.fetch_add(new as u64, Ordering::Relaxed);
        new
    }

    /// Load a replayed log (consumed, so its buffer is freed before the index is painted);
    /// returns how many networks were new.
    pub fn load_log(&self, records: Vec<CoverageRecord>) -> usize {
        let policy = self.policy;
        let items = records
            .into_iter()
            .filter(move |r| policy == SkipPolicy::Covered || r.leaf)
            .map(|r| {
                (
                    Range {
                        start: r.start,
                        end: r.end,
                    },
                    (),
                )
            });
        let new = self.write().extend_bulk(items);
        self.from_log.fetch_add(new as u64, Ordering::Relaxed);
        new
    }

    /// For each address of a batch, the known network that covers it: one sweep when the
    /// batch is ascending (as the coordinator sends it), one search per address otherwise (the
    /// lease comes over the network: an unsorted one must neither trip the sweep's ordering
    /// assertion nor get wrong answers from it).
    pub fn covering_sorted(&self, ips: &[u32]) -> Vec<Option<Range>> {
        let index = self.read();
        if !ips.is_sorted() {
            return ips
                .iter()
                .map(|&ip| index.get(ip).map(|(r, _)| r))
                .collect();
        }
        let mut out = vec![None; ips.len()];
        index.for_each_sorted(ips, |i, hit| out[i] = hit.map(|(r, _)| r));
        out
    }

    /// The known network covering `ip`, if any.
    pub fn covering(&self, ip: u32) -> Option<Range> {
        self.read().get(ip).map(|(r, _)| r)
    }

    /// Distinct networks known.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether nothing is known yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New networks learnt from the log, and found by this worker, since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.from_log.load(Ordering::Relaxed),
            self.from_self.load(Ordering::Relaxed),
        )
    }

    /// Approximate heap bytes of the index.
    pub fn heap_bytes(&self) -> usize {
        self.read().heap_bytes()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RangeIndex<()>> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RangeIndex<()>> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stream entries per page while replaying (an entry packs up to a few thousand records).
const REPLAY_PAGE: usize = 32;

/// Where the tailer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailState {
    /// Not connected yet (or reconnecting after a failure).
    Connecting,
    /// Replaying the log from its start.
    Replaying,
    /// Caught up; following new entries.
    Following,
}

/// Settings of the coverage tailer.
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// The local replica, e.g. `redis://:password@127.0.0.1:6379`.
    pub redis_url: String,
    /// The stream key (from the coordinator's settings).
    pub stream: String,
    /// How long one blocking read waits for new entries.
    pub block: Duration,
    /// Entries per read.
    pub count: usize,
    /// First and last delay between reconnection attempts.
    pub backoff: (Duration, Duration),
}

impl TailConfig {
    /// Defaults for a stream key and replica URL.
    pub fn new(redis_url: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            redis_url: redis_url.into(),
            stream: stream.into(),
            block: Duration::from_secs(2),
            count: 2_000,
            backoff: (Duration::from_millis(200), Duration::from_secs(10)),
        }
    }
}

/// Replay the coverage log into `coverage`, then follow it until `shutdown`. Never returns on
/// a Redis fault: it logs, waits with backoff and resumes from the last entry it applied (or
/// from the start when the stream was reset, e.g. after a master restart without persistence).
pub async fn tail(
    coverage: Arc<Coverage>,
    config: TailConfig,
    state: tokio::sync::watch::Sender<TailState>,
    shutdown: CancellationToken,
) {
    let mut last_id = String::from("0-0");
    let mut delay = config.backoff.0;
    let mut failing = false;
    while !shutdown.is_cancelled() {
        state.send_replace(TailState::Connecting);
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = tail_once(&coverage, &config, &mut last_id, &state, &shutdown) => r,
        };
        match result {
            Ok(()) => return,
            Err(e) => {
                if failing {
                    debug!(error = %e, retry_in = ?delay, "coverage log still unreachable");
                } else {
                    warn!(error = %e, redis = %rdapfleet_cli::redact_url(&config.redis_url), retry_in = ?delay,
                        "coverage log unreachable; crawling on with what is known, will retry");
                    failing = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(config.backoff.1);
            }
        }
        if state.borrow().clone() == TailState::Following {
            failing = false;
            delay = config.backoff.0;
        }
    }
}

async fn tail_once(
    coverage: &Coverage,
    config: &TailConfig,
    last_id: &mut String,
    state: &tokio::sync::watch::Sender<TailState>,
    shutdown: &CancellationToken,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(config.redis_url.as_str())?;
    let conn_config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(config.block + Duration::from_secs(5)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&conn_config)
        .await?;

    // A stream that is now behind what we applied was reset: start again from its beginning
    // (inserts are idempotent, so re-reading is harmless).
    let newest: StreamRangeReply = conn.xrevrange_count(&config.stream, "+", "-", 1).await?;
    let newest_id = newest.ids.first().map(|e| e.id.clone());
    if *last_id != "0-0" && newest_id.as_deref().is_none_or(|n| id_less(n, last_id)) {
        info!(stream = %config.stream, "coverage log was reset; replaying it from the start");
        *last_id = "0-0".to_string();
    }

    // Replay: read small pages without blocking until caught up. Into an empty index the
    // records are gathered (9 bytes on the wire, 12 here) and loaded in one bulk sweep; after a
    // reconnection they are inserted page by page.
    state.send_replace(TailState::Replaying);
    let started = std::time::Instant::now();
    let bulk = coverage.is_empty();
    let mut gathered: Vec<CoverageRecord> = Vec::new();
    let mut replayed = 0usize;
    loop {
        let start = format!("({last_id}");
        let page: StreamRangeReply = conn
            .xrange_count(&config.stream, start, "+", REPLAY_PAGE)
            .await?;
        if page.ids.is_empty() {
            break;
        }
        let mut records = Vec::new();
        for entry in &page.ids {
            records.extend(decode_entry(&entry.map, &entry.id));
            *last_id = entry.id.clone();
        }
        drop(page);
        if bulk {
            gathered.extend_from_slice(&records);
        } else {
            replayed += coverage.insert_log(&records);
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
    }
    if bulk {
        replayed += coverage.load_log(gathered);
    }
    info!(
        networks = replayed,
        known = coverage.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "coverage log replayed"
    );

    // Follow.
    state.send_replace(TailState::Following);
    let opts = StreamReadOptions::default()
        .count(config.count)
        .block(config.block.as_millis() as usize);
    loop {
        let keys = [config.stream.as_str()];
        let ids = [last_id.clone()];
        let reply: Option<StreamReadReply> = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = conn.xread_options(&keys, &ids, &opts) => r?,
        };
        let Some(reply) = reply else { continue };
        let mut records = Vec::new();
        for key in reply.keys {
            for entry in key.ids {
                records.extend(decode_entry(&entry.map, &entry.id));
                *last_id = entry.id;
            }
        }
        if !records.is_empty() {
            let new = coverage.insert_log(&records);
            debug!(records = records.len(), new, "coverage entries applied");
        }
    }
}

fn decode_entry(
    map: &std::collections::HashMap<String, redis::Value>,
    id: &str,
) -> Vec<CoverageRecord> {
    let Some(value) = map.get(coverage::FIELD) else {
        warn!(id, "coverage entry without its field; ignored");
        return Vec::new();
    };
    let bytes: Vec<u8> = match redis::from_redis_value_ref(value) {
        Ok(b) => b,
        Err(e) => {
            warn!(id, error = %e, "coverage entry is not bytes; ignored");
            return Vec::new();
        }
    };
    match coverage::decode(&bytes) {
        Ok(r) => r,
        Err(e) => {
            warn!(id, error = %e, "malformed coverage entry; ignored");
            Vec::new()
        }
    }
}

/// Whether stream id `a` sorts before `b` (`ms-seq`).
fn id_less(a: &str, b: &str) -> bool {
    fn parts(s: &str) -> (u64, u64) {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
    parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_decide_what_is_indexed() {
        let covered = Coverage::new(SkipPolicy::Covered);
        let leaf = Coverage::new(SkipPolicy::Leaf);
        let alloc = Range {
            start: 100,
            end: 199,
        };
        let assign = Range {
            start: 120,
            end: 129,
        };
        for c in [&covered, &leaf] {
            c.insert_own(alloc, false);
            c.insert_own(assign, true);
        }
        assert_eq!(covered.covering(110), Some(alloc));
        assert_eq!(leaf.covering(110), None);
        assert_eq!(leaf.covering(125), Some(assign));
        assert_eq!(
            covered.covering_sorted(&[99, 110, 125]),
            vec![None, Some(alloc), Some(assign)]
        );
        let n = covered.insert_log(&[
            CoverageRecord {
                start: 100,
                end: 199,
                leaf: false,
            },
            CoverageRecord {
                start: 300,
                end: 310,
                leaf: true,
            },
        ]);
        assert_eq!(n, 1, "the allocation was already known");
        assert_eq!(covered.counts(), (1, 2));
    }

    #[test]
    fn an_unsorted_lease_gets_right_answers() {
        let c = Coverage::new(SkipPolicy::Covered);
        let rec = |start, end| CoverageRecord {
            start,
            end,
            leaf: false,
        };
        c.load_log(vec![rec(100, 199), rec(300, 399), rec(500, 599)]);
        let r = |start, end| Some(Range { start, end });
        assert_eq!(
            c.covering_sorted(&[550, 350, 250, 150, 50]),
            vec![r(500, 599), r(300, 399), None, r(100, 199), None]
        );
        assert_eq!(
            c.covering_sorted(&[150, 250, 350]),
            vec![r(100, 199), None, r(300, 399)]
        );
    }

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(id_less("9-0", "10-0"));
        assert!(id_less("10-1", "10-2"));
        assert!(!id_less("10-2", "10-2"));
    }
}
