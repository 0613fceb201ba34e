//! [`TestCluster`]: a whole rdapfleet on loopback, from real processes: a `redis-server`
//! master and read replicas, `rdapfleet-sim` on a slice of the world, a seed file, the
//! coordinator, and N workers (each tailing its own replica). Every process is SIGKILLed and
//! reaped on drop; a failing test prints each one's log tail.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{ChildProcess, binary_path};
use crate::redis::{RedisOptions, RedisServer, Reply};
use crate::wait::wait_until;

/// The token every process of a test cluster shares.
pub const TEST_TOKEN: &str = "rdapfleet-test-token-0123456789abcdef";

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `--only` slices of the simulator's world.
    pub sim_only: Vec<String>,
    /// Extra simulator flags (rate limits, faults).
    pub sim_args: Vec<String>,
    /// `rdapfleet-seed generate` flags after `--out` (strategy, includes, batch size).
    pub seed_args: Vec<String>,
    /// Extra coordinator `serve` flags.
    pub coordinator_args: Vec<String>,
    /// Number of workers.
    pub workers: usize,
    /// Number of Redis replicas (workers use them round-robin); at least one.
    pub replicas: usize,
    /// Extra worker `run` flags.
    pub worker_args: Vec<String>,
    /// Redis password (requirepass on all, masterauth on replicas).
    pub redis_password: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            sim_only: Vec::new(),
            sim_args: Vec::new(),
            seed_args: vec!["--strategy".into(), "lattice2016".into()],
            coordinator_args: Vec::new(),
            workers: 2,
            replicas: 2,
            worker_args: Vec::new(),
            redis_password: None,
        }
    }
}

/// Rate flags that lift the worker's polite defaults for a local world.
pub fn unlimited_rates() -> Vec<String> {
    ["arin", "ripencc", "apnic", "lacnic", "afrinic"]
        .iter()
        .flat_map(|r| ["--rate".to_string(), format!("{r}=unlimited")])
        .collect()
}

/// A running cluster.
pub struct TestCluster {
    /// Options it was started with.
    pub options: ClusterOptions,
    dir: tempfile::TempDir,
    /// The Redis master (beside the coordinator).
    pub master: RedisServer,
    /// The read replicas (one per worker host).
    pub replicas: Vec<RedisServer>,
    /// The simulator.
    pub sim: ChildProcess,
    /// The simulator's address.
    pub sim_addr: SocketAddr,
    /// The RFC 9224 file the simulator wrote.
    pub bootstrap: PathBuf,
    /// The crawl database.
    pub db: PathBuf,
    /// The shared token file.
    pub token_file: PathBuf,
    /// The coordinator, while running.
    pub coordinator: Option<ChildProcess>,
    /// Its address (kept across restarts).
    pub coordinator_addr: Option<SocketAddr>,
    /// The workers (None once killed or stopped).
    pub workers: Vec<Option<ChildProcess>>,
}

fn redis_url(server: &RedisServer, password: Option<&str>) -> String {
    match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{}", server.port()),
        None => format!("redis://127.0.0.1:{}", server.port()),
    }
}

impl TestCluster {
    /// Start Redis, the simulator, write the seed file, start the coordinator and the workers.
    pub fn start(options: ClusterOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rdapfleet-cluster-")
            .tempdir()
            .expect("temp dir");
        let master = RedisServer::start_with(RedisOptions {
            password: options.redis_password.clone(),
            ..Default::default()
        });
        let replicas = (0..options.replicas.max(1))
            .map(|_| {
                RedisServer::start_with(RedisOptions {
                    replica_of: Some(master.port()),
                    password: options.redis_password.clone(),
                    master_password: options.redis_password.clone(),
                })
            })
            .collect();
        let bootstrap = dir.path().join("bootstrap.json");
        let mut sim_args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--bootstrap-out".into(),
            bootstrap.display().to_string(),
        ];
        for o in &options.sim_only {
            sim_args.extend(["--only".to_string(), o.clone()]);
        }
        sim_args.extend(options.sim_args.iter().cloned());
        let mut sim = ChildProcess::start("rdapfleet-sim", &sim_args);
        let sim_addr = sim.wait_for_listening(Duration::from_secs(60));
        let db = dir.path().join("crawl.sqlite");
        let out = Command::new(binary_path("rdapfleet-seed"))
            .arg("generate")
            .arg("--out")
            .arg(&db)
            .arg("--quiet")
            .args(&options.seed_args)
            .output()
            .expect("run rdapfleet-seed");
        assert!(
            out.status.success(),
            "seed generation failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, TEST_TOKEN).expect("write token file");
        let workers = (0..options.workers).map(|_| None).collect();
        let mut cluster = TestCluster {
            options,
            dir,
            master,
            replicas,
            sim,
            sim_addr,
            bootstrap,
            db,
            token_file,
            coordinator: None,
            coordinator_addr: None,
            workers,
        };
        cluster.start_coordinator();
        for i in 0..cluster.workers.len() {
            cluster.start_worker(i);
        }
        cluster
    }

    /// The cluster's temp directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Start (or restart, on the same port) the coordinator.
    pub fn start_coordinator(&mut self) {
        let listen = self
            .coordinator_addr
            .map_or_else(|| "127.0.0.1:0".to_string(), |a| a.to_string());
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--db".into(),
            self.db.display().to_string(),
            "--listen".into(),
            listen,
            "--redis".into(),
            redis_url(&self.master, self.options.redis_password.as_deref()),
            "--token-file".into(),
            self.token_file.display().to_string(),
        ];
        // Quick timings for tests; a flag in `coordinator_args` replaces its default here.
        let defaults = [
            ("--lease-ttl", "6s"),
            ("--heartbeat-interval", "1s"),
            ("--reaper-interval", "500ms"),
            ("--retry-delay", "1s"),
            ("--max-batches-per-worker", "64"),
        ];
        for (flag, value) in defaults {
            if !self.options.coordinator_args.iter().any(|a| a == flag) {
                args.extend([flag.to_string(), value.to_string()]);
            }
        }
        args.extend(self.options.coordinator_args.iter().cloned());
        let mut child = ChildProcess::start("rdapfleet-coordinator", &args);
        let addr = child.wait_for_listening(Duration::from_secs(60));
        self.coordinator_addr = Some(addr);
        self.coordinator = Some(child);
    }

    /// SIGKILL the coordinator.
    pub fn kill_coordinator(&mut self) {
        if let Some(mut c) = self.coordinator.take() {
            c.kill();
        }
    }

    /// Start worker `i` (tailing replica `i % replicas`).
    pub fn start_worker(&mut self, i: usize) {
        let addr = self.coordinator_addr.expect("coordinator started first");
        let replica = &self.replicas[i % self.replicas.len()];
        let mut args: Vec<String> = vec![
            "run".into(),
            "--coordinator".into(),
            format!("http://{addr}"),
            "--redis".into(),
            redis_url(replica, self.options.redis_password.as_deref()),
            "--bootstrap".into(),
            self.bootstrap.display().to_string(),
            "--worker-id".into(),
            format!("worker-{i}"),
            "--token-file".into(),
            self.token_file.display().to_string(),
            "--flush-after".into(),
            "200ms".into(),
            "--telemetry-interval".into(),
            "2s".into(),
        ];
        args.extend(self.options.worker_args.iter().cloned());
        self.workers[i] = Some(ChildProcess::start("rdapfleet-worker", &args));
    }

    /// Start one more worker (a replacement spot instance with a new identity,
    /// `worker-<index>`); returns its index.
    pub fn add_worker(&mut self) -> usize {
        self.workers.push(None);
        let i = self.workers.len() - 1;
        self.start_worker(i);
        i
    }

    /// How many workers are running (a worker that exited, say on a bad flag, is not).
    pub fn workers_running(&mut self) -> usize {
        self.workers
            .iter_mut()
            .flatten()
            .map(|w| usize::from(w.is_running()))
            .sum()
    }

    /// SIGKILL worker `i` (a lost spot instance).
    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut w) = self.workers[i].take() {
            w.kill();
        }
    }

    /// SIGTERM worker `i` and wait for its exit code.
    pub fn stop_worker(&mut self, i: usize, timeout: Duration) -> Option<i32> {
        let mut w = self.workers[i].take()?;
        w.terminate();
        let status = w.wait_exit(timeout);
        self.workers[i] = Some(w);
        status.and_then(|s| s.code())
    }

    /// How the master was started (and is restarted).
    fn master_options(&self) -> RedisOptions {
        RedisOptions {
            password: self.options.redis_password.clone(),
            ..Default::default()
        }
    }

    /// How the replicas were started (and are restarted).
    fn replica_options(&self) -> RedisOptions {
        RedisOptions {
            replica_of: Some(self.master.port()),
            password: self.options.redis_password.clone(),
            master_password: self.options.redis_password.clone(),
        }
    }

    /// SIGKILL Redis replica `i` (the worker tailing it loses its coverage log).
    pub fn stop_replica(&mut self, i: usize) {
        self.replicas[i].kill();
    }

    /// Start Redis replica `i` again on its port, empty; returns once it has linked to the
    /// master (and so holds the master's data again).
    pub fn restart_replica(&mut self, i: usize) {
        let options = self.replica_options();
        self.replicas[i].restart(options);
    }

    /// SIGKILL the Redis master (the coordinator's coverage publisher loses it).
    pub fn stop_master(&mut self) {
        self.master.kill();
    }

    /// Start the Redis master again on its port, empty (no persistence, as after a crash);
    /// returns once every running replica has linked to it again.
    pub fn restart_master(&mut self) {
        let options = self.master_options();
        self.master.restart(options);
        for replica in &mut self.replicas {
            if !replica.is_running() {
                continue;
            }
            let linked = wait_until(Duration::from_secs(30), || {
                replica
                    .command(&["INFO", "replication"])
                    .is_ok_and(|r| r.text().contains("master_link_status:up"))
            });
            assert!(
                linked,
                "replica on port {} did not link to the restarted master\n{}",
                replica.port(),
                replica.process().log_tail(30)
            );
        }
    }

    /// `rdapfleet-coordinator status --json`.
    pub fn status(&self) -> serde_json::Value {
        let out = Command::new(binary_path("rdapfleet-coordinator"))
            .args(["status", "--json", "--db"])
            .arg(&self.db)
            .output()
            .expect("run rdapfleet-coordinator status");
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    /// Wait until every seed IP has a final outcome.
    pub fn wait_complete(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.status()["crawl_complete"].as_bool() == Some(true)
        })
    }

    /// `GET path` on the simulator, parsed as JSON.
    pub fn sim_get(&self, path: &str) -> serde_json::Value {
        let body = http_get(self.sim_addr, path).expect("GET on the simulator");
        serde_json::from_str(&body).expect("simulator JSON")
    }

    /// The simulator's ground truth for `ips` (one JSON object per IP).
    pub fn truth(&self, ips: &[std::net::Ipv4Addr]) -> Vec<serde_json::Value> {
        let mut cmd = Command::new(binary_path("rdapfleet-sim"));
        cmd.arg("truth");
        for o in &self.options.sim_only {
            cmd.args(["--only", o]);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run rdapfleet-sim truth");
        let input: String = ips.iter().map(|ip| format!("{ip}\n")).collect();
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("truth output");
        writer.join().expect("writer thread").expect("write IPs");
        assert!(out.status.success(), "truth failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("truth line is JSON"))
            .collect()
    }

    /// Every coverage record on a Redis server's stream, as raw entry values.
    pub fn coverage_entries(server: &RedisServer, stream: &str) -> Vec<Vec<u8>> {
        let reply = server
            .command(&["XRANGE", stream, "-", "+"])
            .expect("XRANGE");
        let mut out = Vec::new();
        if let Reply::Array(Some(entries)) = reply {
            for e in entries {
                if let Reply::Array(Some(parts)) = e
                    && let Some(Reply::Array(Some(fields))) = parts.get(1)
                {
                    for pair in fields.chunks(2) {
                        if let [_, Reply::Bulk(Some(v))] = pair {
                            out.push(v.clone());
                        }
                    }
                }
            }
        }
        out
    }
}

/// A plain HTTP/1.0 GET on loopback (the server closes the connection after its answer).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok(body)
}
