"""Every start, success, failure and halt becomes the orchestrator's own event, with the
documented fields and never a parameter value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.status_events import (
    NotAStatusChange,
    publish_status_event,
    status_event,
)

PREFIX = "stax-orchestrator-dev"
SAMPLES = Path("events")


def sample(path: str) -> dict[str, Any]:
    return json.loads((SAMPLES / path).read_text())


def detail(entry: dict[str, Any]) -> dict[str, Any]:
    return json.loads(entry["Detail"])


def test_a_started_create_names_the_workload_its_account_and_region_but_no_parameter() -> None:
    entry = status_event(sample("publish_status_event/create_started.json"), PREFIX)
    assert entry["Source"] == "stax-orchestrator"
    assert entry["DetailType"] == "Workload Operation Status Change"
    body = detail(entry)
    assert body == {
        "status": "STARTED",
        "execution_arn": body["execution_arn"],
        "state_machine_arn": body["state_machine_arn"],
        "operation": "create",
        "workload_name": "team-a-vpc",
        "aws_account_id": "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
        "aws_region": "ap-southeast-2",
    }
    assert entry["Resources"] == [body["execution_arn"]]
    assert "s3cr3t" not in json.dumps(entry) and "10.0.0.0/16" not in json.dumps(entry)


def test_a_failed_create_carries_its_error_name_and_never_the_cause() -> None:
    body = detail(status_event(sample("publish_alert/failed_create.json"), PREFIX))
    assert (body["status"], body["error"]) == ("FAILED", "WorkloadAlreadyExists")
    schema = json.loads(Path("schemas/status_event_workload_operation.schema.json").read_text())
    jsonschema.validate(body, schema)
    assert "cause" not in body and "message" not in json.dumps(body)


def test_a_fleet_target_says_which_fleet_started_it() -> None:
    event = sample("publish_status_event/create_started.json")
    fleet = "arn:aws:states:ap-southeast-2:123456789012:execution:stax-orchestrator-dev-fleet:f1"
    event["detail"]["input"] = json.dumps({
        "request": json.loads(event["detail"]["input"]),
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": fleet,
    })  # fmt: skip
    body = detail(status_event(event, PREFIX))
    assert body["started_by"] == fleet and body["workload_name"] == "team-a-vpc"


@pytest.mark.parametrize(
    ("machine", "detail_type", "given", "expected"),
    [
        ("fleet", "Fleet Status Change", {"operation": "create", "name": "nightly"},
         {"operation": "create", "fleet_name": "nightly", "fleet_id": "b5a4"}),
        ("account-baseline", "Account Baseline Status Change",
         {"id": "e-1", "detail": {"accountId": "acc-1", "awsAccountId": "123456789012",
                                  "accountName": "Finance (EU)"}},
         {"account_id": "acc-1", "aws_account_id": "123456789012", "event_id": "e-1"}),
    ],
)  # fmt: skip
def test_fleets_and_account_baselines_have_their_own_detail_type(
    machine: str, detail_type: str, given: dict[str, Any], expected: dict[str, Any]
) -> None:
    event = sample("publish_status_event/create_started.json")
    event["detail"]["stateMachineArn"] = event["detail"]["stateMachineArn"].replace(
        "-workload", f"-{machine}"
    )
    event["detail"]["input"] = json.dumps(given)
    entry = status_event(event, PREFIX)
    assert entry["DetailType"] == detail_type
    assert expected.items() <= detail(entry).items()
    schema = machine.replace("-", "_")
    jsonschema.validate(detail(entry), json.loads(
        Path(f"schemas/status_event_{schema}.schema.json").read_text()))  # fmt: skip
    assert "Finance" not in entry["Detail"]  # free text never leaves


def test_a_fleet_that_halted_itself_is_halted_not_failed() -> None:
    event = sample("publish_status_event/create_started.json")
    event["detail"].update(
        stateMachineArn=event["detail"]["stateMachineArn"].replace("-workload", "-fleet"),
        status="FAILED", error="FleetHalted", input=json.dumps({"operation": "rollout"}),
    )  # fmt: skip
    body = detail(status_event(event, PREFIX))
    assert (body["status"], body["error"]) == ("HALTED", "FleetHalted")
    jsonschema.validate(body, json.loads(
        Path("schemas/status_event_fleet.schema.json").read_text()))  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"source": "aws.s3"},
        {"detail": {"stateMachineArn": "arn:aws:states:r:1:stateMachine:other-workload",
                    "status": "RUNNING"}},
        {"detail": {"stateMachineArn":
                    "arn:aws:states:r:1:stateMachine:stax-orchestrator-dev-task-watcher",
                    "status": "RUNNING"}},
        {"detail": "not an object"},
    ],
)  # fmt: skip
def test_anything_but_a_status_change_of_the_stage_s_machines_is_refused(
    change: dict[str, Any],
) -> None:
    event = {**sample("publish_status_event/create_started.json"), **change}
    with pytest.raises(NotAStatusChange):
        status_event(event, PREFIX)


def test_an_entry_eventbridge_refuses_fails_the_invocation_so_it_is_retried() -> None:
    sent: list[dict[str, Any]] = []

    def refuse(**kwargs: Any) -> dict[str, Any]:
        sent.append(kwargs)
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    with pytest.raises(RuntimeError, match="InternalFailure"):
        publish_status_event(sample("publish_status_event/create_started.json"), refuse,
                             "default", PREFIX)  # fmt: skip
    assert sent[0]["Entries"][0]["EventBusName"] == "default"
