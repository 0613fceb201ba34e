//! `add-range`: queue more seed addresses while the crawl runs. The running server notices the
//! new batches on its next poll.

use std::path::Path;

use rdapfleet_seed::strategy::{MAX_IPS, stride_count};
use rdapfleet_seed::{AppendSummary, DEFAULT_BATCH_SIZE, append_ips, schema, stride_ips};

use crate::db::{self, Access};
use crate::{Error, Result};

/// Shortest stride prefix accepted (one address per /8).
pub const MIN_STRIDE_PREFIX: u8 = 8;

/// Add one address per `/stride_prefix` block of `cidr` (outside the special-purpose registry)
/// to the crawl database at `path`, in batches of the file's batch size, at most
/// [`MAX_IPS`] addresses at a time. The addresses are written in short transactions
/// ([`append_ips`]), so a running coordinator keeps serving meanwhile.
pub fn add_range(path: &Path, cidr: &str, stride_prefix: u8) -> Result<AppendSummary> {
    let range = rdapfleet_ranges::parse_cidr(cidr).map_err(|e| Error::Input(e.to_string()))?;
    if !(MIN_STRIDE_PREFIX..=32).contains(&stride_prefix) {
        return Err(Error::Input(format!(
            "--stride-prefix {stride_prefix} is out of range (expected {MIN_STRIDE_PREFIX}..=32)"
        )));
    }
    let count = stride_count(range, stride_prefix);
    if count > MAX_IPS {
        return Err(Error::Input(format!(
            "{cidr} at stride /{stride_prefix} is {count} addresses, more than the {MAX_IPS} one \
             add-range may queue; use a shorter --stride-prefix or a smaller range"
        )));
    }
    let conn = db::open(path, Access::ReadWrite)?;
    let batch_size = schema::get_meta(&conn, schema::META_BATCH_SIZE)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BATCH_SIZE);
    let ips = stride_ips(range, stride_prefix);
    if ips.is_empty() {
        return Err(Error::Input(format!(
            "{cidr} holds no address outside the special-purpose registry at stride /{stride_prefix}"
        )));
    }
    Ok(append_ips(&conn, &ips, batch_size)?)
}
