#!/usr/bin/env python3
"""Check the fleet scripts without touching AWS.

    python3 ansible/tests/test_scripts.py

- every script: --help exits 0, missing or bad parameters exit 1 with a clear
  message;
- scripts/launch-spot-fleet.sh --dry-run: the printed JSON parses (also with
  `python -m json.tool` and `jq`), asks for spot capacity with
  price-capacity-optimized, the target count, every instance type in every
  subnet, the Role/Project tags, IMDSv2, and its user data decodes to exactly
  the coordinator address, ports and fleet secrets that were asked for;
- AWS length limits with the longest --project (64) and --launch-id (40): the
  fleet's ClientToken stays within 64 characters (a prefix and a hash of the
  full name) and is the same on every run of one launch; the launch template
  name within 128, tag values within 256;
- fleet-status.sh and terminate-fleet.sh --dry-run print their aws commands.

Every run puts a guard named `aws` first on PATH that records any call and
fails: a dry run that called aws fails the check.
Ends with one line: "scripts: N passed, N failed".
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(REPO, "scripts")
TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"
REDIS_PASSWORD = "test-redis-password-0123456789"

GUARD = """#!/bin/sh
echo "$0 $*" >> "$AWS_GUARD_LOG"
echo "aws must not be called by this test: $*" >&2
exit 97
"""


class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rdapfleet-scripts-")
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "aws"), "w") as handle:
            handle.write(GUARD)
        os.chmod(os.path.join(bindir, "aws"), 0o755)
        self.guard_log = os.path.join(self.tmp, "aws-calls.log")
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], AWS_GUARD_LOG=self.guard_log)
        self.secrets = os.path.join(self.tmp, "secrets")
        os.makedirs(self.secrets)
        with open(os.path.join(self.secrets, "token"), "w") as handle:
            handle.write(TOKEN)
        with open(os.path.join(self.secrets, "redis_password"), "w") as handle:
            handle.write(REDIS_PASSWORD + "\n")  # a trailing newline is tolerated

    def run(self, script, *args):
        proc = subprocess.run(
            [os.path.join(SCRIPTS, script), *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        return proc

    def aws_calls(self):
        try:
            with open(self.guard_log) as handle:
                return handle.read()
        except FileNotFoundError:
            return ""


LAUNCH_BASE = [
    "--ami", "ami-0123456789abcdef0",
    "--count", "50",
    "--coordinator-ip", "10.0.1.10",
    "--subnets", "subnet-0aaa1111,subnet-0bbb2222,subnet-0ccc3333",
    "--security-group", "sg-0123abcd",
    "--instance-types", "c6i.large,m6i.large,c5.large",
    "--launch-id", "test1",
]


def launch_dry_run(env, *extra):
    proc = env.run("launch-spot-fleet.sh", "--dry-run", "--secrets-dir", env.secrets, *LAUNCH_BASE, *extra)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert env.aws_calls() == "", f"the dry run called aws: {env.aws_calls()}"
    return proc


def user_data_of(doc):
    raw = base64.b64decode(doc["create_launch_template"]["LaunchTemplateData"]["UserData"], validate=True)
    return raw.decode()


def tags(spec_list, resource):
    for spec in spec_list:
        if spec["ResourceType"] == resource:
            return {tag["Key"]: tag["Value"] for tag in spec["Tags"]}
    raise AssertionError(f"no {resource} tags in {spec_list}")


def check_help_and_missing(env):
    for script in ("launch-spot-fleet.sh", "fleet-status.sh", "terminate-fleet.sh"):
        proc = env.run(script, "--help")
        assert proc.returncode == 0 and "Usage:" in proc.stdout, f"{script} --help: {proc.returncode} {proc.stdout}"
        proc = env.run(script, "--no-such-flag")
        assert proc.returncode == 1 and f"{script}: error: unknown argument" in proc.stderr, f"{script}: {proc.stderr}"
    proc = env.run("launch-spot-fleet.sh")
    assert proc.returncode == 1, proc.returncode
    assert "missing required parameter(s): --ami --count --coordinator-ip --subnets --security-group" in proc.stderr, proc.stderr
    proc = env.run("launch-spot-fleet.sh", "--count")
    assert proc.returncode == 1 and "--count needs a value" in proc.stderr, proc.stderr
    proc = env.run("terminate-fleet.sh")
    assert proc.returncode == 1 and "exactly one of --fleet-id, --launch-id or --all" in proc.stderr, proc.stderr
    proc = env.run("terminate-fleet.sh", "--all", "--launch-id", "x")
    assert proc.returncode == 1, proc.stderr
    assert env.aws_calls() == "", f"aws was called: {env.aws_calls()}"


def check_launch_refuses_bad_input(env):
    cases = {
        "public coordinator address": (["--coordinator-ip", "54.171.53.151"], "not a private address"),
        "count zero": (["--count", "0"], "--count '0'"),
        "bad subnet": (["--subnets", "subnet-0aaa1111,nope"], "'nope' is not a subnet id"),
        "bad ami": (["--ami", "ubuntu"], "not an AMI id"),
        "bad fleet type": (["--fleet-type", "request"], "maintain or instant"),
        "valid hours on instant": (["--fleet-type", "instant", "--valid-hours", "3"], "needs --fleet-type maintain"),
        "rate with shell": (["--rate", "lacnic=9/min;reboot"], "--rate"),
        "redact without dry run": (["--redact"], "only makes sense with --dry-run"),
    }
    for name, (args, message) in cases.items():
        argv = list(LAUNCH_BASE)
        for i in range(0, len(args), 2):
            if args[i] in argv and i + 1 < len(args):
                argv[argv.index(args[i]) + 1] = args[i + 1]
            else:
                argv += args[i : i + 2]
        dry = [] if "--redact" in args else ["--dry-run"]
        proc = env.run("launch-spot-fleet.sh", *dry, "--secrets-dir", env.secrets, *argv)
        assert proc.returncode == 1, f"{name}: exit {proc.returncode}, want 1 ({proc.stderr})"
        assert message in proc.stderr and "launch-spot-fleet.sh: error:" in proc.stderr, f"{name}: {proc.stderr!r}"
    proc = env.run("launch-spot-fleet.sh", "--dry-run", "--secrets-dir", os.path.join(env.tmp, "none"), *LAUNCH_BASE)
    assert proc.returncode == 1 and "ansible-playbook site.yml" in proc.stderr, proc.stderr
    assert env.aws_calls() == "", f"aws was called: {env.aws_calls()}"


def check_launch_dry_run(env):
    proc = launch_dry_run(env, "--valid-hours", "6", "--rate", "lacnic=9/min,900/h arin=5/s", "--max-price", "0.05")
    for tool in ([sys.executable, "-m", "json.tool"], ["jq", "."]):
        if shutil.which(tool[0]) is None:
            continue
        checked = subprocess.run(tool, input=proc.stdout, capture_output=True, text=True)
        assert checked.returncode == 0, f"{' '.join(tool)} rejects the dry-run output: {checked.stderr}"
    doc = json.loads(proc.stdout)
    assert sorted(doc) == ["create_fleet", "create_launch_template"], sorted(doc)

    lt = doc["create_launch_template"]
    data = lt["LaunchTemplateData"]
    assert lt["LaunchTemplateName"] == "rdapfleet-worker-test1", lt["LaunchTemplateName"]
    assert data["ImageId"] == "ami-0123456789abcdef0"
    assert data["SecurityGroupIds"] == ["sg-0123abcd"]
    assert data["MetadataOptions"]["HttpTokens"] == "required", "IMDSv2 only"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    for resource in ("instance", "volume"):
        instance_tags = tags(data["TagSpecifications"], resource)
        assert instance_tags["Role"] == "worker" and instance_tags["Project"] == "rdapfleet", instance_tags
        assert instance_tags["rdapfleet:launch"] == "test1"
    assert tags(lt["TagSpecifications"], "launch-template")["Role"] == "worker"
    assert "KeyName" not in data, "no SSH key unless asked"

    fleet = doc["create_fleet"]
    assert fleet["Type"] == "maintain"
    capacity = fleet["TargetCapacitySpecification"]
    assert capacity == {
        "TotalTargetCapacity": 50,
        "SpotTargetCapacity": 50,
        "OnDemandTargetCapacity": 0,
        "DefaultTargetCapacityType": "spot",
    }, capacity
    assert fleet["SpotOptions"]["AllocationStrategy"] == "price-capacity-optimized", fleet["SpotOptions"]
    assert fleet["SpotOptions"]["InstanceInterruptionBehavior"] == "terminate"
    (config,) = fleet["LaunchTemplateConfigs"]
    assert config["LaunchTemplateSpecification"] == {"LaunchTemplateName": "rdapfleet-worker-test1", "Version": "1"}
    pools = {(o["InstanceType"], o["SubnetId"]) for o in config["Overrides"]}
    want = {(t, s) for t in ("c6i.large", "m6i.large", "c5.large") for s in ("subnet-0aaa1111", "subnet-0bbb2222", "subnet-0ccc3333")}
    assert pools == want and len(config["Overrides"]) == 9, pools
    assert all(o["MaxPrice"] == "0.05" for o in config["Overrides"])
    assert tags(fleet["TagSpecifications"], "fleet") == tags(data["TagSpecifications"], "instance")
    assert fleet["ReplaceUnhealthyInstances"] is True
    assert fleet["TerminateInstancesWithExpiration"] is True
    until = time.mktime(time.strptime(fleet["ValidUntil"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 5.9 * 3600 < until - time.time() < 6.1 * 3600, fleet["ValidUntil"]
    assert fleet["ClientToken"] == "rdapfleet-worker-test1"

    user_data = user_data_of(doc)
    assert user_data.splitlines() == [
        "# rdapfleet worker user data v1 (read by rdapfleet-worker-configure)",
        "RDAPFLEET_COORDINATOR_ADDRESS=10.0.1.10",
        "RDAPFLEET_COORDINATOR_PORT=50051",
        "RDAPFLEET_COORDINATOR_TLS=false",
        "RDAPFLEET_REDIS_MASTER_PORT=6379",
        f"RDAPFLEET_TOKEN={TOKEN}",
        f"RDAPFLEET_REDIS_PASSWORD={REDIS_PASSWORD}",
        "RDAPFLEET_RATE=lacnic=9/min,900/h arin=5/s",
    ], user_data
    assert "secrets" in proc.stderr, "the dry run warns that its output holds secrets"


def check_launch_variants(env):
    # instant fleet: no maintain-only fields.
    doc = json.loads(launch_dry_run(env, "--fleet-type", "instant").stdout)
    fleet = doc["create_fleet"]
    assert fleet["Type"] == "instant"
    for key in ("ReplaceUnhealthyInstances", "ExcessCapacityTerminationPolicy", "ValidUntil"):
        assert key not in fleet, f"instant fleet has {key}"
    # TLS: https and the CA in user data.
    pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
    ca = os.path.join(env.tmp, "ca.crt")
    with open(ca, "w") as handle:
        handle.write(pem)
    doc = json.loads(launch_dry_run(env, "--tls-ca", ca, "--key-name", "ops key", "--region", "eu-west-1").stdout)
    lines = dict(line.split("=", 1) for line in user_data_of(doc).splitlines() if not line.startswith("#"))
    assert lines["RDAPFLEET_COORDINATOR_TLS"] == "true"
    assert base64.b64decode(lines["RDAPFLEET_TLS_CA_PEM_B64"]).decode() == pem
    assert doc["create_launch_template"]["LaunchTemplateData"]["KeyName"] == "ops key"
    # --redact hides both secrets.
    doc = json.loads(launch_dry_run(env, "--redact").stdout)
    text = user_data_of(doc)
    assert TOKEN not in text and REDIS_PASSWORD not in text and "RDAPFLEET_TOKEN=REDACTED" in text, text


def check_launch_long_names(env):
    project = "p" * 60 + "-ops"  # 64, the longest --project
    launch = "20260501T120000Z-" + "x" * 22 + "1"  # 40, the longest --launch-id
    assert len(project) == 64 and len(launch) == 40
    full = f"{project}-worker-{launch}"  # 112 characters

    def run(launch_id):
        proc = launch_dry_run(env, "--project", project, "--launch-id", launch_id)
        return json.loads(proc.stdout)

    first, second = run(launch), run(launch)
    token = first["create_fleet"]["ClientToken"]
    assert len(token) <= 64, f"ClientToken has {len(token)} characters, AWS allows 64: {token}"
    assert token.isascii(), token
    assert second["create_fleet"]["ClientToken"] == token, "the ClientToken changes between runs of one launch"
    # A readable prefix of the full name and a hash of all of it.
    digest = hashlib.sha256(full.encode()).hexdigest()[:24]
    assert token == f"{full[:39]}-{digest}", token
    # Launches that differ only past the prefix still get different tokens.
    other = run(launch[:-1] + "2")["create_fleet"]["ClientToken"]
    assert len(other) <= 64 and other != token, (other, token)

    lt = first["create_launch_template"]
    name = lt["LaunchTemplateName"]
    assert len(name) <= 128 and name == full, name
    spec = first["create_fleet"]["LaunchTemplateConfigs"][0]["LaunchTemplateSpecification"]
    assert spec["LaunchTemplateName"] == name, spec
    assert second["create_launch_template"]["LaunchTemplateName"] == name
    all_tags = lt["TagSpecifications"] + lt["LaunchTemplateData"]["TagSpecifications"]
    all_tags += first["create_fleet"]["TagSpecifications"]
    for spec_tags in all_tags:
        for tag in spec_tags["Tags"]:
            assert len(tag["Key"]) <= 128 and len(tag["Value"]) <= 256, tag
    assert tags(lt["TagSpecifications"], "launch-template")["Project"] == project
    assert tags(lt["LaunchTemplateData"]["TagSpecifications"], "instance")["rdapfleet:launch"] == launch
    assert len(lt["VersionDescription"]) <= 255, lt["VersionDescription"]

    # Past the limits the script refuses instead of cutting the tags.
    proc = env.run("launch-spot-fleet.sh", "--dry-run", "--secrets-dir", env.secrets, *LAUNCH_BASE, "--project", project + "x")
    assert proc.returncode == 1 and "--project" in proc.stderr, proc.stderr
    proc = env.run("launch-spot-fleet.sh", "--dry-run", "--secrets-dir", env.secrets, *LAUNCH_BASE, "--launch-id", launch + "x")
    assert proc.returncode == 1 and "--launch-id" in proc.stderr, proc.stderr
    assert env.aws_calls() == "", f"aws was called: {env.aws_calls()}"


def check_status_and_terminate_dry_run(env):
    proc = env.run("fleet-status.sh", "--dry-run", "--role", "worker", "--launch-id", "test1", "--region", "eu-west-1")
    assert proc.returncode == 0, proc.stderr
    assert "aws ec2 describe-instances" in proc.stdout and "tag:Role" in proc.stdout and "test1" in proc.stdout, proc.stdout
    assert "aws ec2 describe-fleets" in proc.stdout
    proc = env.run("fleet-status.sh", "--role", "boss")
    assert proc.returncode == 1 and "--role must be" in proc.stderr, proc.stderr
    proc = env.run("terminate-fleet.sh", "--fleet-id", "fleet-12345678-aaaa-bbbb-cccc-1234567890ab", "--dry-run")
    assert proc.returncode == 0 and "describe-fleets" in proc.stdout and "--fleet-ids" in proc.stdout, proc.stdout
    proc = env.run("terminate-fleet.sh", "--fleet-id", "i-0123456789", "--dry-run")
    assert proc.returncode == 1 and "not an EC2 fleet id" in proc.stderr, proc.stderr
    assert env.aws_calls() == "", f"aws was called: {env.aws_calls()}"


def main():
    env = Env()
    passed = failed = 0
    checks = [
        ("--help, unknown and missing parameters", check_help_and_missing),
        ("launch-spot-fleet.sh refuses bad input", check_launch_refuses_bad_input),
        ("launch-spot-fleet.sh --dry-run JSON", check_launch_dry_run),
        ("launch-spot-fleet.sh instant, TLS and --redact", check_launch_variants),
        ("launch-spot-fleet.sh AWS length limits (ClientToken <= 64)", check_launch_long_names),
        ("fleet-status.sh and terminate-fleet.sh --dry-run", check_status_and_terminate_dry_run),
    ]
    try:
        for name, func in checks:
            started = time.monotonic()
            try:
                func(env)
            except Exception as err:
                failed += 1
                print(f"FAIL {name}: {err}", flush=True)
                if not isinstance(err, AssertionError):
                    traceback.print_exc()
                continue
            passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
    finally:
        shutil.rmtree(env.tmp, ignore_errors=True)
    print(f"scripts: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
