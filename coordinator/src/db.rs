//! The crawl database: opening a seed file (refusing foreign, corrupt or newer ones), the
//! coordinator's own tables (added idempotently), the row types, and loading state at start.
//!
//! Tables added to the seed file (see `seed/src/schema.rs` for the seed's own):
//!
//! ```sql
//! batch_state(batch_id PK, state 'pending'|'leased'|'done', not_before_ms, lease_id,
//!             worker_id, expires_at_ms, leases, expiries, updated_at_ms)
//!                                  -- no row = pending, never leased
//! outcomes(ip PK, batch_id, kind 'found'|'skipped'|'not_found'|'failed', inferred,
//!          net_start, net_end, registry, reason, redirects, attempts, worker_id, at_ms)
//!                                  -- exactly one row per seed IP with a FINAL outcome
//! retries(ip PK, batch_id, attempts, not_before_ms, reason, registry)
//!                                  -- IPs waiting to be retried (deleted once final)
//! networks(id PK, start_ip, end_ip, leaf, network_json, raw_json, answers, worker_id,
//!          found_at_ms, UNIQUE(start_ip, end_ip))
//!                                  -- ids grow: the table doubles as the coverage change log
//! workers(worker_id PK, hostname, version, first_seen_ms, last_seen_ms, last_heartbeat_ms)
//! telemetry(id PK, worker_id, period_start_ms, period_end_ms, received_at_ms, final,
//!           counters_json)
//! ```

use std::path::Path;
use std::sync::Arc;

use rdapfleet_seed::schema;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::{Error, Result};

/// Version of the coordinator's tables written by this build (meta key
/// [`META_COORDINATOR_SCHEMA`]); files with a newer one are refused.
pub const COORDINATOR_SCHEMA_VERSION: u32 = 1;
/// meta key holding [`COORDINATOR_SCHEMA_VERSION`].
pub const META_COORDINATOR_SCHEMA: &str = "coordinator_schema_version";

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS batch_state (
    batch_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    lease_id INTEGER,
    worker_id TEXT,
    expires_at_ms INTEGER,
    leases INTEGER NOT NULL DEFAULT 0,
    expiries INTEGER NOT NULL DEFAULT 0,
    updated_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outcomes (
    ip INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    inferred INTEGER NOT NULL,
    net_start INTEGER,
    net_end INTEGER,
    registry TEXT,
    reason TEXT,
    redirects INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS retries (
    ip INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    registry TEXT
);
CREATE TABLE IF NOT EXISTS networks (
    id INTEGER PRIMARY KEY,
    start_ip INTEGER NOT NULL,
    end_ip INTEGER NOT NULL,
    leaf INTEGER NOT NULL,
    network_json TEXT NOT NULL,
    raw_json BLOB,
    answers INTEGER NOT NULL DEFAULT 1,
    worker_id TEXT,
    found_at_ms INTEGER NOT NULL,
    UNIQUE (start_ip, end_ip)
);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    last_heartbeat_ms INTEGER
);
CREATE TABLE IF NOT EXISTS telemetry (
    id INTEGER PRIMARY KEY,
    worker_id TEXT NOT NULL,
    period_start_ms INTEGER NOT NULL,
    period_end_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    final INTEGER NOT NULL,
    counters_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_by_period ON telemetry (period_start_ms);
";

/// How a connection is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write; adds the coordinator's tables (serve, add-range).
    ReadWrite,
    /// Read only; changes nothing in the file (status).
    ReadOnly,
}

fn db_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Database {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Fail with a clear message when `path` does not exist (SQLite would create it).
pub fn check_exists(path: &Path) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(db_error(
            path,
            "no such file (create one with `rdapfleet-seed generate`)",
        ))
    }
}

/// Open an existing seed file, check it is one this build can use, and (read-write) switch it
/// to WAL and add the coordinator's tables. Gives a clear error for a missing, corrupt, foreign
/// or newer file.
pub fn open(path: &Path, access: Access) -> Result<Connection> {
    check_exists(path)?;
    let flags = match access {
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| db_error(path, format!("cannot open: {e}")))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    schema::check(&conn).map_err(|e| match e {
        rdapfleet_seed::Error::Sqlite(s) => {
            db_error(path, format!("not a readable SQLite database ({s})"))
        }
        other => db_error(path, other.to_string()),
    })?;
    let version: Option<u32> = schema::get_meta(&conn, META_COORDINATOR_SCHEMA)?
        .map(|v| {
            v.parse()
                .map_err(|_| db_error(path, format!("meta.{META_COORDINATOR_SCHEMA} is {v:?}")))
        })
        .transpose()?;
    if let Some(v) = version
        && v > COORDINATOR_SCHEMA_VERSION
    {
        return Err(db_error(
            path,
            format!(
                "coordinator tables of version {v} are newer than this program supports ({COORDINATOR_SCHEMA_VERSION}); upgrade rdapfleet"
            ),
        ));
    }
    if access == Access::ReadWrite {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a commit survives a crash of the process (SIGKILL); only a power loss
        // can take back the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(TABLES)?;
        if version.is_none() {
            schema::set_meta(
                &conn,
                META_COORDINATOR_SCHEMA,
                &COORDINATOR_SCHEMA_VERSION.to_string(),
            )?;
        }
    }
    Ok(conn)
}

/// An exclusive advisory lock on `<db>.coordinator-lock`, held while a server runs so that two
/// servers never share one crawl database (the kernel releases it when the process dies, even
/// by SIGKILL). `status` and `add-range` do not take it.
#[derive(Debug)]
pub struct ServeLock {
    _file: std::fs::File,
}

/// Take the [`ServeLock`] of `db`, or explain who holds it.
pub fn lock_for_serving(db: &Path) -> Result<ServeLock> {
    use std::os::fd::AsRawFd;
    let mut name = db.as_os_str().to_owned();
    name.push(".coordinator-lock");
    let lock_path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            db_error(
                db,
                format!("cannot create lock file {}: {e}", lock_path.display()),
            )
        })?;
    // SAFETY: flock(2) on a file descriptor we own for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(db_error(
            db,
            format!(
                "another rdapfleet-coordinator is serving this database (lock {} is held)",
                lock_path.display()
            ),
        ));
    }
    Ok(ServeLock { _file: file })
}

/// Whether the coordinator's tables exist (a seed file never served has none).
pub fn has_coordinator_tables(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outcomes'",
        [],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// A batch's lifecycle state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// Waiting to be leased (possibly not before some time).
    Pending,
    /// Held by a worker's lease.
    Leased,
    /// Every IP has a final outcome.
    Done,
}

impl BatchStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Pending => "pending",
            BatchStatus::Leased => "leased",
            BatchStatus::Done => "done",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(BatchStatus::Pending),
            "leased" => Ok(BatchStatus::Leased),
            "done" => Ok(BatchStatus::Done),
            other => Err(Error::Internal(format!(
                "unknown batch state {other:?} in batch_state"
            ))),
        }
    }
}

/// One `batch_state` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// The batch.
    pub id: u64,
    /// Its state.
    pub status: BatchStatus,
    /// Pending: not to be leased before this Unix ms.
    pub not_before_ms: i64,
    /// The current (leased) or last lease.
    pub lease_id: Option<u64>,
    /// Holder of the current or last lease.
    pub worker_id: Option<Arc<str>>,
    /// Leased: expiry in Unix ms.
    pub expires_at_ms: Option<i64>,
    /// Times leased.
    pub leases: u32,
    /// Times a lease of it expired.
    pub expiries: u32,
}

/// Kind of a final outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// RDAP answered with a network.
    Found,
    /// Inside a known network, no lookup made.
    Skipped,
    /// Unallocated (404).
    NotFound,
    /// Failed for good.
    Failed,
}

impl OutcomeKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Found => "found",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::NotFound => "not_found",
            OutcomeKind::Failed => "failed",
        }
    }
}

/// One final outcome (`outcomes` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    /// The seed IP.
    pub ip: u32,
    /// Its batch.
    pub batch_id: u64,
    /// What happened.
    pub kind: OutcomeKind,
    /// True when settled by containment in a known network (no lookup).
    pub inferred: bool,
    /// The network found, or the known network that contains the IP.
    pub net: Option<(u32, u32)>,
    /// Registry involved, when known.
    pub registry: Option<String>,
    /// Failure reason.
    pub reason: Option<String>,
    /// Redirects followed (found).
    pub redirects: Option<u32>,
    /// Retryable failures before this outcome.
    pub attempts: u32,
    /// The worker that reported it (None: the coordinator's pre-filter or reaper).
    pub worker_id: Option<Arc<str>>,
    /// When it was settled, Unix ms.
    pub at_ms: i64,
    /// Delete the IP's `retries` row in the same transaction.
    pub clear_retry: bool,
}

/// An IP waiting to be retried (`retries` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRow {
    /// The seed IP.
    pub ip: u32,
    /// Its batch.
    pub batch_id: u64,
    /// Retryable failures so far.
    pub attempts: u32,
    /// Not to be handed out before this Unix ms.
    pub not_before_ms: i64,
    /// Last failure reason.
    pub reason: String,
    /// Registry of the last failure.
    pub registry: Option<String>,
}

/// A network found by RDAP (`networks` row; upserted, `answers` counts repeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    /// First address.
    pub start: u32,
    /// Last address.
    pub end: u32,
    /// The registry marks it as an assignment.
    pub leaf: bool,
    /// Normalized network JSON (an object).
    pub network_json: String,
    /// The registry's raw body.
    pub raw_json: Vec<u8>,
    /// Reporting worker.
    pub worker_id: Arc<str>,
    /// When found, Unix ms.
    pub at_ms: i64,
}

/// A worker seen by the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// Worker id.
    pub id: Arc<str>,
    /// Host name.
    pub hostname: String,
    /// Binary version.
    pub version: String,
    /// First Hello, Unix ms.
    pub first_seen_ms: i64,
    /// Last call that updated the row, Unix ms.
    pub last_seen_ms: i64,
    /// Last heartbeat, Unix ms.
    pub last_heartbeat_ms: Option<i64>,
}

/// One telemetry sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryRow {
    /// Reporting worker.
    pub worker_id: Arc<str>,
    /// Period start, Unix ms.
    pub period_start_ms: i64,
    /// Period end, Unix ms.
    pub period_end_ms: i64,
    /// When received, Unix ms.
    pub received_at_ms: i64,
    /// Last sample before the worker exits.
    pub final_sample: bool,
    /// The counters as a JSON object.
    pub counters_json: String,
}

/// A batch as loaded at start (or when `add-range` appended it).
#[derive(Debug, Clone)]
pub struct LoadedBatch {
    /// Its state row (defaults when it has none).
    pub row: BatchRow,
    /// Position in the hand-out order.
    pub hand_out: i64,
    /// Seed IPs, ascending (empty for done batches).
    pub ips: Vec<u32>,
    /// Parallel to `ips`: has a final outcome.
    pub settled: Vec<bool>,
}

/// Everything the lease engine needs to resume.
#[derive(Debug, Default)]
pub struct Loaded {
    /// meta.crawl_id.
    pub crawl_id: String,
    /// Every batch.
    pub batches: Vec<LoadedBatch>,
    /// IPs waiting to be retried.
    pub retries: Vec<RetryRow>,
    /// Known networks: start, end, leaf.
    pub networks: Vec<(u32, u32, bool)>,
    /// Workers seen.
    pub workers: Vec<WorkerRow>,
    /// Highest lease id ever granted.
    pub max_lease_id: u64,
}

fn to_u32(v: i64) -> rusqlite::Result<u32> {
    u32::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, v))
}

fn to_u64(v: i64) -> rusqlite::Result<u64> {
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, v))
}

/// Load the batches with `id > after` (all when `None`), with the IPs and settled flags of
/// those not done.
pub fn load_batches(conn: &Connection, after: Option<u64>) -> Result<Vec<LoadedBatch>> {
    let after = after.map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare_cached(
        "SELECT b.id, b.hand_out, b.first_ip, b.last_ip, s.state, s.not_before_ms, s.lease_id,
                s.worker_id, s.expires_at_ms, s.leases, s.expiries
         FROM batches b LEFT JOIN batch_state s ON s.batch_id = b.id
         WHERE b.id > ?1 ORDER BY b.id",
    )?;
    let rows = stmt.query_map([after], |r| {
        let state: Option<String> = r.get(4)?;
        Ok((
            to_u64(r.get(0)?)?,
            r.get::<_, i64>(1)?,
            to_u32(r.get(2)?)?,
            to_u32(r.get(3)?)?,
            state,
            r.get::<_, Option<i64>>(5)?.unwrap_or(0),
            r.get::<_, Option<i64>>(6)?.map(to_u64).transpose()?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<i64>>(8)?,
            r.get::<_, Option<i64>>(9)?.map_or(Ok(0), to_u32)?,
            r.get::<_, Option<i64>>(10)?.map_or(Ok(0), to_u32)?,
        ))
    })?;
    let mut out = Vec::new();
    let mut ips_stmt = conn.prepare_cached(
        "SELECT ip FROM seeds WHERE ip BETWEEN ?1 AND ?2 AND batch_id = ?3 ORDER BY ip",
    )?;
    let mut done_stmt = conn.prepare_cached(
        "SELECT ip FROM outcomes WHERE ip BETWEEN ?1 AND ?2 AND batch_id = ?3 ORDER BY ip",
    )?;
    for row in rows {
        let (
            id,
            hand_out,
            first,
            last,
            state,
            not_before_ms,
            lease_id,
            worker,
            expires,
            leases,
            expiries,
        ) = row?;
        let status = state
            .as_deref()
            .map_or(Ok(BatchStatus::Pending), BatchStatus::parse)?;
        let (mut ips, mut settled) = (Vec::new(), Vec::new());
        if status != BatchStatus::Done {
            let bid = i64::try_from(id).unwrap_or(i64::MAX);
            ips = ips_stmt
                .query_map(params![first, last, bid], |r| to_u32(r.get(0)?))?
                .collect::<rusqlite::Result<Vec<u32>>>()?;
            settled = vec![false; ips.len()];
            let finals = done_stmt
                .query_map(params![first, last, bid], |r| to_u32(r.get(0)?))?
                .collect::<rusqlite::Result<Vec<u32>>>()?;
            for ip in finals {
                if let Ok(pos) = ips.binary_search(&ip) {
                    settled[pos] = true;
                }
            }
        }
        out.push(LoadedBatch {
            row: BatchRow {
                id,
                status,
                not_before_ms,
                lease_id,
                worker_id: worker.map(Arc::from),
                expires_at_ms: expires,
                leases,
                expiries,
            },
            hand_out,
            ips,
            settled,
        });
    }
    Ok(out)
}

/// Load everything the engine needs to resume.
pub fn load(conn: &Connection) -> Result<Loaded> {
    let crawl_id = schema::get_meta(conn, schema::META_CRAWL_ID)?.unwrap_or_default();
    let batches = load_batches(conn, None)?;
    let retries = conn
        .prepare("SELECT ip, batch_id, attempts, not_before_ms, reason, registry FROM retries")?
        .query_map([], |r| {
            Ok(RetryRow {
                ip: to_u32(r.get(0)?)?,
                batch_id: to_u64(r.get(1)?)?,
                attempts: to_u32(r.get(2)?)?,
                not_before_ms: r.get(3)?,
                reason: r.get(4)?,
                registry: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let networks = conn
        .prepare("SELECT start_ip, end_ip, leaf FROM networks ORDER BY id")?
        .query_map([], |r| {
            Ok((to_u32(r.get(0)?)?, to_u32(r.get(1)?)?, r.get::<_, bool>(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let workers = conn
        .prepare(
            "SELECT worker_id, hostname, version, first_seen_ms, last_seen_ms, last_heartbeat_ms
             FROM workers",
        )?
        .query_map([], |r| {
            Ok(WorkerRow {
                id: Arc::from(r.get::<_, String>(0)?),
                hostname: r.get(1)?,
                version: r.get(2)?,
                first_seen_ms: r.get(3)?,
                last_seen_ms: r.get(4)?,
                last_heartbeat_ms: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let max_lease_id: Option<i64> = conn
        .query_row("SELECT max(lease_id) FROM batch_state", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(Loaded {
        crawl_id,
        batches,
        retries,
        networks,
        workers,
        max_lease_id: max_lease_id.map_or(Ok(0), to_u64)?,
    })
}
