"""Alert messages: what failed, where, and why — never the execution's payload values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import alerts
from chalicelib.coordination import CoordinationStore
from stax_orchestrator.deploy import table_definition

EVENT = json.loads(
    (Path(__file__).resolve().parents[2] / "events/publish_alert/failed_create.json").read_text()
)


def test_an_alert_names_the_operation_workload_error_and_cause() -> None:
    message = alerts.alert_message(EVENT)
    assert message["status"] == "FAILED"
    assert message["error"] == "WorkloadAlreadyExists"
    assert message["operation"] == "create"
    assert message["workload_name"] == "team-a-vpc"
    assert message["workload_id"] == "9b2c1d7e-3f4a-4b5c-8d6e-7f8091a2b3c4"
    assert message["execution_arn"] == EVENT["detail"]["executionArn"]
    assert message["cause"]["hint"].startswith("Choose another")


def test_an_alert_holds_no_parameter_value() -> None:
    text = json.dumps(alerts.alert_message(EVENT))
    assert "s3cr3t-Passw0rd!" not in text
    assert "10.0.0.0/16" not in text and "workload_parameters" not in text


def test_parameters_found_in_a_cause_are_dropped() -> None:
    event = json.loads(json.dumps(EVENT))
    event["detail"]["cause"] = json.dumps(
        {"message": "m", "request": {"workload_parameters": {"Password": "hunter2"}}}
    )
    assert "hunter2" not in json.dumps(alerts.alert_message(event))


def test_a_timed_out_execution_without_cause_still_alerts() -> None:
    event = json.loads(json.dumps(EVENT))
    event["detail"].update(status="TIMED_OUT", error=None, cause=None, input="not json")
    message = alerts.alert_message(event)
    assert message["status"] == "TIMED_OUT" and message["cause"] == ""


def test_publish_sends_one_message_to_the_topic() -> None:
    sent: list[dict[str, Any]] = []
    topic = alerts.topic_arn(
        "arn:aws:lambda:ap-southeast-2:123456789012:function:x", "stax-orchestrator-dev-alerts"
    )
    assert topic == "arn:aws:sns:ap-southeast-2:123456789012:stax-orchestrator-dev-alerts"
    alerts.publish_alert(EVENT, lambda **kwargs: sent.append(kwargs), topic, lambda pk, sk: None)
    [call] = sent
    assert call["TopicArn"] == topic
    assert call["Subject"] == "FAILED: create team-a-vpc"
    assert json.loads(call["Message"])["workload_name"] == "team-a-vpc"


STAGE = "arn:aws:states:ap-southeast-2:123456789012"
FLEET = f"{STAGE}:execution:stax-orchestrator-dev-fleet:fleet-7f3a"
BASELINE = f"{STAGE}:execution:stax-orchestrator-dev-account-baseline:new-account-1"


@pytest.fixture()
def store(aws: Any) -> CoordinationStore:
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**table_definition("stax-orchestrator-dev-coordination"))
    return CoordinationStore(lambda: dynamodb, "stax-orchestrator-dev-coordination")


def _child(machine: str, name: str, claimed: str | None) -> dict[str, Any]:
    """A failed execution of ``machine`` named ``name``, its input claiming ``claimed``."""
    event = json.loads(json.dumps(EVENT))
    request = json.loads(event["detail"]["input"])
    if claimed:
        request["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = claimed
    event["detail"].update(name=name, input=json.dumps(request),
                           stateMachineArn=f"{STAGE}:stateMachine:stax-orchestrator-dev-{machine}",
                           executionArn=f"{STAGE}:execution:stax-orchestrator-dev-{machine}:{name}")  # fmt: skip
    return event


def _publish(event: dict[str, Any], store: CoordinationStore) -> tuple[dict[str, Any], list]:
    sent: list[Any] = []
    result = alerts.publish_alert(event, lambda **kw: sent.append(kw), "arn:topic", store.get_item)
    return result, sent


def test_a_target_its_fleet_recorded_leaves_the_alert_to_the_fleet(
    store: CoordinationStore,
) -> None:
    store.put_item("fleet#fleet-7f3a", "started#3", {"execution_name": "fleet-7f3a-3"})
    result, sent = _publish(_child("workload", "fleet-7f3a-3", FLEET), store)
    assert sent == [] and result["parent"] == FLEET


def test_a_fleet_its_account_baseline_recorded_leaves_the_alert_to_the_baseline(
    store: CoordinationStore,
) -> None:
    store.put_item("baseline#new-account-1", "started#0", {"execution_name": "baseline-ev-0"})
    result, sent = _publish(_child("fleet", "baseline-ev-0", BASELINE), store)
    assert sent == [] and result["parent"] == BASELINE


@pytest.mark.parametrize(
    ("machine", "name", "claimed"),
    [
        # A payload naming a real fleet, for an execution that fleet never started.
        ("workload", "fleet-7f3a-4", FLEET),
        ("workload", "quiet-3", FLEET),
        # The parent of another stage, another region, or a machine that starts nothing.
        ("workload", "fleet-7f3a-3", FLEET.replace("-dev-fleet", "-prod-fleet")),
        ("workload", "fleet-7f3a-3", FLEET.replace("ap-southeast-2", "us-east-1")),
        ("workload", "fleet-7f3a-3", FLEET.replace("-dev-fleet", "-dev-workload")),
        ("fleet", "fleet-7f3a-3", FLEET),
        ("workload", "fleet-7f3a-3", "not an ARN"),
    ],
)
def test_a_payload_claiming_a_parent_cannot_silence_its_own_alert(
    store: CoordinationStore, machine: str, name: str, claimed: str
) -> None:
    store.put_item("fleet#fleet-7f3a", "started#3", {"execution_name": "fleet-7f3a-3"})
    result, sent = _publish(_child(machine, name, claimed), store)
    [call] = sent
    assert json.loads(call["Message"])["unverified_parent"] == claimed
    assert result["unverified_parent"] == claimed
