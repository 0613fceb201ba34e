//! The request log (`--request-log FILE`): one JSON object per line per RDAP request (`n`,
//! `time`, `client`, `registry`, `ip` as asked, `status`, `handle` of the network answered or
//! null, `location` of a redirect, `fault`). Lines go through a channel to a writer thread, so
//! serving never waits on the disk; [`RequestLog::close`] flushes everything.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::Serialize;

use crate::error::{Error, Result};

/// One line of the log.
#[derive(Debug, Serialize)]
pub struct LogLine<'a> {
    /// Request number (the fault counter).
    pub n: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    /// Client address.
    pub client: String,
    /// Registry asked.
    pub registry: &'a str,
    /// What was asked (address or CIDR, verbatim).
    pub ip: &'a str,
    /// HTTP status sent (0 when the connection was closed without an answer).
    pub status: u16,
    /// Handle of the network answered (200) or redirected to.
    pub handle: Option<String>,
    /// Where a redirect pointed.
    pub location: Option<&'a str>,
    /// The fault applied, if any.
    pub fault: Option<&'a str>,
}

/// The log writer.
#[derive(Debug)]
pub struct RequestLog {
    tx: Option<mpsc::Sender<String>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    path: PathBuf,
}

impl RequestLog {
    /// Create (truncate) the file and start the writer thread.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let (tx, rx) = mpsc::channel::<String>();
        let thread = std::thread::Builder::new()
            .name("sim-request-log".into())
            .spawn(move || -> std::io::Result<()> {
                let mut w = BufWriter::with_capacity(1 << 16, file);
                while let Ok(line) = rx.recv() {
                    w.write_all(line.as_bytes())?;
                    w.write_all(b"\n")?;
                    // Write everything queued, then flush while idle.
                    while let Ok(line) = rx.try_recv() {
                        w.write_all(line.as_bytes())?;
                        w.write_all(b"\n")?;
                    }
                    w.flush()?;
                }
                w.flush()
            })
            .map_err(|e| Error::io(path, e))?;
        Ok(RequestLog {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
        })
    }

    /// Queue a line.
    pub fn write(&self, line: &LogLine<'_>) {
        if let (Some(tx), Ok(s)) = (&self.tx, serde_json::to_string(line)) {
            let _ = tx.send(s);
        }
    }

    /// Stop the writer and flush every queued line.
    pub fn close(&mut self) -> Result<()> {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(r) => r.map_err(|e| Error::io(&self.path, e))?,
                Err(_) => {
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::other("request log writer panicked"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_flushed_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        let mut log = RequestLog::create(&p).unwrap();
        for n in 0..3 {
            log.write(&LogLine {
                n,
                time: crate::dates::now_rfc3339(),
                client: "127.0.0.1".into(),
                registry: "arin",
                ip: "3.3.3.3",
                status: 200,
                handle: Some("NET-3-0-0-0-1".into()),
                location: None,
                fault: None,
            });
        }
        log.close().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 3);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["handle"], "NET-3-0-0-0-1");
    }
}
