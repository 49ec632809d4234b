"""The fleet machine runs the plan it wrote and no other.

A fleet's plan is an object in the stage bucket; ``plan_fleet`` returns the version it
wrote. Before any target starts, the machine reads the object's head: another version
(the plan replaced, deleted, or the bucket another account's) fails the fleet with
``FleetPlanChanged`` and nothing runs; the Distributed Map then reads exactly that version
(``ItemReader`` ``VersionId``; tests/e2e/test_ministack_distributed_map.py shows the local
stack reads the version named). The replacement cannot be timed inside a real fleet (it
would land between two states), so this runs the fleet machine's own states, as the
local stage renders them, from a plan the test writes, on the local stack.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import boto3
import pytest

from stax_orchestrator.deploy import FUNCTIONS, Target, load_template, render, template_values
from tests.e2e.ministack_support import STATES_TRUST, wait_done

pytestmark = pytest.mark.e2e

TARGET = Target("local", "us-east-1", "000000000000")
#: The states between "Anything To Run?" and the first stage, as the stage deploys them.
CHECK_STATES = ("Check The Plan", "Plan Unchanged?", "Plan Changed")
ROLE_NAME = "e2e-fleet-plan-check"


def _check_machine() -> dict[str, Any]:
    fleet = render(load_template("fleet"),
                   template_values({f: TARGET.function_arn(f) for f in FUNCTIONS}, TARGET, 3600))  # fmt: skip
    states = {name: fleet["States"][name] for name in CHECK_STATES}
    # Where the fleet machine goes on (to its first stage), here a state that says it was reached.
    states["Stage Ready?"] = {"Type": "Pass", "Result": "targets started", "End": True}
    return {"StartAt": "Check The Plan", "States": states}


@pytest.fixture(scope="module")
def machine(deployed: dict[str, Any]) -> Iterator[str]:
    """The fleet machine's plan check, under a role that may read plans as the stage's does."""
    iam, sfn = boto3.client("iam"), boto3.client("stepfunctions")
    with suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": f"arn:aws:s3:::{deployed['fleet_bucket']}/plans/*"}]}  # fmt: skip
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="plans", PolicyDocument=json.dumps(policy))
    arn = sfn.create_state_machine(
        name=f"e2e-plan-check-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(_check_machine()),
        roleArn=f"arn:aws:iam::000000000000:role/{ROLE_NAME}",
    )["stateMachineArn"]
    yield arn
    sfn.delete_state_machine(stateMachineArn=arn)
    iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName="plans")


@pytest.fixture()
def plan(deployed: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan written as ``plan_fleet`` writes one (the local operator may write plans)."""
    s3, bucket = boto3.client("s3"), deployed["fleet_bucket"]
    key = f"plans/e2e-pinned-{uuid.uuid4().hex[:8]}.jsonl"
    written = s3.put_object(Bucket=bucket, Key=key, Body=b'{"index": 0}\n',
                            ExpectedBucketOwner=TARGET.account)  # fmt: skip
    yield {"bucket": bucket, "key": key, "version_id": written["VersionId"]}
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])


def _run(machine: str, plan: dict[str, Any]) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"plan": plan}))
    return wait_done(sfn, started["executionArn"], timeout=60)


def test_the_plan_as_written_goes_on_to_its_targets(machine: str, plan: dict[str, Any]) -> None:
    done = _run(machine, plan)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == "targets started"


def test_a_replaced_plan_fails_the_fleet_by_name_before_any_target(
    machine: str, plan: dict[str, Any]
) -> None:
    boto3.client("s3").put_object(Bucket=plan["bucket"], Key=plan["key"],
                                  Body=b'{"index": 0, "request": "someone else\'s"}\n')  # fmt: skip
    done = _run(machine, plan)
    assert (done["status"], done.get("error")) == ("FAILED", "FleetPlanChanged"), done
    assert "no target was started" in done["cause"]


def test_a_deleted_plan_fails_the_fleet_by_name_too(machine: str, plan: dict[str, Any]) -> None:
    boto3.client("s3").delete_object(Bucket=plan["bucket"], Key=plan["key"])
    done = _run(machine, plan)
    assert (done["status"], done.get("error")) == ("FAILED", "FleetPlanChanged"), done
