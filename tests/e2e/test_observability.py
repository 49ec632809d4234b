"""Observability as deployed: the machines' logging, and one execution's Lambda log lines.

On the local stack deployed by ``./deploy.sh --stage local``: MiniStack records the
state machines' ``loggingConfiguration`` and delivers the Lambdas' stderr to CloudWatch
Logs (``/aws/lambda/<function>``), so the log contract of ``chalicelib.logs`` -- every
line one JSON object naming the execution it ran for -- is read back from CloudWatch.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from stax_orchestrator.deploy.names import STATE_MACHINES
from tests.e2e.conftest import create_payload, run_execution, unique_name

pytestmark = pytest.mark.e2e
LAMBDA_GROUPS = "/aws/lambda/stax-orchestrator-local-"


def test_every_state_machine_logs_errors_to_its_own_log_group_without_execution_data(
    sfn: Any, deployed: dict[str, Any]
) -> None:
    groups = {g["logGroupName"] for g in boto3.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/vendedlogs/states/")["logGroups"]}  # fmt: skip
    for kind in STATE_MACHINES:
        config = sfn.describe_state_machine(stateMachineArn=deployed[kind])["loggingConfiguration"]
        assert config["level"] == "ERROR" and config["includeExecutionData"] is False
        (destination,) = config["destinations"]
        group_arn = destination["cloudWatchLogsLogGroup"]["logGroupArn"]
        group = group_arn.split(":log-group:", 1)[1].removesuffix(":*")
        assert group in groups, f"{kind} logs to {group}, which does not exist"


def _our_lines(start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """Every JSON line the stage's Lambdas wrote in the window (the runtime's own START /
    END / REPORT lines are not ours)."""
    logs = boto3.client("logs")
    lines = []
    for group in logs.describe_log_groups(logGroupNamePrefix=LAMBDA_GROUPS)["logGroups"]:
        kwargs = {"logGroupName": group["logGroupName"], "startTime": start_ms, "endTime": end_ms}
        while True:
            page = logs.filter_log_events(**kwargs)
            for event in page["events"]:
                text = event["message"].strip()
                if text.startswith("{"):
                    line = json.loads(text)
                    line["_group"] = group["logGroupName"]
                    lines.append(line)
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return lines


def test_every_lambda_log_line_of_one_execution_names_it_or_its_watcher_s_parent(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    clean_sim.set_task_durations(total=(2.0, 2.0))
    start_ms = int(time.time() * 1000) - 500
    described = run_execution(sfn, deployed["workload"], create_payload(unique_name("obs")))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    arn = described["executionArn"]
    # CloudWatch Logs takes the last lines a moment after the execution ends: wait until every
    # function the execution ran has written for it.
    expected = {"validate_input", "create_workload", "get_task_status"}
    deadline = time.monotonic() + 30
    while True:
        lines = _our_lines(start_ms, int(time.time() * 1000))
        seen = {line["function"].removeprefix("stax-orchestrator-local-") for line in lines
                if arn in (line.get("execution_arn"), line.get("parent_execution_arn"))}  # fmt: skip
        if expected <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert lines, "no Lambda log line reached CloudWatch Logs"
    # Every invocation in the window ran for some execution (the e2e tier starts the Lambdas
    # only through state machines), so a line without an execution ARN breaks the contract.
    unnamed = [line for line in lines if not line.get("execution_arn")]
    assert unnamed == [], f"log lines naming no execution: {unnamed[:3]}"
    ours = [line for line in lines
            if arn in (line.get("execution_arn"), line.get("parent_execution_arn"))]  # fmt: skip
    # An invocation that served this execution names it on every line it wrote (another
    # execution still running, e.g. an earlier fleet's child, may log in the same window).
    invocations = {(line["_group"], line.get("request_id")) for line in ours}
    strays = [
        line
        for line in lines
        if (line["_group"], line.get("request_id")) in invocations and line not in ours
    ]
    assert strays == [], f"lines of this execution's invocations naming another: {strays[:3]}"
    lines = ours
    functions = {line["function"].removeprefix("stax-orchestrator-local-") for line in lines}
    assert expected <= functions
    watcher_lines = [line for line in lines if line["function"].endswith("get_task_status")]
    assert all(line["parent_execution_arn"] == arn for line in watcher_lines)
    assert all(":stax-orchestrator-local-task-watcher:" in line["execution_arn"]
               for line in watcher_lines)  # fmt: skip
    assert all({"timestamp", "level", "event"} <= set(line) for line in lines)
