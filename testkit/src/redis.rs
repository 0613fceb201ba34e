//! [`RedisServer`]: a throwaway `redis-server` on a free loopback port, in its own temp dir,
//! without persistence; optionally a replica of another, optionally with a password.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::net::free_port;
use crate::process::ChildProcess;
use crate::wait::wait_until;

/// The `redis-server` program (Debian's package installs it here).
pub const REDIS_SERVER: &str = "redis-server";

/// How to start a [`RedisServer`].
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Start as a read replica of the master on this port (127.0.0.1).
    pub replica_of: Option<u16>,
    /// `requirepass` for clients.
    pub password: Option<String>,
    /// `masterauth`: the master's password (replicas).
    pub master_password: Option<String>,
}

/// A running `redis-server`; killed (SIGKILL) and reaped on drop.
pub struct RedisServer {
    child: ChildProcess,
    port: u16,
    password: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// A reply of the minimal RESP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and friends.
    Status(String),
    /// `-ERR ...`.
    Error(String),
    /// `:42`.
    Int(i64),
    /// `$...` (None for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*...` (None for the null array).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text (status, error, integer or bulk string).
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Int(i) => i.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) | Reply::Array(None) => String::new(),
            Reply::Array(Some(items)) => {
                items.iter().map(Reply::text).collect::<Vec<_>>().join("\n")
            }
        }
    }
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad RESP line {line:?}"),
        )
    };
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(rest.parse().map_err(|_| bad())?),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Reply::Bulk(None)
            } else {
                let mut buf = vec![0; usize::try_from(n).map_err(|_| bad())? + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(buf.len() - 2);
                Reply::Bulk(Some(buf))
            }
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Reply::Array(None)
            } else {
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(read_reply(r)?);
                }
                Reply::Array(Some(items))
            }
        }
        _ => return Err(bad()),
    })
}

/// The `redis-server` command line for `port`, data in `dir`, per `options`.
fn redis_command(port: u16, dir: &std::path::Path, options: &RedisOptions) -> Command {
    let mut cmd = Command::new(REDIS_SERVER);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync-delay", "0"])
        .args(["--daemonize", "no", "--logfile", ""]);
    if let Some(p) = &options.password {
        cmd.args(["--requirepass", p]);
    }
    if let Some(p) = &options.master_password {
        cmd.args(["--masterauth", p]);
    }
    if let Some(master) = options.replica_of {
        cmd.args(["--replicaof", "127.0.0.1", &master.to_string()]);
    }
    cmd
}

impl RedisServer {
    /// A master without password.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    /// Start with `options`; waits until it answers PING (and, for a replica, until its link
    /// to the master is up). Retries on another port if the chosen one was taken meanwhile.
    pub fn start_with(options: RedisOptions) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let mut server = Self::launch(free_port(), &options);
            if server.wait_up() {
                server.wait_linked(&options, Duration::from_secs(10));
                return server;
            }
            last = server.child.log_tail(30);
        }
        panic!("redis-server did not start\n{last}");
    }

    /// Spawn `redis-server` on `port` with a fresh data directory (not waiting for it).
    fn launch(port: u16, options: &RedisOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rdapfleet-redis-")
            .tempdir()
            .expect("temp dir for redis-server");
        RedisServer {
            child: ChildProcess::spawn("redis-server", redis_command(port, dir.path(), options)),
            port,
            password: options.password.clone(),
            _dir: Some(dir),
        }
    }

    /// Wait until the server answers PING; false when it exited or never answered.
    fn wait_up(&mut self) -> bool {
        wait_until(Duration::from_secs(10), || {
            self.command(&["PING"])
                .is_ok_and(|r| r == Reply::Status("PONG".into()))
                || !self.child.is_running()
        }) && self.child.is_running()
    }

    /// For a replica (`options.replica_of`), wait until its link to the master is up; panics
    /// with the log tail when it is not within `timeout`.
    fn wait_linked(&self, options: &RedisOptions, timeout: Duration) {
        if options.replica_of.is_none() {
            return;
        }
        let linked = wait_until(timeout, || {
            self.command(&["INFO", "replication"])
                .is_ok_and(|r| r.text().contains("master_link_status:up"))
        });
        assert!(
            linked,
            "redis replica on port {} never linked to its master\n{}",
            self.port,
            self.child.log_tail(30)
        );
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[:password@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Run one command on a new connection (authenticating first when a password is set).
    pub fn command(&self, args: &[&str]) -> std::io::Result<Reply> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut w = stream.try_clone()?;
        let mut r = BufReader::new(stream);
        let send = |w: &mut TcpStream, args: &[&str]| -> std::io::Result<()> {
            let mut buf = format!("*{}\r\n", args.len()).into_bytes();
            for a in args {
                buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                buf.extend_from_slice(a.as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            w.write_all(&buf)
        };
        if let Some(p) = &self.password {
            send(&mut w, &["AUTH", p])?;
            read_reply(&mut r)?;
        }
        send(&mut w, args)?;
        read_reply(&mut r)
    }

    /// The process (to kill, signal or read its log).
    pub fn process(&mut self) -> &mut ChildProcess {
        &mut self.child
    }

    /// SIGKILL the server and reap it.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_running()
    }

    /// Start the server again on the same port with `options` (SIGKILLing it first if it
    /// still runs), empty, as after a crash without persistence. Waits until it answers PING
    /// and, when `options.replica_of` is set, until its link to the master is up (a replica
    /// needs a running master for that). Panics with the log tail when it does not come up.
    pub fn restart(&mut self, options: RedisOptions) {
        self.child.kill();
        *self = Self::launch(self.port, &options);
        let up = self.wait_up();
        assert!(
            up,
            "redis-server did not restart on port {}\n{}",
            self.port,
            self.child.log_tail(30)
        );
        self.wait_linked(&options, Duration::from_secs(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_and_replica() {
        let master = RedisServer::start();
        assert_eq!(
            master.command(&["SET", "k", "v"]).unwrap(),
            Reply::Status("OK".into())
        );
        let replica = RedisServer::start_with(RedisOptions {
            replica_of: Some(master.port()),
            ..Default::default()
        });
        assert!(wait_until(Duration::from_secs(10), || {
            replica
                .command(&["GET", "k"])
                .is_ok_and(|r| r.text() == "v")
        }));
        assert!(
            matches!(replica.command(&["SET", "x", "1"]).unwrap(), Reply::Error(e) if e.starts_with("READONLY"))
        );
    }

    #[test]
    fn password() {
        let server = RedisServer::start_with(RedisOptions {
            password: Some("s3cret".into()),
            ..Default::default()
        });
        assert!(server.url().contains(":s3cret@"));
        assert_eq!(
            server.command(&["PING"]).unwrap(),
            Reply::Status("PONG".into())
        );
        let stranger = RedisServer {
            child: ChildProcess::spawn("true", Command::new("true")),
            port: server.port(),
            password: None,
            _dir: None,
        };
        assert!(
            matches!(stranger.command(&["GET", "k"]).unwrap(), Reply::Error(e) if e.starts_with("NOAUTH"))
        );
    }
}
