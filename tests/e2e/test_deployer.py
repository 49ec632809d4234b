"""The stage is deployed by a principal holding only the deployer policy, and that policy is
what the deploy needs: one statement fewer and the deploy stops, naming the denied call.

The session's ``deployed`` fixture already ran ``./deploy.sh --stage local`` as the local
stack's deploying user (``local/bootstrap.py``: the policy of ``deployer-policy`` for the
stage ``*``). Here users made with the exact policy of the ``local`` stage run the deploy
steps, under MiniStack's IAM evaluation (``AUTH=true``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stax_orchestrator.deploy.deployer import deployer_policy
from stax_orchestrator.deploy.names import Target
from stax_orchestrator.deploy.stage import load_stage
from stax_orchestrator.local_env import LOCAL_OPERATOR
from tests.e2e.conftest import ROOT, post_deploy
from tests.e2e.ministack_support import IamUser, require_auth

pytestmark = pytest.mark.e2e

LOCAL = Target("local", "us-east-1", "000000000000")


def statements(without: str = "") -> list[dict[str, Any]]:
    """The ``local`` stage's deployer policy, less the statement ``without`` (a Sid)."""
    policy = deployer_policy(LOCAL, load_stage("local").token_parameters)
    return [s for s in policy["Statement"] if s["Sid"] != without]


def step(user: IamUser, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m stax_orchestrator.deploy ARGS`` signed by ``user``."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": user.key_id,
           "AWS_SECRET_ACCESS_KEY": user._secret}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "stax_orchestrator.deploy", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture()
def user(deployed: dict[str, Any]) -> Iterator[IamUser]:
    require_auth()
    made = IamUser(f"deployer-{uuid.uuid4().hex[:8]}", statements())
    yield made
    # The stage as the session deploys it, if this user deployed it (its bucket's writers
    # are whoever deploys).
    bucket = deployed["fleet_bucket"]
    policy = boto3.client("s3").get_bucket_policy(Bucket=bucket)["Policy"]
    restored = post_deploy() if f":user/{made.name}" in policy else None
    made.close()
    assert restored is None or restored.returncode == 0, restored.stderr


def test_the_deployer_policy_redeploys_the_stage_and_prints_itself(user: IamUser) -> None:
    writers = ("--bucket-writer", LOCAL_OPERATOR)
    run = step(user, "post-deploy", "--stage", "local", *writers)
    assert run.returncode == 0, run.stderr
    # The principal that deploys may write the stage bucket's guarded prefixes: now this one.
    bucket = json.loads(run.stdout)["fleet_bucket"]
    policy = boto3.client("s3").get_bucket_policy(Bucket=bucket, ExpectedBucketOwner="000000000000")
    assert f":user/{user.name}" in policy["Policy"]
    again = step(user, "post-deploy", "--stage", "local", *writers)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False
    printed = step(user, "deployer-policy", "--stage", "local")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["Statement"] == statements()


@pytest.mark.parametrize(
    ("missing", "denied"),
    [("Stack", "cloudformation:"), ("Token", "ssm:GetParameters")],
)
def test_one_statement_fewer_and_the_deploy_stops_at_the_denied_call(
    user: IamUser, missing: str, denied: str
) -> None:
    user.allow(statements(without=missing))
    run = step(user, "preflight" if missing == "Token" else "post-deploy", "--stage", "local")
    assert run.returncode != 0
    assert "AccessDenied" in run.stderr and denied in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
