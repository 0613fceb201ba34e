#!/usr/bin/env bash
# Crawl efficiency benchmark: a real crawl on loopback, measured from the outside.
#
# For each skip policy asked for (covered, leaf): a fresh Redis master with one read replica per
# worker, rdapfleet-sim on a slice of the world with per-client-address rate limits, a
# lattice2016 seed file of the slice, the coordinator, and N workers, each with its own
# loopback source address and limits a little below the simulator's. When every seed address
# has its outcome, the figures come from the simulator's counters (GET /_sim/stats), its
# request log and ground truth (`rdapfleet-sim truth`), Redis' replication offset, /proc and
# the coordinator's status — never from the crawler's own telemetry:
#
#   answers (HTTP 200) per distinct network found        target (covered) <= 1.05
#   404s per unallocated seed address                                     <= 1
#   redirects per network found in transferred space                       <= 1.05
#     (one per lookup there: a network looked up twice is redirected twice)
#   networks answered more than once, most answers for one network, 429s
#   crawl time / politeness bound                                          <= 1.15
#     bound = max over registries of requests to it / (rate allowed per worker x workers)
#   bytes replicated per new network (master_repl_offset delta / networks)  <= 64
#   worker peak memory (VmHWM), and seed addresses lost (without an outcome) = 0
set -euo pipefail

PROG=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$REPO_ROOT/scripts/lib/cluster.sh"

# Ten /8s, all five registries: RIPE NCC 2/8 and 5/8; ARIN 8/8, 23/8 (unallocated gaps: one
# 404 per seed there) and 45/8 (mostly held by the other four registries: redirects); APNIC
# 1/8 (ARIN blocks inside) and 27/8; LACNIC 191/8; AFRINIC 41/8 and 196/8 (gaps). 225,280
# seed addresses; under `covered` about 10,700 networks and 19,500 requests (ARIN's budget is
# the bound), under `leaf` 145,000 requests (AFRINIC's).
DEFAULT_SLICES=2.0.0.0/8,5.0.0.0/8,8.0.0.0/8,23.0.0.0/8,45.0.0.0/8,1.0.0.0/8,27.0.0.0/8,191.0.0.0/8,41.0.0.0/8,196.0.0.0/8
DEFAULT_SIM_RATES="arin=50/s ripencc=50/s apnic=50/s lacnic=30/s afrinic=30/s"
DEFAULT_WORKER_RATES="arin=45/s ripencc=45/s apnic=45/s lacnic=27/s afrinic=27/s"

usage() {
  cat <<EOF
Usage: $PROG [options]

Crawl a slice of the simulated world with the real binaries on loopback and report, from the
simulator's counters, how efficient and how polite the crawl was (see the head of this file
for the figures and their targets). Everything it starts is stopped when it ends, also on
Ctrl-C. About 1.5 min (covered) + 5 min (leaf) on a 2-core machine, plus the release build.

Options:
  --policy P             covered, leaf or both (default both, one fresh cluster each)
  --slices LIST          comma-separated /8s (or any CIDRs) for the simulator and the seed file
                         (default $DEFAULT_SLICES)
  --workers N            workers, each with its own 127.0.0.X source address (default 4)
  --batches K            batches each worker walks at once (worker --batches; default 16)
  --max-batches-per-worker N   the coordinator's cap (default 16)
  --batch-size N         seed addresses per batch (rdapfleet-seed --batch-size; default 100)
  --sim-rates "SPECS"    per-client-address limits in the simulator, REGISTRY=N/UNIT each
                         (default "$DEFAULT_SIM_RATES")
  --worker-rates "SPECS" the workers' limits (default "$DEFAULT_WORKER_RATES")
  --debug                debug binaries (default: release)
  --no-build             use the binaries already in target/ (or \$CARGO_TARGET_DIR)
  --timeout SECONDS      give up on a crawl after this long (default 900)
  --json FILE            also write the figures of every run as JSON lines to FILE
  -h, --help             show this help

Needs cargo; redis-server, redis-cli, jq and curl are installed with apt-get when missing.
Run directories (logs, databases, request logs) are kept under bench-run/ (gitignored).
EOF
}

policies=(covered leaf)
slices=$DEFAULT_SLICES
workers=4
batches=16
max_per_worker=16
batch_size=100
sim_rates=$DEFAULT_SIM_RATES
worker_rates=$DEFAULT_WORKER_RATES
profile=release
build=1
timeout=900
json_out=""
num() { [[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || rf_die "$1 needs a positive number"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --policy)
      [[ $# -ge 2 ]] || rf_die "--policy needs covered, leaf or both"
      case "$2" in
        covered | leaf) policies=("$2") ;;
        both) policies=(covered leaf) ;;
        *) rf_die "--policy must be covered, leaf or both, not '$2'" ;;
      esac
      shift
      ;;
    --slices)
      [[ $# -ge 2 && -n $2 ]] || rf_die "--slices needs a comma-separated list of CIDRs"
      slices=$2
      shift
      ;;
    --workers)
      num "$@"
      [[ $2 -le 200 ]] || rf_die "--workers: at most 200"
      workers=$2
      shift
      ;;
    --batches)
      num "$@"
      batches=$2
      shift
      ;;
    --max-batches-per-worker)
      num "$@"
      max_per_worker=$2
      shift
      ;;
    --batch-size)
      num "$@"
      batch_size=$2
      shift
      ;;
    --sim-rates)
      [[ $# -ge 2 ]] || rf_die "--sim-rates needs REGISTRY=N/UNIT specs"
      sim_rates=$2
      shift
      ;;
    --worker-rates)
      [[ $# -ge 2 ]] || rf_die "--worker-rates needs REGISTRY=N/UNIT specs"
      worker_rates=$2
      shift
      ;;
    --debug) profile=debug ;;
    --no-build) build=0 ;;
    --timeout)
      num "$@"
      timeout=$2
      shift
      ;;
    --json)
      [[ $# -ge 2 && -n $2 ]] || rf_die "--json needs a file"
      json_out=$2
      shift
      ;;
    *) rf_die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ -z $json_out || $json_out == /* ]] || json_out="$PWD/$json_out"

REGISTRIES=(arin ripencc apnic lacnic afrinic)

# "arin=45/s ripencc=..." -> per-second rate of REGISTRY (one N/UNIT per registry here).
per_second() {
  local specs=$1 reg=$2 spec n unit
  for spec in $specs; do
    [[ ${spec%%=*} == "$reg" ]] || continue
    [[ $spec =~ ^[a-z]+=([0-9]+)/(s|sec|second|min|minute|h|hour)$ ]] ||
      rf_die "rate '$spec': this benchmark takes one N/s, N/min or N/h per registry"
    n=${BASH_REMATCH[1]}
    unit=${BASH_REMATCH[2]}
    case "$unit" in
      s | sec | second) awk -v n="$n" 'BEGIN { print n }' ;;
      min | minute) awk -v n="$n" 'BEGIN { print n / 60 }' ;;
      h | hour) awk -v n="$n" 'BEGIN { print n / 3600 }' ;;
    esac
    return 0
  done
  rf_die "no rate for $reg in '$specs' (give all five registries)"
}
for reg in "${REGISTRIES[@]}"; do
  per_second "$sim_rates" "$reg" >/dev/null
  per_second "$worker_rates" "$reg" >/dev/null
done

cd "$REPO_ROOT"
rf_ensure_tools
rf_ensure_cargo
if [[ $build -eq 1 ]]; then
  rf_build "$profile"
else
  RF_BIN="${CARGO_TARGET_DIR:-target}/$profile"
  [[ $RF_BIN == /* ]] || RF_BIN="$PWD/$RF_BIN"
fi
for b in rdapfleet-sim rdapfleet-seed rdapfleet-coordinator rdapfleet-worker; do
  [[ -x $RF_BIN/$b ]] || rf_die "$RF_BIN/$b not built (run without --no-build)"
done
IFS=',' read -r -a slice_list <<<"$slices"

mkdir -p bench-run
bench_dir="$REPO_ROOT/bench-run/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$bench_dir"
rf_install_traps
results=()

now_ms() {
  local t=${EPOCHREALTIME/./}
  printf '%s\n' $((t / 1000))
}

# One crawl with policy $1; appends a JSON object of figures to results.
bench_one() {
  local policy=$1 i
  rf_init "$bench_dir/$policy"
  RF_PIDS=()
  RF_NAMES=()
  RF_STAGES=()
  RF_REDIS_PASSWORD=$(rf_secret 24)
  export RF_REDIS_PASSWORD
  rf_say "[$policy] Redis master and $workers replicas"
  rf_redis_start redis-master
  local master_port=$RF_PORT replica_ports=()
  for ((i = 0; i < workers; i++)); do
    rf_redis_start "redis-replica-$((i + 1))" "$master_port"
    replica_ports+=("$RF_PORT")
  done

  local sim_args=(serve --listen 127.0.0.1:0 --bootstrap-out "$RF_DIR/bootstrap.json"
    --request-log "$RF_DIR/requests.jsonl") s r
  for s in "${slice_list[@]}"; do sim_args+=(--only "$s"); done
  for r in $sim_rates; do sim_args+=(--rate "$r"); done
  rf_spawn "$RF_STAGE_SIM" sim "$RF_BIN/rdapfleet-sim" "${sim_args[@]}"
  rf_wait_listening sim 120
  RF_SIM_ADDR=$RF_ADDR

  RF_DB="$RF_DIR/crawl.sqlite"
  local seed_args=(generate --out "$RF_DB" --strategy lattice2016 --batch-size "$batch_size" --quiet)
  for s in "${slice_list[@]}"; do seed_args+=(--include "$s"); done
  "$RF_BIN/rdapfleet-seed" "${seed_args[@]}" || rf_die "rdapfleet-seed generate failed"
  local seeds batches_total
  seeds=$(rf_status | jq -r .seed_ips)
  batches_total=$(rf_status | jq -r .batches.total)
  rf_say "[$policy] simulator on $RF_SIM_ADDR ($slices); $seeds seed addresses in $batches_total batches"

  local token_file="$RF_DIR/token"
  (
    umask 077
    rf_secret 32 >"$token_file"
  )
  local offset0
  offset0=$(rf_redis_offset "$master_port")
  RDAPFLEET_REDIS="redis://:$RF_REDIS_PASSWORD@127.0.0.1:$master_port" \
    rf_spawn "$RF_STAGE_COORDINATOR" coordinator "$RF_BIN/rdapfleet-coordinator" serve \
    --db "$RF_DB" --listen 127.0.0.1:0 --token-file "$token_file" --skip-policy "$policy" \
    --max-batches-per-worker "$max_per_worker"
  local coord_pid=$RF_LAST_PID
  rf_wait_listening coordinator 60
  local coord_addr=$RF_ADDR

  local worker_pids=() t0 args
  t0=$(now_ms)
  for ((i = 0; i < workers; i++)); do
    args=(run --coordinator "http://$coord_addr" --token-file "$token_file"
      --bootstrap "$RF_DIR/bootstrap.json" --worker-id "bench-worker-$((i + 1))"
      --bind-address "127.0.0.$((i + 2))" --batches "$batches" --telemetry-interval 10s)
    for r in $worker_rates; do args+=(--rate "$r"); done
    RDAPFLEET_REDIS="redis://:$RF_REDIS_PASSWORD@127.0.0.1:${replica_ports[i]}" \
      rf_spawn "$RF_STAGE_WORKER" "worker-$((i + 1))" "$RF_BIN/rdapfleet-worker" "${args[@]}"
    worker_pids+=("$RF_LAST_PID")
  done
  rf_say "[$policy] coordinator on $coord_addr; $workers workers (127.0.0.2..127.0.0.$((workers + 1))) crawling"

  # Poll until complete; note when the last batch left the queue.
  local st complete pending settled last_print=0 now t_handed_out="" t1
  while :; do
    st=$(rf_status) || rf_die "status failed"
    IFS=$'\t' read -r complete pending settled < <(jq -r '[.crawl_complete, .batches.pending, .outcomes.total] | @tsv' <<<"$st")
    now=$(now_ms)
    [[ $complete == true ]] && break
    if [[ -z $t_handed_out && $pending -eq 0 ]]; then t_handed_out=$((now - t0)); fi
    if (((now - t0) / 1000 - last_print >= 15)); then
      last_print=$(((now - t0) / 1000))
      rf_say "[$policy] ${last_print}s: $settled/$seeds settled, $pending batches pending"
    fi
    rf_running "$coord_pid" || {
      rf_log_tail coordinator
      rf_die "the coordinator exited"
    }
    for i in "${!worker_pids[@]}"; do
      rf_running "${worker_pids[i]}" || {
        rf_log_tail "worker-$((i + 1))"
        rf_die "worker-$((i + 1)) exited during the crawl"
      }
    done
    (((now - t0) / 1000 < timeout)) || rf_die "[$policy] not complete after $timeout s (logs: $RF_DIR)"
    sleep 0.5
  done
  t1=$((now - t0))
  [[ -n $t_handed_out ]] || t_handed_out=$t1

  # Peak memory of each worker, before stopping them.
  local hwm=() pid
  for pid in "${worker_pids[@]}"; do hwm+=("$(rf_vmhwm_kib "$pid")"); done
  local coord_hwm
  coord_hwm=$(rf_vmhwm_kib "$coord_pid")
  # The coordinator publishes within a second of ingesting; then read the offset.
  sleep 2
  local offset1
  offset1=$(rf_redis_offset "$master_port")
  rf_sim_stats 1 >"$RF_DIR/sim-stats.json"
  rf_status >"$RF_DIR/status.json"
  rf_stop_stage "$RF_STAGE_WORKER" 30
  local codes=()
  for pid in "${worker_pids[@]}"; do codes+=("$(rf_exit_code "$pid")"); done

  # Ground truth: unallocated seed addresses, and which networks lie in transferred space.
  local truth_only=()
  for s in "${slice_list[@]}"; do truth_only+=(--only "$s"); done
  "$RF_BIN/rdapfleet-coordinator" export --db "$RF_DB" --out - --quiet | jq -r .ip |
    "$RF_BIN/rdapfleet-sim" truth "${truth_only[@]}" >"$RF_DIR/truth-seeds.jsonl"
  jq -r '.networks[].start' "$RF_DIR/sim-stats.json" |
    "$RF_BIN/rdapfleet-sim" truth "${truth_only[@]}" >"$RF_DIR/truth-networks.jsonl"
  local unallocated transferred
  unallocated=$(jq -s 'map(select(.allocated == false)) | length' "$RF_DIR/truth-seeds.jsonl")
  # A served network lies in transferred space when its holder is not the /8's registry.
  transferred=$(jq -s --slurpfile stats "$RF_DIR/sim-stats.json" '
      (map({key: .ip, value: .designated}) | from_entries) as $des
      | [$stats[0].networks[] | select($des[.start] != null and $des[.start] != .registry)] | length' \
    "$RF_DIR/truth-networks.jsonl")

  # Requests per registry and its share of the politeness budget, from the request log.
  local wr_json sr_json
  wr_json=$(for reg in "${REGISTRIES[@]}"; do printf '%s %s\n' "$reg" "$(per_second "$worker_rates" "$reg")"; done |
    jq -Rn '[inputs | split(" ") | {key: .[0], value: (.[1] | tonumber)}] | from_entries')
  sr_json=$(for reg in "${REGISTRIES[@]}"; do printf '%s %s\n' "$reg" "$(per_second "$sim_rates" "$reg")"; done |
    jq -Rn '[inputs | split(" ") | {key: .[0], value: (.[1] | tonumber)}] | from_entries')
  local timeline
  timeline=$(jq -c -s --argjson t0 "$((t0))" --argjson wr "$wr_json" --argjson w "$workers" '
      def ms: (.[0:19] + "Z" | fromdate) * 1000 + (.[20:23] | tonumber);
      map({r: .registry, t: ((.time | ms) - $t0), c: .client})
      | group_by(.r)
      | map(.[0].r as $r | {key: $r, value: {
            requests: length,
            first_s: (map(.t) | min / 1000),
            last_s: (map(.t) | max / 1000),
            per_client: (group_by(.c) | map(length)),
            # requests per 5-second window, as a share of the budget (workers x rate)
            use_5s: (map(.t / 5000 | floor | if . < 0 then 0 else . end) as $ks
                     | reduce $ks[] as $k ([range(0; ($ks | max) + 1) | 0]; .[$k] += 1)
                     | map(. / (5 * $w * $wr[$r]))) }})
      | from_entries' "$RF_DIR/requests.jsonl" 2>/dev/null || echo '{}')

  local result
  result=$(jq -n \
    --arg policy "$policy" --arg slices "$slices" --argjson workers "$workers" \
    --argjson batches "$batches" --argjson batch_size "$batch_size" --argjson max_per_worker "$max_per_worker" \
    --arg sim_rates "$sim_rates" --arg worker_rates "$worker_rates" \
    --slurpfile stats "$RF_DIR/sim-stats.json" --slurpfile status "$RF_DIR/status.json" \
    --argjson wr "$wr_json" --argjson sr "$sr_json" --argjson timeline "$timeline" \
    --argjson crawl_ms "$t1" --argjson handed_out_ms "$t_handed_out" \
    --argjson unallocated "$unallocated" --argjson transferred "$transferred" \
    --argjson offset0 "$offset0" --argjson offset1 "$offset1" \
    --arg hwm "${hwm[*]}" --arg coord_hwm "$coord_hwm" --arg codes "${codes[*]}" '
    $stats[0] as $s | $status[0] as $st
    | ($s.registries | to_entries | map({key: .key, value: .value.queries}) | from_entries) as $q
    | ([$q | to_entries[] | {r: .key, s: (.value / ($wr[.key] * $workers))}] | max_by(.s)) as $b
    | ([$q | to_entries[] | {r: .key, s: (.value / ($sr[.key] * $workers))}] | max_by(.s)) as $bs
    | {
      policy: $policy, slices: $slices, workers: $workers, batches: $batches,
      batch_size: $batch_size, max_batches_per_worker: $max_per_worker,
      sim_rates: $sim_rates, worker_rates: $worker_rates,
      seed_ips: $st.seed_ips, outcomes: $st.outcomes, networks_db: $st.networks,
      lost: ($st.seed_ips - $st.outcomes.total),
      queries: $s.queries, queries_per_registry: $q,
      answers: $s.answers, distinct_networks: $s.distinct_networks_served,
      answers_per_network: $s.answers_per_distinct_network,
      networks_served_more_than_once: ([$s.networks[] | select(.served > 1)] | length),
      max_answers_per_network: $s.max_answers_per_network,
      not_found: $s.not_found, unallocated_seeds: $unallocated,
      not_found_per_unallocated_seed: (if $unallocated > 0 then $s.not_found / $unallocated else null end),
      redirects: $s.redirects, networks_in_transferred_space: $transferred,
      redirects_per_transferred_network: (if $transferred > 0 then $s.redirects / $transferred else null end),
      rate_limited: $s.rate_limited,
      crawl_s: ($crawl_ms / 1000), all_batches_handed_out_s: ($handed_out_ms / 1000),
      bound_registry: $b.r, bound_s: $b.s, crawl_over_bound: (($crawl_ms / 1000) / $b.s),
      bound_at_sim_limits_s: $bs.s,
      repl_bytes: ($offset1 - $offset0),
      repl_bytes_per_network: (if $st.networks > 0 then ($offset1 - $offset0) / $st.networks else null end),
      worker_vmhwm_kib: ($hwm | split(" ") | map(tonumber? // null)),
      coordinator_vmhwm_kib: ($coord_hwm | tonumber? // null),
      worker_exit_codes: ($codes | split(" ")),
      timeline: $timeline
    }')
  results+=("$result")
  [[ -z $json_out ]] || printf '%s\n' "$result" >>"$json_out"
  report "$result"

  rf_stop_stage "$RF_STAGE_COORDINATOR" 15
  rf_stop_stage "$RF_STAGE_SIM" 15
  rf_stop_stage "$RF_STAGE_REDIS_REPLICA" 10
  rf_stop_stage "$RF_STAGE_REDIS_MASTER" 10
}

# Human-readable figures of one run, with the targets.
report() {
  jq -r '
    def f(n): if . == null then "n/a" else (. * pow(10; n) | round / pow(10; n) | tostring) end;
    def ok(c): if c then "ok" else "MISSED" end;
    "",
    "== policy \(.policy): \(.seed_ips) seed addresses (\(.slices)), \(.workers) workers, --batches \(.batches), batch size \(.batch_size)",
    "  answers (200) per distinct network   \(.answers_per_network | f(3))   (\(.answers) for \(.distinct_networks))   target <= 1.05 (covered)  \(if .policy == "covered" then ok(.answers_per_network <= 1.05) else "-" end)",
    "  networks served more than once       \(.networks_served_more_than_once)   most answers for one network: \(.max_answers_per_network)",
    "  404s per unallocated seed            \(.not_found_per_unallocated_seed | f(3))   (\(.not_found) for \(.unallocated_seeds))   target <= 1  \(ok((.not_found_per_unallocated_seed // 0) <= 1))",
    "  redirects per transferred network    \(.redirects_per_transferred_network | f(3))   (\(.redirects) for \(.networks_in_transferred_space))   target <= 1.05 (as answers)  \(ok((.redirects_per_transferred_network // 0) <= 1.05))",
    "  429s                                 \(.rate_limited)",
    "  requests per registry                \(.queries_per_registry | to_entries | map("\(.key) \(.value)") | join(", "))",
    "  crawl time                           \(.crawl_s | f(1)) s   (every batch handed out at \(.all_batches_handed_out_s | f(1)) s)",
    "  politeness bound                     \(.bound_s | f(1)) s   (\(.bound_registry); at the simulator limits \(.bound_at_sim_limits_s | f(1)) s)",
    "  crawl time / bound                   \(.crawl_over_bound | f(2))   target <= 1.15  \(ok(.crawl_over_bound <= 1.15))",
    "  bytes replicated per new network     \(.repl_bytes_per_network | f(1))   (\(.repl_bytes) B for \(.networks_db))   target <= 64  \(ok((.repl_bytes_per_network // 0) <= 64))",
    "  worker peak RSS (VmHWM)              \(.worker_vmhwm_kib | map(if . == null then "?" else "\(. / 1024 | f(1)) MiB" end) | join(", "))   coordinator \((.coordinator_vmhwm_kib // 0) / 1024 | f(1)) MiB",
    "  seed addresses lost                  \(.lost)   failed \(.outcomes.failed)   target 0  \(ok(.lost == 0))",
    "  worker exit codes (SIGTERM)          \(.worker_exit_codes | join(" "))",
    "  budget use of \(.bound_registry) per 5 s       \(.timeline[.bound_registry].use_5s // [] | map(. * 100 | round | tostring) | join(" "))"
  ' <<<"$1"
}

for p in "${policies[@]}"; do bench_one "$p"; done

printf '\n== summary (markdown)\n\n'
printf '| figure | %s |\n|---|%s\n' "$(printf '%s | ' "${policies[@]}" | sed 's/ | $//')" "$(printf -- '---|%.0s' "${policies[@]}")"
printf '%s\n' "${results[@]}" | jq -s -r '
  def f(n): if . == null then "n/a" else (. * pow(10; n) | round / pow(10; n) | tostring) end;
  def row(name; g): "| \(name) | " + (map(g) | join(" | ")) + " |";
  row("seed addresses (lattice2016)"; .seed_ips | tostring),
  row("RDAP answers (200) per distinct network"; "\(.answers_per_network | f(3)) (\(.answers) / \(.distinct_networks))"),
  row("networks answered more than once (max answers)"; "\(.networks_served_more_than_once) (\(.max_answers_per_network))"),
  row("404s per unallocated seed"; "\(.not_found_per_unallocated_seed | f(3)) (\(.not_found) / \(.unallocated_seeds))"),
  row("redirects per network in transferred space"; "\(.redirects_per_transferred_network | f(3)) (\(.redirects) / \(.networks_in_transferred_space))"),
  row("429s"; .rate_limited | tostring),
  row("crawl time"; "\(.crawl_s | f(1)) s"),
  row("politeness bound (registry)"; "\(.bound_s | f(1)) s (\(.bound_registry))"),
  row("crawl time / bound"; .crawl_over_bound | f(2)),
  row("bytes replicated per new network"; "\(.repl_bytes_per_network | f(1)) (\(.repl_bytes) B / \(.networks_db))"),
  row("worker peak RSS, max of workers"; "\(.worker_vmhwm_kib | max / 1024 | f(1)) MiB"),
  row("seed addresses lost / failed"; "\(.lost) / \(.outcomes.failed)")'
printf '\nrun directories: %s\n' "${bench_dir#"$REPO_ROOT"/}"
