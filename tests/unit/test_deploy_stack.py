"""The stage's stack, decided without AWS: what a preview shows, when a deploy creates no
change set, which failures a deploy names, and when a delete refuses before it empties
anything.

CloudFormation answers through botocore's Stubber with the shapes of its API reference
(the order of the calls is part of what is checked); the real round trips -- change sets
executed, rolled back, deleted -- are the e2e tier's, on MiniStack
(tests/e2e/test_stage_stack.py, tests/e2e/test_stage_lifecycle.py).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stax_orchestrator.deploy import FUNCTIONS, DeployError, Target, stack, teardown
from stax_orchestrator.deploy.observability import Observability
from stax_orchestrator.deploy.template import stage_template

TARGET = Target("unit", "us-east-1", "123456789012")
STACK = TARGET.stack_name
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def template(**flags: Any) -> dict[str, Any]:
    arns = {f: TARGET.function_arn(f) for f in FUNCTIONS}
    groups = {f: TARGET.log_group(f) for f in FUNCTIONS}
    return stage_template("unit", Observability(**flags), arns, groups, watch_timeout=7200)


def described(status: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"StackName": STACK, "StackId": f"arn:aws:cloudformation:us-east-1:1:stack/{STACK}/x",
            "CreationTime": NOW, "StackStatus": status,
            "Outputs": [{"OutputKey": "FleetBucketName", "OutputValue": "bucket"}]}  # fmt: skip
    if parameters is not None:
        body["Parameters"] = [{"ParameterKey": k, "ParameterValue": v}
                              for k, v in parameters.items()]  # fmt: skip
    return {"Stacks": [body]}


class Session:
    """A session whose clients are stubbed."""

    def __init__(self) -> None:
        self.clients = {name: boto3.client(name, region_name="us-east-1")
                        for name in ("cloudformation", "s3", "stepfunctions")}  # fmt: skip
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def client(self, name: str) -> Any:
        return self.clients[name]


@pytest.fixture()
def session() -> Any:
    made = Session()
    for stub in made.stubs.values():
        stub.activate()
    yield made
    for stub in made.stubs.values():
        stub.assert_no_pending_responses()


def defaults(chosen: dict[str, Any]) -> dict[str, str]:
    return {k: str(v.get("Default", "")) for k, v in chosen["Parameters"].items()}


def test_the_stack_holding_the_same_template_and_values_is_unchanged(session: Any) -> None:
    chosen = template()
    cfn, stub = session.client("cloudformation"), session.stubs["cloudformation"]
    stub.add_response("get_template", {"TemplateBody": json.dumps(chosen)})
    assert stack.unchanged(cfn, described("UPDATE_COMPLETE", defaults(chosen))["Stacks"][0],
                           chosen, {})  # fmt: skip
    other = {**defaults(chosen), "WatchTimeoutSeconds": "60"}
    stub.add_response("get_template", {"TemplateBody": json.dumps(chosen)})
    assert not stack.unchanged(cfn, described("UPDATE_COMPLETE", other)["Stacks"][0], chosen, {})
    stub.add_response("get_template", {"TemplateBody": json.dumps(template(dashboard=True))})
    assert not stack.unchanged(
        cfn, described("UPDATE_COMPLETE", defaults(chosen))["Stacks"][0], chosen, {}
    )
    # A stack that is not settled always goes through a change set.
    assert not stack.unchanged(
        cfn, described("UPDATE_ROLLBACK_FAILED", defaults(chosen))["Stacks"][0], chosen, {}
    )


def test_a_deploy_with_nothing_to_change_creates_no_change_set(session: Any) -> None:
    chosen = template()
    stub = session.stubs["cloudformation"]
    stub.add_response("describe_stacks", described("UPDATE_COMPLETE", defaults(chosen)))
    stub.add_response("get_template", {"TemplateBody": json.dumps(chosen)})
    lines: list[str] = []
    outcome = stack.deploy(session, TARGET, chosen, {}, report=lines.append)
    assert lines == [f"stack {STACK}: no changes"] and not outcome.changed


def test_a_preview_of_a_new_stage_lists_only_what_its_conditions_create(session: Any) -> None:
    stub = session.stubs["cloudformation"]
    error = "Stack with id stax-orchestrator-unit does not exist"
    for _ in range(2):
        stub.add_client_error("describe_stacks", "ValidationError", error)
    off = stack.deploy(session, TARGET, template(), {}, diff=True, report=lambda _: None)
    on = stack.deploy(session, TARGET, template(), {"StaxEventBusName": "stax"}, diff=True,
                      report=lambda _: None)  # fmt: skip
    added = {c.logical_id for c in on.changes} - {c.logical_id for c in off.changes}
    assert added == {"AccountEventsQueue", "AccountEventsDeadLetterQueue", "AccountEventsQueuePolicy",
                     "AccountEventsMapping", "AccountEventsDeadLetterAlarm", "AccountEventsRule"}  # fmt: skip
    assert {c.action for c in off.changes} == {"Add"}


def test_a_preview_leaves_a_failed_first_create_alone(session: Any) -> None:
    stub = session.stubs["cloudformation"]
    stub.add_response("describe_stacks", described("ROLLBACK_COMPLETE"))
    outcome = stack.deploy(session, TARGET, template(), {}, diff=True, report=lambda _: None)
    assert outcome.changes  # shown as a new stack; nothing was deleted (no delete_stack call)


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
def test_a_busy_or_stuck_stack_is_refused_before_anything(session: Any, status: str) -> None:
    session.stubs["cloudformation"].add_response("describe_stacks", described(status))
    with pytest.raises(DeployError, match=status):
        stack.deploy(session, TARGET, template(), {}, report=lambda _: None)


def test_the_failures_named_are_those_after_the_operation_began() -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(cfn)

    def event(seconds: int, logical: str, status: str, reason: str = "") -> dict[str, Any]:
        return {"StackId": "s", "EventId": f"{logical}-{seconds}", "StackName": STACK,
                "LogicalResourceId": logical, "ResourceType": "AWS::SNS::Topic",
                "Timestamp": NOW + dt.timedelta(seconds=seconds), "ResourceStatus": status,
                "ResourceStatusReason": reason}  # fmt: skip

    stub.add_response("describe_stack_events", {"StackEvents": [  # newest first
        event(9, "B", "UPDATE_FAILED", "denied"), event(8, "A", "CREATE_FAILED", "no key"),
        event(5, "Old", "DELETE_FAILED", "before this deploy")]})  # fmt: skip
    with stub:
        reasons = stack.failure_reasons(cfn, STACK, NOW + dt.timedelta(seconds=5))
    assert reasons == ["A (AWS::SNS::Topic): CREATE_FAILED: no key",
                       "B (AWS::SNS::Topic): UPDATE_FAILED: denied"]  # fmt: skip


def test_a_delete_refuses_a_busy_stack_before_it_empties_the_bucket(
    session: Any, tmp_path: Path
) -> None:
    session.stubs["cloudformation"].add_response("describe_stacks", described("UPDATE_IN_PROGRESS"))
    with pytest.raises(DeployError, match="busy"):
        teardown.delete_stage(session, TARGET, chalice_dir=tmp_path)
    # No S3 call was stubbed: emptying the bucket would have failed the test.


@pytest.mark.parametrize("replaced", [False, True], ids=["as uploaded", "replaced"])
def test_a_change_set_holding_another_template_than_the_one_uploaded_is_deleted(
    replaced: bool,
) -> None:
    """``templates/`` may be written by others (the next deployer must upload): what the
    change set read is what would run, so it is compared with what was uploaded."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    uploaded = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    held = {"Resources": {"Evil": {"Type": "AWS::IAM::User"}}} if replaced else uploaded
    with Stubber(cfn) as stub:
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(held)},
            {"StackName": "s", "ChangeSetName": "cs", "TemplateStage": "Original"},
        )
        if replaced:
            stub.add_response("delete_change_set", {}, {"StackName": "s", "ChangeSetName": "cs"})
            with pytest.raises(DeployError, match="another template than the one uploaded"):
                stack._check_template(cfn, "s", "cs", uploaded)
        else:
            stack._check_template(cfn, "s", "cs", uploaded)
        stub.assert_no_pending_responses()
