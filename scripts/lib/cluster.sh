# shellcheck shell=bash disable=SC2034  # (RF_* results are read by the caller)
# A whole rdapfleet on loopback from shell: what scripts/demo.sh and scripts/bench-crawl.sh
# share. Sourced, never run. The caller sets PROG (its name, for messages) and `set -euo
# pipefail`, then calls rf_init DIR and installs the traps with rf_install_traps.
#
# Every process is started with rf_spawn, which remembers its pid and a stop stage; rf_cleanup
# (the EXIT trap) stops them by pid, highest stage first (workers, then the coordinator, the
# simulator, the replicas, the master): SIGTERM, a grace period, then SIGKILL.
#
# Functions (all prefixed rf_):
#   rf_init DIR                  run directory (logs, databases, Redis dirs, secrets)
#   rf_install_traps             EXIT -> rf_cleanup; INT/TERM -> exit 130/143 (which cleans up)
#   rf_apt_install PKG...        apt-get install as root (or with sudo), or a clear message
#   rf_ensure_commands CMD:PKG.. install the Debian package of each missing command
#   rf_ensure_tools              rf_ensure_commands for redis-server, redis-cli, jq, curl
#   rf_ensure_cargo              cargo present, or a clear message
#   rf_build PROFILE             cargo build --bins (debug or release); sets RF_BIN
#   rf_spawn STAGE NAME CMD...   start CMD in the background, logs in DIR/NAME.{out,err}
#   rf_wait_listening NAME       wait for `listening on ADDR` on NAME's stdout; sets RF_ADDR
#   rf_redis_master / rf_redis_replica MASTER_PORT   start Redis; sets RF_PORT
#   rf_redis PORT ARGS...        redis-cli with the password (from the environment)
#   rf_status                    rdapfleet-coordinator status --json
#   rf_sim_stats                 GET /_sim/stats?networks=0 (or with networks: rf_sim_stats 1)
#   rf_stop_stage STAGE [GRACE]  stop every process of a stage (SIGTERM, then SIGKILL)

RF_DIR=""
RF_BIN=""
RF_ADDR=""
RF_PORT=""
RF_PIDS=()
RF_NAMES=()
RF_STAGES=()

# Stop stages: higher stops first.
RF_STAGE_REDIS_MASTER=1
RF_STAGE_REDIS_REPLICA=2
RF_STAGE_SIM=3
RF_STAGE_COORDINATOR=4
RF_STAGE_WORKER=5

rf_say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
rf_die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

rf_init() {
  RF_DIR=$1
  mkdir -p "$RF_DIR"
  chmod 700 "$RF_DIR"
}

rf_install_traps() {
  trap rf_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Run a command as root: directly when root, else through sudo.
rf_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

# apt-get install PACKAGES (as root, else with sudo), or a clear message saying what to do.
rf_apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    rf_die "no apt-get here: install $* (Debian package names) and run again"
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    rf_die "run as root, or install sudo, or run: apt-get update && apt-get install -y $*"
  fi
  rf_say "installing $* (apt-get)"
  rf_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
    rf_die "apt-get update failed (run it by hand: apt-get update && apt-get install -y $*)"
  rf_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    rf_die "apt-get install $* failed"
}

# Install the Debian package of each command that is missing: rf_ensure_commands CMD:PACKAGE...
rf_ensure_commands() {
  local pair cmds=() pkgs=()
  for pair in "$@"; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1; then
      cmds+=("${pair%%:*}")
      pkgs+=("${pair#*:}")
    fi
  done
  [[ ${#pkgs[@]} -eq 0 ]] && return 0
  rf_say "missing ${cmds[*]}"
  rf_apt_install "${pkgs[@]}"
  local c
  for c in "${cmds[@]}"; do
    command -v "$c" >/dev/null 2>&1 || rf_die "$c still missing after apt-get install"
  done
}

# The commands the demo and the benchmark use.
rf_ensure_tools() {
  rf_ensure_commands redis-server:redis-server redis-cli:redis-tools jq:jq curl:curl
}

rf_ensure_cargo() {
  command -v cargo >/dev/null 2>&1 ||
    rf_die "cargo not found: install Rust (https://rustup.rs, then open a new shell) and run again"
}

# cargo build --bins in the repository (the caller's cwd); RF_BIN = the directory of the binaries.
rf_build() {
  local profile=$1 args=(build --bins) t0
  [[ $profile == release ]] && args+=(--release)
  rf_say "building the binaries (cargo ${args[*]}; the first build takes several minutes)"
  t0=$SECONDS
  cargo "${args[@]}" || rf_die "cargo ${args[*]} failed"
  RF_BIN="${CARGO_TARGET_DIR:-target}/$profile"
  [[ $RF_BIN == /* ]] || RF_BIN="$PWD/$RF_BIN"
  local b
  for b in rdapfleet-sim rdapfleet-seed rdapfleet-coordinator rdapfleet-worker; do
    [[ -x $RF_BIN/$b ]] || rf_die "$RF_BIN/$b missing after the build"
  done
  rf_say "built in $((SECONDS - t0)) s: $RF_BIN"
}

# rf_spawn STAGE NAME CMD... : start CMD in the background (stdin closed), stdout and stderr to
# DIR/NAME.out and DIR/NAME.err; remembers its pid (RF_LAST_PID).
rf_spawn() {
  local stage=$1 name=$2
  shift 2
  "$@" </dev/null >"$RF_DIR/$name.out" 2>"$RF_DIR/$name.err" &
  RF_LAST_PID=$!
  RF_PIDS+=("$RF_LAST_PID")
  RF_NAMES+=("$name")
  RF_STAGES+=("$stage")
}

rf_pid_of() {
  local i
  for i in "${!RF_NAMES[@]}"; do
    if [[ ${RF_NAMES[i]} == "$1" ]]; then
      printf '%s\n' "${RF_PIDS[i]}"
      return 0
    fi
  done
  return 1
}

rf_running() { kill -0 "$1" 2>/dev/null; }

rf_log_tail() {
  local name=$1
  printf -- '----- %s stdout (last lines) -----\n' "$name" >&2
  tail -n 15 "$RF_DIR/$name.out" >&2 2>/dev/null || true
  printf -- '----- %s stderr (last lines) -----\n' "$name" >&2
  tail -n 25 "$RF_DIR/$name.err" >&2 2>/dev/null || true
}

# rf_wait_listening NAME [TIMEOUT]: wait for NAME's `listening on ADDR` line; RF_ADDR=ADDR.
rf_wait_listening() {
  local name=$1 timeout=${2:-60} pid line deadline
  pid=$(rf_pid_of "$name")
  deadline=$((SECONDS + timeout))
  while :; do
    line=$(grep -m1 '^listening on ' "$RF_DIR/$name.out" 2>/dev/null || true)
    if [[ -n $line ]]; then
      RF_ADDR=${line#listening on }
      return 0
    fi
    if ! rf_running "$pid"; then
      rf_log_tail "$name"
      rf_die "$name exited before listening (logs: $RF_DIR/$name.err)"
    fi
    if ((SECONDS >= deadline)); then
      rf_log_tail "$name"
      rf_die "$name did not listen within ${timeout} s"
    fi
    sleep 0.1
  done
}

rf_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# redis-cli against 127.0.0.1:PORT with the password in RF_REDIS_PASSWORD (kept out of argv).
rf_redis() {
  local port=$1
  shift
  REDISCLI_AUTH=$RF_REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# rf_redis_start NAME [MASTER_PORT]: a redis-server on a free port, config (with the
# password) in its own directory; retries on another port if the one chosen was taken.
rf_redis_start() {
  local name=$1 master=${2:-} stage=$RF_STAGE_REDIS_MASTER dir port try pid deadline
  [[ -n $master ]] && stage=$RF_STAGE_REDIS_REPLICA
  dir="$RF_DIR/$name"
  mkdir -p "$dir"
  {
    printf 'bind 127.0.0.1\nprotected-mode yes\ndaemonize no\n'
    printf 'dir %s\n' "$dir"
    printf 'save ""\nappendonly no\nrepl-diskless-sync-delay 0\n'
    printf 'requirepass %s\nmasterauth %s\n' "$RF_REDIS_PASSWORD" "$RF_REDIS_PASSWORD"
    [[ -n $master ]] && printf 'replicaof 127.0.0.1 %s\n' "$master"
  } >"$dir/redis.conf"
  chmod 600 "$dir/redis.conf"
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    rf_port_busy "$port" && continue
    rf_spawn "$stage" "$name" redis-server "$dir/redis.conf" --port "$port"
    pid=$RF_LAST_PID
    deadline=$((SECONDS + 10))
    while rf_running "$pid" && ((SECONDS < deadline)); do
      if [[ $(rf_redis "$port" ping 2>/dev/null) == PONG ]]; then
        if [[ -n $master ]]; then
          while ((SECONDS < deadline)); do
            rf_redis "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' && break
            sleep 0.1
          done
          rf_redis "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' ||
            rf_die "$name on port $port never linked to its master (log: $RF_DIR/$name.out)"
        fi
        RF_PORT=$port
        return 0
      fi
      sleep 0.1
    done
    rf_stop_pid "$pid" 2
    [[ $try -lt 8 ]] && rf_say "$name did not start on port $port (attempt $try), trying another"
  done
  rf_log_tail "$name"
  rf_die "redis-server ($name) did not start"
}

rf_redis_offset() { rf_redis "$1" info replication | tr -d '\r' | sed -n 's/^master_repl_offset://p'; }

rf_status() { "$RF_BIN/rdapfleet-coordinator" status --json --db "$RF_DB"; }

rf_sim_stats() {
  local networks=${1:-0}
  curl -fsS --max-time 30 "http://$RF_SIM_ADDR/_sim/stats?networks=$networks"
}

# VmHWM (peak resident set) of a pid, in KiB.
rf_vmhwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true; }

# rf_stop_pid PID GRACE: SIGTERM, wait up to GRACE seconds, then SIGKILL; reaps it.
rf_stop_pid() {
  local pid=$1 grace=${2:-10} deadline
  rf_running "$pid" || {
    wait "$pid" 2>/dev/null || true
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while rf_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  rf_running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# rf_stop_stage STAGE [GRACE]: SIGTERM every live process of the stage at once, wait for them
# (up to GRACE seconds), SIGKILL the rest. Prints nothing; exit codes via rf_exit_code.
declare -A RF_EXIT=()
rf_stop_stage() {
  local stage=$1 grace=${2:-10} i pid deadline code
  local pids=()
  for i in "${!RF_PIDS[@]}"; do
    [[ ${RF_STAGES[i]} == "$stage" ]] || continue
    pid=${RF_PIDS[i]}
    [[ -n ${RF_EXIT[$pid]:-} ]] && continue
    pids+=("$pid")
    kill -TERM "$pid" 2>/dev/null || true
  done
  [[ ${#pids[@]} -eq 0 ]] && return 0
  deadline=$((SECONDS + grace))
  for pid in "${pids[@]}"; do
    while rf_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if rf_running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    code=0
    wait "$pid" 2>/dev/null || code=$?
    RF_EXIT[$pid]=$code
  done
}

rf_exit_code() { printf '%s\n' "${RF_EXIT[$1]:-running}"; }

rf_cleanup() {
  local rc=$? stage
  trap - EXIT INT TERM
  set +e
  if [[ ${#RF_PIDS[@]} -gt 0 ]]; then
    for stage in "$RF_STAGE_WORKER" "$RF_STAGE_COORDINATOR" "$RF_STAGE_SIM" \
      "$RF_STAGE_REDIS_REPLICA" "$RF_STAGE_REDIS_MASTER"; do
      rf_stop_stage "$stage" 15
    done
  fi
  if [[ $rc -ne 0 && -n $RF_DIR ]]; then
    [[ -t 1 ]] && printf '\n'
    printf '%s: stopped everything it started; logs are in %s\n' "$PROG" "$RF_DIR" >&2
  fi
  exit "$rc"
}

# Group digits: 1234567 -> 1,234,567.
rf_num() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[,.]\)/\1,\2\3/;ta'; }

# A random hex secret of N bytes.
rf_secret() { od -An -N"${1:-24}" -tx1 /dev/urandom | tr -d ' \n'; }
