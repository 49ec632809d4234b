"""The CloudFormation package, deployed as a stack with the standard AWS CLI, end to end.

A copy of the project holds one more stage, ``cfn`` (the ``local`` stage's settings under
its own names, so the stack never meets the stage ``deploy.sh`` deployed). The package is
written by ``./deploy.sh --stage cfn --package DIR``, uploaded and deployed by the AWS CLI
(``aws cloudformation package`` / ``deploy``, from ``.venv-awscli``) on MiniStack's
CloudFormation, which applies the SAM transform. A create and a delete run through the
workload state machine the stack's Outputs name; deleting the stack leaves nothing of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import ROOT, create_payload, run_execution, unique_name

pytestmark = pytest.mark.e2e
STAGE = "cfn"
PREFIX = f"stax-orchestrator-{STAGE}-"
STACK = f"stax-orchestrator-{STAGE}"
AWS = ROOT / ".venv-awscli" / "bin" / "aws"


def _copy_project(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in ("app.py", "requirements.txt", "deploy.sh", "LICENSE", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("chalicelib", "statemachines", "stax_orchestrator"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    chalice = destination / ".chalice"
    (chalice / "deployments").mkdir(parents=True)
    for cached in (ROOT / ".chalice" / "deployments").glob("*.zip"):
        shutil.copy2(cached, chalice / "deployments" / cached.name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stage = json.loads(json.dumps(config["stages"]["local"]).replace("-local-", f"-{STAGE}-"))
    stage["iam_policy_file"] = f"policy-{STAGE}.json"
    config["stages"][STAGE] = stage
    (chalice / "config.json").write_text(json.dumps(config, indent=2))
    return destination


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    venv = ROOT / ".venv" / "bin"
    env = {**_env(), "PYTHON": str(venv / "python"), "CHALICE": str(venv / "chalice"),
           "PATH": f"{venv}:/usr/bin:/bin", "PYTHONPATH": str(cwd)}  # fmt: skip
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


def _leftovers() -> dict[str, list[str]]:
    lam, iam, sfn = boto3.client("lambda"), boto3.client("iam"), boto3.client("stepfunctions")
    sns, events, dynamodb = boto3.client("sns"), boto3.client("events"), boto3.client("dynamodb")
    s3, logs = boto3.client("s3"), boto3.client("logs")
    return {
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]
                      if f["FunctionName"].startswith(PREFIX)],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]
                  if r["RoleName"].startswith(PREFIX)],
        "state_machines": [m["name"] for m in sfn.list_state_machines()["stateMachines"]
                           if m["name"].startswith(PREFIX)],
        "tables": [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(PREFIX)],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(PREFIX)],
        "topics": [t["TopicArn"] for t in sns.list_topics()["Topics"] if f":{PREFIX}" in t["TopicArn"]],
        "rules": [r["Name"] for r in events.list_rules()["Rules"] if r["Name"].startswith(PREFIX)],
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]
                       if PREFIX in g["logGroupName"]],
    }  # fmt: skip


def test_the_package_deploys_as_a_stack_runs_create_and_delete_and_leaves_nothing_when_deleted(
    tmp_path: Path, sfn: Any, clean_sim: Any
) -> None:
    project = _copy_project(tmp_path / "project")
    package = tmp_path / "package"
    _run(["./deploy.sh", "--stage", STAGE, "--package", str(package)], project)
    bucket = boto3.client("ssm").get_parameter(Name="/orchestrator/stax/artifact/bucket/name")
    artifacts = bucket["Parameter"]["Value"]
    packaged = package / "packaged.yaml"
    _run([str(AWS), "cloudformation", "package", "--template-file", str(package / "sam.json"),
          "--s3-bucket", artifacts, "--s3-prefix", "e2e-cfn",
          "--output-template-file", str(packaged)], package)  # fmt: skip
    try:
        _run([str(AWS), "cloudformation", "deploy", "--template-file", str(packaged),
              "--stack-name", STACK, "--capabilities", "CAPABILITY_IAM",
              "CAPABILITY_AUTO_EXPAND", "--s3-bucket", artifacts, "--s3-prefix", "e2e-cfn"],
             package)  # fmt: skip
        stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        machine = outputs["WorkloadStateMachineArn"]
        assert machine.endswith(f":stateMachine:{PREFIX}workload")
        created = run_execution(sfn, machine, create_payload(unique_name("cfn")), timeout=300)
        assert created["status"] == "SUCCEEDED", created.get("cause")
        workload_id = json.loads(created["output"])["workload_id"]
        deleted = run_execution(
            sfn, machine, {"operation": "delete", "workload_id": workload_id}, timeout=300
        )
        assert deleted["status"] == "SUCCEEDED", deleted.get("cause")
    finally:
        _run([str(AWS), "cloudformation", "delete-stack", "--stack-name", STACK], package)
        _run([str(AWS), "cloudformation", "wait", "stack-delete-complete",
              "--stack-name", STACK], package)  # fmt: skip
    assert _leftovers() == {key: [] for key in _leftovers()}
