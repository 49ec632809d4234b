"""The workload state machine end to end: deploy.sh, real executions on MiniStack, the simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import (
    VERSION_2,
    create_payload,
    history,
    run_execution,
    unique_name,
    workloads_named,
    write_calls,
)

pytestmark = pytest.mark.e2e


def _output(described: dict[str, Any]) -> dict[str, Any]:
    assert described["status"] == "SUCCEEDED", described
    return dict(json.loads(described["output"]))


def _create(sfn: Any, deployed: dict[str, Any], name: str) -> dict[str, Any]:
    return _output(run_execution(sfn, deployed["workload"], create_payload(name)))


def test_create_update_delete_lifecycle(sfn: Any, deployed: dict[str, Any], clean_sim: Any) -> None:
    name = unique_name("lifecycle")
    created = _create(sfn, deployed, name)
    assert created["operation"] == "create"
    assert created["workload_name"] == name
    assert created["status"] == "SUCCEEDED"
    [workload] = workloads_named(clean_sim, name)
    assert workload["Id"] == created["workload_id"]
    assert workload["Status"] == "ACTIVE"
    assert workload["Parameters"] == {"VpcCidr": "10.0.0.0/16"}

    # The seed README's update payload, unchanged but for the ids.
    seed_update = {
        "operation": "update",
        "workload_id": created["workload_id"],
        "catalogue_version_id": VERSION_2,
    }
    updated = _output(run_execution(sfn, deployed["workload"], seed_update))
    assert updated["operation"] == "update"
    assert updated["workload_id"] == created["workload_id"]
    assert updated["task_id"] != created["task_id"]
    [workload] = workloads_named(clean_sim, name)
    assert workload["CatalogueVersionId"] == VERSION_2

    params_update = {
        "operation": "update",
        "workload_id": created["workload_id"],
        "workload_parameters": {"VpcCidr": "10.1.0.0/16", "AzCount": 3},
        "workload_tags": {"CostCode": "999"},
    }
    _output(run_execution(sfn, deployed["workload"], params_update))
    [workload] = workloads_named(clean_sim, name)
    assert workload["Parameters"] == {"VpcCidr": "10.1.0.0/16", "AzCount": "3"}
    assert workload["Tags"]["CostCode"] == "999"

    deleted = _output(
        run_execution(
            sfn,
            deployed["workload"],
            {"operation": "delete", "workload_id": created["workload_id"]},
        )
    )
    assert deleted["operation"] == "delete"
    [workload] = workloads_named(clean_sim, name)
    assert workload["Status"] == "DELETED"


def test_failed_stax_task_reports_workload_task_failed(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    clean_sim.fail_next_tasks(
        1, logs=["CREATE_FAILED VPC: The maximum number of VPCs has been reached."]
    )
    name = unique_name("failing")
    described = run_execution(sfn, deployed["workload"], create_payload(name))
    assert described["status"] == "FAILED"
    assert described["error"] == "WorkloadTaskFailed"
    cause = json.loads(described["cause"])
    [workload] = workloads_named(clean_sim, name)
    assert cause["workload_id"] == workload["Id"]
    assert cause["task_id"]
    assert any("maximum number of VPCs" in line for line in cause["logs_tail"])


def test_duplicate_name_is_refused_without_second_workload(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = unique_name("dup")
    first = _create(sfn, deployed, name)
    described = run_execution(sfn, deployed["workload"], create_payload(name))
    assert described["status"] == "FAILED"
    assert described["error"] == "WorkloadAlreadyExists"
    cause = json.loads(json.loads(described["cause"])["errorMessage"])
    assert cause["workload_id"] == first["workload_id"]
    assert cause["status"] == "ACTIVE"
    assert len(workloads_named(clean_sim, name)) == 1


def test_invalid_payload_fails_before_any_stax_write(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    payload = create_payload("x", aws_account_id="asd12e3-7c0e-4807-96ee-asd12ec21r2")
    payload["aws_region"] = "ap-northeast-3"
    described = run_execution(sfn, deployed["workload"], payload)
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidWorkloadRequest"
    errors = json.loads(json.loads(described["cause"])["errorMessage"])["errors"]
    assert {"aws_account_id", "aws_region", "workload_name"} <= set(errors)
    assert write_calls(clean_sim) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"operation": "update", "workload_id": "00000000-0000-4000-8000-000000000000",
         "catalogue_version_id": VERSION_2},
        {"operation": "delete", "workload_id": "00000000-0000-4000-8000-000000000000"},
    ],
    ids=["update", "delete"],
)  # fmt: skip
def test_an_update_or_delete_of_an_unknown_workload_is_workload_not_found_after_one_refused_write(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, payload: dict[str, Any]
) -> None:
    described = run_execution(sfn, deployed["workload"], payload)
    assert described["status"] == "FAILED"
    assert described["error"] == "WorkloadNotFound", described.get("cause")
    # One write, which Stax refused with 404; not retried, nothing changed.
    method = {"update": "PUT", "delete": "DELETE"}[payload["operation"]]
    path = f"/20190206/workloads/{payload['workload_id']}"
    assert [(r["method"], r["path"], r["status"]) for r in write_calls(clean_sim)] == [
        (method, path, 404)
    ]
    assert all(w["Id"] != payload["workload_id"] for w in clean_sim.state()["workloads"])


def test_history_shows_the_task_watcher_polling(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    clean_sim.set_task_durations(started=0.5, pending=0.5, running=3.0)
    described = run_execution(sfn, deployed["workload"], create_payload(unique_name("poll")))
    output = _output(described)
    assert output["polls"] >= 2
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in history(sfn, described["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    assert entered[:4] == ["Read Request", "Validate Input", "Record Execution", "Operation?"]
    assert "Watch Task" in entered
