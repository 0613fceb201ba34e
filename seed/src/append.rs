//! Changing and reading a seed file that is in use: [`append_ips`] queues more addresses while
//! the coordinator runs (`rdapfleet-coordinator add-range`), [`batch_ips`] reads one batch.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::order::hand_out_positions;
use crate::schema;
use crate::strategy::{DEFAULT_SHUFFLE_SEED, MAX_BATCH_SIZE};
use crate::write::{insert_batches, insert_seeds};
use crate::{Error, Result};

/// What [`append_ips`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendSummary {
    /// Distinct addresses offered.
    pub offered: u64,
    /// Addresses added to `seeds`.
    pub added: u64,
    /// Offered addresses that were already seeds (skipped).
    pub already_present: u64,
    /// Batches created.
    pub new_batches: u64,
    /// Id of the first new batch (ids `first_batch_id..first_batch_id + new_batches`);
    /// `None` when nothing was added.
    pub first_batch_id: Option<i64>,
    /// Seed addresses in the file afterwards (meta `ip_count`).
    pub ip_count: u64,
    /// Batches in the file afterwards (meta `batch_count`).
    pub batch_count: u64,
}

/// Batches [`append_ips`] writes per transaction: the coordinator's writes wait for at most
/// one such transaction (about 128,000 addresses, a fraction of a second), never for a whole
/// `add-range`.
pub const APPEND_CHUNK_BATCHES: usize = 128;

/// Add `ips` (any order, duplicates allowed) to an open seed file: addresses already in
/// `seeds` are skipped, the rest (sorted) are cut into new batches of `batch_size` with ids
/// after the current largest id and `hand_out` values after the current largest (spread among
/// themselves, as one set, by the file's shuffle seed), and meta `ip_count` / `batch_count` are
/// updated.
///
/// Safe while the coordinator has the file open in WAL mode: the new addresses are found in a
/// read transaction (which never blocks the coordinator), then written in `IMMEDIATE`
/// transactions of [`APPEND_CHUNK_BATCHES`] whole batches each, so the coordinator's own
/// writes wait a fraction of a second at most. Each transaction leaves a consistent file (whole
/// batches, meta counts updated): when the command is interrupted, running it again adds the
/// rest. Give `conn` a `busy_timeout` so each transaction waits for the coordinator's writes.
/// `conn` must not be inside a transaction already (this function opens its own).
/// [`Error::Concurrent`] when another process added batches between two of the transactions
/// (what was written so far stays; running the command again adds the rest).
///
/// New batches may interleave with old ones in address order; their addresses are still read
/// with [`batch_ips`] (the `batch_id` column decides).
pub fn append_ips(conn: &Connection, ips: &[u32], batch_size: usize) -> Result<AppendSummary> {
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        return Err(Error::InvalidPlan(format!(
            "batch size {batch_size} is out of range (expected 1..={MAX_BATCH_SIZE})"
        )));
    }
    schema::check(conn)?;
    let mut wanted = ips.to_vec();
    wanted.sort_unstable();
    wanted.dedup();

    let (fresh, shuffle_seed) = {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
        let fresh = not_yet_seeds(&tx, &wanted)?;
        let shuffle_seed = schema::get_meta(&tx, schema::META_SHUFFLE_SEED)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_SHUFFLE_SEED);
        tx.finish()?;
        (fresh, shuffle_seed)
    };
    let positions = hand_out_positions(fresh.len().div_ceil(batch_size), shuffle_seed);

    let mut summary = AppendSummary {
        offered: wanted.len() as u64,
        ..AppendSummary::default()
    };
    // Ids and hand-out values of the whole append, fixed by the first transaction.
    let mut base: Option<(i64, i64)> = None;
    for (k, chunk) in fresh.chunks(batch_size * APPEND_CHUNK_BATCHES).enumerate() {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        // Another add-range may have added some of them since the read.
        let chunk = not_yet_seeds(&tx, chunk)?;
        let (max_id, max_hand_out): (Option<i64>, Option<i64>) =
            tx.query_row("SELECT max(id), max(hand_out) FROM batches", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let next_id = max_id.map_or(0, |m| m + 1);
        let (first_id, hand_out_base) =
            *base.get_or_insert((next_id, max_hand_out.map_or(0, |m| m + 1)));
        let expected_id = first_id + summary.new_batches as i64;
        if next_id != expected_id {
            return Err(Error::Concurrent(format!(
                "another process added batches to the seed list during this append \
                 ({} of {} new addresses were added); run the command again to add the rest",
                summary.added,
                fresh.len()
            )));
        }
        let first_position = k * APPEND_CHUNK_BATCHES;
        let added = insert_batches(
            &tx,
            &chunk,
            batch_size,
            next_id,
            hand_out_base,
            &positions[first_position.min(positions.len())..],
        )?;
        insert_seeds(&tx, &chunk, batch_size, next_id, &mut |_, _| {
            std::ops::ControlFlow::Continue(())
        })?;
        let (ip_count, batch_count) = update_counts(&tx, chunk.len() as u64, added)?;
        tx.commit()?;
        summary.added += chunk.len() as u64;
        summary.new_batches += added;
        summary.first_batch_id = summary.first_batch_id.or((added > 0).then_some(next_id));
        summary.ip_count = ip_count;
        summary.batch_count = batch_count;
    }
    if fresh.is_empty() {
        summary.ip_count = meta_count(conn, schema::META_IP_COUNT, "SELECT count(*) FROM seeds")?.0;
        summary.batch_count = meta_count(
            conn,
            schema::META_BATCH_COUNT,
            "SELECT count(*) FROM batches",
        )?
        .0;
    }
    summary.already_present = summary.offered - summary.added;
    tracing::debug!(
        offered = summary.offered,
        added = summary.added,
        new_batches = summary.new_batches,
        "seed addresses appended"
    );
    Ok(summary)
}

/// The addresses of the sorted `ips` that are not seeds yet.
fn not_yet_seeds(conn: &Connection, ips: &[u32]) -> Result<Vec<u32>> {
    let mut exists = conn.prepare_cached("SELECT 1 FROM seeds WHERE ip = ?1")?;
    let mut fresh = Vec::with_capacity(ips.len());
    for &ip in ips {
        if !exists.exists([i64::from(ip)])? {
            fresh.push(ip);
        }
    }
    Ok(fresh)
}

/// Add `ips` and `batches` to meta `ip_count` / `batch_count` (inside the transaction that
/// inserted them); returns the new counts.
fn update_counts(conn: &Connection, ips: u64, batches: u64) -> Result<(u64, u64)> {
    let ip_count = meta_count(conn, schema::META_IP_COUNT, "SELECT count(*) FROM seeds")?;
    let batch_count = meta_count(
        conn,
        schema::META_BATCH_COUNT,
        "SELECT count(*) FROM batches",
    )?;
    let ip_count = ip_count.0 + if ip_count.1 { 0 } else { ips };
    let batch_count = batch_count.0 + if batch_count.1 { 0 } else { batches };
    schema::set_meta(conn, schema::META_IP_COUNT, &ip_count.to_string())?;
    schema::set_meta(conn, schema::META_BATCH_COUNT, &batch_count.to_string())?;
    Ok((ip_count, batch_count))
}

/// A meta count before the change, and whether it was recounted from the table (then it
/// already includes the change). The count is recounted when the meta value is missing or
/// unreadable.
fn meta_count(conn: &Connection, key: &str, recount: &str) -> Result<(u64, bool)> {
    match schema::get_meta(conn, key)?.and_then(|v| v.parse::<u64>().ok()) {
        Some(n) => Ok((n, false)),
        None => Ok((
            conn.query_row(recount, [], |r| r.get::<_, i64>(0))? as u64,
            true,
        )),
    }
}

/// The addresses of batch `batch_id`, ascending. [`Error::UnknownBatch`] when there is no such
/// batch.
pub fn batch_ips(conn: &Connection, batch_id: i64) -> Result<Vec<u32>> {
    let bounds: Option<(i64, i64, i64)> = conn
        .query_row(
            "SELECT first_ip, last_ip, ip_count FROM batches WHERE id = ?1",
            [batch_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((first, last, count)) = bounds else {
        return Err(Error::UnknownBatch(batch_id));
    };
    let mut stmt = conn.prepare_cached(
        "SELECT ip FROM seeds WHERE ip BETWEEN ?1 AND ?2 AND batch_id = ?3 ORDER BY ip",
    )?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(MAX_BATCH_SIZE));
    let mut rows = stmt.query(rusqlite::params![first, last, batch_id])?;
    while let Some(row) = rows.next()? {
        let ip: i64 = row.get(0)?;
        out.push(u32::try_from(ip).map_err(|_| {
            Error::Corrupt(format!("seeds holds {ip}, which is not an IPv4 address"))
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{SeedPlan, Strategy};
    use crate::write::write_seed_file;
    use rdapfleet_ranges::{parse_cidr, parse_ipv4};

    fn small_file(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("seed.sqlite");
        let mut plan = SeedPlan::new(Strategy::Stride { prefix: 24 });
        plan.includes = vec![parse_cidr("8.8.0.0/16").unwrap()];
        plan.batch_size = 100;
        write_seed_file(&path, &plan, false).unwrap();
        path
    }

    #[test]
    fn batch_ips_reads_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(small_file(dir.path())).unwrap();
        let b0 = batch_ips(&conn, 0).unwrap();
        assert_eq!(b0.len(), 100);
        assert_eq!(b0[0], parse_ipv4("8.8.0.1").unwrap());
        assert_eq!(b0[99], parse_ipv4("8.8.99.1").unwrap());
        let b2 = batch_ips(&conn, 2).unwrap();
        assert_eq!(b2.len(), 56);
        assert!(matches!(batch_ips(&conn, 3), Err(Error::UnknownBatch(3))));
    }

    #[test]
    fn append_skips_known_ips_and_adds_batches_after_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(small_file(dir.path())).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        // 8.8.0.0/16 stride /23 over 8.8.0.0/15: half of the 8.8/16 part is already there.
        let mut offered = crate::stride_ips(parse_cidr("8.8.0.0/15").unwrap(), 23);
        offered.extend_from_within(..10); // duplicates are fine
        let s = append_ips(&conn, &offered, 100).unwrap();
        assert_eq!(s.offered, 256);
        assert_eq!(s.already_present, 128);
        assert_eq!(s.added, 128);
        assert_eq!(s.new_batches, 2);
        assert_eq!(s.first_batch_id, Some(3));
        assert_eq!(s.ip_count, 256 + 128);
        assert_eq!(s.batch_count, 5);
        assert_eq!(
            schema::get_meta(&conn, schema::META_IP_COUNT)
                .unwrap()
                .as_deref(),
            Some("384")
        );
        let hand_outs: Vec<(i64, i64)> = conn
            .prepare("SELECT id, hand_out FROM batches ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut new: Vec<i64> = hand_outs[3..].iter().map(|h| h.1).collect();
        new.sort_unstable();
        assert_eq!(new, [3, 4]);
        let b3 = batch_ips(&conn, 3).unwrap();
        assert_eq!(b3.len(), 100);
        assert!(
            b3.iter()
                .all(|ip| ip >> 16 == (8 << 8) | 9 || ip >> 16 == (8 << 8) | 8)
        );
        assert_eq!(batch_ips(&conn, 4).unwrap().len(), 28);
        // The old batches are unchanged.
        assert_eq!(batch_ips(&conn, 0).unwrap().len(), 100);
        // Appending the same again adds nothing.
        let again = append_ips(&conn, &offered, 100).unwrap();
        assert_eq!(again.added, 0);
        assert_eq!(again.first_batch_id, None);
        assert_eq!(again.ip_count, 384);
        assert_eq!(again.batch_count, 5);
        assert!(matches!(
            append_ips(&conn, &offered, 0),
            Err(Error::InvalidPlan(_))
        ));
    }

    #[test]
    fn large_appends_are_written_in_whole_batch_chunks_spread_as_one_set() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(small_file(dir.path())).unwrap();
        // 8.8.0.0/22 at /32: 1,024 addresses, of which 8.8.{0..3}.1 are seeds already; in
        // batches of 2 that is 510 new batches, written in 4 transactions of at most 128.
        let offered = crate::stride_ips(parse_cidr("8.8.0.0/22").unwrap(), 32);
        let s = append_ips(&conn, &offered, 2).unwrap();
        assert_eq!((s.offered, s.added, s.already_present), (1024, 1020, 4));
        assert_eq!(s.new_batches, 510);
        assert!(s.new_batches as usize > 3 * APPEND_CHUNK_BATCHES);
        assert_eq!(s.first_batch_id, Some(3));
        assert_eq!((s.ip_count, s.batch_count), (256 + 1020, 3 + 510));
        let rows: Vec<(i64, i64, i64, i64)> = conn
            .prepare(
                "SELECT id, hand_out, ip_count, first_ip FROM batches WHERE id >= 3 ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        // Contiguous ids, every batch full, in address order.
        assert!(rows.iter().enumerate().all(|(i, r)| r.0 == 3 + i as i64));
        assert!(rows.iter().all(|r| r.2 == 2));
        assert!(rows.windows(2).all(|w| w[0].3 < w[1].3));
        // Hand-out values: the seeded permutation of all 510 new batches after the old ones,
        // not one permutation per transaction.
        let positions = hand_out_positions(510, DEFAULT_SHUFFLE_SEED);
        let hand_outs: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let expected: Vec<i64> = positions.iter().map(|&p| 3 + p as i64).collect();
        assert_eq!(hand_outs, expected);
        let seeds: i64 = conn
            .query_row("SELECT count(*) FROM seeds", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seeds, 256 + 1020);
    }

    #[test]
    fn append_refuses_a_foreign_database() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(matches!(
            append_ips(&conn, &[1], 10),
            Err(Error::NotASeedFile(_))
        ));
    }
}
