"""Where the CLI finds a stage, and how it talks to AWS: the context, on moto.

A stage's state machines are found in the Outputs of its CloudFormation stack -- the
stage's own (``stax-orchestrator-<stage>`` in the caller's account and region) or the one
``--stack-name`` names; nothing is read from a checkout (every test runs in an empty
directory), and no name is computed. A stack or machine that is not there is a named
error saying what was looked for, where, and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stax_orchestrator import cli, follow
from stax_orchestrator.commands_workload import list_rows
from stax_orchestrator.console import EXIT_CONFIG, EXIT_INVALID, EXIT_OK
from stax_orchestrator.context import AwsContext, Options, StateMachineNotFound
from stax_orchestrator.deploy.names import Target
from tests.unit.support import REGION, stage_stack

ACCOUNT_ID = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/stax-orchestrator-unit"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture(autouse=True)
def outside_a_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No checkout around: a lookup that read .chalice/deployed would find nothing here."""
    monkeypatch.chdir(tmp_path)


def machine(name: str, region: str = REGION) -> str:
    sfn = boto3.client("stepfunctions", region_name=region)
    arn: str = sfn.create_state_machine(name=name, definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    return arn


def start(arn: str, name: str, region: str = REGION) -> str:
    payload = {"operation": "delete", "workload_id": f"w-{name}"}
    sfn = boto3.client("stepfunctions", region_name=region)
    execution: str = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    return execution


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- by the stage's stack ------------------------------------------------------------
def test_list_finds_the_stages_machine_in_its_stacks_outputs(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A name no rule computes: only the stack's outputs can lead to it.
    arn = machine("unit-Workload-9Z8Y7X")
    stage_stack(Target("unit", REGION, ACCOUNT_ID), workload=arn)
    start(arn, "first")
    code, out, _ = run(["--json", "--stage", "unit", "list"], capsys)
    assert code == EXIT_OK, out
    rows = json.loads(out)
    assert [row["name"] for row in rows] == ["first"]
    assert rows[0]["workload"] == "w-first"


def test_a_machine_by_the_stages_name_without_its_stack_is_not_found(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    machine(Target("nope", REGION, ACCOUNT_ID).state_machine_name("workload"))
    code, _, out = run(["list", "--stage", "nope"], capsys)
    assert code == EXIT_CONFIG
    message = " ".join(out.split())
    assert "no CloudFormation stack 'stax-orchestrator-nope'" in message
    assert f"AWS account {ACCOUNT_ID}, region {REGION}" in message
    assert "./deploy.sh --stage nope" in message
    for flag in ("--stage", "--aws-region", "--profile", "--stack-name"):
        assert flag in message


def test_aws_region_moves_the_lookup_and_a_workloads_region_does_not(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ireland = Target("unit", "eu-west-1", ACCOUNT_ID)
    arn = machine(ireland.state_machine_name("workload"), "eu-west-1")
    stage_stack(ireland, workload=arn)
    start(arn, "in-ireland", "eu-west-1")
    code, out, _ = run(["--json", "--stage", "unit", "--aws-region", "eu-west-1", "list"], capsys)
    assert code == EXIT_OK
    assert [row["name"] for row in json.loads(out)] == ["in-ireland"]
    # Without --aws-region the session's region (us-east-1) is where it is looked for.
    code, _, out = run(["--stage", "unit", "list"], capsys)
    assert code == EXIT_CONFIG
    assert f"region {REGION}" in " ".join(out.split())


def test_aws_region_is_honoured_before_aws_default_region_as_the_aws_cli_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert AwsContext(Options(stage="unit")).region == "eu-west-1"
    assert AwsContext(Options(stage="unit", aws_region="ap-southeast-2")).region == (
        "ap-southeast-2"
    )
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert AwsContext(Options(stage="unit")).region == "eu-west-1"


def test_an_abbreviated_long_option_is_refused_not_guessed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.build_parser().parse_args(["list", "--aws-reg", "eu-west-1"])
    assert refused.value.code == 2
    assert "unrecognized arguments: --aws-reg" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["update", "--workload", "W", "--param", "A=b"])


def test_the_named_error_is_raised_by_the_context_itself(aws: Any) -> None:
    gone = Target("gone", REGION, ACCOUNT_ID)
    stage_stack(gone, workload=machine("gone-workload"), fleet=gone.state_machine_arn("fleet"))
    context = AwsContext(Options(stage="gone"))
    with pytest.raises(StateMachineNotFound, match="stax-orchestrator-gone-fleet"):
        context.state_machine_arn("fleet")


# -- by a stack's outputs ------------------------------------------------------------
def stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_stack_name_takes_the_machines_from_the_stacks_outputs(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Names no stage would have: only the outputs can lead to them.
    workload = machine("packaged-Workload-1A2B3C")
    fleet = machine("packaged-Fleet-4D5E6F")
    start(workload, "packaged")
    stack(
        "orchestrator-prod",
        {
            "WorkloadStateMachineArn": workload,
            "TaskWatcherStateMachineArn": machine("packaged-Watcher-7G8H9I"),
            "FleetStateMachineArn": fleet,
            "CoordinationTableName": "packaged-table",
            "FleetBucketName": "packaged-bucket",
            "AlertTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:packaged-alerts",
        },
    )
    code, out, _ = run(["--json", "--stack-name", "orchestrator-prod", "list"], capsys)
    assert code == EXIT_OK, out
    assert [row["name"] for row in json.loads(out)] == ["packaged"]
    context = AwsContext(Options(stage="dev", stack_name="orchestrator-prod"))
    resources = context.resources()
    assert context.state_machine_arn("fleet") == fleet
    assert (resources.table_name, resources.fleet_bucket) == ("packaged-table", "packaged-bucket")
    assert resources.alert_topic_arn == f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:packaged-alerts"


def test_a_missing_stack_and_a_stack_without_the_outputs_say_so(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, out = run(["list", "--stack-name", "no-such-stack"], capsys)
    message = " ".join(out.split())
    assert code == EXIT_CONFIG
    assert f"no CloudFormation stack 'no-such-stack' in AWS account {ACCOUNT_ID}" in message
    assert "--stack-name" in message and "--aws-region" in message
    stack("something-else", {"QueueUrl": "https://example.invalid/q"})
    code, _, out = run(["list", "--stack-name", "something-else"], capsys)
    message = " ".join(out.split())
    assert code == EXIT_CONFIG
    assert "has none of the outputs WorkloadStateMachineArn" in message


def test_a_stack_output_that_names_a_deleted_machine_is_the_named_error(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    workload = machine("packaged-Workload-gone")
    boto3.client("stepfunctions", region_name=REGION).delete_state_machine(stateMachineArn=workload)
    stack("orchestrator-old", {"WorkloadStateMachineArn": workload})
    code, _, out = run(["list", "--stack-name", "orchestrator-old"], capsys)
    message = " ".join(out.split())
    assert code == EXIT_CONFIG
    assert "no workload state machine packaged-Workload-gone" in message
    assert "the outputs of stack 'orchestrator-old'" in message


# -- one session, adaptive retries -------------------------------------------------------
def test_every_client_comes_from_one_session_with_adaptive_retries(aws: Any) -> None:
    sessions: list[Any] = []

    def session_factory(**kwargs: Any) -> Any:
        sessions.append(kwargs)
        return boto3.session.Session(**kwargs)

    context = AwsContext(
        Options(stage="unit", aws_region="eu-west-1"), session_factory=session_factory
    )
    sfn = context.client("stepfunctions")
    assert context.client("stepfunctions") is sfn
    for client in (sfn, context.client("sts"), context.client("dynamodb", "ap-southeast-2")):
        assert client.meta.config.retries["mode"] == "adaptive"
        assert "stax-orchestrator/" in client.meta.config.user_agent_extra
    assert sfn.meta.region_name == "eu-west-1"
    assert context.client_for("stepfunctions", "arn:aws:states:ap-south-1:1:execution:m:e")
    assert context.client("stepfunctions", "ap-south-1").meta.region_name == "ap-south-1"
    assert sessions == [{"profile_name": None, "region_name": "eu-west-1"}]


def test_an_unknown_profile_is_named_and_local_refuses_a_profile(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, out = run(["--profile", "no-such-profile", "list"], capsys)
    assert code == EXIT_CONFIG
    assert "no AWS profile 'no-such-profile'" in out
    code, _, out = run(["list", "--local", "--profile", "prod"], capsys)
    assert code == EXIT_INVALID
    assert "leave out --profile" in out


# -- paginators ------------------------------------------------------------------------
def test_list_reads_every_page_up_to_the_limit(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS may answer with fewer executions than asked and a nextToken (the harsher
    reading of ListExecutions' paging): list goes on to the next page until it has
    ``limit`` rows."""
    arn = machine("paged")
    executions = [start(arn, f"e{i}") for i in range(3)]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    real = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)

    def summary(execution: str) -> dict[str, Any]:
        return {"executionArn": execution, "stateMachineArn": arn, "name": execution[-2:],
                "status": "RUNNING", "startDate": 1_000.0}  # fmt: skip

    pages = [([executions[0]], "t1"), ([executions[1]], "t2"), ([executions[2]], None)]
    for index, (items, token) in enumerate(pages[:2]):
        expected: dict[str, Any] = {"stateMachineArn": arn, "maxResults": 2}
        if index:
            expected["nextToken"] = pages[index - 1][1]
        page: dict[str, Any] = {"executions": [summary(e) for e in items], "nextToken": token}
        stubber.add_response("list_executions", page, expected)
    # The listing first, then the descriptions (one at a time here, so the stub's order holds).
    monkeypatch.setattr(follow, "DESCRIBE_WORKERS", 1)
    for execution in executions[:2]:
        described = real.describe_execution(executionArn=execution)
        stubber.add_response("describe_execution", described, {"executionArn": execution})
    with stubber:
        rows = list_rows(sfn, arn, limit=2, status=None)
    stubber.assert_no_pending_responses()
    assert [row["execution_arn"] for row in rows] == executions[:2]


def test_list_describes_the_executions_concurrently() -> None:
    """One DescribeExecution after another made `list --limit 100` wait 100 round trips."""
    import threading
    import time
    from datetime import UTC, datetime

    arns = [f"arn:aws:states:{REGION}:123456789012:execution:m:e{n}" for n in range(12)]
    in_flight, most, lock = [0], [0], threading.Lock()

    class Paginator:
        def paginate(self, **_: Any) -> list[dict[str, Any]]:
            return [{"executions": [{"executionArn": a, "name": a[-3:]} for a in arns]}]

    class Sfn:
        def get_paginator(self, _: str) -> Paginator:
            return Paginator()

        def describe_execution(self, executionArn: str) -> dict[str, Any]:
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.05)  # a round trip
            with lock:
                in_flight[0] -= 1
            return {"executionArn": executionArn, "status": "SUCCEEDED", "input": "{}",
                    "startDate": datetime(2026, 1, 1, tzinfo=UTC)}  # fmt: skip

    rows = list_rows(Sfn(), "arn:m", limit=12, status=None)
    assert [r["execution_arn"] for r in rows] == arns  # newest first, as listed
    assert most[0] > 1
