//! The store thread: the one owner of the SQLite connection. Callers send it lists of writes
//! over a channel; it drains whatever is queued, applies it in one transaction (group commit)
//! and acknowledges every sender once the transaction is committed. Reads run on the same
//! thread between transactions.
//!
//! Writes are applied in the order they were submitted; the lease engine submits while it still
//! holds its lock, so the file always sees the engine's changes in the engine's order.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::db::{
    self, Access, BatchRow, Loaded, NetworkRow, OutcomeKind, OutcomeRow, RetryRow, TelemetryRow,
    WorkerRow,
};
use crate::{Error, Result};

/// Most commands folded into one transaction.
const MAX_GROUP: usize = 512;

/// One change to the crawl database.
#[derive(Debug, Clone)]
pub enum Write {
    /// Insert a worker, or refresh its hostname, version and last-seen time.
    Worker(WorkerRow),
    /// A worker heartbeat: last-seen and last-heartbeat times.
    WorkerHeartbeat {
        /// The worker.
        id: std::sync::Arc<str>,
        /// When, Unix ms.
        at_ms: i64,
    },
    /// A batch's state row (written whole).
    Batch(BatchRow, i64),
    /// A final outcome.
    Outcome(OutcomeRow),
    /// An IP's retry state.
    Retry(RetryRow),
    /// A network answered by RDAP.
    Network(NetworkRow),
    /// A telemetry sample.
    Telemetry(TelemetryRow),
}

type ReadFn = Box<dyn FnOnce(&Connection) + Send>;

enum Command {
    Write(Vec<Write>, oneshot::Sender<Result<(), String>>),
    Read(ReadFn),
    Close(oneshot::Sender<()>),
}

/// Handle to the store thread. [`Store::close`] (or dropping the handle) lets the thread
/// commit what is queued and exit.
pub struct Store {
    tx: mpsc::Sender<Command>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// Completion of submitted writes: resolves once they are committed.
#[must_use = "the writes are durable only once the ack resolves"]
pub struct Ack(Option<oneshot::Receiver<Result<(), String>>>);

impl Ack {
    /// An ack for an empty write list.
    pub fn ready() -> Self {
        Ack(None)
    }

    /// Wait until the writes are committed.
    pub async fn wait(self) -> Result<()> {
        match self.0 {
            None => Ok(()),
            Some(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(m)) => Err(Error::StoreUnavailable(m)),
                Err(_) => Err(Error::StoreUnavailable("store thread stopped".into())),
            },
        }
    }
}

impl Store {
    /// Open the database on a new store thread and load the state to resume from.
    pub async fn open(path: PathBuf) -> Result<(Store, Loaded)> {
        let (tx, rx) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Loaded>>();
        let thread = std::thread::Builder::new()
            .name("rdapfleet-store".into())
            .spawn(move || {
                let conn = match db::open(&path, Access::ReadWrite).and_then(|c| {
                    // Short waits, repeated by `apply_waiting` with a warning each time.
                    c.busy_timeout(LOCKED_WAIT)?;
                    let loaded = db::load(&c)?;
                    Ok((c, loaded))
                }) {
                    Ok((c, loaded)) => {
                        let _ = ready_tx.send(Ok(loaded));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                run_thread(conn, rx);
            })?;
        let loaded = ready_rx
            .await
            .map_err(|_| Error::Internal("store thread died while opening".into()))??;
        Ok((
            Store {
                tx,
                thread: std::sync::Mutex::new(Some(thread)),
            },
            loaded,
        ))
    }

    /// Queue writes; they are committed in order with whatever else is queued.
    pub fn submit(&self, writes: Vec<Write>) -> Ack {
        if writes.is_empty() {
            return Ack::ready();
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Write(writes, tx)).is_err() {
            // The receiver half was dropped: the ack reports the store as stopped.
        }
        Ack(Some(rx))
    }

    /// Run `f` on the store thread (between transactions) and return its result.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadFn = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.tx
            .send(Command::Read(job))
            .map_err(|_| Error::StoreUnavailable("store thread stopped".into()))?;
        rx.await
            .map_err(|_| Error::StoreUnavailable("store thread stopped".into()))?
    }

    /// Commit everything queued, checkpoint the WAL, and stop the thread. Later writes and
    /// reads fail with [`Error::StoreUnavailable`].
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .map_err(|e| Error::Internal(format!("joining the store thread: {e}")))?
                .map_err(|_| Error::Internal("the store thread panicked".into()))?;
        }
        Ok(())
    }
}

fn run_thread(mut conn: Connection, rx: mpsc::Receiver<Command>) {
    let mut failed: Option<String> = None;
    let mut group: Vec<Command> = Vec::with_capacity(MAX_GROUP);
    let mut closed: Option<oneshot::Sender<()>> = None;
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(c) => group.push(c),
                Err(_) => break,
            }
        }
        let mut acks: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
        let mut writes: Vec<Vec<Write>> = Vec::new();
        for cmd in group.drain(..) {
            match cmd {
                Command::Write(w, ack) => {
                    writes.push(w);
                    acks.push(ack);
                }
                Command::Read(f) => {
                    // Reads see everything submitted before them.
                    commit_group(&mut conn, &mut writes, &mut acks, &mut failed);
                    f(&conn);
                }
                Command::Close(ack) => {
                    closed = Some(ack);
                    break;
                }
            }
        }
        commit_group(&mut conn, &mut writes, &mut acks, &mut failed);
        if closed.is_some() {
            break;
        }
    }
    // Commands queued after Close are dropped unanswered: their senders see the store stopped.
    drop(rx);
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "wal checkpoint at close");
    }
    drop(conn);
    tracing::debug!("store closed");
    if let Some(ack) = closed {
        let _ = ack.send(());
    }
}

fn commit_group(
    conn: &mut Connection,
    writes: &mut Vec<Vec<Write>>,
    acks: &mut Vec<oneshot::Sender<Result<(), String>>>,
    failed: &mut Option<String>,
) {
    if acks.is_empty() {
        return;
    }
    let mut tally = Tally::default();
    let started = std::time::Instant::now();
    let result = match failed {
        Some(m) => Err(format!("an earlier write failed: {m}")),
        None => apply_waiting(conn, writes, &mut tally),
    };
    match &result {
        Ok(()) => tally.record(started.elapsed()),
        Err(_) => metrics::counter!(crate::metrics::STORE_FAILURES).increment(1),
    }
    if let Err(m) = &result
        && failed.is_none()
    {
        tracing::error!(error = %m, "store write failed; refusing further writes");
        *failed = Some(m.clone());
    }
    writes.clear();
    for ack in acks.drain(..) {
        let _ = ack.send(result.clone());
    }
}

/// What one transaction changed, for the metrics (recorded once it committed).
#[derive(Debug, Default)]
struct Tally {
    writes: u64,
    /// New final outcomes by kind: found, skipped, not_found, failed.
    outcomes: [u64; 4],
    network_answers: u64,
    networks_new: u64,
    telemetry: u64,
}

impl Tally {
    fn record(&self, took: std::time::Duration) {
        use crate::metrics as m;
        metrics::histogram!(m::COMMIT_SECONDS).record(took.as_secs_f64());
        metrics::histogram!(m::COMMIT_WRITES).record(self.writes as f64);
        for (i, kind) in ["found", "skipped", "not_found", "failed"]
            .iter()
            .enumerate()
        {
            if self.outcomes[i] > 0 {
                metrics::counter!(m::OUTCOMES, "kind" => *kind).increment(self.outcomes[i]);
            }
        }
        if self.network_answers > 0 {
            metrics::counter!(m::NETWORK_ANSWERS).increment(self.network_answers);
        }
        if self.networks_new > 0 {
            metrics::gauge!(m::NETWORKS_STORED).increment(self.networks_new as f64);
        }
        if self.telemetry > 0 {
            metrics::counter!(m::TELEMETRY_SAMPLES).increment(self.telemetry);
        }
    }
}

/// How long a group of writes keeps waiting for a database that another process holds locked
/// (an `add-range`, a backup, an operator's `sqlite3` shell) before the store gives up. Each
/// attempt already waits the connection's busy timeout; the callers wait meanwhile (their RPCs
/// are answered only after the commit), so nothing is acknowledged that is not stored.
const LOCKED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// One attempt's wait for a locked database (the store connection's busy timeout).
const LOCKED_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// [`apply`], tried again while the database is locked by another process (the failed
/// transaction was rolled back whole, so trying again is safe), for up to [`LOCKED_PATIENCE`].
fn apply_waiting(
    conn: &mut Connection,
    groups: &[Vec<Write>],
    tally: &mut Tally,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        *tally = Tally::default();
        match apply(conn, groups, tally) {
            Ok(()) => {
                if attempt > 1 {
                    tracing::info!(
                        waited_ms = started.elapsed().as_millis() as u64,
                        "the database is writable again"
                    );
                }
                return Ok(());
            }
            Err(e) if is_locked(&e) && started.elapsed() < LOCKED_PATIENCE => {
                if attempt % 10 == 1 {
                    tracing::warn!(
                        error = %e,
                        waited_s = started.elapsed().as_secs(),
                        "the database is locked by another process; writes wait"
                    );
                }
                // SQLite may report some lock conflicts without waiting: never spin.
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn is_locked(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn apply(conn: &mut Connection, groups: &[Vec<Write>], tally: &mut Tally) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for w in groups.iter().flatten() {
        apply_one(&tx, w, tally)?;
    }
    tx.commit()
}

fn apply_one(conn: &Connection, w: &Write, tally: &mut Tally) -> rusqlite::Result<()> {
    tally.writes += 1;
    match w {
        Write::Worker(r) => {
            conn.prepare_cached(
                "INSERT INTO workers (worker_id, hostname, version, first_seen_ms, last_seen_ms, last_heartbeat_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(worker_id) DO UPDATE SET hostname = excluded.hostname,
                     version = excluded.version, last_seen_ms = excluded.last_seen_ms",
            )?
            .execute(params![&*r.id, r.hostname, r.version, r.first_seen_ms, r.last_seen_ms, r.last_heartbeat_ms])?;
        }
        Write::WorkerHeartbeat { id, at_ms } => {
            conn.prepare_cached(
                "UPDATE workers SET last_seen_ms = ?2, last_heartbeat_ms = ?2 WHERE worker_id = ?1",
            )?
            .execute(params![&**id, at_ms])?;
        }
        Write::Batch(b, now) => {
            conn.prepare_cached(
                "INSERT INTO batch_state (batch_id, state, not_before_ms, lease_id, worker_id,
                     expires_at_ms, leases, expiries, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(batch_id) DO UPDATE SET state = excluded.state,
                     not_before_ms = excluded.not_before_ms, lease_id = excluded.lease_id,
                     worker_id = excluded.worker_id, expires_at_ms = excluded.expires_at_ms,
                     leases = excluded.leases, expiries = excluded.expiries,
                     updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![
                b.id as i64,
                b.status.as_str(),
                b.not_before_ms,
                b.lease_id.map(|l| l as i64),
                b.worker_id.as_deref(),
                b.expires_at_ms,
                b.leases,
                b.expiries,
                now
            ])?;
        }
        Write::Outcome(o) => {
            let inserted = conn.prepare_cached(
                "INSERT INTO outcomes (ip, batch_id, kind, inferred, net_start, net_end, registry,
                     reason, redirects, attempts, worker_id, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(ip) DO NOTHING",
            )?
            .execute(params![
                o.ip,
                o.batch_id as i64,
                o.kind.as_str(),
                o.inferred,
                o.net.map(|n| n.0),
                o.net.map(|n| n.1),
                o.registry,
                o.reason,
                o.redirects,
                o.attempts,
                o.worker_id.as_deref(),
                o.at_ms
            ])?;
            if inserted > 0 {
                let i = match o.kind {
                    OutcomeKind::Found => 0,
                    OutcomeKind::Skipped => 1,
                    OutcomeKind::NotFound => 2,
                    OutcomeKind::Failed => 3,
                };
                tally.outcomes[i] += 1;
            }
            if o.clear_retry {
                conn.prepare_cached("DELETE FROM retries WHERE ip = ?1")?
                    .execute([o.ip])?;
            }
        }
        Write::Retry(r) => {
            conn.prepare_cached(
                "INSERT INTO retries (ip, batch_id, attempts, not_before_ms, reason, registry)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(ip) DO UPDATE SET attempts = excluded.attempts,
                     not_before_ms = excluded.not_before_ms, reason = excluded.reason,
                     registry = excluded.registry",
            )?
            .execute(params![
                r.ip,
                r.batch_id as i64,
                r.attempts,
                r.not_before_ms,
                r.reason,
                r.registry
            ])?;
        }
        Write::Network(n) => {
            conn.prepare_cached(
                "INSERT INTO networks (start_ip, end_ip, leaf, network_json, raw_json, answers,
                     worker_id, found_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)
                 ON CONFLICT(start_ip, end_ip) DO UPDATE SET answers = answers + 1
                 RETURNING answers",
            )?
            .query_row(
                params![
                    n.start,
                    n.end,
                    n.leaf,
                    n.network_json,
                    n.raw_json,
                    &*n.worker_id,
                    n.at_ms
                ],
                |r| r.get::<_, i64>(0),
            )
            .map(|answers| {
                tally.network_answers += 1;
                tally.networks_new += u64::from(answers == 1);
            })?;
        }
        Write::Telemetry(t) => {
            tally.telemetry += 1;
            conn.prepare_cached(
                "INSERT INTO telemetry (worker_id, period_start_ms, period_end_ms, received_at_ms,
                     final, counters_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                &*t.worker_id,
                t.period_start_ms,
                t.period_end_ms,
                t.received_at_ms,
                t.final_sample,
                t.counters_json
            ])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::BatchStatus;

    fn outcome(ip: u32) -> Write {
        Write::Outcome(OutcomeRow {
            ip,
            batch_id: 0,
            kind: OutcomeKind::NotFound,
            inferred: false,
            net: None,
            registry: Some("arin".into()),
            reason: None,
            redirects: None,
            attempts: 0,
            worker_id: Some("w".into()),
            at_ms: 1,
            clear_retry: false,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_commit_in_order_and_close_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let db = rdapfleet_testkit::seed_file(dir.path(), &["8.8.8.0/24"], 64);
        let (store, loaded) = Store::open(db.clone()).await.unwrap();
        assert_eq!(loaded.batches.len(), 4);
        assert!(
            loaded
                .batches
                .iter()
                .all(|b| b.row.status == BatchStatus::Pending)
        );
        let first = u32::from(std::net::Ipv4Addr::new(8, 8, 8, 0));
        // Many concurrent submitters; later writes of the same row win.
        let acks: Vec<Ack> = (0..200u32)
            .map(|i| {
                store.submit(vec![
                    outcome(first + (i % 64)),
                    Write::Batch(
                        BatchRow {
                            id: 0,
                            status: BatchStatus::Leased,
                            not_before_ms: 0,
                            lease_id: Some(u64::from(i) + 1),
                            worker_id: Some("w".into()),
                            expires_at_ms: Some(10),
                            leases: i + 1,
                            expiries: 0,
                        },
                        1,
                    ),
                ])
            })
            .collect();
        for a in acks {
            a.wait().await.unwrap();
        }
        let (outcomes, lease): (i64, i64) = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT count(*) FROM outcomes), (SELECT lease_id FROM batch_state WHERE batch_id = 0)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(outcomes, 64, "one row per IP whatever the repeats");
        assert_eq!(lease, 200, "the last write of a row wins");
        let late = store.submit(vec![outcome(first + 100)]);
        store.close().await.unwrap();
        late.wait().await.unwrap();
        // After close, writes and reads are refused.
        assert!(matches!(
            store.submit(vec![outcome(first + 101)]).wait().await,
            Err(Error::StoreUnavailable(_))
        ));
        assert!(store.read(|_| Ok(())).await.is_err());
        // Reopened, the state is there.
        let (_store, loaded) = Store::open(db).await.unwrap();
        assert_eq!(loaded.max_lease_id, 200);
        let b0 = loaded.batches.iter().find(|b| b.row.id == 0).unwrap();
        assert_eq!(b0.row.status, BatchStatus::Leased);
        assert!(b0.settled.iter().all(|s| *s));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_wait_for_a_database_locked_by_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let db = rdapfleet_testkit::seed_file(dir.path(), &["8.8.8.0/24"], 64);
        let (store, _) = Store::open(db.clone()).await.unwrap();
        // Another connection (an add-range, a backup, a sqlite3 shell) takes the write lock
        // for longer than the store's busy timeout.
        let other = Connection::open(&db).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let first = u32::from(std::net::Ipv4Addr::new(8, 8, 8, 0));
        let ack = store.submit(vec![outcome(first)]);
        let held = LOCKED_WAIT * 3;
        let release = std::thread::spawn(move || {
            std::thread::sleep(held);
            other.execute_batch("COMMIT").unwrap();
        });
        let t0 = std::time::Instant::now();
        ack.wait()
            .await
            .expect("the write waits instead of failing");
        assert!(t0.elapsed() >= held - std::time::Duration::from_millis(100));
        release.join().unwrap();
        // The store still takes writes afterwards (it did not turn itself off).
        store.submit(vec![outcome(first + 1)]).wait().await.unwrap();
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM outcomes", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 2);
        store.close().await.unwrap();
    }
}
