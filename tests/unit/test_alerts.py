"""Alert messages: what failed, where, and why — never the execution's payload values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib import alerts

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
    alerts.publish_alert(EVENT, lambda **kwargs: sent.append(kwargs), topic)
    [call] = sent
    assert call["TopicArn"] == topic
    assert call["Subject"] == "FAILED: create team-a-vpc"
    assert json.loads(call["Message"])["workload_name"] == "team-a-vpc"


def test_a_target_of_a_fleet_leaves_the_alert_to_its_fleet() -> None:
    event = json.loads(json.dumps(EVENT))
    request = json.loads(event["detail"]["input"])
    request["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] = "arn:aws:states:x:1:execution:f/m:c"
    event["detail"]["input"] = json.dumps(request)
    sent: list[Any] = []
    result = alerts.publish_alert(event, lambda **kwargs: sent.append(kwargs), "arn:topic")
    assert sent == [] and result["parent"].endswith("f/m:c")
