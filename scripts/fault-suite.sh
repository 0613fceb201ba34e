#!/usr/bin/env bash
# The fault suite (issue 8): builds the binaries, runs worker/tests/fault_suite.rs (a crawl of a
# small simulator slice per fault, real processes on loopback), collects one JSON row per fault
# and writes RELIABILITY.md: seed IPs, outcomes recorded, lost, wrong networks, failures with
# their reasons, and the cost (extra lookups and time against a fault-free baseline crawl).
#
# Needs: cargo (cargo-nextest if installed), redis-server, jq. Loopback only.
set -euo pipefail

PROG=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
Usage: $PROG [--out FILE] [--rows DIR] [--filter NAME]

Build rdapfleet's binaries, run the fault suite (worker/tests/fault_suite.rs) and write the
reliability table.

Options:
  --out FILE     Markdown file to write (default: RELIABILITY.md at the repository root).
  --rows DIR     Keep the per-fault JSON rows in DIR (default: a temporary directory,
                 removed at the end).
  --filter NAME  Run only the tests whose name contains NAME (the table then holds only
                 their rows).
  -h, --help     Show this help.

Environment: CARGO_TARGET_DIR is honoured. The table is written only when every test passes;
on a failure the rows written so far stay in the rows directory and the exit status is 1.
EOF
}

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

OUT="$REPO_ROOT/RELIABILITY.md"
ROWS=""
FILTER=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --out)
      [ $# -ge 2 ] || die "--out needs a file"
      OUT=$2
      shift 2
      ;;
    --rows)
      [ $# -ge 2 ] || die "--rows needs a directory"
      ROWS=$2
      shift 2
      ;;
    --filter)
      [ $# -ge 2 ] || die "--filter needs a test name"
      FILTER=$2
      shift 2
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
done

command -v cargo >/dev/null 2>&1 || die "cargo not found"
command -v redis-server >/dev/null 2>&1 || die "redis-server not found (apt-get install redis-server)"
command -v jq >/dev/null 2>&1 || die "jq not found (apt-get install jq)"

KEEP_ROWS=1
if [ -z "$ROWS" ]; then
  ROWS=$(mktemp -d "${TMPDIR:-/tmp}/rdapfleet-reliability.XXXXXX")
  KEEP_ROWS=0
fi
mkdir -p "$ROWS"
rm -f "$ROWS"/*.json
cleanup() {
  if [ "$KEEP_ROWS" = 0 ] && [ "${SUITE_OK:-0}" = 1 ]; then
    rm -rf "$ROWS"
  fi
}
trap cleanup EXIT

cd "$REPO_ROOT"
printf '== building the binaries and the suite\n' >&2
cargo build --quiet --bins -p rdapfleet-sim -p rdapfleet-seed -p rdapfleet-coordinator -p rdapfleet-worker
cargo build --quiet --tests -p rdapfleet-worker

printf '== running the fault suite (rows in %s)\n' "$ROWS" >&2
started=$(date +%s)
if command -v cargo-nextest >/dev/null 2>&1; then
  RUNNER=(cargo nextest run -p rdapfleet-worker --test fault_suite --no-fail-fast)
  [ -n "$FILTER" ] && RUNNER+=("$FILTER")
else
  RUNNER=(cargo test -p rdapfleet-worker --test fault_suite --no-fail-fast --)
  [ -n "$FILTER" ] && RUNNER+=("$FILTER")
  RUNNER+=(--test-threads=1)
fi
status=0
RDAPFLEET_RELIABILITY_DIR="$ROWS" "${RUNNER[@]}" || status=$?
elapsed=$(($(date +%s) - started))
if [ "$status" != 0 ]; then
  die "the fault suite failed (exit $status); rows so far are in $ROWS"
fi
SUITE_OK=1

shopt -s nullglob
rows=("$ROWS"/*.json)
[ ${#rows[@]} -gt 0 ] || die "the suite wrote no rows into $ROWS"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  cat <<'INTRO'
# Reliability: the fault suite

rdapfleet promises that every seed IP ends with exactly one recorded outcome whatever happens,
and that no fault makes it record a wrong network. `scripts/fault-suite.sh` checks both under
each fault below and measures what the fault cost. Each row is one test of
`worker/tests/fault_suite.rs`: a crawl with real processes on loopback (a Redis master and two
replicas, `rdapfleet-sim`, the coordinator, two workers) of the 2016 lattice over 197.0.0.0/12
(AFRINIC) and 2.56.0.0/14 (RIPE NCC, with APNIC blocks reached by redirect), batches of 100,
workers limited to 8 requests/s per registry, coordinator retries after 1 s doubling to at most
4 s, up to 40 attempts per IP.

INTRO
  tick='`'
  printf -- '- **Command:** %sscripts/fault-suite.sh%s (CI runs the same tests in %scargo nextest run --workspace%s)\n' \
    "$tick" "$tick" "$tick" "$tick"
  printf -- '- **Date:** %s; commit %s; %s CPUs; whole suite %s s\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$commit" "$(nproc)" "$elapsed"
  cat <<'CHECKS'
- **Checked after each fault:** lost = seed IPs without an outcome (must be 0); wrong = found
  networks other than the simulator's truth, skipped IPs whose network does not contain both the
  IP and the truth's network, not_found in allocated space (must be 0); failed (must be 0: every
  fault here is survivable within the retry budget, and failures are listed by reason); every
  replica's coverage stream must equal the coordinator's networks.
- **Cost:** lookups = RDAP requests counted by the simulator (answers, redirects, errors, 429s,
  refused connections); time = cluster start to crawl complete. "Extra" is against the
  fault-free baseline crawl of the same slice in the same run.

CHECKS
  printf '| Fault | Seed IPs | Outcomes recorded | Lost | Wrong networks | Failed (reasons) | Retried IPs | Lookups (extra) | Time s (extra) | Replicas in sync |\n'
  printf '|---|---:|---:|---:|---:|---|---:|---:|---:|---|\n'
  jq -rs '
    sort_by(.slug)[] |
    def signed: if . == null then "n/a" elif . >= 0 then "+\(.)" else "\(.)" end;
    def reasons: if (.failed_by_reason | length) == 0 then "0"
      else "\(.failed) (" + ([.failed_by_reason | to_entries[] | "\(.value) \(.key)"] | join("; ")) + ")" end;
    "| \(.fault) | \(.seed_ips) | \(.outcomes_recorded) | \(.lost) | \(.wrong_networks) | \(reasons) | \(.retried_ips) | \(.lookups) (\(.extra_lookups | signed)) | \(.seconds) (\(.extra_seconds | signed)) | \(if .replicas_in_sync then "yes" else "NO" end) |"
  ' "${rows[@]}"
  printf '\n## Notes\n\n'
  jq -rs '
    sort_by(.slug)[] |
    "- **\(.fault)**: outcomes \(.kinds | to_entries | map("\(.key) \(.value)") | join(", ")); " +
    "lease expiries \(.lease_expiries); simulator faults " +
    ([.sim_faults | to_entries[] | select(([.value.faults[]] | add) + .value.rate_limited > 0) |
      "\(.key): " + ([.value.faults | to_entries[] | select(.value > 0) | "\(.key) \(.value)"] +
        (if .value.rate_limited > 0 then ["rate_limited \(.value.rate_limited)"] else [] end) | join(", "))]
      | if length == 0 then "none" else join("; ") end) +
    (if (.notes | length) > 0 then ". " + (.notes | join(". ")) else "" end) + "."
  ' "${rows[@]}"
} >"$OUT"
printf '== wrote %s (%s rows, %s s)\n' "$OUT" "${#rows[@]}" "$elapsed" >&2
