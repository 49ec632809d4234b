"""The Stax API secret never shows up: Lambda logs, server logs, execution histories.

Runs after every other end-to-end test (see conftest's ordering), so it reads what the
whole suite produced: every CloudWatch log event on MiniStack (every group, every
stream, every page), the local stack's own log files, and the whole history of every
execution of every state machine (Map Run children included). It fails when it read
nothing: a sweep of an empty folder proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import ROOT, history
from tests.e2e.helpers import LOCAL_TOKEN, pages

pytestmark = pytest.mark.e2e
#: What ``local/stack.sh`` writes while the stack runs: MiniStack's output (Lambda workers'
#: stderr included) and the simulator's request log.
STACK_LOGS = ("ministack.log", "staxsim.log")


def _every_log_event() -> dict[str, list[str]]:
    """Every log event on the stack, by group."""
    logs = boto3.client("logs")
    return {
        group["logGroupName"]: [
            event["message"]
            for event in pages(
                logs, "filter_log_events", "events", logGroupName=group["logGroupName"]
            )
        ]
        for group in pages(logs, "describe_log_groups", "logGroups")
    }


def _every_execution(sfn: Any) -> Iterator[str]:
    """Every execution of every state machine, and every child of their Map Runs."""
    for machine in pages(sfn, "list_state_machines", "stateMachines"):
        for execution in pages(
            sfn, "list_executions", "executions", stateMachineArn=machine["stateMachineArn"]
        ):
            yield execution["executionArn"]
            for run in pages(
                sfn, "list_map_runs", "mapRuns", executionArn=execution["executionArn"]
            ):
                for child in pages(
                    sfn, "list_executions", "executions", mapRunArn=run["mapRunArn"]
                ):
                    yield child["executionArn"]


@pytest.fixture(scope="module")
def secret(local_stack: None) -> str:
    value = boto3.client("ssm").get_parameter(Name=LOCAL_TOKEN[1], WithDecryption=True)[
        "Parameter"
    ]["Value"]
    assert len(value) >= 16, "the local token's secret is too short to search for"
    return str(value)


def test_no_log_event_on_the_stack_holds_the_secret(secret: str, deployed: dict[str, Any]) -> None:
    by_group = _every_log_event()
    ours = [m for g, lines in by_group.items() if "stax-orchestrator-local-" in g for m in lines]
    assert len(ours) > 50, f"expected the suite's Lambda logs, read {len(ours)} lines"
    assert any('"event": "stax_client_built"' in line for line in ours)
    leaks = {g: sum(secret in m for m in lines) for g, lines in by_group.items()}
    assert {g: n for g, n in leaks.items() if n} == {}


def test_the_local_stacks_own_logs_hold_no_secret(secret: str) -> None:
    folder = ROOT / ".local" / "logs"
    present = {path.name: path.read_text(errors="replace") for path in folder.glob("*.log")}
    assert set(STACK_LOGS) <= set(present), f"the stack's logs are missing from {folder}"
    # The simulator logs every request it served (MiniStack runs at WARNING: its log may be
    # empty); a sweep of a log without the suite's requests would prove nothing.
    served = present["staxsim.log"].count('"GET /20190206/')
    assert served > 50, f"staxsim.log holds {served} API requests: not the suite's log"
    assert [name for name, text in present.items() if secret in text] == []


def test_no_execution_input_output_or_history_holds_the_secret(
    secret: str, sfn: Any, deployed: dict[str, Any]
) -> None:
    read = events = 0
    machines: set[str] = set()
    for arn in _every_execution(sfn):
        described = sfn.describe_execution(executionArn=arn)
        assert secret not in str(described), arn
        whole = history(sfn, arn)
        assert secret not in str(whole), arn
        read, events = read + 1, events + len(whole)
        machines.add(described["stateMachineArn"].split(":")[6].split("/")[0])
    assert read > 50 and events > read * 5, (read, events)
    # The suite ran every machine of the stage: each one's executions were read.
    stage_machines = {deployed[k].split(":")[-1] for k in ("workload", "task_watcher", "fleet")}
    assert stage_machines <= machines, sorted(machines)
