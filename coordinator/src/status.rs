//! `status`: what the crawl database says right now, read directly from the file (whether a
//! server runs or not) without changing it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::Result;
use crate::clock::system_now_ms;
use crate::db::{self, Access};
use rdapfleet_seed::schema;

/// The crawl's state (the `--json` document of `status`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    /// The database file.
    pub db: String,
    /// meta.crawl_id.
    pub crawl_id: String,
    /// meta.strategy.
    pub strategy: String,
    /// Seed addresses.
    pub seed_ips: u64,
    /// Batches by state.
    pub batches: BatchCounts,
    /// Final outcomes by kind.
    pub outcomes: OutcomeCounts,
    /// What is left to do.
    pub queue: Queue,
    /// IPs waiting to be retried.
    pub retry_queue: RetryQueue,
    /// Distinct networks found.
    pub networks: u64,
    /// Workers that said Hello.
    pub workers: Vec<WorkerStatus>,
    /// Every seed IP has a final outcome.
    pub crawl_complete: bool,
    /// When this was read, Unix ms.
    pub as_of_ms: i64,
}

/// Batches by state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BatchCounts {
    /// All batches.
    pub total: u64,
    /// Waiting to be leased (now or later).
    pub pending: u64,
    /// Held by a lease.
    pub leased: u64,
    /// Leased, but the lease's expiry has passed (the reaper will re-queue them).
    pub leased_expired: u64,
    /// Every IP final.
    pub done: u64,
}

/// Final outcomes by kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// IPs with a final outcome.
    pub total: u64,
    /// A registry answered with a network.
    pub found: u64,
    /// Inside a known network (no lookup).
    pub skipped: u64,
    /// Unallocated (404).
    pub not_found: u64,
    /// Failed for good.
    pub failed: u64,
    /// Settled by containment in a known network (skipped by a worker or the coordinator).
    pub inferred: u64,
    /// Of the inferred: settled by the coordinator's pre-filter before leasing.
    pub inferred_by_coordinator: u64,
    /// Answered by a registry (found or not_found).
    pub answered: u64,
}

/// What is left to do.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Queue {
    /// Seed IPs without a final outcome.
    pub ips_remaining: u64,
    /// Pending batches that may be leased now.
    pub batches_ready: u64,
    /// Pending batches waiting for a retry time.
    pub batches_waiting: u64,
}

/// IPs waiting to be retried.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RetryQueue {
    /// IPs whose last lookup failed retryably.
    pub ips: u64,
    /// Of those, IPs whose not-before time has passed.
    pub due: u64,
    /// Earliest not-before time, Unix ms.
    pub next_at_ms: Option<i64>,
    /// Most attempts of any waiting IP.
    pub max_attempts: u64,
}

/// A worker seen by the coordinator.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkerStatus {
    /// Worker id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Binary version.
    pub version: String,
    /// First Hello, Unix ms.
    pub first_seen_ms: i64,
    /// Last call recorded, Unix ms.
    pub last_seen_ms: i64,
    /// Last heartbeat, Unix ms.
    pub last_heartbeat_ms: Option<i64>,
    /// Leases it holds that have not expired.
    pub live_leases: u64,
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    Ok(conn
        .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))?
        .unwrap_or(0)
        .max(0) as u64)
}

/// Read the status of the crawl database at `path`.
pub fn read(path: &Path) -> Result<Status> {
    let conn = db::open(path, Access::ReadOnly)?;
    let now = system_now_ms();
    let meta = |k| schema::get_meta(&conn, k).map(Option::unwrap_or_default);
    let crawl_id = meta(schema::META_CRAWL_ID)?;
    let strategy = meta(schema::META_STRATEGY)?;
    let seed_ips = count(&conn, "SELECT sum(ip_count) FROM batches")?;
    let total_batches = count(&conn, "SELECT count(*) FROM batches")?;
    let mut st = Status {
        db: path.display().to_string(),
        crawl_id,
        strategy,
        seed_ips,
        batches: BatchCounts {
            total: total_batches,
            pending: total_batches,
            ..Default::default()
        },
        outcomes: OutcomeCounts::default(),
        queue: Queue {
            ips_remaining: seed_ips,
            batches_ready: total_batches,
            batches_waiting: 0,
        },
        retry_queue: RetryQueue::default(),
        networks: 0,
        workers: Vec::new(),
        crawl_complete: false,
        as_of_ms: now,
    };
    if db::has_coordinator_tables(&conn)? {
        st.batches = BatchCounts {
            total: total_batches,
            ..Default::default()
        };
        st.queue = Queue::default();
        let mut stmt = conn.prepare(
            "SELECT coalesce(s.state, 'pending'), coalesce(s.not_before_ms, 0) > ?1,
                    coalesce(s.expires_at_ms, 0) <= ?1, count(*)
             FROM batches b LEFT JOIN batch_state s ON s.batch_id = b.id
             GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?.max(0) as u64,
            ))
        })?;
        for row in rows {
            let (state, waiting, expired, n) = row?;
            match state.as_str() {
                "pending" => {
                    st.batches.pending += n;
                    if waiting {
                        st.queue.batches_waiting += n;
                    } else {
                        st.queue.batches_ready += n;
                    }
                }
                "leased" => {
                    st.batches.leased += n;
                    if expired {
                        st.batches.leased_expired += n;
                    }
                }
                _ => st.batches.done += n,
            }
        }
        let mut stmt = conn.prepare(
            "SELECT kind, inferred, worker_id IS NULL, count(*) FROM outcomes GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?.max(0) as u64,
            ))
        })?;
        for row in rows {
            let (kind, inferred, by_coordinator, n) = row?;
            let o = &mut st.outcomes;
            o.total += n;
            match kind.as_str() {
                "found" => o.found += n,
                "skipped" => o.skipped += n,
                "not_found" => o.not_found += n,
                _ => o.failed += n,
            }
            if inferred {
                o.inferred += n;
                if by_coordinator {
                    o.inferred_by_coordinator += n;
                }
            } else if kind == "found" || kind == "not_found" {
                o.answered += n;
            }
        }
        st.queue.ips_remaining = seed_ips.saturating_sub(st.outcomes.total);
        let (ips, due, next, max_attempts) = conn.query_row(
            "SELECT count(*), sum(not_before_ms <= ?1), min(not_before_ms), max(attempts) FROM retries",
            [now],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            },
        )?;
        st.retry_queue = RetryQueue {
            ips: ips.max(0) as u64,
            due: due.unwrap_or(0).max(0) as u64,
            next_at_ms: next,
            max_attempts: max_attempts.unwrap_or(0).max(0) as u64,
        };
        st.networks = count(&conn, "SELECT count(*) FROM networks")?;
        let mut live: HashMap<String, u64> = HashMap::new();
        let mut stmt = conn.prepare(
            "SELECT worker_id, count(*) FROM batch_state
             WHERE state = 'leased' AND expires_at_ms > ?1 GROUP BY worker_id",
        )?;
        for row in stmt.query_map([now], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })? {
            let (w, n) = row?;
            live.insert(w.unwrap_or_default(), n.max(0) as u64);
        }
        let mut stmt = conn.prepare(
            "SELECT worker_id, hostname, version, first_seen_ms, last_seen_ms, last_heartbeat_ms
             FROM workers ORDER BY worker_id",
        )?;
        st.workers = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                Ok(WorkerStatus {
                    live_leases: live.get(&id).copied().unwrap_or(0),
                    id,
                    hostname: r.get(1)?,
                    version: r.get(2)?,
                    first_seen_ms: r.get(3)?,
                    last_seen_ms: r.get(4)?,
                    last_heartbeat_ms: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    st.crawl_complete = st.batches.total > 0 && st.batches.done == st.batches.total;
    Ok(st)
}

fn ago(now: i64, then: i64) -> String {
    let secs = (now.saturating_sub(then).max(0) / 1000) as u64;
    format!(
        "{} ago",
        humantime::format_duration(std::time::Duration::from_secs(secs))
    )
}

/// RFC 3339 UTC to the second. Not humantime's formatter: it fails (and `to_string` panics)
/// after year 9999, which a retry time read from the database may well be.
fn at(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let full = crate::report::rfc3339_ms(secs.saturating_mul(1000));
    match full.strip_suffix(".000Z") {
        Some(s) => format!("{s}Z"),
        None => full,
    }
}

fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Status {
    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let b = &self.batches;
        let o = &self.outcomes;
        let q = &self.queue;
        let r = &self.retry_queue;
        let _ = writeln!(s, "database  {}", self.db);
        let _ = writeln!(
            s,
            "crawl     {} ({}), {} seed IPs in {} batches",
            if self.crawl_id.is_empty() {
                "-"
            } else {
                &self.crawl_id
            },
            if self.strategy.is_empty() {
                "-"
            } else {
                &self.strategy
            },
            n(self.seed_ips),
            n(b.total)
        );
        let _ = writeln!(
            s,
            "batches   pending {} (ready {}, waiting for retries {}), leased {} ({} expired), done {}",
            n(b.pending),
            n(q.batches_ready),
            n(q.batches_waiting),
            n(b.leased),
            n(b.leased_expired),
            n(b.done)
        );
        let _ = writeln!(
            s,
            "outcomes  {} final: found {}, skipped {}, not_found {}, failed {}",
            n(o.total),
            n(o.found),
            n(o.skipped),
            n(o.not_found),
            n(o.failed)
        );
        let _ = writeln!(
            s,
            "          answered by a registry {}, inferred from known networks {} ({} by the coordinator's pre-filter)",
            n(o.answered),
            n(o.inferred),
            n(o.inferred_by_coordinator)
        );
        let _ = writeln!(
            s,
            "queue     {} IPs without a final outcome",
            n(q.ips_remaining)
        );
        match r.next_at_ms {
            Some(next) if r.ips > 0 => {
                let _ = writeln!(
                    s,
                    "retries   {} IPs waiting ({} due), next at {}, most attempts {}",
                    n(r.ips),
                    n(r.due),
                    at(next),
                    r.max_attempts
                );
            }
            _ => {
                let _ = writeln!(s, "retries   none waiting");
            }
        }
        let _ = writeln!(s, "networks  {} distinct found", n(self.networks));
        let _ = writeln!(s, "workers   {} seen", self.workers.len());
        for w in &self.workers {
            let hb = w.last_heartbeat_ms.map_or_else(
                || "no heartbeat".to_string(),
                |h| format!("last heartbeat {}", ago(self.as_of_ms, h)),
            );
            let _ = writeln!(
                s,
                "  {}  host {}  version {}  {}, last seen {}, {} live leases",
                w.id,
                if w.hostname.is_empty() {
                    "-"
                } else {
                    &w.hostname
                },
                if w.version.is_empty() {
                    "-"
                } else {
                    &w.version
                },
                hb,
                ago(self.as_of_ms, w.last_seen_ms),
                w.live_leases
            );
        }
        let _ = writeln!(
            s,
            "complete  {}",
            if self.crawl_complete { "yes" } else { "no" }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{ago, at, n};

    /// Times read from the database (a retry due in 300 million years after an absurd
    /// `--max-retry-delay`, or a damaged row) render instead of panicking: humantime refuses
    /// years after 9999 with a formatting error.
    #[test]
    fn times_beyond_year_9999_and_before_1970_render() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert!(at(i64::MAX).starts_with("292278994-"), "{}", at(i64::MAX));
        assert_eq!(at(i64::MIN), "1970-01-01T00:00:00Z");
        assert_eq!(ago(1_000, 0), "1s ago");
        assert_eq!(ago(i64::MAX, i64::MIN), ago(i64::MAX, 0));
        assert_eq!(ago(0, i64::MAX), "0s ago");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(n(0), "0");
        assert_eq!(n(999), "999");
        assert_eq!(n(1000), "1,000");
        assert_eq!(n(4_706_768), "4,706,768");
    }
}
