"""The orchestrator's own events arrive where a rule routes them: one create, one fleet, one
account baseline, each started and ended, with the documented fields and no parameter value.

A rule on the default bus matching ``source: stax-orchestrator`` sends them to an SQS queue
whose policy lets that rule send (the local stack checks it, as AWS does); each event is
checked against its JSON schema in ``schemas/``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from tests.e2e.conftest import (
    ACCOUNT_ID,
    CATALOGUE_ID,
    VERSION_1,
    create_payload,
    run_execution,
    unique_name,
)

pytestmark = pytest.mark.e2e
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def routed(deployed: dict[str, Any]) -> Iterator[Any]:
    """The orchestrator's events, as a rule routes them to a queue; a callable that returns
    those received so far for the execution ARNs given."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    name = f"status-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = events.put_rule(Name=name, EventPattern=json.dumps({"source": ["stax-orchestrator"]}))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule["RuleArn"]}}}]})})  # fmt: skip
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    received: list[dict[str, Any]] = []

    def of(*executions: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in got.get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            mine = [e for e in received if e["detail"].get("execution_arn") in executions]
            if len(mine) >= count or time.monotonic() > deadline:
                return mine

    try:
        yield of
    finally:
        events.remove_targets(Rule=name, Ids=["queue"])
        events.delete_rule(Name=name)
        sqs.delete_queue(QueueUrl=url)


def schema_of(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["detail-type"].lower().removesuffix(" status change").replace(" ", "_")
    return json.loads((SCHEMAS / f"status_event_{kind}.schema.json").read_text())


def statuses(events: list[dict[str, Any]]) -> list[str]:
    order = {"STARTED": 0}
    return sorted((e["detail"]["status"] for e in events), key=lambda s: order.get(s, 1))


def test_a_create_says_it_started_and_succeeded_with_its_workload_and_no_parameter(
    deployed: dict[str, Any], sfn: Any, clean_sim: Any, routed: Any
) -> None:
    name = unique_name("events")
    payload = create_payload(name, workload_parameters={"DbPassword": "s3cr3t-value"})
    done = run_execution(sfn, deployed["workload"], payload)
    assert done["status"] == "SUCCEEDED", done
    events = routed(done["executionArn"], count=2)
    assert statuses(events) == ["STARTED", "SUCCEEDED"]
    for event in events:
        assert event["source"] == "stax-orchestrator"
        assert event["detail-type"] == "Workload Operation Status Change"
        jsonschema.validate(event["detail"], schema_of(event))
        assert event["detail"]["workload_name"] == name
        assert event["detail"]["aws_account_id"] == ACCOUNT_ID
        assert "s3cr3t" not in json.dumps(event) and "10.0.0.0/16" not in json.dumps(event)


def test_a_fleet_and_its_target_and_a_refused_account_baseline_each_say_so(
    deployed: dict[str, Any], sfn: Any, clean_sim: Any, routed: Any
) -> None:
    name = unique_name("evfleet")
    fleet = {"operation": "create", "catalogue_id": CATALOGUE_ID,
             "catalogue_version_id": VERSION_1, "name": name,
             "workload_name": "{name}-{account_short}-{region}",
             "targets": [{"aws_account_id": ACCOUNT_ID, "aws_region": "us-east-1"}]}  # fmt: skip
    done = run_execution(sfn, deployed["fleet"], fleet, timeout=300)
    assert done["status"] == "SUCCEEDED", done
    events = routed(done["executionArn"], count=2)
    assert statuses(events) == ["STARTED", "SUCCEEDED"]
    assert {e["detail-type"] for e in events} == {"Fleet Status Change"}
    for event in events:
        jsonschema.validate(event["detail"], schema_of(event))
    # The fleet's target: a workload operation that says which fleet started it.
    deadline = time.monotonic() + 60
    target: list[dict[str, Any]] = []
    while not target and time.monotonic() < deadline:
        listed = sfn.list_executions(stateMachineArn=deployed["workload"], maxResults=50)
        arns = [e["executionArn"] for e in listed["executions"]]
        target = [e for e in routed(*arns, count=1, timeout=2)
                  if e["detail"].get("started_by") == done["executionArn"]]  # fmt: skip
    assert target and target[0]["detail"]["workload_name"].startswith(name)

    # An account baseline started by hand with an event from another source: refused.
    baseline = sfn.start_execution(
        stateMachineArn=deployed["account_baseline"],
        input=json.dumps({"id": str(uuid.uuid4()), "source": "someone.else",
                          "detail-type": "AccountManagement: AccountCreateEvent",
                          "detail": {"accountId": "a-1", "status": "SUCCESS"}}),
    )["executionArn"]  # fmt: skip
    events = routed(baseline, count=2)
    assert statuses(events) == ["STARTED", "FAILED"]
    failed = next(e for e in events if e["detail"]["status"] == "FAILED")
    assert failed["detail-type"] == "Account Baseline Status Change"
    assert failed["detail"]["error"] == "InvalidAccountEvent"
    assert failed["detail"]["account_id"] == "a-1"
    jsonschema.validate(failed["detail"], schema_of(failed))
