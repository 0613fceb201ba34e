#!/usr/bin/env bash
# The test command (README "Development"; .ci/run calls exactly this):
# formatting, lints, every test of the workspace, and the ops checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PROG=$(basename "$0")
# shellcheck source=scripts/lib/cluster.sh
. scripts/lib/cluster.sh

# What the tests need, installed with apt-get when missing (.ci/run installs it up front):
# redis-server (real Redis in the tests), jq and sqlite3 (the fault-suite and ops scripts),
# ShellCheck, systemd-analyze and python3's venv (the ops checks).
rf_ensure_cargo
rf_ensure_commands redis-server:redis-server jq:jq sqlite3:sqlite3 shellcheck:shellcheck \
  systemd-analyze:systemd
rf_ensure_commands python3:python3
python3 -c 'import ensurepip' 2>/dev/null || rf_apt_install python3-venv

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

# (Benches are compiled by clippy above; the tests build everything else they run.)

step "ops checks (ansible-lint, syntax checks, shellcheck, rendered templates, dry-run launch)"
bash scripts/check-ops.sh

step "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  step "doctests (nextest does not run them)"
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
