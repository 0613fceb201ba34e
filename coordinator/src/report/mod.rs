//! What operators take away from a crawl, read straight from the crawl database (read-only,
//! so every report works while `serve` runs and after it stopped).
//!
//! # Layout
//! - [`export`]: streaming JSONL export (per seed IP or per network; rdapfleet or 2016 ipwhois
//!   layout; plain, gzip or zstd) in constant memory.
//! - [`coverage`]: exact coverage (union of networks, no double counting) per registry, per /8,
//!   by holder, and the minimal CIDR count of the union.
//! - [`lookup`]: "who holds this address" from the crawled networks alone, over a million a second.
//! - [`map`]: the Hilbert-curve PNG of the address space coloured by registry.
//! - [`telemetry`]: cluster, registry and node views of the workers' per-minute samples.
//! - this file: [`open`] (read-only, tolerating a seed file never served), [`NetworkSummary`]
//!   (the few fields of a stored network the reports need), [`AtomicFile`] (outputs appear
//!   whole or not at all), time formatting.

pub mod coverage;
pub mod export;
pub mod lookup;
pub mod map;
pub mod telemetry;

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rdapfleet_ranges::Range;
use rusqlite::Connection;
use serde::Deserialize;

/// The fields of a stored normalized network (rdapfleet-rdap's `Network` JSON) that reports
/// use; parsed without copying the rest (and without copying strings that need no unescaping).
#[derive(Debug, Default, Deserialize)]
pub struct NetworkSummary<'a> {
    /// Registry handle.
    #[serde(default, borrow)]
    pub handle: Option<Cow<'a, str>>,
    /// Network name.
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
    /// The registrant organisation.
    #[serde(default, borrow)]
    pub registrant: Option<Cow<'a, str>>,
    /// Two-letter country code.
    #[serde(default, borrow)]
    pub country: Option<Cow<'a, str>>,
    /// Registry that answered (arin, ripencc, apnic, lacnic, afrinic).
    #[serde(default, borrow)]
    pub registry: Option<Cow<'a, str>>,
    /// Abuse contact e-mails.
    #[serde(default, borrow)]
    pub abuse_emails: Vec<Cow<'a, str>>,
}

impl<'a> NetworkSummary<'a> {
    /// Parse a stored network; a malformed one gives an empty summary (reports go on).
    pub fn parse(json: &'a str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The holder's name: the registrant organisation, else the network name.
    pub fn holder(&self) -> Option<&str> {
        self.registrant
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.name.as_deref().filter(|s| !s.is_empty()))
    }
}

/// Call `f` with every stored network (range and summary) in the order they were found (id
/// order). Rows whose range is impossible (a damaged file) are skipped and counted; the
/// count is returned.
pub fn for_each_network(
    db: &ReportDb,
    mut f: impl FnMut(Range, NetworkSummary<'_>),
) -> crate::Result<u64> {
    if !db.served {
        return Ok(0);
    }
    let mut stmt = db
        .conn
        .prepare("SELECT start_ip, end_ip, network_json FROM networks ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut damaged = 0;
    while let Some(row) = rows.next()? {
        let (s, e): (i64, i64) = (row.get(0)?, row.get(1)?);
        let range = match (u32::try_from(s), u32::try_from(e)) {
            (Ok(start), Ok(end)) if start <= end => Range { start, end },
            _ => {
                damaged += 1;
                continue;
            }
        };
        let json = match row.get_ref(2)? {
            rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or(""),
            _ => "",
        };
        f(range, NetworkSummary::parse(json));
    }
    Ok(damaged)
}

/// A crawl database opened read-only for a report (nothing in the file changes).
#[derive(Debug)]
pub struct ReportDb {
    /// The connection (read-only).
    pub conn: Connection,
    /// Whether the coordinator's tables exist (false for a seed file never served: no
    /// outcomes, networks or telemetry yet).
    pub served: bool,
}

/// Open the crawl database at `path` read-only, refusing a missing, corrupt, foreign or newer
/// file with a clear [`crate::Error::Database`].
pub fn open(path: &Path) -> crate::Result<ReportDb> {
    let conn = crate::db::open(path, crate::db::Access::ReadOnly)?;
    let served = crate::db::has_coordinator_tables(&conn)?;
    Ok(ReportDb { conn, served })
}

/// An output file written under a temporary name in the same directory and renamed over the
/// final name by [`AtomicFile::commit`]: readers never see a half-written file, and a failed
/// run leaves nothing behind (the temporary file is removed on drop).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Create the temporary file next to `dest`. A directory that does not exist or cannot be
    /// written is an input error.
    pub fn create(dest: &Path) -> crate::Result<Self> {
        let name = dest
            .file_name()
            .ok_or_else(|| crate::Error::Input(format!("{} is not a file name", dest.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = File::create(&tmp)
            .map_err(|e| crate::Error::Input(format!("cannot create {}: {e}", dest.display())))?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 16, file)),
        })
    }

    /// Flush, sync and rename the temporary file to its final name.
    pub fn commit(mut self) -> crate::Result<()> {
        let file = self.file.take().expect("present until commit");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| {
            crate::Error::Input(format!(
                "cannot rename {} to {}: {e}",
                self.tmp.display(),
                self.dest.display()
            ))
        })?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("present until commit").write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file
            .as_mut()
            .expect("present until commit")
            .write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("present until commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Unix milliseconds formatted as RFC 3339 when displayed (no allocation when serialized with
/// `collect_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Ms(pub i64);

impl std::fmt::Display for Rfc3339Ms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0;
        let secs = ms.div_euclid(1000);
        let millis = ms.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-11-21T18:03:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    Rfc3339Ms(ms).to_string()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_370_580_123), "2026-11-22T18:03:00.123Z");
    }

    #[test]
    fn atomic_files_appear_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.jsonl");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"half").unwrap();
            // Dropped without commit: nothing is left behind.
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"whole\n").unwrap();
        assert!(!dest.exists(), "not visible before commit");
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "whole\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = AtomicFile::create(&dir.path().join("missing/out.jsonl")).unwrap_err();
        assert!(
            e.is_input_error() && e.to_string().contains("cannot create"),
            "{e}"
        );
    }

    #[test]
    fn summaries_tolerate_missing_fields() {
        let s = NetworkSummary::parse(r#"{"name":"NET-X","registry":"arin","extra":[1,2]}"#);
        assert_eq!(s.holder(), Some("NET-X"));
        assert_eq!(NetworkSummary::parse("not json").holder(), None);
    }
}
