#!/usr/bin/env bash
# Show the rdapfleet hosts (by their Project and Role tags) and their EC2
# fleets, with state: what is running, pending, being interrupted, how much of
# each fleet's target is fulfilled. Read-only: it only calls describe APIs.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG [--project NAME] [--role worker|coordinator|all] [--launch-id ID]
       ${PROG//?/ } [--region REGION] [--json] [--watch SECONDS] [--dry-run]

Show the rdapfleet instances (tag Project=NAME, by their Role tag) and the EC2
fleets launched by scripts/launch-spot-fleet.sh, with their state.

Options:
  --project NAME     value of the Project tag (default rdapfleet)
  --role ROLE        worker, coordinator or all (default all)
  --launch-id ID     only what one launch-spot-fleet.sh run made (tag rdapfleet:launch)
  --region REGION    AWS region (default: the AWS CLI's configuration)
  --json             one JSON object on stdout (instances, fleets, summary)
  --watch SECONDS    repeat every SECONDS until interrupted (not with --json)
  --dry-run          print the aws commands it would run; call nothing
  -h, --help         show this help

Needs the AWS CLI and jq. The coordinator's private address, which
launch-spot-fleet.sh --coordinator-ip needs, is in the PRIVATE IP column.
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
}

project=rdapfleet
role=all
launch_id=""
region=""
json=false
watch=""
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need_value "$@"; project=$2; shift 2 ;;
    --role) need_value "$@"; role=$2; shift 2 ;;
    --launch-id) need_value "$@"; launch_id=$2; shift 2 ;;
    --region) need_value "$@"; region=$2; shift 2 ;;
    --json) json=true; shift ;;
    --watch) need_value "$@"; watch=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ "$project" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "--project '$project' must be 1-64 letters, digits or _.-"
[[ "$role" == all || "$role" == worker || "$role" == coordinator ]] || die "--role must be worker, coordinator or all, not '$role'"
if [[ -n "$launch_id" && ! "$launch_id" =~ ^[A-Za-z0-9_.-]{1,40}$ ]]; then
  die "--launch-id '$launch_id' must be 1-40 letters, digits or _.-"
fi
if [[ -n "$region" && ! "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]]; then
  die "--region '$region' is not an AWS region (e.g. eu-west-1)"
fi
if [[ -n "$watch" ]]; then
  if [[ ! "$watch" =~ ^[0-9]{1,5}$ ]] || ((10#$watch < 2)); then
    die "--watch takes a number of seconds, at least 2"
  fi
  [[ "$json" == false ]] || die "--watch and --json do not go together"
fi

aws_args=(--output json)
if [[ -n "$region" ]]; then aws_args+=(--region "$region"); fi

filters=("Name=tag:Project,Values=$project"
  "Name=instance-state-name,Values=pending,running,stopping,stopped,shutting-down")
case "$role" in
  worker) filters+=("Name=tag:Role,Values=worker") ;;
  coordinator) filters+=("Name=tag:Role,Values=coordinator") ;;
  all) filters+=("Name=tag:Role,Values=worker,coordinator") ;;
esac
if [[ -n "$launch_id" ]]; then filters+=("Name=tag:rdapfleet:launch,Values=$launch_id"); fi

instances_cmd=(aws ec2 describe-instances "${aws_args[@]}" --filters "${filters[@]}")
fleets_cmd=(aws ec2 describe-fleets "${aws_args[@]}")

if [[ "$dry_run" == true ]]; then
  printf '%q ' "${instances_cmd[@]}"
  echo
  printf '%q ' "${fleets_cmd[@]}"
  echo
  exit 0
fi

command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required"
command -v jq >/dev/null 2>&1 || die "jq is required (apt-get install jq)"

collect() {
  local instances fleets
  instances=$("${instances_cmd[@]}") || die "aws ec2 describe-instances failed"
  fleets=$("${fleets_cmd[@]}") || die "aws ec2 describe-fleets failed"
  jq -n --argjson i "$instances" --argjson f "$fleets" --arg project "$project" --arg launch "$launch_id" '
    def tag($k): ((.Tags // []) | map(select(.Key == $k)) | first | .Value) // "";
    {
      instances: [
        $i.Reservations[].Instances[] | {
          role: tag("Role"),
          instance_id: .InstanceId,
          state: .State.Name,
          type: .InstanceType,
          lifecycle: (.InstanceLifecycle // "on-demand"),
          zone: .Placement.AvailabilityZone,
          private_ip: (.PrivateIpAddress // ""),
          public_ip: (.PublicIpAddress // ""),
          launched: .LaunchTime,
          launch_id: tag("rdapfleet:launch")
        }
      ] | sort_by(.role, .launched, .instance_id),
      fleets: [
        $f.Fleets[]
        | select(tag("Project") == $project)
        | select($launch == "" or tag("rdapfleet:launch") == $launch)
        | {
            fleet_id: .FleetId,
            type: .Type,
            state: .FleetState,
            activity: (.ActivityStatus // ""),
            target: .TargetCapacitySpecification.TotalTargetCapacity,
            fulfilled: (.FulfilledCapacity // 0),
            created: .CreateTime,
            valid_until: (.ValidUntil // ""),
            launch_id: tag("rdapfleet:launch")
          }
      ] | sort_by(.created)
    }
    | .summary = (.instances | group_by(.role) | map({key: .[0].role, value: (group_by(.state)
        | map({key: .[0].state, value: length}) | from_entries)}) | from_entries)'
}

show() {
  local data
  data=$(collect)
  if [[ "$json" == true ]]; then
    printf '%s\n' "$data"
    return
  fi
  {
    echo "ROLE INSTANCE STATE TYPE LIFECYCLE ZONE PRIVATE_IP PUBLIC_IP LAUNCHED LAUNCH_ID"
    jq -r '.instances[] | [.role, .instance_id, .state, .type, .lifecycle, .zone,
      (if .private_ip == "" then "-" else .private_ip end), (if .public_ip == "" then "-" else .public_ip end),
      .launched, (if .launch_id == "" then "-" else .launch_id end)] | @tsv' <<<"$data" | tr '\t' ' '
  } | column -t
  echo
  jq -r '.summary | to_entries[] | "\(.key): " + (.value | to_entries | map("\(.value) \(.key)") | join(", "))' <<<"$data"
  jq -r 'if (.instances | length) == 0 then "no instances tagged Project='"$project"'" else empty end' <<<"$data"
  jq -r '.fleets[] | "fleet \(.fleet_id): \(.type), \(.state)\(if .activity != "" then " (" + .activity + ")" else "" end), "
    + "\(.fulfilled)/\(.target) fulfilled, launch \(.launch_id)\(if .valid_until != "" then ", until " + .valid_until else "" end)"' <<<"$data"
}

if [[ -n "$watch" ]]; then
  while true; do
    clear_screen=$(tput clear 2>/dev/null || true)
    printf '%s' "$clear_screen"
    date -u '+%Y-%m-%d %H:%M:%S UTC'
    show
    sleep "$watch"
  done
else
  show
fi
