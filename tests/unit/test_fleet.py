"""Fleet requests: validation of the whole request, names, tolerance, wave recording."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import fleet
from chalicelib.errors import InvalidFleetRequest

ACCOUNTS = [
    "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
    "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22",
]
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"


def create_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "operation": "create",
        "catalogue_id": CATALOGUE,
        "name": "baseline",
        "workload_name": "{name}-{account_short}-{region}",
        "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
        "targets": [
            {"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2"},
            {"aws_account_id": ACCOUNTS[1], "aws_region": "us-east-1",
             "workload_parameters": {"VpcCidr": "10.1.0.0/16"}, "workload_tags": {"Team": "b"}},
        ],
    }  # fmt: skip
    request.update(overrides)
    return request


def errors_of(request: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidFleetRequest) as raised:
        fleet.validate_fleet_request(request)
    return dict(raised.value.details["errors"])


def test_create_targets_get_templated_names_and_merged_overrides() -> None:
    planned = fleet.validate_fleet_request(create_request())
    assert planned["max_concurrency"] == 5 and planned["failure_tolerance"] == 0
    first, second = planned["targets"]
    assert first["target"]["workload_name"] == "baseline-6d2e6c4b-ap-southeast-2"
    assert second["request"]["workload_name"] == "baseline-7e3f7d5c-us-east-1"
    assert second["request"]["workload_parameters"] == {"VpcCidr": "10.1.0.0/16"}
    assert second["request"]["workload_tags"] == {"Team": "b"}
    assert first["request"]["operation"] == "create"


def test_every_problem_is_reported_at_once_per_target() -> None:
    request = create_request(max_concurrency=0, failure_tolerance="120%", colour="blue")
    request["targets"] = [
        {"aws_account_id": "not-a-uuid", "aws_region": "ap-southeast-2"},
        {"aws_account_id": ACCOUNTS[1], "aws_region": "ap-northeast-3", "extra": 1},
        "not an object",
    ]
    errors = errors_of(request)
    assert set(errors) >= {
        "max_concurrency",
        "failure_tolerance",
        "colour",
        "targets[0].aws_account_id",
        "targets[1].aws_region",
        "targets[1].extra",
        "targets[2]",
    }
    assert "disabled" in errors["targets[1].aws_region"][0]


def test_names_are_validated_per_target_and_must_be_unique() -> None:
    errors = errors_of(create_request(workload_name="{name}-{region}", name="9bad"))
    assert "targets[0].workload_name" in errors
    same = create_request(workload_name="{name}", targets=[
        {"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2"},
        {"aws_account_id": ACCOUNTS[1], "aws_region": "ap-southeast-2"},
    ])  # fmt: skip
    assert "names must be unique" in errors_of(same)["targets[1].workload_name"][0]
    assert (
        "unknown placeholder"
        in errors_of(create_request(workload_name="{nme}-x"))["workload_name"][0]
    )


def test_more_than_500_targets_is_refused_saying_the_limit() -> None:
    targets = [{"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2"}] * 501
    message = errors_of(create_request(targets=targets))["targets"][0]
    assert "501 entries; at most 500" in message


def test_non_object_and_unknown_operation() -> None:
    assert "_schema" in errors_of(["a"])
    assert "operation" in errors_of({"operation": "update"})


@pytest.mark.parametrize(
    ("tolerance", "runnable", "expected"),
    [(0, 20, 0), (3, 20, 3), ("20%", 20, 4), ("10%", 20, 2), ("10%", 9, 0), ("100%", 7, 7)],
)
def test_tolerated_failures(tolerance: Any, runnable: int, expected: int) -> None:
    assert fleet.tolerated_failures(tolerance, runnable) == expected


def test_delete_plan_needs_no_stax_and_cuts_waves() -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(7)]
    state = fleet.plan(
        {"operation": "delete", "workload_ids": ids, "max_concurrency": 3, "failure_tolerance": 1},
        access=None,  # type: ignore[arg-type]
    )
    assert [len(w) for w in state["waves"]] == [3, 3, 1]
    assert state["summary"]["tolerated_failures"] == 1
    # What every target shares is kept once; the machine merges it back per target.
    assert state["shared"] == {"operation": "delete"}
    assert state["waves"][2][0] == {"index": 6, "request": {"workload_id": ids[6]}, "target": {}}


def _outcome(index: int, status: str, **extra: Any) -> dict[str, Any]:
    return {"index": index, "target": {}, "request": {"operation": "delete",
            "workload_id": f"w{index}"}, "status": status,
            "started": "2026-11-27T10:00:00Z", "finished": "2026-11-27T10:00:12.5Z", **extra}  # fmt: skip


def test_record_wave_counts_and_stops_past_the_tolerance() -> None:
    state = fleet.plan(
        {"operation": "delete", "workload_ids": [f"00000000-0000-4000-8000-{i:012d}" for i in range(6)],
         "max_concurrency": 2, "failure_tolerance": 1},
        access=None,  # type: ignore[arg-type]
    )  # fmt: skip
    aws_cause = json.dumps({"Error": "WorkloadTaskFailed", "Cause": '{"task_id": "t"}'})
    state["wave_results"] = [
        _outcome(0, "SUCCEEDED", output={"workload_id": "w0", "task_id": "t0"}),
        _outcome(1, "FAILED", failure={"Error": "States.TaskFailed", "Cause": aws_cause}),
    ]
    state = fleet.record_wave(state)
    assert not state["exceeded"] and len(state["waves"]) == 2
    assert state["results"][1]["error"] == "WorkloadTaskFailed"
    assert state["results"][1]["cause"] == {"task_id": "t"}
    assert state["results"][0]["duration_seconds"] == 12.5
    state["wave_results"] = [
        _outcome(2, "FAILED", failure={"Error": "WorkloadNotFound", "Cause": "{}"}),
        _outcome(3, "SUCCEEDED", output={"workload_id": "w3"}),
    ]
    state = fleet.record_wave(state)
    assert state["exceeded"] is True
    assert state["waves"] == []
    assert (state["summary"]["succeeded"], state["summary"]["failed"]) == (2, 2)
    assert state["summary"]["not_started"] == 2
    assert [r["status"] for r in state["results"]][-2:] == ["NOT_STARTED", "NOT_STARTED"]
    assert state["results"][-1]["target"] == {"workload_id": "00000000-0000-4000-8000-000000000005"}
    assert state["results"][0]["target"] == {"workload_id": "w0"}
    assert state["failure"]["Error"] == "FleetFailureToleranceExceeded"
    cause = json.loads(state["failure"]["Cause"])
    assert cause["summary"]["failed"] == 2
    assert [t["index"] for t in cause["failed_targets"]] == [1, 2]


def test_percentages_are_exact() -> None:
    assert fleet.tolerated_failures("29%", 100) == 29
    assert fleet.tolerated_failures("57%", 100) == 57
    assert fleet.tolerated_failures("33.5%", 200) == 67


def test_non_object_maps_are_named_not_crashed_on() -> None:
    errors = errors_of(create_request(workload_parameters=["a"]))
    assert any(field.endswith("workload_parameters") for field in errors)
    request = create_request()
    request["targets"][0]["workload_tags"] = "x"
    assert "targets[0].workload_tags" in errors_of(request)


def test_five_hundred_targets_fit_the_state_and_a_bigger_plan_is_refused_up_front() -> None:
    targets = [
        {
            "aws_account_id": ACCOUNTS[i % 2],
            "aws_region": "ap-southeast-2",
            "workload_name": f"w{i}x",
        }
        for i in range(500)
    ]
    shared = {f"P{i}": "v" * 40 for i in range(8)}
    request = create_request(targets=targets, workload_parameters=shared, workload_name="w")
    state = fleet.plan(request, access=_NoStax())  # type: ignore[arg-type]
    assert state["summary"]["to_run"] == 500
    assert len(json.dumps(state)) < fleet.MAX_PLAN_BYTES
    for index, target in enumerate(targets):
        # Data of each target's own is not shared: 500 x 220 characters is too much.
        target["workload_parameters"] = {"Own": f"{index}-" + "x" * 220}
    with pytest.raises(InvalidFleetRequest, match=r"KiB") as raised:
        fleet.plan(request, access=_NoStax())  # type: ignore[arg-type]
    assert "targets" in raised.value.details["errors"]


class _NoStax:
    """A create plan lists the catalogue's workloads; here there are none."""

    class _Session:
        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def list_workloads(self, **filters: str) -> list[dict[str, Any]]:
            return []

    def session(self) -> Any:
        return self._Session()
