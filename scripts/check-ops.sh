#!/usr/bin/env bash
# The CI entry for every ops check (Ansible, systemd units, Redis configs, fleet
# scripts). Loopback only; never calls AWS.
#
#  1. a Python venv (.venv-ops/) with pinned ansible-core, ansible-lint and the
#     `ansible` package from PyPI, which bundles the amazon.aws collection
#     (there is no Ansible Galaxy here); reused while the pins are unchanged;
#  2. ansible-lint --offline with profile production (ansible/.ansible-lint);
#  3. ansible-playbook --syntax-check on every playbook, and the inventories;
#  4. shellcheck on every shell script under scripts/, scripts/lib/ included;
#  5. the fleet scripts: --help, refused parameters, the dry-run launch with its
#     JSON validated (ansible/tests/test_scripts.py);
#  6. the role templates rendered by real Ansible and checked with
#     systemd-analyze verify and real redis-server processes
#     (ansible/tests/test_render.py).
#
# Debian packages it expects (installed by .ci/run, never here): shellcheck,
# jq, redis-server (redis-server + redis-cli), systemd (systemd-analyze), sqlite3.
set -euo pipefail

PROG=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)

# Versions that work with Python 3.11 (ansible-core 2.20 needs 3.12).
PINS=(ansible-core==2.19.14 ansible==12.3.0 ansible-lint==26.10.1)

usage() {
  cat <<EOF
Usage: $PROG [--venv DIR] [--only STEP[,STEP...]]

Run every rdapfleet ops check; exit 0 when all pass, 1 otherwise.

Options:
  --venv DIR     the Python venv to create or reuse (default: .venv-ops in the repository,
                 or \$RDAPFLEET_OPS_VENV)
  --only LIST    run only these steps: venv,lint,syntax,shellcheck,scripts,render
  -h, --help     show this help

Environment: PYTHON (default python3, 3.11 or newer).
Pins: ${PINS[*]}
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

venv=${RDAPFLEET_OPS_VENV:-$REPO_ROOT/.venv-ops}
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv)
      [[ $# -ge 2 && -n "$2" ]] || die "--venv needs a directory"
      venv=$2
      shift 2
      ;;
    --only)
      [[ $# -ge 2 && -n "$2" ]] || die "--only needs a list of steps"
      only=",$2,"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

wanted() {
  [[ -z "$only" || "$only" == *",$1,"* ]]
}

started=$SECONDS
passed=0
failed=0
failures=()

step() {
  local name=$1 t0=$SECONDS
  shift
  echo "==> $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "ok  $name ($((SECONDS - t0))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAILED $name ($((SECONDS - t0))s)"
  fi
}

# --------------------------------------------------------------- the venv
PYTHON=${PYTHON:-python3}

# True when the venv has the pinned tools and the collections load offline
# (they come from the `ansible` package on PyPI).
venv_ready() {
  local stamp="$venv/.rdapfleet-pins"
  [[ -x "$venv/bin/ansible-lint" && -f "$stamp" && "$(cat "$stamp")" == "${PINS[*]}" ]] || return 1
  "$venv/bin/ansible-galaxy" collection list amazon.aws 2>/dev/null | grep -q '^amazon\.aws ' || return 1
  "$venv/bin/ansible-doc" -t module amazon.aws.ec2_ami >/dev/null 2>&1 &&
    "$venv/bin/ansible-doc" -t inventory amazon.aws.aws_ec2 >/dev/null 2>&1 &&
    "$venv/bin/ansible-doc" -t module community.general.timezone >/dev/null 2>&1 &&
    "$venv/bin/ansible-doc" -t module ansible.posix.sysctl >/dev/null 2>&1
}

make_venv() {
  if venv_ready; then
    echo "reusing $venv (${PINS[*]})"
    return 0
  fi
  command -v "$PYTHON" >/dev/null 2>&1 || {
    echo "$PYTHON not found" >&2
    return 1
  }
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "$PYTHON is older than 3.11 (ansible-core 2.19 needs 3.11+)" >&2
    return 1
  }
  echo "creating $venv with ${PINS[*]}"
  # (set -e does not apply inside step's `if`: every command checks itself.)
  rm -rf "$venv" || return 1
  "$PYTHON" -m venv "$venv" || return 1
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PINS[@]}" || return 1
  printf '%s' "${PINS[*]}" >"$venv/.rdapfleet-pins" || return 1
  venv_ready || {
    echo "$venv lacks amazon.aws, community.general or ansible.posix after the install" >&2
    return 1
  }
}

# Ansible runs from ansible/ (ansible.cfg), never on the AWS inventory here.
ansible_env() {
  (
    cd "$REPO_ROOT/ansible" &&
      env PATH="$venv/bin:$PATH" \
        ANSIBLE_CONFIG="$REPO_ROOT/ansible/ansible.cfg" \
        ANSIBLE_INVENTORY="$REPO_ROOT/ansible/inventories/example/hosts.yml" \
        ANSIBLE_CACHE_PLUGIN=memory \
        ANSIBLE_NOCOLOR=1 \
        ANSIBLE_FORCE_COLOR=0 \
        NO_COLOR=1 \
        "$@"
  )
}

lint() {
  ansible_env ansible-lint --offline --nocolor
}

playbooks() {
  local playbook
  for playbook in "$REPO_ROOT"/ansible/*.yml; do
    # Every YAML file at the top of ansible/ is a playbook.
    basename "$playbook"
  done
}

syntax() {
  local playbook status=0
  while read -r playbook; do
    ansible_env ansible-playbook --syntax-check -i inventories/example/hosts.yml "$playbook" || status=1
  done < <(playbooks)
  ansible_env ansible-playbook --syntax-check -i tests/inventory.yml tests/render.yml || status=1
  # The static inventory parses and has both groups.
  local graph
  graph=$(ansible_env ansible-inventory -i inventories/example/hosts.yml --graph) || status=1
  if ! grep -q '@coordinator:' <<<"$graph" || ! grep -q '@worker:' <<<"$graph"; then
    echo "inventories/example/hosts.yml lacks the coordinator or worker group" >&2
    status=1
  fi
  # The AWS inventory is read by the plugin only with credentials; check its
  # shape here instead of calling AWS.
  "$venv/bin/python" - "$REPO_ROOT/ansible/inventories/aws/aws_ec2.yml" <<'EOF' || status=1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
problems = []
if doc.get("plugin") != "amazon.aws.aws_ec2":
    problems.append("plugin is not amazon.aws.aws_ec2")
if "tag:Project" not in (doc.get("filters") or {}):
    problems.append("no tag:Project filter")
groups = doc.get("groups") or {}
for group in ("coordinator", "worker"):
    if "tags.Role" not in str(groups.get(group, "")):
        problems.append(f"group {group} is not keyed on the Role tag")
if problems:
    sys.exit("aws_ec2.yml: " + "; ".join(problems))
print("aws_ec2.yml: plugin, Project filter and Role groups present")
EOF
  return "$status"
}

shellchecks() {
  command -v shellcheck >/dev/null 2>&1 || {
    echo "shellcheck is not installed (Debian package shellcheck)" >&2
    return 1
  }
  # Every shell script anywhere under scripts/ (scripts/lib/*.sh too, which are
  # sourced, not run): *.sh, or a file whose #! line names sh or bash. The
  # rendered role templates are shellchecked by ansible/tests/test_render.py.
  local scripts=() file
  while IFS= read -r file; do
    if [[ "$file" == *.sh ]] || head -n 1 -- "$file" | grep -Eq '^#!.*[/ ](ba|da)?sh([[:space:]]|$)'; then
      scripts+=("$file")
    fi
  done < <(cd "$REPO_ROOT" && find scripts -type f | LC_ALL=C sort)
  if [[ ${#scripts[@]} -eq 0 ]]; then
    echo "no shell scripts found under $REPO_ROOT/scripts" >&2
    return 1
  fi
  echo "shellcheck: ${#scripts[@]} scripts: ${scripts[*]#scripts/}"
  # From the repository root: the `# shellcheck source=scripts/...` directives
  # are relative to it.
  (cd "$REPO_ROOT" && shellcheck --external-sources "${scripts[@]}")
}

script_tests() {
  command -v jq >/dev/null 2>&1 || {
    echo "jq is not installed (Debian package jq)" >&2
    return 1
  }
  "$venv/bin/python" "$REPO_ROOT/ansible/tests/test_scripts.py"
}

render_tests() {
  env PATH="$venv/bin:$PATH" "$venv/bin/python" "$REPO_ROOT/ansible/tests/test_render.py"
}

if wanted venv; then step "python venv with ${PINS[*]}" make_venv; fi
if [[ $failed -gt 0 ]]; then
  echo "$PROG: cannot go on without the venv"
  echo "ops: $passed passed, $failed failed"
  exit 1
fi
if wanted lint; then step "ansible-lint --offline (profile production)" lint; fi
if wanted syntax; then step "ansible-playbook --syntax-check, inventories" syntax; fi
if wanted shellcheck; then step "shellcheck scripts/" shellchecks; fi
if wanted scripts; then step "fleet scripts (dry-run launch JSON)" script_tests; fi
if wanted render; then step "rendered templates (systemd-analyze, redis-server)" render_tests; fi

echo "$PROG: $((SECONDS - started))s${failures[*]:+; failed: ${failures[*]}}"
echo "ops: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
