"""A stage of its own, end to end: renamed token parameters under a customer-managed key,
deployed from a clean copy of the project, used, then deleted from a copy that never
deployed it.

The copy holds what a fresh clone holds (no ``.chalice/deployed``), with one more stage
``kms`` in its ``.chalice/config.json``: the ``local`` stage's settings, the token under
``/e2e/kms/stax/*`` encrypted with the key ``alias/e2e-stax-token``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import create_payload, run_execution, unique_name
from tests.e2e.helpers import LOCAL_TOKEN, copy_project, run_in, stage_resources

pytestmark = pytest.mark.e2e
STAGE = "kms"
PREFIX = f"stax-orchestrator-{STAGE}-"
PARAMETERS = ("/e2e/kms/stax/id", "/e2e/kms/stax/secret")
ALIAS = "alias/e2e-stax-token"


def _copy_project(destination: Path, with_key: bool) -> Path:
    environment = {"STAX_ACCESS_KEY_PARAMETER": PARAMETERS[0],
                   "STAX_SECRET_KEY_PARAMETER": PARAMETERS[1]}  # fmt: skip
    if with_key:
        environment["STAX_TOKEN_KMS_KEY_ID"] = ALIAS
    return copy_project(destination, STAGE, environment)


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in(project, "./deploy.sh", "--stage", STAGE, *args, as_deployer=True)


@pytest.fixture(scope="module")
def token_key(local_stack: None) -> str:
    """The CMK and the token stored under the stage's own names, encrypted with it."""
    kms, ssm = boto3.client("kms"), boto3.client("ssm")
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    if ALIAS in aliases:
        key_id = aliases[ALIAS]["TargetKeyId"]
    else:
        key_id = kms.create_key(Description="e2e stage token key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
    values = [
        ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        for name in LOCAL_TOKEN
    ]
    for name, value in zip(PARAMETERS, values, strict=True):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId=ALIAS,
                          Overwrite=True)  # fmt: skip
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def test_a_missing_key_grant_fails_preflight_and_creates_nothing(
    tmp_path: Path, token_key: str
) -> None:
    project = _copy_project(tmp_path / "no-grant", with_key=False)
    run = _run(project)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "customer-managed key" in run.stderr and "--kms-key-id" in run.stderr
    assert token_key in run.stderr
    assert stage_resources(STAGE)["functions"] == []


def test_a_stage_with_its_own_parameters_and_key_deploys_runs_and_deletes_from_a_clean_clone(
    tmp_path: Path, token_key: str, sfn: Any, clean_sim: Any
) -> None:
    project = _copy_project(tmp_path / "kms", with_key=True)
    deployed = _run(project)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    try:
        assert f"creating stack stax-orchestrator-{STAGE}" in deployed.stderr
        [stack] = boto3.client("cloudformation").describe_stacks(
            StackName=f"stax-orchestrator-{STAGE}"
        )["Stacks"]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"  # created with its bucket, then all
        assert {"CAPABILITY_NAMED_IAM"} <= set(stack.get("Capabilities") or [])
        machines = json.loads((project / ".chalice/deployed/kms-statemachines.json").read_text())
        iam = boto3.client("iam")
        role = f"{PREFIX}create_workload"
        [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        policy = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        policy = json.loads(urllib.parse.unquote(policy)) if isinstance(policy, str) else policy
        by_sid = {s["Sid"]: s for s in policy["Statement"]}
        assert by_sid["ReadStaxApiToken"]["Resource"] == [
            f"arn:aws:ssm:us-east-1:000000000000:parameter{p}" for p in PARAMETERS
        ]
        assert by_sid["DecryptStaxApiToken"]["Resource"] == token_key
        assert by_sid["DecryptStaxApiToken"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}
        }
        name = unique_name("kms")
        created = run_execution(sfn, machines["workload"], create_payload(name))
        assert created["status"] == "SUCCEEDED", created.get("cause")
        workload_id = json.loads(created["output"])["workload_id"]
        deleted = run_execution(
            sfn, machines["workload"], {"operation": "delete", "workload_id": workload_id}
        )
        assert deleted["status"] == "SUCCEEDED", deleted.get("cause")
    finally:
        # Another clone, which never deployed the stage, deletes it.
        other = _copy_project(tmp_path / f"clone-{uuid.uuid4().hex[:6]}", with_key=True)
        assert not (other / ".chalice" / "deployed").exists()
        removed = _run(other, "--delete")
    assert removed.returncode == 0, removed.stderr
    assert f"deleted function {PREFIX}create_workload" in removed.stderr
    assert f"deleted stack stax-orchestrator-{STAGE}" in removed.stderr
    left = stage_resources(STAGE)
    assert left == {kind: [] for kind in left}
