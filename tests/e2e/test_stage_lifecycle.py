"""A stage of its own, end to end: renamed token parameters under a customer-managed key,
deployed from a clean copy of the project, used, then deleted from a copy that never
deployed it.

The copy holds what a fresh clone holds (no ``.chalice/deployed``), with one more stage
``kms`` in its ``.chalice/config.json``: the ``local`` stage's settings, the token under
``/e2e/kms/stax/*`` encrypted with the key ``alias/e2e-stax-token``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import ROOT, create_payload, run_execution, unique_name

pytestmark = pytest.mark.e2e
STAGE = "kms"
PREFIX = f"stax-orchestrator-{STAGE}-"
PARAMETERS = ("/e2e/kms/stax/id", "/e2e/kms/stax/secret")
ALIAS = "alias/e2e-stax-token"


def _copy_project(destination: Path, with_key: bool) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "requirements.txt", "deploy.sh"):
        shutil.copy2(ROOT / name, destination / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("chalicelib", "statemachines", "stax_orchestrator"):
        if not (destination / name).exists():
            shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    chalice = destination / ".chalice"
    (chalice / "deployments").mkdir(parents=True, exist_ok=True)
    for cached in (ROOT / ".chalice" / "deployments").glob("*.zip"):
        shutil.copy2(cached, chalice / "deployments" / cached.name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stage = json.loads(json.dumps(config["stages"]["local"]).replace("-local-", f"-{STAGE}-"))
    stage["iam_policy_file"] = f"policy-{STAGE}.json"
    stage["environment_variables"].update(
        STAX_ACCESS_KEY_PARAMETER=PARAMETERS[0], STAX_SECRET_KEY_PARAMETER=PARAMETERS[1]
    )
    if with_key:
        stage["environment_variables"]["STAX_TOKEN_KMS_KEY_ID"] = ALIAS
    config["stages"][STAGE] = stage
    (chalice / "config.json").write_text(json.dumps(config, indent=2))
    return destination


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv = ROOT / ".venv" / "bin"
    return subprocess.run(
        ["./deploy.sh", "--stage", STAGE, *args],
        cwd=project,
        env={**_env(), "PYTHON": str(venv / "python"), "CHALICE": str(venv / "chalice"),
             "PATH": f"{venv}:/usr/bin:/bin", "PYTHONPATH": str(project)},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


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
        for name in ("/orchestrator/stax/access/key", "/orchestrator/stax/access/key/secret")
    ]
    for name, value in zip(PARAMETERS, values, strict=True):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId=ALIAS,
                          Overwrite=True)  # fmt: skip
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def _stage_resources() -> dict[str, list[str]]:
    lam, iam, sfn = boto3.client("lambda"), boto3.client("iam"), boto3.client("stepfunctions")
    sns, events, dynamodb = boto3.client("sns"), boto3.client("events"), boto3.client("dynamodb")
    return {
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]
                      if f["FunctionName"].startswith(PREFIX)],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]
                  if r["RoleName"].startswith(PREFIX)],
        "state_machines": [m["name"] for m in sfn.list_state_machines()["stateMachines"]
                           if m["name"].startswith(PREFIX)],
        "tables": [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(PREFIX)],
        "topics": [t["TopicArn"] for t in sns.list_topics()["Topics"] if f":{PREFIX}" in t["TopicArn"]],
        "rules": [r["Name"] for r in events.list_rules()["Rules"] if r["Name"].startswith(PREFIX)],
    }  # fmt: skip


def test_a_missing_key_grant_fails_preflight_and_creates_nothing(
    tmp_path: Path, token_key: str
) -> None:
    project = _copy_project(tmp_path / "no-grant", with_key=False)
    run = _run(project)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "customer-managed key" in run.stderr and "--kms-key-id" in run.stderr
    assert token_key in run.stderr
    assert _stage_resources()["functions"] == []


def test_a_stage_with_its_own_parameters_and_key_deploys_runs_and_deletes_from_a_clean_clone(
    tmp_path: Path, token_key: str, sfn: Any, clean_sim: Any
) -> None:
    project = _copy_project(tmp_path / "kms", with_key=True)
    deployed = _run(project)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    try:
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
    assert f"deleted table {PREFIX}coordination" in removed.stderr
    assert _stage_resources() == {key: [] for key in _stage_resources()}
