#!/usr/bin/env bash
# The test command (README "Development"; .ci/run calls exactly this):
# formatting, lints, every test of the workspace, and the ops checks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

# (Benches are compiled by clippy above; the tests build everything else they run.)

if [ -x scripts/check-ops.sh ]; then
  step "ops checks (ansible-lint, syntax checks, shellcheck, rendered templates, dry-run launch)"
  scripts/check-ops.sh
fi

step "tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
