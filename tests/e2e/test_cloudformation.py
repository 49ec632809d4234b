"""The CloudFormation package, deployed as a stack with the standard AWS CLI, end to end.

A copy of the project holds one more stage, ``cfn`` (the ``local`` stage's settings under
its own names, so the stack never meets the stage ``deploy.sh`` deployed). The package is
written by ``./deploy.sh --stage cfn --package DIR``, uploaded and deployed by the AWS CLI
(``aws cloudformation package`` / ``deploy``, from ``.venv-awscli``) on MiniStack's
CloudFormation, which applies the SAM transform. A create and a delete run through the
workload state machine the stack's Outputs name; ``deploy.sh --delete`` deletes the stack
under the stage's name, its used (versioned) bucket emptied first, and leaves nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from stax_orchestrator.local_env import LOCAL_OPERATOR
from tests.e2e.conftest import ROOT, create_payload, run_execution, unique_name
from tests.e2e.helpers import copy_project, run_in, stage_resources

pytestmark = pytest.mark.e2e
STAGE = "cfn"
PREFIX = f"stax-orchestrator-{STAGE}-"
STACK = f"stax-orchestrator-{STAGE}"
AWS = ROOT / ".venv-awscli" / "bin" / "aws"


def _run(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = run_in(cwd, *args, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


def test_the_package_deploys_as_a_stack_runs_create_and_delete_and_leaves_nothing_when_deleted(
    tmp_path: Path, sfn: Any, clean_sim: Any
) -> None:
    project = copy_project(tmp_path / "project", STAGE)
    package = tmp_path / "package"
    _run(["./deploy.sh", "--stage", STAGE, "--package", str(package)], project)
    bucket = boto3.client("ssm").get_parameter(Name="/orchestrator/stax/artifact/bucket/name")
    artifacts = bucket["Parameter"]["Value"]
    packaged = package / "packaged.yaml"
    _run([str(AWS), "cloudformation", "package", "--template-file", str(package / "sam.json"),
          "--s3-bucket", artifacts, "--s3-prefix", "e2e-cfn",
          "--output-template-file", str(packaged)], package)  # fmt: skip
    try:
        # Who may write the bucket's baselines/, plans/ and requests/ besides the
        # stage's roles: here the local operator (below) and the deploying user (--delete
        # empties the bucket).
        writers = f"{LOCAL_OPERATOR},arn:aws:iam::000000000000:user/stax-orchestrator-deployer"
        _run([str(AWS), "cloudformation", "deploy", "--template-file", str(packaged),
              "--stack-name", STACK, "--capabilities", "CAPABILITY_NAMED_IAM",
              "CAPABILITY_AUTO_EXPAND", "--s3-bucket", artifacts, "--s3-prefix", "e2e-cfn",
              "--parameter-overrides", f"StageBucketWriters={writers}"],
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
        # What a stage's bucket holds once used (a stored baselines file, its old version):
        # CloudFormation alone cannot delete the stack now (docs/cloudformation.md).
        for body in (b"baselines: {}\n", b"baselines: {}  # v2\n"):
            boto3.client("s3").put_object(Bucket=outputs["FleetBucketName"],
                                          Key="baselines/baselines.yaml", Body=body)  # fmt: skip
    finally:
        removed = run_in(
            project, "./deploy.sh", "--stage", STAGE, "--delete", "--force", as_deployer=True
        )
    assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
    assert f"deleted stack {STACK}" in removed.stderr
    left = stage_resources(STAGE)
    assert left == {kind: [] for kind in left}
