"""The state machines and the code agree: error names, placeholders, every path read."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stax_orchestrator import lint
from stax_orchestrator.asl_contract import ANY, check_templates
from stax_orchestrator.deploy import STATE_MACHINES, load_template

MACHINES = {"TaskWatcherArn": "task_watcher", "WorkloadArn": "workload", "FleetArn": "fleet"}


def problems(
    templates: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    errors: set[str] | None = None,
) -> list[str]:
    return check_templates(
        templates or {kind: load_template(kind) for kind in STATE_MACHINES},
        machine_placeholders=MACHINES,
        lambda_outputs=outputs or lint.lambda_outputs(),
        deploy_values=set(lint.DEPLOY_VALUES),
        error_classes=errors if errors is not None else lint.error_classes(),
        entry_shapes=dict.fromkeys(lint.ENTRY_MACHINES, ANY),
    )


def test_the_shipped_state_machines_keep_the_contract() -> None:
    assert lint.contract_problems() == []


def test_a_lambda_that_stops_returning_a_field_the_machine_reads_is_caught() -> None:
    outputs = lint.lambda_outputs()
    outputs["GetTaskStatusArn"] = {
        k: v for k, v in outputs["GetTaskStatusArn"].items() if k != "workload_name"
    }
    found = problems(outputs=outputs)
    assert any(
        "task_watcher: state 'Describe Task Failure'" in line and "$.workload_name" in line
        for line in found
    ), found


def test_an_error_name_without_a_class_is_caught() -> None:
    found = problems(errors=lint.error_classes() - {"WorkloadWriteInDoubt"})
    assert any("'WorkloadWriteInDoubt' is not a class" in line for line in found)


def test_a_placeholder_that_names_no_function_is_caught() -> None:
    templates = {kind: load_template(kind) for kind in STATE_MACHINES}
    watcher = copy.deepcopy(templates["task_watcher"])
    watcher["States"]["Get Task Status"]["Resource"] = "${GetTaskStateArn}"
    templates["task_watcher"] = watcher
    assert any("${GetTaskStateArn}" in line for line in problems(templates=templates))


def _machine(states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


@pytest.mark.parametrize(
    ("state", "reads"),
    [
        ({"Type": "Pass", "Parameters": {"x.$": "$.nothing"}, "End": True}, "$.nothing"),
        ({"Type": "Wait", "SecondsPath": "$.wait", "End": True}, "$.wait"),
        ({"Type": "Fail", "CausePath": "$.why"}, "$.why"),
        (
            {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.who)"}, "End": True},
            "$.who",
        ),
        (
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.gone", "StringEquals": "x", "Next": "Done"}],
                "Default": "Done",
            },
            "$.gone",
        ),
    ],
    ids=["parameters", "seconds-path", "cause-path", "intrinsic", "choice"],
)
def test_a_path_no_state_before_produced_is_caught(state: dict[str, Any], reads: str) -> None:
    machine = _machine(
        {"Start": {"Type": "Pass", "Result": {"here": 1}, "Next": "Read"}, "Read": state,
         "Done": {"Type": "Succeed"}}
    )  # fmt: skip
    found = problems(templates={"workload": machine})
    assert any(reads in line and "may be missing" in line for line in found), found


def test_a_presence_check_and_a_catch_result_are_not_missing_paths() -> None:
    machine = _machine(
        {
            "Start": {"Type": "Pass", "Result": {"here": 1}, "Next": "Present?"},
            "Present?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.maybe", "IsPresent": True, "Next": "Work"}],
                "Default": "Work",
            },
            "Work": {
                "Type": "Task",
                "Resource": "${ValidateInputArn}",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "F"}],
                "Next": "Done",
            },
            "F": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.here"},
            "Done": {"Type": "Pass", "Parameters": {"op.$": "$.operation"}, "End": True},
        }
    )
    assert problems(templates={"workload": machine}) == []


def test_a_choice_that_matches_only_when_a_path_is_present_hands_it_on_and_no_other() -> None:
    def machine(choices: list[dict[str, Any]]) -> dict[str, Any]:
        return _machine(
            {
                "Start": {"Type": "Pass", "Result": {"here": 1}, "Next": "Present?"},
                "Present?": {"Type": "Choice", "Choices": choices, "Default": "Done"},
                "Uses It": {"Type": "Fail", "ErrorPath": "$.maybe.Error", "CausePath": "$.here"},
                "Done": {"Type": "Succeed"},
            }
        )

    present = [{"Variable": "$.maybe", "IsPresent": True, "Next": "Uses It"}]
    assert problems(templates={"workload": machine(present)}) == []
    absent = [{"Variable": "$.maybe", "IsPresent": False, "Next": "Uses It"}]
    found = problems(templates={"workload": machine(absent)})
    assert any("$.maybe.Error may be missing" in line for line in found), found


def test_a_field_present_on_only_one_way_into_a_state_is_caught() -> None:
    machine = _machine(
        {
            "Start": {
                "Type": "Choice",
                "Choices": [{"Variable": "$$.Execution.Id", "IsPresent": True, "Next": "A"}],
                "Default": "B",
            },
            "A": {"Type": "Pass", "Result": {"x": 1, "y": 2}, "Next": "Join"},
            "B": {"Type": "Pass", "Result": {"x": 1}, "Next": "Join"},
            "Join": {"Type": "Pass", "Parameters": {"x.$": "$.x", "y.$": "$.y"}, "End": True},
        }
    )
    found = problems(templates={"workload": machine})
    assert len(found) == 1 and "$.y may be missing" in found[0]


def test_the_account_baseline_machine_passes_every_field_of_an_apply_fleet_request() -> None:
    from chalicelib.baselines.saved import fleets

    request = {"operation": "create", "catalogue_id": "c", "aws_account_id": "a",
               "region": "ap-southeast-2", "workload_name": "w"}  # fmt: skip
    plan = {"baselines": {"b": {"max_concurrency": 2, "failure_tolerance": 0}},
            "changes": [{"baseline": "b", "requests": [request]}]}  # fmt: skip
    (fleet,) = fleets(plan)
    machine = load_template("account_baseline")
    run = machine["States"]["Apply Fleets"]["ItemProcessor"]["States"]["Run Fleet"]
    passed = {key.removesuffix(".$") for key in run["Parameters"]["Input"]}
    assert passed == set(fleet["request"]) | {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}
