//! `rdapfleet-worker parse FILE`: the normalized network of a saved RDAP response.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Parse `file` and print its normalized network to `out`.
pub fn run(file: &Path, compact: bool, out: &mut dyn Write) -> Result<()> {
    let body = std::fs::read(file)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", file.display())))?;
    let network = rdapfleet_rdap::parse(&body).map_err(|e| {
        Error::Input(format!(
            "{} is not an RDAP ip network response: {e}",
            file.display()
        ))
    })?;
    let text = if compact {
        serde_json::to_string(&network)
    } else {
        serde_json::to_string_pretty(&network)
    }
    .map_err(|e| Error::Unexpected(format!("encoding the network: {e}")))?;
    writeln!(out, "{text}").map_err(|e| Error::Unexpected(format!("writing stdout: {e}")))
}
