//! The seed file's SQLite schema: the contract between `rdapfleet-seed` (which writes it) and
//! `rdapfleet-coordinator` (which opens the same file as its database and adds its own tables).
//!
//! ```sql
//! meta(key TEXT PRIMARY KEY, value TEXT)            -- see the META_* keys below
//! batches(id INTEGER PRIMARY KEY,                   -- 0.. in address order
//!         first_ip INTEGER, last_ip INTEGER,        -- u32 addresses, inclusive
//!         ip_count INTEGER,                         -- 1..=batch size (the last one shorter)
//!         hand_out INTEGER UNIQUE)                  -- position in the hand-out permutation
//! seeds(ip INTEGER PRIMARY KEY, batch_id INTEGER)   -- every seed address (rowid = address)
//! ```
//!
//! A batch's addresses are `SELECT ip FROM seeds WHERE ip BETWEEN first_ip AND last_ip AND
//! batch_id = ?`: a rowid range scan, no extra index needed.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, Result};

/// Schema version written by this generator; readers refuse files with a newer one.
pub const SCHEMA_VERSION: u32 = 1;
/// Value of the `format` key that marks an rdapfleet seed file.
pub const FORMAT: &str = "rdapfleet-seed";

/// meta key: always [`FORMAT`].
pub const META_FORMAT: &str = "format";
/// meta key: [`SCHEMA_VERSION`] of the writer.
pub const META_SCHEMA_VERSION: &str = "schema_version";
/// meta key: version of the generator binary.
pub const META_GENERATOR_VERSION: &str = "generator_version";
/// meta key: strategy name (lattice2016, stride, ranges).
pub const META_STRATEGY: &str = "strategy";
/// meta key: the strategy's parameters as a JSON object (includes, excludes, stride prefix...).
pub const META_PARAMS: &str = "params";
/// meta key: number of seed addresses.
pub const META_IP_COUNT: &str = "ip_count";
/// meta key: number of batches.
pub const META_BATCH_COUNT: &str = "batch_count";
/// meta key: the batch size used.
pub const META_BATCH_SIZE: &str = "batch_size";
/// meta key: the seed of the hand-out permutation.
pub const META_SHUFFLE_SEED: &str = "shuffle_seed";
/// meta key: creation time, RFC 3339 UTC.
pub const META_CREATED_AT: &str = "created_at";
/// meta key: identifies the crawl (random hex, fixed at generation).
pub const META_CRAWL_ID: &str = "crawl_id";

/// Create the seed tables in an empty database.
pub fn create(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE batches (
             id INTEGER PRIMARY KEY,
             first_ip INTEGER NOT NULL,
             last_ip INTEGER NOT NULL,
             ip_count INTEGER NOT NULL,
             hand_out INTEGER NOT NULL UNIQUE
         );
         CREATE TABLE seeds (ip INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL);",
    )?;
    Ok(())
}

/// Check that `conn` holds a seed file this code can use: an rdapfleet seed file of a schema
/// version not newer than [`SCHEMA_VERSION`]. Gives a clear error for a corrupt file, a foreign
/// SQLite database, or a file written by a newer version.
pub fn check(conn: &Connection) -> Result<u32> {
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(Error::from)?
        > 0;
    if !has_meta {
        return Err(Error::NotASeedFile("it has no meta table".into()));
    }
    let format: Option<String> = get_meta(conn, META_FORMAT)?;
    if format.as_deref() != Some(FORMAT) {
        return Err(Error::NotASeedFile(format!(
            "meta.format is {:?}, expected {FORMAT:?}",
            format.unwrap_or_default()
        )));
    }
    let version: u32 = get_meta(conn, META_SCHEMA_VERSION)?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::NotASeedFile("meta.schema_version is missing".into()))?;
    if version > SCHEMA_VERSION {
        return Err(Error::NewerVersion {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Read one meta value.
pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Write one meta value (insert or replace).
pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// All meta rows, sorted by key.
pub fn all_meta(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT key, value FROM meta ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
