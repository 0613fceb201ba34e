//! Writing a seed file: generate the addresses, cut them into batches, write everything into a
//! temporary SQLite file next to the output in one transaction, switch it to WAL, then move it
//! into place. A failure at any point removes the temporary file; the output is either absent,
//! the old file (untouched), or the complete new file.

use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, OpenFlags, params};

use crate::order::hand_out_positions;
use crate::schema::{self, SCHEMA_VERSION};
use crate::strategy::{SeedPlan, generate_ips};
use crate::{Error, Result};

/// Version of this generator, recorded in meta `generator_version`.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Rows written between two progress callbacks.
const PROGRESS_EVERY: usize = 1 << 16;

/// What [`write_seed_file`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    /// The seed file.
    pub path: PathBuf,
    /// Strategy name.
    pub strategy: &'static str,
    /// Number of seed addresses.
    pub ip_count: u64,
    /// Number of batches.
    pub batch_count: u64,
    /// Batch size used.
    pub batch_size: usize,
    /// Seed of the hand-out permutation.
    pub shuffle_seed: u64,
    /// The crawl id recorded in meta (32 hex digits).
    pub crawl_id: String,
    /// Creation time recorded in meta (RFC 3339, UTC).
    pub created_at: String,
    /// Wall time of the whole write.
    pub elapsed: Duration,
}

/// Generate `plan` and write it as a seed file at `path` (see the module docs).
///
/// Errors: [`Error::OutputExists`] when `path` exists and `force` is false (the file is left
/// untouched), [`Error::Empty`] when the plan yields no address, [`Error::InvalidPlan`] /
/// [`Error::TooMany`] from the plan, [`Error::Io`] / [`Error::Sqlite`] when writing fails. With
/// `force` an existing file is replaced atomically (its stale `-wal`/`-shm` files are removed
/// first, so they can never be replayed into the new file).
pub fn write_seed_file(path: &Path, plan: &SeedPlan, force: bool) -> Result<SeedSummary> {
    write_seed_file_with_progress(path, plan, force, &mut |_, _| ControlFlow::Continue(()))
}

/// [`write_seed_file`], calling `progress(rows_written, rows_total)` now and then while the
/// seed rows are inserted (for a progress bar). When `progress` returns `Break` the write stops
/// with [`Error::Interrupted`] and leaves nothing behind (for Ctrl-C).
pub fn write_seed_file_with_progress(
    path: &Path,
    plan: &SeedPlan,
    force: bool,
    progress: &mut dyn FnMut(u64, u64) -> ControlFlow<()>,
) -> Result<SeedSummary> {
    let started = Instant::now();
    plan.validate()?;
    check_output(path, force)?;
    let ips = generate_ips(plan)?;
    if ips.is_empty() {
        return Err(Error::Empty);
    }
    let generated = started.elapsed();

    let created_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let crawl_id = format!("{:032x}", rand::random::<u128>());
    let mut temp = TempDb::next_to(path)?;
    let conn = Connection::open_with_flags(
        &temp.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    bulk_load_pragmas(&conn)?;
    schema::create(&conn)?;
    conn.execute_batch("BEGIN")?;
    let positions = hand_out_positions(ips.len().div_ceil(plan.batch_size), plan.shuffle_seed);
    let batch_count = insert_batches(&conn, &ips, plan.batch_size, 0, 0, &positions)?;
    insert_seeds(&conn, &ips, plan.batch_size, 0, progress)?;
    let meta = [
        (schema::META_FORMAT, schema::FORMAT.to_string()),
        (schema::META_SCHEMA_VERSION, SCHEMA_VERSION.to_string()),
        (
            schema::META_GENERATOR_VERSION,
            GENERATOR_VERSION.to_string(),
        ),
        (schema::META_STRATEGY, plan.strategy.name().to_string()),
        (schema::META_PARAMS, plan.params_json().to_string()),
        (schema::META_IP_COUNT, ips.len().to_string()),
        (schema::META_BATCH_COUNT, batch_count.to_string()),
        (schema::META_BATCH_SIZE, plan.batch_size.to_string()),
        (schema::META_SHUFFLE_SEED, plan.shuffle_seed.to_string()),
        (schema::META_CREATED_AT, created_at.clone()),
        (schema::META_CRAWL_ID, crawl_id.clone()),
    ];
    for (key, value) in &meta {
        schema::set_meta(&conn, key, value)?;
    }
    conn.execute_batch("COMMIT")?;
    finish_as_wal(conn)?;
    let written = started.elapsed();

    fsync(&temp.path)?;
    temp.place(path, force)?;
    let summary = SeedSummary {
        path: path.to_path_buf(),
        strategy: plan.strategy.name(),
        ip_count: ips.len() as u64,
        batch_count,
        batch_size: plan.batch_size,
        shuffle_seed: plan.shuffle_seed,
        crawl_id,
        created_at,
        elapsed: started.elapsed(),
    };
    tracing::debug!(
        path = %path.display(),
        ips = summary.ip_count,
        batches = summary.batch_count,
        generate_ms = generated.as_millis() as u64,
        write_ms = (written - generated).as_millis() as u64,
        total_ms = summary.elapsed.as_millis() as u64,
        "seed file written"
    );
    Ok(summary)
}

/// Pragmas for bulk-loading a fresh file that nobody else sees until it is renamed into place:
/// no rollback journal, no fsync per transaction, an exclusive lock, a 64 MiB page cache.
/// (Crash safety comes from the rename, not from SQLite.) Must run before any table exists.
pub fn bulk_load_pragmas(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA page_size = 4096;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;",
    )?;
    let mode: String = conn.query_row("PRAGMA journal_mode = OFF", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("off") {
        return Err(Error::Corrupt(format!(
            "could not turn the journal off for bulk loading (journal_mode is {mode})"
        )));
    }
    Ok(())
}

/// Switch a finished file to WAL (the mode the coordinator runs it in; the setting is stored in
/// the file) and close it, which checkpoints and removes the `-wal` file.
fn finish_as_wal(conn: Connection) -> Result<()> {
    conn.execute_batch("PRAGMA locking_mode = NORMAL; PRAGMA synchronous = NORMAL;")?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Corrupt(format!(
            "could not switch the seed file to WAL (journal_mode is {mode})"
        )));
    }
    conn.close().map_err(|(_, e)| Error::Sqlite(e))
}

/// Insert the `batches` rows of the sorted `ips`: batch `first_id + i` holds the `i`-th run of
/// `batch_size` addresses and is handed out at `hand_out_base + positions[i]` (`positions`
/// from [`hand_out_positions`], at least one per batch). Returns the number of batches.
pub(crate) fn insert_batches(
    conn: &Connection,
    ips: &[u32],
    batch_size: usize,
    first_id: i64,
    hand_out_base: i64,
    positions: &[u64],
) -> Result<u64> {
    let batches = ips.len().div_ceil(batch_size);
    if positions.len() < batches {
        return Err(Error::InvalidPlan(format!(
            "{batches} batches but {} hand-out positions",
            positions.len()
        )));
    }
    let mut stmt = conn.prepare(
        "INSERT INTO batches (id, first_ip, last_ip, ip_count, hand_out) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, chunk) in ips.chunks(batch_size).enumerate() {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            continue;
        };
        stmt.execute(params![
            first_id + i as i64,
            first,
            last,
            chunk.len() as i64,
            hand_out_base + positions[i] as i64,
        ])?;
    }
    Ok(batches as u64)
}

/// Rows per multi-row INSERT when bulk loading seeds (2 parameters each).
const ROWS_PER_INSERT: usize = 128;

/// Insert the `seeds` rows of the sorted `ips` (batch `first_id + i / batch_size`), in rowid
/// order, with one prepared multi-row statement. [`Error::Interrupted`] when `progress` says
/// stop.
pub(crate) fn insert_seeds(
    conn: &Connection,
    ips: &[u32],
    batch_size: usize,
    first_id: i64,
    progress: &mut dyn FnMut(u64, u64) -> ControlFlow<()>,
) -> Result<()> {
    let total = ips.len() as u64;
    let values = vec!["(?,?)"; ROWS_PER_INSERT].join(",");
    let mut many = conn.prepare(&format!("INSERT INTO seeds (ip, batch_id) VALUES {values}"))?;
    let mut one = conn.prepare("INSERT INTO seeds (ip, batch_id) VALUES (?1, ?2)")?;
    let mut done = 0usize;
    let mut next_report = 0usize;
    while done < ips.len() {
        if done >= next_report {
            if progress(done as u64, total).is_break() {
                return Err(Error::Interrupted);
            }
            next_report = done + PROGRESS_EVERY;
        }
        let left = ips.len() - done;
        if left >= ROWS_PER_INSERT {
            for (j, &ip) in ips[done..done + ROWS_PER_INSERT].iter().enumerate() {
                let batch = first_id + ((done + j) / batch_size) as i64;
                many.raw_bind_parameter(2 * j + 1, i64::from(ip))?;
                many.raw_bind_parameter(2 * j + 2, batch)?;
            }
            many.raw_execute()?;
            done += ROWS_PER_INSERT;
        } else {
            let ip = ips[done];
            one.raw_bind_parameter(1, i64::from(ip))?;
            one.raw_bind_parameter(2, first_id + (done / batch_size) as i64)?;
            one.raw_execute()?;
            done += 1;
        }
    }
    match progress(total, total) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::Interrupted),
    }
}

/// Fail with [`Error::OutputExists`] when `path` exists and `force` is false; refuse a
/// directory even with `force`.
fn check_output(path: &Path, force: bool) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(Error::BadOutput {
            path: path.to_path_buf(),
            reason: "is a directory".into(),
        }),
        Ok(_) if !force => Err(Error::OutputExists(path.to_path_buf())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// `path` with `suffix` appended to its file name (`seed.sqlite` + `-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// SQLite's side files of a database.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// A temporary database next to the output, removed (with its side files) unless placed.
struct TempDb {
    path: PathBuf,
    placed: bool,
}

impl TempDb {
    fn next_to(out: &Path) -> Result<Self> {
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::BadOutput {
                path: dir,
                reason: "directory does not exist".into(),
            });
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "seed".into());
        for _ in 0..16 {
            let path = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
            // Create it exclusively so two generators never share a temporary file.
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => {
                    return Ok(Self {
                        path,
                        placed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    // Most often a directory the user may not write to: say so about the
                    // output they named, not about our temporary file.
                    return Err(Error::BadOutput {
                        path: out.to_path_buf(),
                        reason: format!("cannot create a file in {}: {e}", dir.display()),
                    });
                }
            }
        }
        Err(Error::io(
            &dir,
            io::Error::other("could not create a temporary file"),
        ))
    }

    /// Move the finished file to `out`: without `force`, only if `out` does not exist (a hard
    /// link fails atomically if it does); with `force`, replacing it in one rename.
    fn place(&mut self, out: &Path, force: bool) -> Result<()> {
        if !force && fs::symlink_metadata(out).is_ok() {
            return Err(Error::OutputExists(out.to_path_buf()));
        }
        // Stale side files of an earlier database at `out` would be replayed into ours.
        for suffix in SIDE_FILES {
            let side = with_suffix(out, suffix);
            match fs::remove_file(&side) {
                Ok(()) => tracing::debug!(file = %side.display(), "removed stale side file"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&side, e)),
            }
        }
        if force {
            fs::rename(&self.path, out).map_err(|e| Error::io(out, e))?;
        } else {
            match fs::hard_link(&self.path, out) {
                Ok(()) => {
                    let _ = fs::remove_file(&self.path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(Error::OutputExists(out.to_path_buf()));
                }
                // Filesystems without hard links: checked above, rename.
                Err(_) => fs::rename(&self.path, out).map_err(|e| Error::io(out, e))?,
            }
        }
        self.placed = true;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; not every platform can open a directory.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        let _ = fs::remove_file(&self.path);
        for suffix in SIDE_FILES {
            let _ = fs::remove_file(with_suffix(&self.path, suffix));
        }
    }
}

fn fsync(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::HandOutOrder;
    use crate::strategy::Strategy;
    use rdapfleet_ranges::parse_cidr;

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn batches_cut_the_sorted_seeds_and_hand_out_in_spread_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut plan = SeedPlan::new(Strategy::Stride { prefix: 24 });
        plan.includes = vec![parse_cidr("8.0.0.0/8").unwrap()];
        plan.batch_size = 1000;
        plan.shuffle_seed = 99;
        let s = write_seed_file(&path, &plan, false).unwrap();
        assert_eq!((s.ip_count, s.batch_count), (65_536, 66));
        assert_eq!(files(dir.path()), ["s.sqlite"]);

        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema::check(&conn).unwrap(), SCHEMA_VERSION);
        let ips = generate_ips(&plan).unwrap();
        let mut stmt = conn
            .prepare("SELECT id, first_ip, last_ip, ip_count, hand_out FROM batches ORDER BY id")
            .unwrap();
        let batches: Vec<(i64, u32, u32, i64, i64)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // Batch i is the i-th run of 1,000 sorted addresses; the last is shorter.
        for (i, chunk) in ips.chunks(1000).enumerate() {
            let b = batches[i];
            assert_eq!(b.0, i as i64);
            assert_eq!(
                (b.1, b.2, b.3),
                (chunk[0], chunk[chunk.len() - 1], chunk.len() as i64)
            );
            assert_eq!(crate::batch_ips(&conn, b.0).unwrap(), chunk);
        }
        assert_eq!(batches.last().unwrap().3, 536);
        // hand_out is the inverse of the seeded order.
        let order: Vec<usize> = HandOutOrder::new(66, 99).collect();
        for (pos, &batch) in order.iter().enumerate() {
            assert_eq!(batches[batch].4, pos as i64);
        }
        // Every meta key of the contract is there.
        for key in [
            schema::META_FORMAT,
            schema::META_SCHEMA_VERSION,
            schema::META_GENERATOR_VERSION,
            schema::META_STRATEGY,
            schema::META_PARAMS,
            schema::META_IP_COUNT,
            schema::META_BATCH_COUNT,
            schema::META_BATCH_SIZE,
            schema::META_SHUFFLE_SEED,
            schema::META_CREATED_AT,
            schema::META_CRAWL_ID,
        ] {
            assert!(schema::get_meta(&conn, key).unwrap().is_some(), "{key}");
        }
        assert_eq!(
            schema::get_meta(&conn, schema::META_CREATED_AT).unwrap(),
            Some(s.created_at.clone())
        );
        let params: serde_json::Value = serde_json::from_str(
            &schema::get_meta(&conn, schema::META_PARAMS)
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(params, plan.params_json());
    }

    #[test]
    fn failures_leave_nothing_behind_and_existing_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut plan = SeedPlan::new(Strategy::Ranges);
        plan.includes = vec![parse_cidr("192.0.2.0/24").unwrap()];
        plan.excludes = vec![parse_cidr("192.0.0.0/16").unwrap()];
        assert!(matches!(
            write_seed_file(&path, &plan, false),
            Err(Error::Empty)
        ));
        assert!(files(dir.path()).is_empty());

        plan.excludes.clear();
        let first = write_seed_file(&path, &plan, false).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(matches!(
            write_seed_file(&path, &plan, false),
            Err(Error::OutputExists(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), bytes);
        let second = write_seed_file(&path, &plan, true).unwrap();
        assert_ne!(first.crawl_id, second.crawl_id);
        assert_eq!(files(dir.path()), ["s.sqlite"]);
    }
}
