"""A stage with a read-only Stax token: the functions that only read Stax use it, alone.

A stage of its own (``ro``): ``setup --read-only-token`` stores a token (the local one,
which the simulator accepts) beside the stage's token; the deploy finds it and gives
``get_task_status``, ``plan_fleet`` and the baseline planners a role that may read only
it. A create then runs end to end: the create Lambda writes with the token, the watcher
follows the task with the read-only token -- its role could not read the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.credentials import read_only_names
from tests.e2e.conftest import create_payload, run_execution, unique_name
from tests.e2e.helpers import LOCAL_TOKEN, cli, copy_project, run_in

pytestmark = pytest.mark.e2e
STAGE = "ro"


def _role_policy(role: str) -> str:
    iam = boto3.client("iam")
    return json.dumps([iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                       for name in iam.list_role_policies(RoleName=role)["PolicyNames"]])  # fmt: skip


def test_the_reading_functions_read_only_the_read_only_token(
    tmp_path: Path, sfn: Any, clean_sim: Any
) -> None:
    project = copy_project(tmp_path / "project", STAGE)
    config = json.loads((project / ".chalice" / "config.json").read_text())
    env = config["stages"][STAGE]["environment_variables"]
    token = (env["STAX_ACCESS_KEY_PARAMETER"], env["STAX_SECRET_KEY_PARAMETER"])
    ssm = boto3.client("ssm")
    values = [ssm.get_parameter(Name=n, WithDecryption=True)["Parameter"]["Value"]
              for n in LOCAL_TOKEN]  # fmt: skip
    stored = cli("setup", "--stage", STAGE, "--read-only-token",
                 "--access-key-parameter", token[0], "--secret-key-parameter", token[1],
                 env={"STAX_ACCESS_KEY": values[0], "STAX_SECRET_KEY": values[1]})  # fmt: skip
    assert stored.returncode == 0, stored.stdout + stored.stderr
    assert values[1] not in stored.stdout + stored.stderr
    read_only = read_only_names(token)
    assert all(f"wrote {name}" in stored.stdout for name in read_only), stored.stdout
    try:
        deployed = run_in(project, "./deploy.sh", "--stage", STAGE, as_deployer=True)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        assert "read-only token found" in deployed.stderr
        status_role = _role_policy(f"stax-orchestrator-{STAGE}-get_task_status")
        assert read_only[0] in status_role and token[0] not in status_role
        create_role = _role_policy(f"stax-orchestrator-{STAGE}-create_workload")
        assert token[0] in create_role and read_only[0] not in create_role
        machine = json.loads(
            (project / ".chalice" / "deployed" / f"{STAGE}-statemachines.json").read_text()
        )["workload"]
        created = run_execution(sfn, machine, create_payload(unique_name("ro")), timeout=300)
        assert created["status"] == "SUCCEEDED", created.get("cause")
        workload_id = json.loads(created["output"])["workload_id"]
        deleted = run_execution(sfn, machine, {"operation": "delete", "workload_id": workload_id},
                                timeout=300)  # fmt: skip
        assert deleted["status"] == "SUCCEEDED", deleted.get("cause")
    finally:
        removed = run_in(project, "./deploy.sh", "--stage", STAGE, "--delete", "--force",
                         as_deployer=True)  # fmt: skip
        ssm.delete_parameters(Names=list(read_only))
    assert removed.returncode == 0, removed.stdout[-3000:] + removed.stderr[-3000:]
