#!/usr/bin/env bash
# Terminate rdapfleet spot workers: delete their EC2 fleets (with their
# instances), terminate any worker left outside a fleet, and delete the launch
# templates that launch-spot-fleet.sh made. Never touches the coordinator:
# only instances tagged Role=worker are terminated.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG (--fleet-id ID[,ID...] | --launch-id ID | --all) [--yes] [options]

Terminate rdapfleet workers. Without --yes it only lists what it would
terminate and exits 1; --dry-run prints the first aws command and calls nothing.

Which workers (one of):
  --fleet-id LIST    EC2 fleet id(s) (fleet-...), comma-separated
  --launch-id ID     everything one launch-spot-fleet.sh run made (tag rdapfleet:launch)
  --all              every worker fleet and worker instance of the project

Options:
  --yes              really terminate (the confirmation)
  --wait             wait until the instances are terminated
  --keep-launch-templates  do not delete the launch templates
  --project NAME     value of the Project tag (default rdapfleet)
  --region REGION    AWS region (default: the AWS CLI's configuration)
  --dry-run          print the aws command that finds the targets; call nothing
  -h, --help         show this help

Export the results before terminating the coordinator; this script never does.
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
}

fleet_ids=""
launch_id=""
all=false
yes=false
wait_done=false
keep_templates=false
project=rdapfleet
region=""
dry_run=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    --fleet-id) need_value "$@"; fleet_ids=$2; shift 2 ;;
    --launch-id) need_value "$@"; launch_id=$2; shift 2 ;;
    --all) all=true; shift ;;
    --yes) yes=true; shift ;;
    --wait) wait_done=true; shift ;;
    --keep-launch-templates) keep_templates=true; shift ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --region) need_value "$@"; region=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

selectors=0
[[ -n "$fleet_ids" ]] && selectors=$((selectors + 1))
[[ -n "$launch_id" ]] && selectors=$((selectors + 1))
[[ "$all" == true ]] && selectors=$((selectors + 1))
((selectors == 1)) || die "say which workers: exactly one of --fleet-id, --launch-id or --all (see --help)"

[[ "$project" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "--project '$project' must be 1-64 letters, digits or _.-"
if [[ -n "$launch_id" && ! "$launch_id" =~ ^[A-Za-z0-9_.-]{1,40}$ ]]; then
  die "--launch-id '$launch_id' must be 1-40 letters, digits or _.-"
fi
if [[ -n "$region" && ! "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]]; then
  die "--region '$region' is not an AWS region (e.g. eu-west-1)"
fi
requested_fleets=()
if [[ -n "$fleet_ids" ]]; then
  IFS=',' read -r -a requested_fleets <<<"$fleet_ids"
  for id in "${requested_fleets[@]}"; do
    [[ "$id" =~ ^fleet-[0-9a-f-]{8,64}$ ]] || die "--fleet-id: '$id' is not an EC2 fleet id (fleet-...)"
  done
fi

aws_args=(--output json)
if [[ -n "$region" ]]; then aws_args+=(--region "$region"); fi

fleets_cmd=(aws ec2 describe-fleets "${aws_args[@]}")
if ((${#requested_fleets[@]} > 0)); then fleets_cmd+=(--fleet-ids "${requested_fleets[@]}"); fi

if [[ "$dry_run" == true ]]; then
  printf '%q ' "${fleets_cmd[@]}"
  echo
  echo "$PROG: dry run: nothing was called; without --dry-run the fleets found are deleted with their workers" >&2
  exit 0
fi

command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required"
command -v jq >/dev/null 2>&1 || die "jq is required (apt-get install jq)"

# ----------------------------------------------------------- find targets
fleets_json=$("${fleets_cmd[@]}") || die "aws ec2 describe-fleets failed"
mapfile -t fleets < <(jq -r --arg project "$project" --arg launch "$launch_id" --argjson explicit "$([[ -n "$fleet_ids" ]] && echo true || echo false)" '
  def tag($k): ((.Tags // []) | map(select(.Key == $k)) | first | .Value) // "";
  .Fleets[]
  | select(.FleetState != "deleted" and .FleetState != "deleted_terminating" and .FleetState != "deleted_running")
  | select($explicit or (tag("Project") == $project and tag("Role") == "worker"
      and ($launch == "" or tag("rdapfleet:launch") == $launch)))
  | .FleetId' <<<"$fleets_json")
if [[ -n "$fleet_ids" ]]; then
  # An explicit fleet must still be a worker fleet of this project.
  foreign=$(jq -r --arg project "$project" '
    def tag($k): ((.Tags // []) | map(select(.Key == $k)) | first | .Value) // "";
    .Fleets[] | select(tag("Project") != $project or tag("Role") != "worker") | .FleetId' <<<"$fleets_json")
  [[ -z "$foreign" ]] || die "not a worker fleet of project $project (tags Project/Role): $foreign"
fi

instance_filters=("Name=tag:Project,Values=$project" "Name=tag:Role,Values=worker"
  "Name=instance-state-name,Values=pending,running,stopping,stopped")
if [[ -n "$launch_id" ]]; then instance_filters+=("Name=tag:rdapfleet:launch,Values=$launch_id"); fi
if [[ -n "$fleet_ids" ]]; then
  instance_filters+=("Name=tag:aws:ec2:fleet-id,Values=$fleet_ids")
fi
instances_json=$(aws ec2 describe-instances "${aws_args[@]}" --filters "${instance_filters[@]}") ||
  die "aws ec2 describe-instances failed"
# Checked again here, whatever the filters matched: never anything but a worker of this project.
mapfile -t instances < <(jq -r --arg project "$project" '
  def tag($k): ((.Tags // []) | map(select(.Key == $k)) | first | .Value) // "";
  .Reservations[].Instances[] | select(tag("Role") == "worker" and tag("Project") == $project) | .InstanceId' <<<"$instances_json")

templates=()
if [[ "$keep_templates" == false && -z "$fleet_ids" ]]; then
  template_filters=("Name=tag:Project,Values=$project" "Name=tag:Role,Values=worker")
  if [[ -n "$launch_id" ]]; then template_filters+=("Name=tag:rdapfleet:launch,Values=$launch_id"); fi
  templates_json=$(aws ec2 describe-launch-templates "${aws_args[@]}" --filters "${template_filters[@]}") ||
    die "aws ec2 describe-launch-templates failed"
  mapfile -t templates < <(jq -r '.LaunchTemplates[].LaunchTemplateName' <<<"$templates_json")
fi

echo "fleets to delete (with their workers): ${#fleets[@]} ${fleets[*]}"
echo "worker instances to terminate: ${#instances[@]}"
echo "launch templates to delete: ${#templates[@]} ${templates[*]}"
if ((${#fleets[@]} + ${#instances[@]} + ${#templates[@]} == 0)); then
  echo "$PROG: nothing to do"
  exit 0
fi
if [[ "$yes" != true ]]; then
  echo "$PROG: nothing changed: re-run with --yes to terminate these" >&2
  exit 1
fi

# -------------------------------------------------------------- terminate
# delete-fleets takes at most 25 instant fleets per call.
for ((i = 0; i < ${#fleets[@]}; i += 25)); do
  batch=("${fleets[@]:i:25}")
  out=$(aws ec2 delete-fleets "${aws_args[@]}" --terminate-instances --fleet-ids "${batch[@]}")
  jq -r '(.SuccessfulFleetDeletions // [])[] | "deleted fleet \(.FleetId) (\(.CurrentFleetState))"' <<<"$out"
  jq -r '(.UnsuccessfulFleetDeletions // [])[] | "could not delete fleet \(.FleetId): \(.Error.Code): \(.Error.Message)"' <<<"$out" >&2
done
for ((i = 0; i < ${#instances[@]}; i += 500)); do
  batch=("${instances[@]:i:500}")
  aws ec2 terminate-instances "${aws_args[@]}" --instance-ids "${batch[@]}" |
    jq -r '.TerminatingInstances[] | "terminating \(.InstanceId) (\(.PreviousState.Name) -> \(.CurrentState.Name))"'
done
for name in "${templates[@]}"; do
  aws ec2 delete-launch-template "${aws_args[@]}" --launch-template-name "$name" >/dev/null
  echo "deleted launch template $name"
done
if [[ "$wait_done" == true && ${#instances[@]} -gt 0 ]]; then
  echo "$PROG: waiting for ${#instances[@]} instance(s) to terminate" >&2
  for ((i = 0; i < ${#instances[@]}; i += 500)); do
    aws ec2 wait instance-terminated "${aws_args[@]}" --instance-ids "${instances[@]:i:500}"
  done
fi
echo "$PROG: done"
