//! [`ChildProcess`]: a real program started by a test, its output captured to files.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::wait::wait_until;

/// The path of workspace binary `name`, next to the running test executable
/// (`target/<profile>/<name>`). Panics with a hint when it was not built.
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>
    let mut dir = exe.parent().expect("test executable dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A running child process. Its stdout and stderr go to files in its own temp dir. On drop it
/// is SIGKILLed and reaped; if the thread is panicking, the tail of its output is printed
/// first so a failed test shows what the child said.
pub struct ChildProcess {
    label: String,
    child: Child,
    dir: tempfile::TempDir,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    exit: Option<ExitStatus>,
}

impl ChildProcess {
    /// Start workspace binary `name` with `args`.
    pub fn start<I, S>(name: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(binary_path(name));
        cmd.args(args);
        Self::spawn(name, cmd)
    }

    /// Start `cmd` (any program) under `label`; stdin is closed, stdout/stderr are captured.
    pub fn spawn(label: &str, mut cmd: Command) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("rdapfleet-{label}-"))
            .tempdir()
            .expect("temp dir for child output");
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let out = fs::File::create(&stdout_path).expect("stdout file");
        let err = fs::File::create(&stderr_path).expect("stderr file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {label}: {e}"));
        Self {
            label: label.to_string(),
            child,
            dir,
            stdout_path,
            stderr_path,
            exit: None,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A directory owned by this child's wrapper (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the child wrote to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The last `lines` lines of stdout and of stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        let tail = |text: String| {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        };
        format!(
            "----- {} (pid {}) stdout -----\n{}\n----- {} stderr -----\n{}\n",
            self.label,
            self.pid(),
            tail(self.stdout()),
            self.label,
            tail(self.stderr())
        )
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exit = Some(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Wait until a stdout line starts with `prefix` and return it. Panics (with the log tail)
    /// when the child exits first or `timeout` passes.
    pub fn wait_for_stdout_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let mut found = None;
        let path = self.stdout_path.clone();
        let ok = wait_until(timeout, || {
            if let Ok(f) = fs::File::open(&path) {
                found = BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .find(|l| l.starts_with(prefix));
            }
            found.is_some() || !self.is_running()
        });
        match found {
            Some(line) => line,
            None => panic!(
                "{} did not print a line starting with {prefix:?} ({})\n{}",
                self.label,
                if ok { "it exited" } else { "timed out" },
                self.log_tail(40)
            ),
        }
    }

    /// Wait for the `listening on ADDR` line that rdapfleet servers print, and parse ADDR.
    pub fn wait_for_listening(&mut self, timeout: Duration) -> SocketAddr {
        let line = self.wait_for_stdout_line("listening on ", timeout);
        line["listening on ".len()..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: bad listening line {line:?}: {e}", self.label))
    }

    /// Send `signal` (e.g. `libc::SIGTERM`) to the child.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with the pid of a child we own and have not reaped yet.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// SIGTERM the child (a graceful stop).
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Wait up to `timeout` for the child to exit; returns its status, or `None` on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_until(timeout, || !self.is_running());
        self.exit
    }

    /// SIGKILL the child and reap it (what a lost machine looks like to its peers).
    pub fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
        }
        if self.exit.is_none() {
            self.exit = self.child.wait().ok();
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(60));
        }
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> ChildProcess {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        ChildProcess::spawn("sh", cmd)
    }

    #[test]
    fn captures_output_and_waits_for_a_line() {
        let mut c = sh(
            "echo starting; echo oops >&2; sleep 0.2; echo 'listening on 127.0.0.1:4242'; sleep 30",
        );
        let addr = c.wait_for_listening(Duration::from_secs(10));
        assert_eq!(addr, "127.0.0.1:4242".parse().unwrap());
        assert!(c.stderr().contains("oops"));
        assert!(c.is_running());
        c.kill();
        assert!(!c.is_running());
    }

    #[test]
    fn terminate_and_wait_exit() {
        let mut c = sh("trap 'exit 3' TERM; echo ready; while true; do sleep 0.05; done");
        c.wait_for_stdout_line("ready", Duration::from_secs(10));
        c.terminate();
        let status = c.wait_exit(Duration::from_secs(10)).expect("exited");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    #[should_panic(expected = "did not print a line")]
    fn a_child_that_exits_early_fails_the_wait() {
        let mut c = sh("echo bye");
        c.wait_for_stdout_line("listening on", Duration::from_secs(10));
    }

    #[test]
    #[should_panic(expected = "run `cargo build --workspace --bins` first")]
    fn a_missing_binary_names_the_fix() {
        binary_path("no-such-rdapfleet-binary");
    }
}
