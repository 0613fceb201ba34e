//! Reading a seed file's description: what `rdapfleet-seed info` prints.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde::Serialize;

use crate::schema;
use crate::{Error, Result};

/// A seed file's meta table and row counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedInfo {
    /// The file.
    pub path: PathBuf,
    /// Its schema version (checked to be one this build reads).
    pub schema_version: u32,
    /// Every meta row, sorted by key.
    pub meta: Vec<(String, String)>,
    /// Rows in `seeds`.
    pub seeds: u64,
    /// Rows in `batches`.
    pub batches: u64,
    /// SQLite journal mode stored in the file (`wal` for a finished seed file).
    pub journal_mode: String,
}

impl SeedInfo {
    /// One meta value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Open `path` read-only and describe it. Clear errors for a missing file ([`Error::Missing`]),
/// a file that is not SQLite or not a seed file ([`Error::NotASeedFile`]), a damaged one
/// ([`Error::Corrupt`]) and one of a newer schema ([`Error::NewerVersion`]).
pub fn read_info(path: &Path) -> Result<SeedInfo> {
    if !path.exists() {
        return Err(Error::Missing(path.to_path_buf()));
    }
    if path.is_dir() {
        return Err(Error::NotASeedFile("it is a directory".into()));
    }
    // Read-write (never create) so that closing the last connection checkpoints and removes
    // the `-wal`/`-shm` files a WAL reader needs; `query_only` forbids any change. Fall back to
    // read-only where the file or directory is not writable.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .or_else(|_| {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    })
    .map_err(explain)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(explain)?;
    read(&conn)
        .map_err(|e| match e {
            Error::Sqlite(e) => explain(e),
            e => e,
        })
        .map(|mut info| {
            info.path = path.to_path_buf();
            info
        })
}

fn read(conn: &Connection) -> Result<SeedInfo> {
    let schema_version = schema::check(conn)?;
    let meta = schema::all_meta(conn)?;
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let seeds = count("SELECT count(*) FROM seeds")? as u64;
    let batches = count("SELECT count(*) FROM batches")? as u64;
    let journal_mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    Ok(SeedInfo {
        path: PathBuf::new(),
        schema_version,
        meta,
        seeds,
        batches,
        journal_mode,
    })
}

/// Turn SQLite's terse codes for foreign and damaged files into clear errors.
fn explain(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotASeedFile("it is not an SQLite database".into()),
        Some(ErrorCode::DatabaseCorrupt) => {
            Error::Corrupt(format!("the database is damaged ({e})"))
        }
        _ => Error::Sqlite(e),
    }
}
