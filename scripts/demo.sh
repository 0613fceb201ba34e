#!/usr/bin/env bash
# rdapfleet demo: a whole crawl on loopback, in one command, on a fresh Debian machine.
#
# Installs what is missing (redis-server, jq, curl: apt-get as root, else sudo), builds the
# binaries, starts a Redis master and a read replica, the RDAP simulator on four /8s of the
# real world (RIPE NCC, APNIC, AFRINIC, LACNIC; ARIN's blocks inside APNIC's 1/8 are reached by
# redirect), a lattice2016 seed file restricted to them, the coordinator with a fresh token,
# and four workers, each sending its RDAP queries from its own loopback address (the
# registries' limits are per client address). Shows the crawl's progress on one line, prints
# the coverage, the telemetry and what the simulated registries counted, stops everything it
# started (also on Ctrl-C or an error), and exits 0.
set -euo pipefail

PROG=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$REPO_ROOT/scripts/lib/cluster.sh"

# The slice: RIPE NCC's 2/8, APNIC's 1/8 (with 14 ARIN blocks, e.g. 1.178.8.0/21: the lattice
# reaches them through redirects, as it does APNIC blocks in 2/8 and 191/8), AFRINIC's 41/8
# (unallocated gaps: one 404 per seed there) and LACNIC's 191/8. 90,112 seed addresses, about
# 1,800 networks, 2,600 RDAP requests; AFRINIC's budget bounds the crawl at about 41 s.
SLICES=(2.0.0.0/8 1.0.0.0/8 41.0.0.0/8 191.0.0.0/8)
# Limits per client address in the simulator (REGISTRY=N/UNIT), and a little lower in the
# workers: a polite crawler stays under the limit, so the registries never answer 429. The
# real registries' proportions (LACNIC and AFRINIC the strictest), sped up for a demo.
SIM_RATES=(arin=20/s ripencc=20/s apnic=20/s lacnic=10/s afrinic=10/s)
WORKER_RATES=(arin=18/s ripencc=18/s apnic=18/s lacnic=9/s afrinic=9/s)

usage() {
  cat <<EOF
Usage: $PROG [--release] [--no-build] [--workers N] [--timeout SECONDS] [--keep N]

A demo crawl of a slice of the IPv4 world on loopback: Redis master + replica, rdapfleet-sim
(${SLICES[*]}), the coordinator and N workers (each from its own 127.0.0.X
address), with live progress and a telemetry/coverage summary. Everything it starts is
stopped when it ends, also on Ctrl-C. About one minute once built.

Options:
  --release          build and run release binaries (default: debug, quicker to build)
  --no-build         use the binaries already in target/ (or \$CARGO_TARGET_DIR)
  --workers N        number of workers, 1..=200 (default 4)
  --timeout SECONDS  give up when the crawl is not complete after this long (default 300)
  --keep N           keep the last N run directories under demo-run/ (default 3)
  -h, --help         show this help

Needs: cargo (Rust, https://rustup.rs); redis-server, redis-cli, jq and curl are installed
with apt-get when missing (as root, or with sudo). Loopback only: nothing leaves the machine.
Each run's logs, crawl database and secrets are in demo-run/<time>/ (gitignored).
EOF
}

profile=debug
build=1
workers=4
timeout=300
keep=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --release) profile=release ;;
    --no-build) build=0 ;;
    --workers)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 1 && $2 -le 200 ]] || rf_die "--workers needs a number from 1 to 200"
      workers=$2
      shift
      ;;
    --timeout)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 10 ]] || rf_die "--timeout needs a number of seconds (at least 10)"
      timeout=$2
      shift
      ;;
    --keep)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || rf_die "--keep needs a number (at least 1)"
      keep=$2
      shift
      ;;
    *) rf_die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

cd "$REPO_ROOT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[[ -t 1 ]] || step() { printf '\n== %s\n' "$*"; }

step "1/6 tools"
rf_ensure_tools
rf_ensure_cargo
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), jq, curl, $(cargo --version)"

step "2/6 build ($profile)"
if [[ $build -eq 1 ]]; then
  rf_build "$profile"
else
  RF_BIN="${CARGO_TARGET_DIR:-target}/$profile"
  [[ $RF_BIN == /* ]] || RF_BIN="$PWD/$RF_BIN"
  for b in rdapfleet-sim rdapfleet-seed rdapfleet-coordinator rdapfleet-worker; do
    [[ -x $RF_BIN/$b ]] || rf_die "$RF_BIN/$b not built (run without --no-build)"
  done
  echo "using $RF_BIN"
fi

# The run directory: demo-run/<time>/, the last --keep runs kept.
mkdir -p demo-run
run_dir="demo-run/$(date +%Y%m%d-%H%M%S)-$$"
rf_init "$REPO_ROOT/$run_dir"
rf_install_traps
mapfile -t old_runs < <(find demo-run -mindepth 1 -maxdepth 1 -type d -name '20*' | sort -r | tail -n +$((keep + 1)))
for d in "${old_runs[@]}"; do rm -rf -- "$d"; done

step "3/6 Redis master and replica"
RF_REDIS_PASSWORD=$(rf_secret 24)
export RF_REDIS_PASSWORD
rf_redis_start redis-master
master_port=$RF_PORT
rf_redis_start redis-replica "$master_port"
replica_port=$RF_PORT
echo "master 127.0.0.1:$master_port, replica 127.0.0.1:$replica_port (password in $run_dir/redis-*/redis.conf)"

step "4/6 simulator and seed file"
sim_args=(serve --listen 127.0.0.1:0 --bootstrap-out "$RF_DIR/bootstrap.json")
for s in "${SLICES[@]}"; do sim_args+=(--only "$s"); done
for r in "${SIM_RATES[@]}"; do sim_args+=(--rate "$r"); done
rf_spawn "$RF_STAGE_SIM" sim "$RF_BIN/rdapfleet-sim" "${sim_args[@]}"
rf_wait_listening sim 120
RF_SIM_ADDR=$RF_ADDR
echo "rdapfleet-sim on $RF_SIM_ADDR: ${SLICES[*]}; limits per client address: ${SIM_RATES[*]}"

RF_DB="$RF_DIR/crawl.sqlite"
# 50-address batches (not the default 1,000): this slice is small, and small batches keep
# every worker busy until the end (see BENCHMARKS.md, crawl efficiency).
seed_args=(generate --out "$RF_DB" --strategy lattice2016 --batch-size 50 --quiet)
for s in "${SLICES[@]}"; do seed_args+=(--include "$s"); done
"$RF_BIN/rdapfleet-seed" "${seed_args[@]}" || rf_die "rdapfleet-seed generate failed"
seeds=$(rf_status | jq -r '.seed_ips')
batches=$(rf_status | jq -r '.batches.total')
echo "seed file: the 2016 lattice inside those /8s: $(rf_num "$seeds") addresses in $batches batches"

step "5/6 coordinator and $workers workers"
token_file="$RF_DIR/token"
(
  umask 077
  rf_secret 32 >"$token_file"
)
# The Redis password reaches the coordinator and the workers through the environment, not argv.
RDAPFLEET_REDIS="redis://:$RF_REDIS_PASSWORD@127.0.0.1:$master_port" \
  rf_spawn "$RF_STAGE_COORDINATOR" coordinator "$RF_BIN/rdapfleet-coordinator" serve \
  --db "$RF_DB" --listen 127.0.0.1:0 --token-file "$token_file"
coord_pid=$RF_LAST_PID
rf_wait_listening coordinator 60
coord_addr=$RF_ADDR
echo "coordinator on $coord_addr (token in $run_dir/token)"
worker_pids=()
for ((i = 0; i < workers; i++)); do
  src="127.0.0.$((i + 2))"
  args=(run --coordinator "http://$coord_addr" --token-file "$token_file"
    --bootstrap "$RF_DIR/bootstrap.json" --worker-id "demo-worker-$((i + 1))"
    --bind-address "$src" --batches 16 --telemetry-interval 5s)
  for r in "${WORKER_RATES[@]}"; do args+=(--rate "$r"); done
  RDAPFLEET_REDIS="redis://:$RF_REDIS_PASSWORD@127.0.0.1:$replica_port" \
    rf_spawn "$RF_STAGE_WORKER" "worker-$((i + 1))" "$RF_BIN/rdapfleet-worker" "${args[@]}"
  worker_pids+=("$RF_LAST_PID")
done
echo "workers demo-worker-1..$workers from 127.0.0.2..127.0.0.$((workers + 1)), tailing the replica; limits per worker: ${WORKER_RATES[*]}"

step "6/6 crawl"
now_ms() { local t=${EPOCHREALTIME/./}; printf '%s\n' $((t / 1000)); }
t0=$(now_ms)
prev_q=0
prev_t=$t0
last_print=0
complete=false
tty=0
[[ -t 1 ]] && tty=1
while :; do
  status=$(rf_status) || rf_die "rdapfleet-coordinator status failed"
  IFS=$'\t' read -r total settled skipped not_found failed networks complete b_done b_total < <(
    jq -r '[.seed_ips, .outcomes.total, .outcomes.skipped, .outcomes.not_found,
            .outcomes.failed, .networks, .crawl_complete, .batches.done, .batches.total] | @tsv' <<<"$status"
  )
  IFS=$'\t' read -r queries limited < <(rf_sim_stats 0 | jq -r '[.queries, .rate_limited] | @tsv')
  now=$(now_ms)
  elapsed=$(((now - t0) / 1000))
  rate=0
  if ((now > prev_t)); then rate=$(((queries - prev_q) * 1000 / (now - prev_t))); fi
  prev_q=$queries
  prev_t=$now
  pct=$((total > 0 ? settled * 100 / total : 100))
  line=$(printf '[%3ds] %3d%%  %s networks  %3d req/s  429s %s  404s %s  failed %s  skipped %s of %s IPs  batches %s/%s' \
    "$elapsed" "$pct" "$(rf_num "$networks")" "$rate" "$limited" "$(rf_num "$not_found")" "$failed" \
    "$(rf_num "$skipped")" "$(rf_num "$total")" "$b_done" "$b_total")
  if [[ $complete == true ]]; then
    if [[ $tty -eq 1 ]]; then printf '\r\033[K%s\n' "$line"; else printf '%s\n' "$line"; fi
    break
  fi
  if [[ $tty -eq 1 ]]; then
    printf '\r\033[K%s' "${line:0:$(($(tput cols 2>/dev/null || echo 200) - 1))}"
  elif ((elapsed - last_print >= 10)); then
    printf '%s\n' "$line"
    last_print=$elapsed
  fi
  rf_running "$coord_pid" || {
    echo
    rf_log_tail coordinator
    rf_die "the coordinator exited"
  }
  rf_running "$(rf_pid_of sim)" || {
    echo
    rf_log_tail sim
    rf_die "the simulator exited"
  }
  for i in "${!worker_pids[@]}"; do
    rf_running "${worker_pids[i]}" || {
      echo
      rf_log_tail "worker-$((i + 1))"
      rf_die "worker-$((i + 1)) exited during the crawl"
    }
  done
  ((elapsed < timeout)) || {
    echo
    rf_die "the crawl did not complete within $timeout s (--timeout); logs in $run_dir"
  }
  sleep 1
done
crawl_ms=$(($(now_ms) - t0))
printf 'crawl complete in %d.%d s\n' $((crawl_ms / 1000)) $((crawl_ms % 1000 / 100))

step "telemetry (rdapfleet-coordinator telemetry --db $run_dir/crawl.sqlite --per-node)"
# Workers report every 5 s: wait (at most 15 s) until their reports count every request the
# simulator answered, so the totals are complete while the rates are still live.
sim_queries=$(rf_sim_stats 0 | jq -r .queries)
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
  reported=$("$RF_BIN/rdapfleet-coordinator" telemetry --db "$RF_DB" --json 2>/dev/null | jq -r '.totals.requests // 0') || reported=0
  ((reported >= sim_queries)) && break
  sleep 1
done
"$RF_BIN/rdapfleet-coordinator" telemetry --db "$RF_DB" --per-node ||
  rf_say "telemetry report failed (see above)"

# Workers drain on SIGTERM (final telemetry, leases returned) and exit 0.
rf_stop_stage "$RF_STAGE_WORKER" 30
codes=()
for pid in "${worker_pids[@]}"; do codes+=("$(rf_exit_code "$pid")"); done
echo
echo "workers stopped (SIGTERM), exit codes: ${codes[*]}"

step "coverage (rdapfleet-coordinator coverage --db $run_dir/crawl.sqlite --top 10)"
"$RF_BIN/rdapfleet-coordinator" coverage --db "$RF_DB" --top 10 ||
  rf_say "coverage report failed (see above)"

step "what the registries saw (rdapfleet-sim's own counters, GET /_sim/stats)"
rf_sim_stats 0 | jq -r '
  def r3: . * 1000 | round / 1000;
  "requests        \(.queries)  (" + ([.registries | to_entries[] | select(.value.queries > 0)
                     | "\(.key) \(.value.queries)"] | join(", ")) + ")",
  "answers (200)   \(.answers) for \(.distinct_networks_served) distinct networks: \(.answers_per_distinct_network // 0 | r3) per network (2016: 2.53)",
  "not found (404) \(.not_found)    redirects \(.redirects)    rate limited (429) \(.rate_limited)",
  "most answers for one network: \(.max_answers_per_network)"'

status=$(rf_status)
lost=$(jq -r '.seed_ips - .outcomes.total' <<<"$status")
failed=$(jq -r '.outcomes.failed' <<<"$status")
echo "seed addresses without an outcome: $lost; failed: $failed"

step "done"
echo "crawl database: $run_dir/crawl.sqlite (logs beside it). Explore it, e.g.:"
echo "  $RF_BIN/rdapfleet-coordinator export --db $run_dir/crawl.sqlite --networks --out - | head -3"
echo "  $RF_BIN/rdapfleet-coordinator lookup --db $run_dir/crawl.sqlite 1.178.12.1 41.0.0.1"
echo "stopping the coordinator, the simulator and Redis"
[[ $lost -eq 0 ]] || rf_die "$lost seed addresses have no outcome"
