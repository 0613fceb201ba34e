#!/usr/bin/env python3
"""Render the rdapfleet role templates with the real Ansible and check them.

Run from anywhere (scripts/check-ops.sh runs it with the .venv-ops Python):

    python3 ansible/tests/test_render.py [--keep]

1. ansible-playbook tests/render.yml renders every role template (systemd
   units, environment files, Redis configurations, the first-boot script) into
   a temporary directory, with loopback addresses and free ports.
2. Checks, each printed as PASS/FAIL/SKIP with a reason:
   - the environment files carry exactly the settings the binaries read;
   - `systemd-analyze verify` accepts every unit (in a temporary root that
     holds the host's system units, the rendered units and, for ExecStart path
     checks only, placeholder executables for the not yet installed binaries),
     and `systemd-analyze security --offline` rates the services' exposure;
   - a real redis-server (loopback, free ports, temporary directory) runs the
     rendered master configuration, refuses clients without the password,
     and a second one runs the rendered replica configuration against it:
     master_link_status:up, the coverage stream replicated, read-only, and a
     replica with a wrong masterauth never links;
   - the first-boot script turns user data into the same environment file,
     token and replica settings that Ansible renders, and refuses bad user data;
     it fetches the user data over IMDSv2 from a loopback stand-in of the
     metadata service (waiting until it answers), and takes the user data
     that launch-spot-fleet.sh writes;
   - the SQLite backup script takes consistent backups of a WAL database while
     another process keeps writing to it.
3. Ends with one line: "render: N passed, N failed, N skipped".

Exit status: 0 when nothing failed, 1 otherwise.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ANSIBLE_DIR = os.path.dirname(HERE)

TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"
REDIS_PASSWORD = "test-redis-password-0123456789"

COORDINATOR_KEYS = [
    "RDAPFLEET_DB",
    "RDAPFLEET_LISTEN",
    "RDAPFLEET_REDIS",
    "RDAPFLEET_TOKEN_FILE",
    "RDAPFLEET_METRICS_LISTEN",
    "RDAPFLEET_LEASE_TTL",
    "RDAPFLEET_HEARTBEAT_INTERVAL",
    "RDAPFLEET_SKIP_POLICY",
    "RDAPFLEET_LOG_FORMAT",
    "RUST_LOG",
]
COORDINATOR_TLS_KEYS = ["RDAPFLEET_TLS_CERT", "RDAPFLEET_TLS_KEY", "RDAPFLEET_TLS_CLIENT_CA"]
WORKER_KEYS = [
    "RDAPFLEET_COORDINATOR",
    "RDAPFLEET_REDIS",
    "RDAPFLEET_TOKEN_FILE",
    "RDAPFLEET_RATE",
    "RDAPFLEET_SPOT_INTERRUPTION",
    "RDAPFLEET_METRICS_LISTEN",
    "RDAPFLEET_LOG_FORMAT",
    "RUST_LOG",
]


class Skip(Exception):
    """A check that cannot run here, with the reason."""


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def run(self, name, func, *args):
        started = time.monotonic()
        try:
            func(*args)
        except Skip as reason:
            self.skipped += 1
            print(f"SKIP {name}: {reason}", flush=True)
            return
        except Exception as err:  # a failed check, whatever raised
            self.failed += 1
            print(f"FAIL {name}: {err}", flush=True)
            if not isinstance(err, AssertionError):
                traceback.print_exc()
            return
        self.passed += 1
        print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_env(path):
    """Parse a systemd EnvironmentFile the way systemd does for our subset."""
    values = {}
    with open(path) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            match = re.fullmatch(r'([A-Z_][A-Z0-9_]*)=(?:"([^"\\$`]*)"|([^"\s]*))', line)
            assert match, f"{path}: not a KEY=VALUE or KEY=\"VALUE\" line: {line!r}"
            values[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return values


def content_lines(path):
    with open(path) as handle:
        return [line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#")]


# ---------------------------------------------------------------- rendering


def render(out, ports):
    ansible_playbook = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which(
        "ansible-playbook"
    )
    if ansible_playbook is None:
        raise AssertionError("ansible-playbook not found (run scripts/check-ops.sh, it makes .venv-ops)")
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": os.path.join(ANSIBLE_DIR, "ansible.cfg"),
            "ANSIBLE_CACHE_PLUGIN": "memory",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": os.path.join(out, ".ansible-tmp"),
            "ANSIBLE_HOME": os.path.join(out, ".ansible-home"),
        }
    )
    cmd = [
        ansible_playbook,
        "-i",
        os.path.join(HERE, "inventory.yml"),
        os.path.join(HERE, "render.yml"),
        "-e",
        f"render_dir={out}",
        "-e",
        f"render_master_port={ports['master']}",
        "-e",
        f"render_replica_port={ports['replica']}",
        "-e",
        f"render_imds_port={ports['imds']}",
    ]
    proc = subprocess.run(cmd, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"ansible-playbook failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    for sub in ("site", "tls", "baked"):
        assert os.listdir(os.path.join(out, sub)), f"nothing rendered into {sub}/"


# ------------------------------------------------------ environment files


def check_env_files(out, ports):
    coord = read_env(os.path.join(out, "site", "coordinator.env"))
    assert list(coord) == COORDINATOR_KEYS, f"coordinator.env keys {list(coord)} != {COORDINATOR_KEYS}"
    assert coord["RDAPFLEET_DB"] == "/var/lib/rdapfleet/crawl.sqlite", coord["RDAPFLEET_DB"]
    assert coord["RDAPFLEET_LISTEN"] == "127.0.0.1:50051", coord["RDAPFLEET_LISTEN"]
    assert coord["RDAPFLEET_REDIS"] == f"redis://:{REDIS_PASSWORD}@127.0.0.1:{ports['master']}"
    assert coord["RDAPFLEET_TOKEN_FILE"] == "/etc/rdapfleet/token"
    assert coord["RDAPFLEET_METRICS_LISTEN"].startswith("127.0.0.1:")
    assert coord["RDAPFLEET_LEASE_TTL"] == "5m" and coord["RDAPFLEET_HEARTBEAT_INTERVAL"] == "30s"
    assert coord["RDAPFLEET_SKIP_POLICY"] == "covered" and coord["RDAPFLEET_LOG_FORMAT"] == "json"

    coord_tls = read_env(os.path.join(out, "tls", "coordinator.env"))
    expected = COORDINATOR_KEYS[:4] + COORDINATOR_TLS_KEYS + COORDINATOR_KEYS[4:]
    assert list(coord_tls) == expected, f"TLS coordinator.env keys {list(coord_tls)} != {expected}"

    worker = read_env(os.path.join(out, "site", "worker.env"))
    assert list(worker) == WORKER_KEYS, f"worker.env keys {list(worker)} != {WORKER_KEYS}"
    assert worker["RDAPFLEET_COORDINATOR"] == "http://127.0.0.1:50051", worker["RDAPFLEET_COORDINATOR"]
    assert worker["RDAPFLEET_REDIS"] == f"redis://:{REDIS_PASSWORD}@127.0.0.1:{ports['replica']}"
    assert "lacnic=9/min,900/h" in worker["RDAPFLEET_RATE"], worker["RDAPFLEET_RATE"]
    assert worker["RDAPFLEET_SPOT_INTERRUPTION"] == "true"
    assert worker["RDAPFLEET_METRICS_LISTEN"].startswith("127.0.0.1:")

    worker_tls = read_env(os.path.join(out, "tls", "worker.env"))
    assert worker_tls["RDAPFLEET_COORDINATOR"] == "https://127.0.0.1:50051", worker_tls["RDAPFLEET_COORDINATOR"]
    assert worker_tls["RDAPFLEET_TLS_CA"] == "/etc/rdapfleet/tls/ca.crt"
    # Mutual TLS: the worker presents its own certificate (the coordinator has a client CA).
    assert worker_tls["RDAPFLEET_TLS_CERT"] == "/etc/rdapfleet/tls/worker.crt", worker_tls
    assert worker_tls["RDAPFLEET_TLS_KEY"] == "/etc/rdapfleet/tls/worker.key", worker_tls
    assert "RDAPFLEET_TLS_CERT" not in worker, "no client certificate unless one is given"


# ---------------------------------------------------------------- systemd

PLACEHOLDER = "#!/bin/sh\n# Placeholder so that systemd-analyze verify can check the ExecStart path.\nexit 0\n"


def systemd_root(out, name, units, dropins):
    root = os.path.join(out, f"systemd-root-{name}")
    system_units = "/usr/lib/systemd/system"
    shutil.copytree(system_units, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    etc = os.path.join(root, "etc/systemd/system")
    os.makedirs(etc)
    for src, dest in units:
        shutil.copy(src, os.path.join(etc, dest))
    for src, unit, dest in dropins:
        os.makedirs(os.path.join(etc, unit + ".d"), exist_ok=True)
        shutil.copy(src, os.path.join(etc, unit + ".d", dest))
    executables = {
        "/usr/local/bin/rdapfleet-coordinator": PLACEHOLDER,
        "/usr/local/bin/rdapfleet-worker": PLACEHOLDER,
        "/usr/bin/python3": PLACEHOLDER,
        "/usr/local/sbin/rdapfleet-worker-configure": open(os.path.join(out, "baked", "rdapfleet-worker-configure.sh")).read(),
    }
    # The redis-server unit's own ExecStart.
    executables["/usr/bin/redis-server"] = PLACEHOLDER
    for path, content in executables.items():
        target = root + path
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(content)
        os.chmod(target, 0o755)
    return root


def check_systemd_verify(out):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise Skip("systemd-analyze is not installed (Debian package systemd)")
    if not os.path.exists("/usr/lib/systemd/system/redis-server.service"):
        raise Skip("redis-server.service is not installed (Debian package redis-server)")
    site = os.path.join(out, "site")
    baked = os.path.join(out, "baked")
    roots = {
        "site": (
            [
                (os.path.join(site, "rdapfleet-coordinator.service"), "rdapfleet-coordinator.service"),
                (os.path.join(site, "rdapfleet-backup.service"), "rdapfleet-backup.service"),
                (os.path.join(site, "rdapfleet-backup.timer"), "rdapfleet-backup.timer"),
                (os.path.join(site, "rdapfleet-worker.service"), "rdapfleet-worker.service"),
            ],
            [(os.path.join(site, "redis-dropin.conf"), "redis-server.service", "10-rdapfleet.conf")],
            ["rdapfleet-coordinator.service", "rdapfleet-backup.service", "rdapfleet-backup.timer", "rdapfleet-worker.service",
             "redis-server.service"],
        ),
        "baked": (
            [
                (os.path.join(baked, "rdapfleet-worker.service"), "rdapfleet-worker.service"),
                (os.path.join(baked, "rdapfleet-worker-configure.service"), "rdapfleet-worker-configure.service"),
            ],
            [(os.path.join(baked, "redis-configure-dropin.conf"), "redis-server.service", "20-rdapfleet-configure.conf")],
            ["rdapfleet-worker.service", "rdapfleet-worker-configure.service", "redis-server.service"],
        ),
    }
    for name, (units, dropins, verify) in roots.items():
        root = systemd_root(out, name, units, dropins)
        proc = subprocess.run(
            [analyze, "verify", f"--root={root}", *verify], capture_output=True, text=True, timeout=120
        )
        output = (proc.stdout + proc.stderr).strip()
        assert proc.returncode == 0 and not output, f"systemd-analyze verify ({name}) exited {proc.returncode}:\n{output}"
        print(f"     systemd-analyze verify ({name}): {' '.join(verify)}: clean")


def check_systemd_security(out):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise Skip("systemd-analyze is not installed (Debian package systemd)")
    root = os.path.join(out, "systemd-root-site")
    if not os.path.isdir(root):
        raise Skip("the systemd verify check did not build its root")
    threshold = 2.0
    for unit in ("rdapfleet-coordinator.service", "rdapfleet-worker.service", "rdapfleet-backup.service"):
        proc = subprocess.run(
            [analyze, "security", "--offline=true", f"--root={root}", "--no-pager", unit],
            capture_output=True,
            text=True,
            timeout=120,
        )
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
        assert match, f"no exposure level for {unit}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        level = float(match.group(1))
        assert proc.returncode == 0, f"systemd-analyze security {unit} exited {proc.returncode}: {proc.stderr}"
        assert level <= threshold, f"{unit}: exposure {level} > {threshold}:\n{proc.stdout}"
        print(f"     systemd-analyze security {unit}: exposure {level} (threshold {threshold})")


# ------------------------------------------------------------------ redis


class Redis:
    def __init__(self, conf, port, log):
        self.port = port
        self.log = log
        self.proc = subprocess.Popen(
            ["redis-server", conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )

    def cli(self, *args, password=REDIS_PASSWORD):
        cmd = ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", str(self.port)]
        if password is not None:
            cmd += ["-a", password]
        proc = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10)
        return (proc.stdout + proc.stderr).strip()

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self):
        try:
            with open(self.log) as handle:
                return "".join(handle.readlines()[-15:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def check_redis(out, ports):
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise Skip("redis-server/redis-cli are not installed (Debian package redis-server)")
    site = os.path.join(out, "site")
    master_dir = os.path.join(out, "redis-master")
    replica_dir = os.path.join(out, "redis-replica")
    # The replica's per-host part is included from redis_replica_runtime_file.
    shutil.copy(os.path.join(site, "redis-replica-runtime.conf"), os.path.join(replica_dir, "runtime.conf"))
    running = []
    try:
        master = Redis(os.path.join(site, "redis-master.conf"), ports["master"], os.path.join(master_dir, "redis.log"))
        running.append(master)
        try:
            wait_until(lambda: master.cli("PING") == "PONG", 20, "the master to answer PING with the password")
        except AssertionError as err:
            raise AssertionError(f"{err}; master log:\n{master.log_tail()}") from None
        refused = master.cli("PING", password=None)
        assert "NOAUTH" in refused, f"master answered an unauthenticated PING: {refused!r}"
        wrong = master.cli("PING", password="wrong-password-000000")
        assert "WRONGPASS" in wrong, f"master accepted a wrong password: {wrong!r}"
        assert master.cli("CONFIG", "GET", "protected-mode").split() == ["protected-mode", "yes"]
        assert master.cli("CONFIG", "GET", "bind").split() == ["bind", "127.0.0.1"]
        assert master.cli("CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
        assert master.cli("CONFIG", "GET", "maxmemory-policy").split() == ["maxmemory-policy", "noeviction"]
        print(f"     master on 127.0.0.1:{ports['master']}: PONG with the password, NOAUTH/WRONGPASS without")

        replica = Redis(os.path.join(site, "redis-replica.conf"), ports["replica"], os.path.join(replica_dir, "redis.log"))
        running.append(replica)

        def link_up():
            return "master_link_status:up" in replica.cli("INFO", "replication")

        try:
            wait_until(link_up, 30, "master_link_status:up on the replica")
        except AssertionError as err:
            raise AssertionError(f"{err}; replica log:\n{replica.log_tail()}") from None
        info = replica.cli("INFO", "replication")
        assert "role:slave" in info, info
        refused = replica.cli("PING", password=None)
        assert "NOAUTH" in refused, f"replica answered an unauthenticated PING: {refused!r}"
        entry = master.cli("XADD", "rdapfleet:coverage", "*", "r", "test-record")
        assert re.fullmatch(r"\d+-\d+", entry), f"XADD on the master: {entry!r}"
        wait_until(lambda: replica.cli("XLEN", "rdapfleet:coverage") == "1", 10, "the stream entry on the replica")
        readonly = replica.cli("SET", "x", "1")
        assert "READONLY" in readonly, f"the replica accepted a write: {readonly!r}"
        print(
            f"     replica on 127.0.0.1:{ports['replica']}: master_link_status:up, stream entry {entry} replicated, "
            "READONLY, NOAUTH without the password"
        )

        # A replica with a wrong masterauth must never link.
        bad_port = free_port()
        bad_dir = os.path.join(out, "redis-bad-replica")
        os.makedirs(bad_dir)
        with open(os.path.join(site, "redis-replica.conf")) as handle:
            conf = handle.read()
        conf = conf.replace(replica_dir, bad_dir).replace(f"port {ports['replica']}", f"port {bad_port}")
        with open(os.path.join(bad_dir, "redis.conf"), "w") as handle:
            handle.write(conf)
        with open(os.path.join(bad_dir, "runtime.conf"), "w") as handle:
            handle.write(
                f"replicaof 127.0.0.1 {ports['master']}\nmasterauth wrong-password-000000\nrequirepass {REDIS_PASSWORD}\n"
            )
        bad = Redis(os.path.join(bad_dir, "redis.conf"), bad_port, os.path.join(bad_dir, "redis.log"))
        running.append(bad)

        def auth_refused():
            return "Unable to AUTH to MASTER" in bad.log_tail()

        wait_until(auth_refused, 20, "the master to refuse a replica with a wrong masterauth")
        assert "master_link_status:up" not in bad.cli("INFO", "replication")
        print("     replica with a wrong masterauth: refused by the master, link down")
        for server in running:
            assert server.alive(), f"redis on port {server.port} died:\n{server.log_tail()}"
    finally:
        for server in running:
            server.stop()


# ------------------------------------------------------- first-boot script


def run_configure(out, user_data, root):
    path = os.path.join(out, "user-data-" + os.path.basename(root))
    with open(path, "w") as handle:
        handle.write(user_data)
    script = os.path.join(out, "baked", "rdapfleet-worker-configure.sh")
    return subprocess.run(
        ["bash", script, "--user-data-file", path, "--root", root], capture_output=True, text=True, timeout=60
    )


def check_configure_script(out, ports):
    runtime_file = os.path.join(out, "redis-replica", "runtime.conf")
    base = (
        "# rdapfleet worker user data v1\n"
        "RDAPFLEET_COORDINATOR_ADDRESS=127.0.0.1\n"
        "RDAPFLEET_COORDINATOR_PORT=50051\n"
        f"RDAPFLEET_TOKEN={TOKEN}\n"
        f"RDAPFLEET_REDIS_PASSWORD={REDIS_PASSWORD}\n"
        f"RDAPFLEET_REDIS_MASTER_PORT={ports['master']}\n"
    )
    # Plain: must equal what site.yml renders.
    root = os.path.join(out, "configure-plain")
    proc = run_configure(out, base, root)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    got = content_lines(root + "/etc/rdapfleet/worker.env")
    want = content_lines(os.path.join(out, "site", "worker.env"))
    assert got == want, f"worker.env from user data differs from Ansible's:\n{got}\n!=\n{want}"
    got = content_lines(root + runtime_file)
    want = content_lines(os.path.join(out, "site", "redis-replica-runtime.conf"))
    assert got == want, f"replica settings from user data differ from Ansible's:\n{got}\n!=\n{want}"
    with open(root + "/etc/rdapfleet/token") as handle:
        assert handle.read() == TOKEN, "token file content"
    for path in ("/etc/rdapfleet/worker.env", "/etc/rdapfleet/token", runtime_file):
        mode = stat.S_IMODE(os.stat(root + path).st_mode)
        assert mode == 0o640, f"{path} has mode {oct(mode)}, want 0o640"
    assert not os.path.exists(root + "/etc/rdapfleet/tls/ca.crt")

    # TLS with a CA: must equal the TLS rendering.
    pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIEtest\n-----END PRIVATE KEY-----\n"
    b64 = lambda text: base64.b64encode(text.encode()).decode()
    tls = (
        base
        + "RDAPFLEET_COORDINATOR_TLS=true\n"
        + f"RDAPFLEET_TLS_CA_PEM_B64={b64(pem)}\n"
        + f"RDAPFLEET_TLS_CERT_PEM_B64={b64(pem)}\n"
        + f"RDAPFLEET_TLS_KEY_PEM_B64={b64(key)}\n"
    )
    root = os.path.join(out, "configure-tls")
    proc = run_configure(out, tls, root)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    got = content_lines(root + "/etc/rdapfleet/worker.env")
    want = content_lines(os.path.join(out, "tls", "worker.env"))
    assert got == want, f"TLS worker.env from user data differs from Ansible's:\n{got}\n!=\n{want}"
    with open(root + "/etc/rdapfleet/tls/ca.crt") as handle:
        assert handle.read() == pem
    with open(root + "/etc/rdapfleet/tls/worker.key") as handle:
        assert handle.read() == key
    mode = stat.S_IMODE(os.stat(root + "/etc/rdapfleet/tls/worker.key").st_mode)
    assert mode == 0o640, f"worker.key has mode {oct(mode)}"

    # A rate override, CRLF line ends and an unknown key (warned, ignored).
    root = os.path.join(out, "configure-rate")
    proc = run_configure(out, (base + "RDAPFLEET_RATE=lacnic=5/min arin=2/s\nRDAPFLEET_FUTURE=1\n").replace("\n", "\r\n"), root)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert "ignoring unknown user data key RDAPFLEET_FUTURE" in proc.stderr, proc.stderr
    assert read_env(root + "/etc/rdapfleet/worker.env")["RDAPFLEET_RATE"] == "lacnic=5/min arin=2/s"

    # Bad user data: a clear message, exit 1, nothing written.
    bad_cases = {
        "missing token": (base.replace(f"RDAPFLEET_TOKEN={TOKEN}\n", ""), "lacks RDAPFLEET_TOKEN"),
        "short password": (base.replace(REDIS_PASSWORD, "short"), "RDAPFLEET_REDIS_PASSWORD must be"),
        "not key=value": (base + "this is not a setting\n", "is not KEY=VALUE"),
        "shell in a value": (base + "RDAPFLEET_RATE=$(touch /tmp/rdapfleet-pwned)\n", "RDAPFLEET_RATE"),
        "bad port": (base.replace("RDAPFLEET_COORDINATOR_PORT=50051", "RDAPFLEET_COORDINATOR_PORT=70000"), "port '70000'"),
        "bad address": (base.replace("ADDRESS=127.0.0.1", "ADDRESS=1.2.3.4;reboot"), "not an IPv4 address"),
        "ca not pem": (base + "RDAPFLEET_TLS_CA_PEM_B64=" + base64.b64encode(b"hello").decode() + "\n", "PEM"),
    }
    for name, (user_data, message) in bad_cases.items():
        root = os.path.join(out, "configure-bad-" + name.replace(" ", "-"))
        proc = run_configure(out, user_data, root)
        assert proc.returncode == 1, f"{name}: exit {proc.returncode}, want 1 ({proc.stderr})"
        assert message in proc.stderr and "rdapfleet-worker-configure: error:" in proc.stderr, f"{name}: {proc.stderr!r}"
        assert not os.path.exists(root + "/etc/rdapfleet/worker.env"), f"{name}: wrote a worker.env"
    assert not os.path.exists("/tmp/rdapfleet-pwned"), "a user data value was executed"
    help_proc = subprocess.run(
        ["bash", os.path.join(out, "baked", "rdapfleet-worker-configure.sh"), "--help"], capture_output=True, text=True
    )
    assert help_proc.returncode == 0 and "--user-data-file" in help_proc.stdout, help_proc.stdout
    print(f"     user data -> the same worker.env, token and replica settings as Ansible; {len(bad_cases)} bad inputs refused")


class Imds:
    """A loopback stand-in for the EC2 instance metadata service, IMDSv2 rules:
    PUT /latest/api/token with a TTL header gives a session token; GET
    /latest/user-data needs that token in X-aws-ec2-metadata-token (401
    without); 404 when the instance has no user data."""

    def __init__(self, port, user_data):
        import http.server
        import threading

        imds = self
        self.user_data = user_data
        self.token = "imds-session-token-" + os.urandom(8).hex()
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body=b""):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                imds.requests.append(("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    self.reply(200, imds.token.encode())
                else:
                    self.reply(400)

            def do_GET(self):
                token = self.headers.get("X-aws-ec2-metadata-token")
                imds.requests.append(("GET", self.path, token))
                if token != imds.token:
                    self.reply(401)
                elif self.path != "/latest/user-data" or imds.user_data is None:
                    self.reply(404)
                else:
                    self.reply(200, imds.user_data.encode())

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def check_configure_from_imds(out, ports):
    script = os.path.join(out, "baked", "rdapfleet-worker-configure.sh")
    user_data = (
        "# rdapfleet worker user data v1\n"
        "RDAPFLEET_COORDINATOR_ADDRESS=10.0.1.10\n"
        f"RDAPFLEET_TOKEN={TOKEN}\n"
        f"RDAPFLEET_REDIS_PASSWORD={REDIS_PASSWORD}\n"
    )
    # Started before the metadata service answers: it must keep trying.
    root = os.path.join(out, "configure-imds")
    proc = subprocess.Popen(["bash", script, "--root", root], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    assert proc.poll() is None, f"the script gave up before the metadata service came up: {proc.communicate()}"
    imds = Imds(ports["imds"], user_data)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        imds.stop()
    assert proc.returncode == 0, f"exit {proc.returncode}: {stderr}"
    env = read_env(root + "/etc/rdapfleet/worker.env")
    assert env["RDAPFLEET_COORDINATOR"] == "http://10.0.1.10:50051", env
    with open(root + "/etc/rdapfleet/token") as handle:
        assert handle.read() == TOKEN
    methods = [request[0] for request in imds.requests]
    assert methods[0] == "PUT" and "GET" in methods, imds.requests
    assert all(request[2] == imds.token for request in imds.requests if request[0] == "GET"), "a GET without the session token"
    # No user data: one clear line, exit 1.
    imds = Imds(ports["imds"], None)
    try:
        proc = subprocess.run(["bash", script, "--root", os.path.join(out, "configure-imds-none")],
                              capture_output=True, text=True, timeout=30)
    finally:
        imds.stop()
    assert proc.returncode == 1 and "has no user data" in proc.stderr, f"{proc.returncode}: {proc.stderr}"
    print("     IMDSv2: waited for the metadata service, session token on every GET, 404 -> a clear error")


def check_launch_user_data(out):
    """The user data that launch-spot-fleet.sh writes configures a baked worker."""
    secrets = os.path.join(out, "secrets")
    os.makedirs(secrets)
    with open(os.path.join(secrets, "token"), "w") as handle:
        handle.write(TOKEN)
    with open(os.path.join(secrets, "redis_password"), "w") as handle:
        handle.write(REDIS_PASSWORD)
    launch = os.path.join(os.path.dirname(ANSIBLE_DIR), "scripts", "launch-spot-fleet.sh")
    proc = subprocess.run(
        [launch, "--dry-run", "--secrets-dir", secrets, "--ami", "ami-0123456789abcdef0", "--count", "2",
         "--coordinator-ip", "10.0.1.10", "--subnets", "subnet-0aaa1111", "--security-group", "sg-0123abcd",
         "--rate", "lacnic=9/min,900/h arin=5/s"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, f"launch-spot-fleet.sh --dry-run exited {proc.returncode}: {proc.stderr}"
    doc = json.loads(proc.stdout)
    user_data = base64.b64decode(doc["create_launch_template"]["LaunchTemplateData"]["UserData"]).decode()
    root = os.path.join(out, "configure-launch")
    proc = run_configure(out, user_data, root)
    assert proc.returncode == 0, f"the first-boot script refused the launcher's user data: {proc.stderr}"
    env = read_env(root + "/etc/rdapfleet/worker.env")
    assert env["RDAPFLEET_COORDINATOR"] == "http://10.0.1.10:50051", env
    assert env["RDAPFLEET_RATE"] == "lacnic=9/min,900/h arin=5/s", env
    assert env["RDAPFLEET_REDIS"].startswith(f"redis://:{REDIS_PASSWORD}@127.0.0.1:"), env
    runtime = content_lines(root + os.path.join(out, "redis-replica", "runtime.conf"))
    assert runtime == ["replicaof 10.0.1.10 6379", f"masterauth {REDIS_PASSWORD}", f"requirepass {REDIS_PASSWORD}"], runtime
    with open(root + "/etc/rdapfleet/token") as handle:
        assert handle.read() == TOKEN


def check_rendered_scripts_shellcheck(out):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        raise Skip("shellcheck is not installed (Debian package shellcheck)")
    scripts = [os.path.join(out, "baked", "rdapfleet-worker-configure.sh"), os.path.join(out, "site", "rdapfleet-ctl.sh")]
    proc = subprocess.run([shellcheck, "--shell=bash", *scripts], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------- backups

WRITER = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("PRAGMA busy_timeout = 30000")
deadline = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < deadline:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO outcome (payload) VALUES (randomblob(300))")
    db.execute("INSERT INTO outcome (payload) VALUES (randomblob(300))")
    db.execute("UPDATE counter SET n = n + 1")
    db.execute("COMMIT")
    n += 1
print(n)
"""


def check_backup_script(out):
    script = os.path.join(ANSIBLE_DIR, "roles", "coordinator", "files", "sqlite-backup.py")
    work = os.path.join(out, "backup")
    dest = os.path.join(work, "backups")
    os.makedirs(dest)
    db_path = os.path.join(work, "crawl.sqlite")
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE outcome (id INTEGER PRIMARY KEY, payload BLOB)")
    db.execute("CREATE TABLE counter (n INTEGER)")
    db.execute("INSERT INTO counter VALUES (0)")
    # Start consistent: 2 rows per counter step.
    db.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40000) "
               "INSERT INTO outcome (payload) SELECT randomblob(300) FROM s")
    db.execute("UPDATE counter SET n = 20000")
    db.commit()
    db.close()

    writer = subprocess.Popen([sys.executable, "-c", WRITER, db_path, "6"], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):
            proc = subprocess.run(
                [sys.executable, script, "--db", db_path, "--dest-dir", dest, "--keep", "2"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0, f"backup exited {proc.returncode}: {proc.stderr}"
            assert "quick_check ok" in proc.stdout, proc.stdout
            latest = os.path.join(dest, "latest.sqlite")
            copy = sqlite3.connect(f"file:{latest}?mode=ro", uri=True)
            try:
                rows = copy.execute("SELECT count(*) FROM outcome").fetchone()[0]
                steps = copy.execute("SELECT n FROM counter").fetchone()[0]
                mode = copy.execute("PRAGMA journal_mode").fetchone()[0]
            finally:
                copy.close()
            assert rows == 2 * steps, f"inconsistent snapshot: {rows} rows for counter {steps}"
            assert mode == "delete", f"backup journal mode {mode}"
            time.sleep(0.3)
    finally:
        written = writer.communicate(timeout=60)[0].strip()
    assert writer.returncode == 0, "the writer failed"
    assert int(written) > 0, "the writer wrote nothing during the backups"
    kept = sorted(name for name in os.listdir(dest) if name.startswith("crawl-"))
    assert len(kept) == 2, f"kept {kept}, want the newest 2"
    assert os.readlink(os.path.join(dest, "latest.sqlite")) == kept[-1]
    assert not [name for name in os.listdir(dest) if name.endswith(".partial")]
    missing = subprocess.run(
        [sys.executable, script, "--db", os.path.join(work, "nope.sqlite"), "--dest-dir", dest],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and "no database" in missing.stderr, missing.stderr
    print(f"     3 consistent backups while another process committed {written} transactions; newest 2 kept")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="rdapfleet-render-")
    ports = {}
    for name in ("master", "replica", "imds"):
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    results = Results()
    started = time.monotonic()
    try:
        results.run("render role templates with ansible-playbook", render, out, ports)
        if results.failed:
            print("render: cannot check templates that did not render")
        else:
            results.run("environment files carry the binaries' settings", check_env_files, out, ports)
            results.run("systemd-analyze verify on the rendered units", check_systemd_verify, out)
            results.run("systemd-analyze security (offline) exposure", check_systemd_security, out)
            results.run("redis-server runs the rendered master and replica configs", check_redis, out, ports)
            results.run("first-boot script matches Ansible and refuses bad user data", check_configure_script, out, ports)
            results.run("first-boot script reads user data over IMDSv2 (loopback simulator)", check_configure_from_imds, out, ports)
            results.run("launch-spot-fleet.sh user data configures a baked worker", check_launch_user_data, out)
            results.run("shellcheck on the rendered scripts", check_rendered_scripts_shellcheck, out)
        results.run("SQLite online backup of a busy WAL database", check_backup_script, out)
    finally:
        if args.keep:
            print(f"render: kept {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)
    print(f"render: checks took {time.monotonic() - started:.0f}s")
    print(f"render: {results.passed} passed, {results.failed} failed, {results.skipped} skipped")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
