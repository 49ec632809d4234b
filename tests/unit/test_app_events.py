"""app.py loads every event with chalicelib.validation before it calls into chalicelib."""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import pytest

from chalicelib.errors import InvalidFleetRequest, InvalidWorkloadRequest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
import app  # the project's own app.py, found through the path above

WORKLOAD = "b3437e3b-55e3-4060-9dec-042f18dcf789"


def nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_validate_input_returns_the_normalised_request() -> None:
    event = {"operation": "delete", "workload_id": WORKLOAD.upper()}
    assert app.validate_input(event, None) == {"operation": "delete", "workload_id": WORKLOAD}


def test_validate_input_refuses_json_nested_100000_levels_naming_the_field() -> None:
    event = {"operation": "delete", "workload_id": nested(100_000)}
    with pytest.raises(InvalidWorkloadRequest) as caught:
        app.validate_input(event, None)
    assert list(caught.value.details["errors"]) == ["workload_id"]


@pytest.mark.parametrize("handler", ["create_workload", "update_workload", "delete_workload"])
def test_the_write_lambdas_refuse_before_building_any_client(handler: str) -> None:
    # No Stax, SSM or DynamoDB is reachable here: the refusal comes from loading the event.
    with pytest.raises(InvalidWorkloadRequest):
        getattr(app, handler)({"operation": "create", "workload_parameters": {"a-b": 1}}, None)


def test_get_task_status_refuses_an_invalid_event() -> None:
    with pytest.raises(InvalidWorkloadRequest) as caught:
        app.get_task_status({"task_id": "t-1"}, None)
    assert list(caught.value.details["errors"]) == ["task_id"]


def test_plan_fleet_refuses_an_event_without_the_plans_bucket() -> None:
    event = {
        "request": {"operation": "delete", "workload_ids": [WORKLOAD], "max_concurrency": 1},
        "execution_id": "arn:aws:states:us-east-1:000000000000:execution:fleet:run-1",
    }
    with pytest.raises(InvalidFleetRequest) as caught:
        app.plan_fleet(event, None)
    assert list(caught.value.details["errors"]) == ["bucket"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            {"request": {"operation": "delete", "workload_ids": ["x"]}, "bucket": "b"},
            "workload_ids[0]",
        ),
        (
            {"request": {"operation": "delete", "workload_ids": nested(100_000)}, "bucket": "b"},
            "workload_ids[0]",
        ),
        ({"request": nested(100_000), "execution_id": "arn", "bucket": "b"}, "_schema"),
    ],
)
def test_plan_fleet_refuses_an_invalid_fleet_request_naming_the_field(
    event: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidFleetRequest) as caught:
        app.plan_fleet(event, None)
    assert list(caught.value.details["errors"]) == [field]
