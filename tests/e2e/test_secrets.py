"""The Stax API secret never shows up: Lambda logs, server logs, execution histories.

Runs after every other end-to-end test (see conftest's ordering), so it reads what the
whole suite produced: all CloudWatch log events of the orchestrator's Lambdas on
MiniStack, the local stack's own logs, and the histories of every execution.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.conftest import ROOT, history

pytestmark = pytest.mark.e2e


def _log_events(group_prefix: str) -> list[str]:
    logs = boto3.client("logs")
    messages: list[str] = []
    for group in logs.describe_log_groups(logGroupNamePrefix=group_prefix)["logGroups"]:
        kwargs: dict[str, Any] = {"logGroupName": group["logGroupName"]}
        while True:
            page = logs.filter_log_events(**kwargs)
            messages.extend(event["message"] for event in page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return messages


def test_logs_and_histories_hold_no_secret(sfn: Any, deployed: dict[str, Any]) -> None:
    secret = boto3.client("ssm").get_parameter(
        Name="/orchestrator/stax/access/key/secret", WithDecryption=True
    )["Parameter"]["Value"]
    lambda_logs = _log_events("/aws/lambda/stax-orchestrator-local-")
    assert len(lambda_logs) > 50, "expected the suite's Lambda logs"
    assert any('"event": "stax_client_built"' in line for line in lambda_logs)
    leaks = [line for line in lambda_logs if secret in line]
    assert leaks == []

    for log_file in (ROOT / ".local" / "logs").glob("*.log"):
        assert secret not in log_file.read_text(errors="replace"), log_file.name

    checked = 0
    for machine in (deployed["workload"], deployed["task_watcher"]):
        for execution in sfn.list_executions(stateMachineArn=machine, maxResults=1000)[
            "executions"
        ]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            assert secret not in str(described)
            assert secret not in str(history(sfn, execution["executionArn"]))
            checked += 1
    assert checked > 20
