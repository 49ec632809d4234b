"""Fleet requests (chalicelib.validation.fleet): the whole request judged before anything runs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.errors import InvalidFleetRequest
from chalicelib.validation import (
    MAX_FLEET_REQUEST_BYTES,
    MAX_NESTING_DEPTH,
    FleetEvent,
    json_size,
    load_fleet_event,
    validate_fleet_request,
)

ACCOUNTS = [
    "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11",
    "7e3f7d5c-2dab-4f3a-8b68-1c8f8a0d3b22",
]
CATALOGUE = "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a00"
EXECUTION_ARN = "arn:aws:states:us-east-1:000000000000:execution:fleet:run-1"
HYPHEN_KEY = (
    "key must be alphanumeric (A-Z, a-z, 0-9), as CloudFormation parameter names are; found '-'"
)


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


def errors_of(request: Any, loader: Any = validate_fleet_request) -> dict[str, list[str]]:
    with pytest.raises(InvalidFleetRequest) as raised:
        loader(request)
    return dict(raised.value.details["errors"])


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def test_create_targets_get_templated_names_and_merged_overrides() -> None:
    planned = validate_fleet_request(create_request())
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


def test_more_than_10000_targets_is_refused_saying_the_limit() -> None:
    targets = [{"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2"}] * 10_001
    request = create_request(targets=targets)
    message = validation_errors(request, max_bytes=16 * 1024 * 1024)["targets"][0]
    assert "10001 entries; at most 10000" in message


def validation_errors(request: Any, **limits: Any) -> dict[str, list[str]]:
    from chalicelib.errors import InvalidFleetRequest

    with pytest.raises(InvalidFleetRequest) as refused:
        validate_fleet_request(request, **limits)
    return dict(refused.value.details["errors"])


def test_non_object_and_unknown_operation() -> None:
    assert "_schema" in errors_of(["a"])
    assert "operation" in errors_of({"operation": "update"})


def test_non_object_maps_are_named_not_crashed_on() -> None:
    errors = errors_of(create_request(workload_parameters=["a"]))
    # The shared map is the fleet's: named once, at the top.
    assert list(errors) == ["workload_parameters"]
    request = create_request()
    request["targets"][0]["workload_tags"] = "x"
    assert "targets[0].workload_tags" in errors_of(request)


# -- CloudFormation parameter names and byte counts, through the targets ---------------


def test_a_shared_parameter_name_with_a_hyphen_is_refused_once_at_the_top() -> None:
    errors = errors_of(create_request(workload_parameters={"vpc-cidr": "10.0.0.0/16"}))
    assert errors == {"workload_parameters.vpc-cidr": [HYPHEN_KEY]}


def test_a_targets_own_parameter_name_with_a_hyphen_is_refused_under_that_target() -> None:
    request = create_request()
    request["targets"][1]["workload_parameters"] = {"vpc_cidr": "10.1.0.0/16"}
    errors = errors_of(request)
    assert list(errors) == ["targets[1].workload_parameters.vpc_cidr"]
    assert errors["targets[1].workload_parameters.vpc_cidr"][0].endswith("found '_'")


def test_a_shared_parameter_a_target_overrides_is_judged_as_the_targets() -> None:
    request = create_request(workload_parameters={"Big": "é" * 2049})
    request["targets"][1]["workload_parameters"] = {"Big": "small"}
    errors = errors_of(request)
    # Target 0 inherits the shared value (the fleet's problem); target 1 replaced it.
    assert list(errors) == ["workload_parameters.Big"]
    assert errors["workload_parameters.Big"][0].startswith(
        "value is 4,098 bytes as UTF-8 (2,049 characters); at most 4,096 bytes"
    )


def test_a_rollout_takes_no_parameters_so_they_are_an_unknown_field() -> None:
    errors = errors_of(
        {"operation": "rollout", "catalogue_id": CATALOGUE, "catalogue_version_id": CATALOGUE,
         "workload_parameters": {"vpc-cidr": "x"}}
    )  # fmt: skip
    assert list(errors) == ["workload_parameters"]
    assert errors["workload_parameters"][0].startswith("unknown field; a fleet 'rollout'")


# -- nesting: refused by name, never a RecursionError ----------------------------------


def test_targets_nested_100000_levels_deep_are_refused_naming_the_first_target() -> None:
    errors = errors_of(create_request(targets=nested(100_000)))
    assert list(errors) == ["targets[0]"]
    assert errors["targets[0]"][0].startswith("is nested too deeply")


def test_a_deep_parameter_value_of_a_target_is_refused_naming_the_parameter() -> None:
    request = create_request()
    request["targets"][0]["workload_parameters"] = {"Subnets": nested(100_000)}
    errors = errors_of(request)
    assert list(errors) == ["targets[0].workload_parameters.Subnets"]


def test_a_deep_shared_tag_value_is_refused_naming_the_tag() -> None:
    errors = errors_of(create_request(workload_tags={"Team": nested(MAX_NESTING_DEPTH)}))
    assert list(errors) == ["workload_tags.Team"]
    assert "at most 32 levels" in errors["workload_tags.Team"][0]


def test_a_deep_rollout_list_is_refused_naming_the_list_entry() -> None:
    request = {"operation": "rollout", "catalogue_id": CATALOGUE,
               "catalogue_version_id": CATALOGUE, "regions": [nested(100_000)]}  # fmt: skip
    assert list(errors_of(request)) == ["regions[0]"]


def test_a_fleet_request_that_is_a_deep_array_is_refused_as_a_whole() -> None:
    assert list(errors_of(nested(100_000))) == ["_schema"]


def test_nesting_just_inside_the_limit_is_judged_by_the_field_rules() -> None:
    # The request (1) > targets (2) > a target (3) > parameters (4) > the value (5...).
    request = create_request()
    request["targets"][0]["workload_parameters"] = {"A": nested(MAX_NESTING_DEPTH - 4)}
    errors = errors_of(request)
    assert errors["targets[0].workload_parameters.A"][0].startswith(
        "value must be a string, number or boolean, not an array"
    )


# -- size: bytes of UTF-8, as Step Functions counts the execution's input --------------


def test_request_size_counts_utf8_bytes_not_escaped_json() -> None:
    # 8 targets x 26 tags x 256 three-byte characters: ~160 KB of UTF-8, but ~320 KB if
    # every character were written as a \uXXXX escape.
    tags = {f"T{i:02}": "日" * 256 for i in range(26)}
    targets = [
        {"aws_account_id": ACCOUNTS[0], "aws_region": "ap-southeast-2",
         "workload_name": f"w{i}x", "workload_tags": tags}
        for i in range(8)
    ]  # fmt: skip
    request = create_request(targets=targets, workload_name="w")
    assert len(json.dumps(request)) > MAX_FLEET_REQUEST_BYTES
    assert len(validate_fleet_request(request)["targets"]) == 8


def test_an_oversized_request_is_refused_saying_its_bytes() -> None:
    request = create_request(padding="é" * MAX_FLEET_REQUEST_BYTES)
    message = errors_of(request)["_schema"][0]
    assert message == (
        f"is {json_size(request):,} bytes as UTF-8 JSON; at most 204,800 bytes (200 KiB) are "
        "accepted; send the targets as a file (targets_location; the CLI does it for you)"
    )


# -- the plan_fleet event ----------------------------------------------------------------


BUCKET = "stax-orchestrator-unit-123456789012-us-east-1"


def test_the_fleet_machines_event_is_unwrapped_and_validated() -> None:
    request = {"operation": "delete", "workload_ids": [ACCOUNTS[0].upper()]}
    loaded = load_fleet_event(
        {"request": request, "execution_id": EXECUTION_ARN, "execution_name": "run-1",
         "bucket": BUCKET}
    )  # fmt: skip
    assert loaded == FleetEvent(
        {"operation": "delete", "max_concurrency": 5, "failure_tolerance": 0,
         "stages": ["100%"], "halt_on_alarms": [], "workload_ids": [ACCOUNTS[0]]},
        EXECUTION_ARN, "run-1", BUCKET,
    )  # fmt: skip


def test_a_bare_fleet_request_is_judged_but_not_planned_without_the_machines_bucket() -> None:
    assert list(
        errors_of({"operation": "delete", "workload_ids": [ACCOUNTS[0]]}, load_fleet_event)
    ) == ["bucket"]
    # A bad bare request is refused for what is wrong with it first.
    assert "workload_ids[0]" in errors_of(
        {"operation": "delete", "workload_ids": ["x"]}, load_fleet_event
    )


@pytest.mark.parametrize("execution_id", ["", 7, ["arn"]])
def test_a_bad_execution_id_in_the_event_is_named(execution_id: Any) -> None:
    event = {"request": {"operation": "delete", "workload_ids": [ACCOUNTS[0]]},
             "execution_id": execution_id, "bucket": BUCKET}  # fmt: skip
    assert list(errors_of(event, load_fleet_event)) == ["execution_id"]


def test_a_non_object_request_inside_the_event_is_refused_as_a_whole() -> None:
    assert list(
        errors_of(
            {"request": "create", "execution_id": EXECUTION_ARN, "bucket": BUCKET}, load_fleet_event
        )
    ) == ["_schema"]


def test_a_fleet_started_by_another_execution_accepts_the_link_step_functions_adds() -> None:
    """A parent's startExecution passes AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID (the
    account baseline machine does): it links the executions, it is not the user's field."""
    request = {"operation": "apply", "targets": [{"operation": "delete",
               "workload_id": "0f8b6a9e-2a1c-4b7e-9d3f-5e6a7b8c9d0e"}],
               "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:::execution:p:1"}  # fmt: skip
    fleet = validate_fleet_request(request)
    assert "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID" not in fleet
