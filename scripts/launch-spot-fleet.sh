#!/usr/bin/env bash
# Launch N rdapfleet workers as an EC2 spot fleet from the baked worker image.
#
# 1. aws ec2 create-launch-template: a template named <project>-worker-<launch id>
#    (version 1) with the baked AMI, the workers' security group, IMDSv2 only,
#    tags Project/Role=worker, and user data (base64) holding the coordinator's
#    private address and the fleet secrets, which rdapfleet-worker-configure
#    reads at boot;
# 2. aws ec2 create-fleet: spot capacity, price-capacity-optimized across the
#    given instance types and subnets, the target count, and the ClientToken
#    <project>-worker-<launch id> (cut to a prefix and a hash past AWS's 64
#    characters), so a retried request does not start a second fleet.
#
# The request documents go to aws through files (--cli-input-json file://,
# mode 0600, removed on exit), never on its command line.
# --dry-run prints both documents as one JSON object and calls nothing.
set -euo pipefail

PROG=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
Usage: $PROG --ami AMI_ID --count N --coordinator-ip IP --subnets SUBNET[,SUBNET...]
       ${PROG//?/ } --security-group SG_ID [options]

Launch N rdapfleet workers as an EC2 spot fleet from the baked worker image.

Required:
  --ami ID               the baked worker image (printed by ansible/bake_worker_image.yml,
                         also in ansible/.last-worker-image)
  --count N              target number of spot workers (1-5000)
  --coordinator-ip IP    the coordinator's PRIVATE IPv4 address
  --subnets LIST         comma-separated subnet ids; public subnets that auto-assign
                         public IPv4 addresses (each worker needs its own egress address:
                         the registries' limits are per address; never one NAT for all)
  --security-group ID    the workers' security group (egress 443 to the registries,
                         the coordinator's 50051 and 6379; no inbound needed)

Options:
  --instance-types LIST  comma-separated types, the more the better for spot capacity
                         (default: $DEFAULT_TYPES)
  --fleet-type TYPE      maintain (replace interrupted workers; default) or instant (one shot)
  --valid-hours H        maintain only: the fleet expires after H hours and its workers are
                         terminated (a hard cap on the cost)
  --max-price USD        highest hourly price per worker (default: the on-demand price)
  --rate SPEC            per-registry rates for this fleet, e.g. "lacnic=9/min,900/h arin=5/s"
                         (default: the image's)
  --coordinator-port N   gRPC port of the coordinator (default 50051)
  --redis-port N         Redis port of the coordinator (default 6379)
  --tls-ca FILE          the coordinator's CA certificate (PEM): workers dial https
  --tls-cert FILE        with --tls-ca, for a coordinator that asks for client certificates
  --tls-key FILE         (mutual TLS): the workers' certificate and its key (PEM), one pair
                         shared by the fleet; the key travels in user data (instance-only)
  --secrets-dir DIR      holds 'token' and 'redis_password' (default ansible/secrets,
                         written by ansible-playbook site.yml)
  --project NAME         value of the Project tag (default rdapfleet)
  --launch-id ID         names the launch template and tags this launch
                         (default: the UTC time, e.g. 20260501T120000Z)
  --key-name NAME        EC2 key pair for SSH to the workers (default: none)
  --iam-instance-profile NAME  instance profile for the workers (default: none)
  --region REGION        AWS region (default: the AWS CLI's configuration)
  --dry-run              print the create-launch-template and create-fleet requests as
                         one JSON object on stdout; call nothing, change nothing
  --redact               with --dry-run: replace the secrets in the user data by REDACTED
  -h, --help             show this help

Example:
  $PROG --ami ami-0123456789abcdef0 --count 50 --coordinator-ip 10.0.1.10 \\
    --subnets subnet-aaa,subnet-bbb,subnet-ccc --security-group sg-0123 --valid-hours 6
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

DEFAULT_TYPES="c7i.large,c6i.large,c6a.large,c5.large,c5a.large,m7i.large,m6i.large,m6a.large,m5.large,t3.medium"

ami=""
count=""
coordinator_ip=""
subnets=""
security_group=""
instance_types=$DEFAULT_TYPES
fleet_type=maintain
valid_hours=""
max_price=""
rate=""
coordinator_port=50051
redis_port=6379
tls_ca=""
tls_cert=""
tls_key=""
secrets_dir="$REPO_ROOT/ansible/secrets"
project=rdapfleet
launch_id=""
key_name=""
instance_profile=""
region=""
dry_run=false
redact=false

# True when $1 is a whole number from $2 to $3.
is_int_between() {
  [[ "$1" =~ ^[0-9]{1,9}$ ]] && ((10#$1 >= $2 && 10#$1 <= $3))
}

need_value() {
  [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --ami) need_value "$@"; ami=$2; shift 2 ;;
    --count) need_value "$@"; count=$2; shift 2 ;;
    --coordinator-ip) need_value "$@"; coordinator_ip=$2; shift 2 ;;
    --subnets) need_value "$@"; subnets=$2; shift 2 ;;
    --security-group) need_value "$@"; security_group=$2; shift 2 ;;
    --instance-types) need_value "$@"; instance_types=$2; shift 2 ;;
    --fleet-type) need_value "$@"; fleet_type=$2; shift 2 ;;
    --valid-hours) need_value "$@"; valid_hours=$2; shift 2 ;;
    --max-price) need_value "$@"; max_price=$2; shift 2 ;;
    --rate) need_value "$@"; rate=$2; shift 2 ;;
    --coordinator-port) need_value "$@"; coordinator_port=$2; shift 2 ;;
    --redis-port) need_value "$@"; redis_port=$2; shift 2 ;;
    --tls-ca) need_value "$@"; tls_ca=$2; shift 2 ;;
    --tls-cert) need_value "$@"; tls_cert=$2; shift 2 ;;
    --tls-key) need_value "$@"; tls_key=$2; shift 2 ;;
    --secrets-dir) need_value "$@"; secrets_dir=$2; shift 2 ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --launch-id) need_value "$@"; launch_id=$2; shift 2 ;;
    --key-name) need_value "$@"; key_name=$2; shift 2 ;;
    --iam-instance-profile) need_value "$@"; instance_profile=$2; shift 2 ;;
    --region) need_value "$@"; region=$2; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    --redact) redact=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# ---------------------------------------------------------------- checks
missing=()
[[ -n "$ami" ]] || missing+=(--ami)
[[ -n "$count" ]] || missing+=(--count)
[[ -n "$coordinator_ip" ]] || missing+=(--coordinator-ip)
[[ -n "$subnets" ]] || missing+=(--subnets)
[[ -n "$security_group" ]] || missing+=(--security-group)
if [[ ${#missing[@]} -gt 0 ]]; then
  die "missing required parameter(s): ${missing[*]} (see --help)"
fi

command -v jq >/dev/null 2>&1 || die "jq is required (apt-get install jq)"

[[ "$ami" =~ ^ami-[0-9a-f]{8,17}$ ]] || die "--ami '$ami' is not an AMI id (ami-...)"
is_int_between "$count" 1 5000 || die "--count '$count' is not a number from 1 to 5000"
count=$((10#$count))
[[ "$security_group" =~ ^sg-[0-9a-f]{8,17}$ ]] || die "--security-group '$security_group' is not a security group id (sg-...)"
[[ "$fleet_type" == maintain || "$fleet_type" == instant ]] || die "--fleet-type must be maintain or instant, not '$fleet_type'"
[[ "$project" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "--project '$project' must be 1-64 letters, digits or _.-"
for port in "$coordinator_port" "$redis_port"; do
  is_int_between "$port" 1 65535 || die "port '$port' is not a number from 1 to 65535"
done

# The coordinator's private address: workers dial it inside the VPC.
if [[ ! "$coordinator_ip" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]]; then
  die "--coordinator-ip '$coordinator_ip' is not an IPv4 address"
fi
o1=${BASH_REMATCH[1]} o2=${BASH_REMATCH[2]} o3=${BASH_REMATCH[3]} o4=${BASH_REMATCH[4]}
for octet in "$o1" "$o2" "$o3" "$o4"; do
  ((10#$octet <= 255)) || die "--coordinator-ip '$coordinator_ip' is not an IPv4 address"
done
if ! ((o1 == 10 || (o1 == 172 && o2 >= 16 && o2 <= 31) || (o1 == 192 && o2 == 168) || (o1 == 100 && o2 >= 64 && o2 <= 127))); then
  die "--coordinator-ip '$coordinator_ip' is not a private address: give the coordinator's private IPv4 address"
fi

IFS=',' read -r -a subnet_list <<<"$subnets"
for subnet in "${subnet_list[@]}"; do
  [[ "$subnet" =~ ^subnet-[0-9a-f]{8,17}$ ]] || die "--subnets: '$subnet' is not a subnet id (subnet-...)"
done
IFS=',' read -r -a type_list <<<"$instance_types"
for itype in "${type_list[@]}"; do
  [[ "$itype" =~ ^[a-z][a-z0-9-]*\.[a-z0-9]+$ ]] || die "--instance-types: '$itype' is not an instance type (e.g. c6i.large)"
done
if ((${#subnet_list[@]} * ${#type_list[@]} > 300)); then
  die "--subnets x --instance-types gives $((${#subnet_list[@]} * ${#type_list[@]})) overrides; EC2 Fleet takes at most 300"
fi

if [[ -n "$valid_hours" ]]; then
  [[ "$fleet_type" == maintain ]] || die "--valid-hours needs --fleet-type maintain"
  is_int_between "$valid_hours" 1 8760 ||
    die "--valid-hours '$valid_hours' is not a whole number of hours from 1 to 8760"
fi
if [[ -n "$max_price" ]]; then
  [[ "$max_price" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--max-price '$max_price' is not a price in USD per hour (e.g. 0.05)"
fi
if [[ -n "$rate" && ! "$rate" =~ ^[A-Za-z0-9=/,.\ ]+$ ]]; then
  die "--rate '$rate' may hold only letters, digits, =/,. and spaces (e.g. \"lacnic=9/min,900/h arin=5/s\")"
fi
if [[ -n "$key_name" && ! "$key_name" =~ ^[A-Za-z0-9_.@+=:,\ -]{1,255}$ ]]; then
  die "--key-name '$key_name' is not a key pair name"
fi
if [[ -n "$instance_profile" && ! "$instance_profile" =~ ^[A-Za-z0-9_+=,.@-]{1,128}$ ]]; then
  die "--iam-instance-profile '$instance_profile' is not an instance profile name"
fi
if [[ -n "$region" && ! "$region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]]; then
  die "--region '$region' is not an AWS region (e.g. eu-west-1)"
fi
if [[ -z "$launch_id" ]]; then
  launch_id=$(date -u +%Y%m%dT%H%M%SZ)
fi
[[ "$launch_id" =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || die "--launch-id '$launch_id' must be 1-40 letters, digits or _.-"
if [[ "$redact" == true && "$dry_run" != true ]]; then
  die "--redact only makes sense with --dry-run"
fi

# The fleet secrets, generated by the Ansible password lookup (site.yml).
read_secret() {
  local file="$secrets_dir/$1" value
  [[ -r "$file" ]] || die "cannot read $file: run 'ansible-playbook site.yml' from ansible/ first (it generates the fleet secrets), or pass --secrets-dir"
  value=$(tr -d '\r\n' <"$file")
  printf '%s' "$value"
}
token=$(read_secret token)
redis_password=$(read_secret redis_password)
[[ "$token" =~ ^[A-Za-z0-9._~-]{32,512}$ ]] || die "$secrets_dir/token must hold 32-512 letters, digits or ._~-"
[[ "$redis_password" =~ ^[A-Za-z0-9._~-]{16,256}$ ]] || die "$secrets_dir/redis_password must hold 16-256 letters, digits or ._~-"

coordinator_tls=false
tls_ca_b64=""
if [[ -n "$tls_ca" ]]; then
  [[ -r "$tls_ca" ]] || die "cannot read --tls-ca $tls_ca"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$tls_ca" || die "--tls-ca $tls_ca is not a PEM certificate"
  coordinator_tls=true
  tls_ca_b64=$(base64 -w0 <"$tls_ca")
fi
tls_cert_b64=""
tls_key_b64=""
if [[ -n "$tls_cert" || -n "$tls_key" ]]; then
  [[ -n "$tls_cert" && -n "$tls_key" ]] || die "--tls-cert and --tls-key go together"
  [[ -n "$tls_ca" ]] || die "--tls-cert needs --tls-ca (client certificates only over TLS)"
  [[ -r "$tls_cert" ]] || die "cannot read --tls-cert $tls_cert"
  [[ -r "$tls_key" ]] || die "cannot read --tls-key $tls_key"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$tls_cert" || die "--tls-cert $tls_cert is not a PEM certificate"
  grep -q -- '-----BEGIN .*PRIVATE KEY-----' "$tls_key" || die "--tls-key $tls_key is not a PEM private key"
  tls_cert_b64=$(base64 -w0 <"$tls_cert")
  tls_key_b64=$(base64 -w0 <"$tls_key")
fi
if [[ "$redact" == true ]]; then
  token=REDACTED
  redis_password=REDACTED
  if [[ -n "$tls_key_b64" ]]; then tls_key_b64=REDACTED; fi
fi

# ------------------------------------------------------------ user data
# Read by rdapfleet-worker-configure (ansible/roles/worker/templates/
# rdapfleet-worker-configure.sh.j2): KEY=VALUE lines. The first line holds no
# secret (cloud-init logs the start of user data it does not handle).
user_data=$(
  echo "# rdapfleet worker user data v1 (read by rdapfleet-worker-configure)"
  echo "RDAPFLEET_COORDINATOR_ADDRESS=$coordinator_ip"
  echo "RDAPFLEET_COORDINATOR_PORT=$coordinator_port"
  echo "RDAPFLEET_COORDINATOR_TLS=$coordinator_tls"
  echo "RDAPFLEET_REDIS_MASTER_PORT=$redis_port"
  echo "RDAPFLEET_TOKEN=$token"
  echo "RDAPFLEET_REDIS_PASSWORD=$redis_password"
  if [[ -n "$rate" ]]; then echo "RDAPFLEET_RATE=$rate"; fi
  if [[ -n "$tls_ca_b64" ]]; then echo "RDAPFLEET_TLS_CA_PEM_B64=$tls_ca_b64"; fi
  if [[ -n "$tls_cert_b64" ]]; then
    echo "RDAPFLEET_TLS_CERT_PEM_B64=$tls_cert_b64"
    echo "RDAPFLEET_TLS_KEY_PEM_B64=$tls_key_b64"
  fi
)
user_data_b64=$(printf '%s\n' "$user_data" | base64 -w0)
((${#user_data_b64} <= 21848)) || die "user data is over EC2's 16 KB limit (large TLS files?)"

# AWS caps some names: a launch template name at 128 characters, an EC2 Fleet
# ClientToken at 64. A name that fits is used as is; a longer one becomes a
# readable prefix, '-' and 24 hex digits of the SHA-256 of the whole name, so
# it stays deterministic per launch (a retried launch reuses the same token and
# EC2 does not start a second fleet).
bounded_name() {
  local max=$1 name=$2 digest
  if ((${#name} <= max)); then
    printf '%s' "$name"
    return
  fi
  digest=$(printf '%s' "$name" | sha256sum | cut -c1-24)
  printf '%s-%s' "${name:0:max-25}" "$digest"
}
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is required (GNU coreutils)"

template_name=$(bounded_name 128 "$project-worker-$launch_id")
client_token=$(bounded_name 64 "$project-worker-$launch_id")

# ------------------------------------------------------------- requests
# Tag values (at most 256 characters on AWS) are bounded by the checks above:
# --project 64, Name = project + "-worker" 71, --launch-id 40.
tags_json=$(jq -cn --arg project "$project" --arg launch "$launch_id" --arg name "$project-worker" \
  '[{Key: "Project", Value: $project}, {Key: "Role", Value: "worker"},
    {Key: "Name", Value: $name}, {Key: "rdapfleet:launch", Value: $launch}]')

launch_template=$(
  jq -n \
    --arg name "$template_name" \
    --arg launch "$launch_id" \
    --arg ami "$ami" \
    --arg sg "$security_group" \
    --arg user_data "$user_data_b64" \
    --arg key_name "$key_name" \
    --arg profile "$instance_profile" \
    --argjson tags "$tags_json" \
    '{
      LaunchTemplateName: $name,
      VersionDescription: ("rdapfleet workers, launch " + $launch),
      LaunchTemplateData: ({
        ImageId: $ami,
        SecurityGroupIds: [$sg],
        UserData: $user_data,
        InstanceInitiatedShutdownBehavior: "terminate",
        MetadataOptions: {
          HttpEndpoint: "enabled",
          HttpTokens: "required",
          HttpPutResponseHopLimit: 1,
          InstanceMetadataTags: "disabled"
        },
        Monitoring: {Enabled: false},
        TagSpecifications: [
          {ResourceType: "instance", Tags: $tags},
          {ResourceType: "volume", Tags: $tags}
        ]
      }
      + (if $key_name != "" then {KeyName: $key_name} else {} end)
      + (if $profile != "" then {IamInstanceProfile: {Name: $profile}} else {} end)),
      TagSpecifications: [{ResourceType: "launch-template", Tags: $tags}]
    }'
)

overrides=$(
  for subnet in "${subnet_list[@]}"; do
    for itype in "${type_list[@]}"; do
      jq -cn --arg subnet "$subnet" --arg type "$itype" --arg price "$max_price" \
        '{InstanceType: $type, SubnetId: $subnet} + (if $price != "" then {MaxPrice: $price} else {} end)'
    done
  done | jq -cs '.'
)

valid_until=""
if [[ -n "$valid_hours" ]]; then
  valid_until=$(date -u -d "+$valid_hours hours" +%Y-%m-%dT%H:%M:%SZ)
fi

create_fleet=$(
  jq -n \
    --arg name "$template_name" \
    --arg token "$client_token" \
    --arg type "$fleet_type" \
    --arg valid_until "$valid_until" \
    --argjson count "$count" \
    --argjson overrides "$overrides" \
    --argjson tags "$tags_json" \
    '{
      ClientToken: $token,
      Type: $type,
      TargetCapacitySpecification: {
        TotalTargetCapacity: $count,
        SpotTargetCapacity: $count,
        OnDemandTargetCapacity: 0,
        DefaultTargetCapacityType: "spot"
      },
      SpotOptions: {
        AllocationStrategy: "price-capacity-optimized",
        InstanceInterruptionBehavior: "terminate"
      },
      LaunchTemplateConfigs: [{
        LaunchTemplateSpecification: {LaunchTemplateName: $name, Version: "1"},
        Overrides: $overrides
      }],
      TagSpecifications: [{ResourceType: "fleet", Tags: $tags}]
    }
    + (if $type == "maintain" then {
        ReplaceUnhealthyInstances: true,
        ExcessCapacityTerminationPolicy: "termination"
      } else {} end)
    + (if $valid_until != "" then {
        ValidUntil: $valid_until,
        TerminateInstancesWithExpiration: true
      } else {} end)'
)

if [[ "$dry_run" == true ]]; then
  jq -n --argjson lt "$launch_template" --argjson fleet "$create_fleet" \
    '{create_launch_template: $lt, create_fleet: $fleet}'
  if [[ "$redact" != true ]]; then
    echo "$PROG: dry run: nothing was called. The user data above holds the fleet secrets (base64): do not paste it anywhere public (--redact hides them)." >&2
  else
    echo "$PROG: dry run: nothing was called." >&2
  fi
  exit 0
fi

# ------------------------------------------------------------------ run
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is required"
aws_args=(--output json)
if [[ -n "$region" ]]; then aws_args+=(--region "$region"); fi

workdir=$(umask 077 && mktemp -d)
trap 'rm -rf "$workdir"' EXIT
(
  umask 077
  printf '%s\n' "$launch_template" >"$workdir/launch-template.json"
  printf '%s\n' "$create_fleet" >"$workdir/create-fleet.json"
)

echo "$PROG: checking that the subnets give public addresses" >&2
not_public=$(aws ec2 describe-subnets "${aws_args[@]}" --subnet-ids "${subnet_list[@]}" |
  jq -r '.Subnets[] | select(.MapPublicIpOnLaunch != true) | .SubnetId')
if [[ -n "$not_public" ]]; then
  die "subnet(s) $(echo "$not_public" | tr '\n' ' ')do not auto-assign public IPv4 addresses: each worker needs its own egress address (enable it on the subnet, or use other subnets)"
fi

echo "$PROG: creating launch template $template_name" >&2
lt_out=$(aws ec2 create-launch-template "${aws_args[@]}" --cli-input-json "file://$workdir/launch-template.json")
lt_id=$(jq -r '.LaunchTemplate.LaunchTemplateId // empty' <<<"$lt_out")
[[ -n "$lt_id" ]] || die "create-launch-template returned no id: $lt_out"

echo "$PROG: creating a spot fleet (type $fleet_type) of $count worker(s)" >&2
fleet_out=$(aws ec2 create-fleet "${aws_args[@]}" --cli-input-json "file://$workdir/create-fleet.json")
fleet_id=$(jq -r '.FleetId // empty' <<<"$fleet_out")
errors=$(jq -r '(.Errors // [])[] | "  \(.LaunchTemplateAndOverrides.Overrides.InstanceType // "?") in \(.LaunchTemplateAndOverrides.Overrides.SubnetId // "?"): \(.ErrorCode): \(.ErrorMessage)"' <<<"$fleet_out")
if [[ -n "$errors" ]]; then
  echo "$PROG: warning: some pools could not launch:" >&2
  echo "$errors" >&2
fi
[[ -n "$fleet_id" ]] || die "create-fleet returned no fleet id: $fleet_out"
launched=$(jq '[(.Instances // [])[].InstanceIds[]] | length' <<<"$fleet_out")
if [[ "$fleet_type" == instant ]] && ((launched < count)); then
  echo "$PROG: warning: only $launched of $count worker(s) launched (an instant fleet does not retry; add instance types or subnets, or use --fleet-type maintain)" >&2
fi

jq -n --arg fleet "$fleet_id" --arg lt "$lt_id" --arg name "$template_name" --arg launch "$launch_id" \
  --arg type "$fleet_type" --argjson count "$count" --argjson launched "$launched" \
  '{fleet_id: $fleet, fleet_type: $type, target: $count, launch_template_id: $lt,
    launch_template_name: $name, launch_id: $launch}
   + (if $type == "instant" then {instances_launched: $launched} else {} end)'
echo "$PROG: fleet $fleet_id requested; watch it with: scripts/fleet-status.sh --project $project${region:+ --region $region}" >&2
echo "$PROG: the workers configure themselves at boot and wait for the coordinator at $coordinator_ip:$coordinator_port" >&2
