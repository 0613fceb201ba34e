//! `rdapfleet-worker refresh-bootstrap`: download IANA's `ipv4.json`, check that it is a usable
//! RFC 9224 IPv4 file, and write it atomically (or to stdout).

use std::io::Write;
use std::path::Path;

use rdapfleet_rdap::Bootstrap;
use rdapfleet_rdap::bootstrap::fetch_bootstrap;

use crate::cli::RefreshArgs;
use crate::error::{Error, Result};
use crate::lookup::Done;

/// Download, validate, write.
pub async fn run(args: &RefreshArgs, out: &mut dyn Write) -> Result<Done> {
    if !(args.url.starts_with("https://") || args.url.starts_with("http://")) {
        return Err(Error::Input(format!(
            "--url {:?} is not an http(s) URL",
            args.url
        )));
    }
    let bytes = fetch_bootstrap(&args.url, args.timeout)
        .await
        .map_err(|e| Error::Unexpected(e.to_string()))?;
    let b =
        Bootstrap::from_json(&args.url, &bytes).map_err(|e| Error::Unexpected(e.to_string()))?;
    if b.ipv4_prefix_count() == 0 {
        return Err(Error::Unexpected(format!(
            "bootstrap {}: lists no IPv4 prefix (not an ipv4.json file)",
            args.url
        )));
    }
    let summary = format!(
        "{} IPv4 prefixes, {} services, publication {}",
        b.ipv4_prefix_count(),
        b.services().len(),
        b.publication.as_deref().unwrap_or("unknown")
    );
    match &args.out {
        Some(path) => {
            write_atomically(path, &bytes)?;
            Ok(Done {
                note: Some(format!("wrote {}: {summary}", path.display())),
            })
        }
        None => {
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Unexpected(format!("writing stdout: {e}")))?;
            Ok(Done {
                note: Some(format!("bootstrap from {}: {summary}", args.url)),
            })
        }
    }
}

/// Write to a temporary file beside `path`, then rename over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Input(format!("--out {} is not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let fail = |what: &str, e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        Error::Input(format!("{what} {}: {e}", path.display()))
    };
    std::fs::write(&tmp, bytes).map_err(|e| fail("cannot write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail("cannot replace", e))?;
    Ok(())
}
