"""Exactly one workload per create, one write per update or delete, whatever happens.

On the deployed local stage with the strict simulator (tags only by id with
include_tags, 404s for what is gone, read-after-write lag, nulls where the document
allows them) and the coordination table on MiniStack: races between executions, a POST
that Stax applies long after the client gave up, lost answers of every write, and a
failed workload that keeps its name.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import (
    VERSION_2,
    create_payload,
    history,
    run_execution,
    unique_name,
    workloads_named,
)

pytestmark = pytest.mark.e2e
TABLE = "stax-orchestrator-local-coordination"


def _live(sim: Any, name: str) -> list[dict[str, Any]]:
    return [w for w in workloads_named(sim, name) if w["Status"] != "DELETED"]


def _lambda_cause(described: dict[str, Any]) -> dict[str, Any]:
    cause = json.loads(described["cause"])
    return dict(json.loads(cause["errorMessage"])) if "errorMessage" in cause else dict(cause)


def _claim(name: str) -> dict[str, Any] | None:
    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=TABLE,
            Key={"pk": {"S": f"name#{name}"}, "sk": {"S": "claim"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def test_four_concurrent_creates_of_one_name_make_one_workload(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    # Every name look-up takes 3 s, so all four executions look before any of them writes.
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["GET"], "query_regex": "(^|&)name=",
          "latency_ms": 3000}]
    )  # fmt: skip
    name = unique_name("race")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda _: run_execution(sfn, deployed["workload"], create_payload(name)),
                     range(4))
        )  # fmt: skip
    clean_sim.clear_faults()
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["FAILED", "FAILED", "FAILED", "SUCCEEDED"], [
        (r["status"], r.get("error")) for r in results
    ]
    assert {r.get("error") for r in results if r["status"] == "FAILED"} == {"WorkloadAlreadyExists"}
    [winner] = [r for r in results if r["status"] == "SUCCEEDED"]
    [workload] = _live(clean_sim, name)
    assert json.loads(winner["output"])["workload_id"] == workload["Id"]
    posts = [r for r in clean_sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1


def test_a_create_whose_post_stax_applies_45_s_later_makes_one_workload(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    # Stax holds the first POST for 45 s, then applies it: the Lambda's HTTP call gives
    # up after its read timeout and Step Functions retries while the POST is in flight.
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"], "latency_ms": 45_000,
          "count": 1}]
    )  # fmt: skip
    name = unique_name("held")
    started = time.monotonic()
    described = run_execution(sfn, deployed["workload"], create_payload(name), timeout=400)
    clean_sim.clear_faults()
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert time.monotonic() - started >= 45
    [workload] = _live(clean_sim, name)
    assert json.loads(described["output"])["workload_id"] == workload["Id"]
    posts = [r for r in clean_sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1, "a retry sent the create again while the first could still land"
    errors = [
        e["taskFailedEventDetails"]["error"]
        for e in history(sfn, described["executionArn"])
        if e["type"] == "TaskFailed"
    ] + [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in history(sfn, described["executionArn"])
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert "WorkloadWriteInDoubt" in errors, errors


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
@pytest.mark.parametrize("loss", ["502", "dropped"])
def test_a_write_applied_but_answered_with_a_lost_response_succeeds_once(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, operation: str, loss: str
) -> None:
    name = unique_name(f"lost-{operation}")
    workload_id = None
    if operation != "create":
        first = run_execution(sfn, deployed["workload"], create_payload(name))
        assert first["status"] == "SUCCEEDED", first.get("cause")
        workload_id = json.loads(first["output"])["workload_id"]
    method = {"create": "POST", "update": "PUT", "delete": "DELETE"}[operation]
    rule = {"statuses": [502]} if loss == "502" else {"mode": "drop"}
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads", "methods": [method], "when": "after",
          "count": 1, **rule}]
    )  # fmt: skip
    payload: dict[str, Any] = {
        "create": create_payload(name),
        "update": {"operation": "update", "workload_id": workload_id,
                   "catalogue_version_id": VERSION_2},
        "delete": {"operation": "delete", "workload_id": workload_id},
    }[operation]  # fmt: skip
    described = run_execution(sfn, deployed["workload"], payload, timeout=300)
    lost = [r for r in clean_sim.requests() if (r.get("fault") or "").startswith("after:")]
    clean_sim.clear_faults()
    assert lost, "the fault never fired"
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    [workload] = workloads_named(clean_sim, name)
    expected = {"create": "ACTIVE", "update": "UPDATE_COMPLETE", "delete": "DELETED"}[operation]
    assert workload["Status"] == expected
    writes = [r for r in clean_sim.requests() if r["method"] == method]
    if operation == "create":
        assert len(writes) == 1
        assert json.loads(described["output"])["workload_id"] == workload["Id"]


def test_a_workload_whose_update_failed_still_holds_its_name(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = unique_name("upfail")
    created = run_execution(sfn, deployed["workload"], create_payload(name))
    workload_id = json.loads(created["output"])["workload_id"]
    clean_sim.fail_next_tasks(1, logs=["UPDATE_FAILED: bad parameter"], operation="update")
    update = {"operation": "update", "workload_id": workload_id, "catalogue_version_id": VERSION_2}
    failed = run_execution(sfn, deployed["workload"], update)
    assert failed["error"] == "WorkloadTaskFailed"
    [workload] = workloads_named(clean_sim, name)
    assert workload["Status"] == "UPDATE_FAILED"
    again = run_execution(sfn, deployed["workload"], create_payload(name))
    assert again["status"] == "FAILED" and again["error"] == "WorkloadAlreadyExists"
    cause = _lambda_cause(again)
    assert cause["workload_id"] == workload_id
    assert len(workloads_named(clean_sim, name)) == 1


def test_a_deleted_workload_frees_its_name(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = unique_name("reuse")
    created = run_execution(sfn, deployed["workload"], create_payload(name))
    workload_id = json.loads(created["output"])["workload_id"]
    deleted = run_execution(
        sfn, deployed["workload"], {"operation": "delete", "workload_id": workload_id}
    )
    assert deleted["status"] == "SUCCEEDED"
    again = run_execution(sfn, deployed["workload"], create_payload(name))
    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert json.loads(again["output"])["workload_id"] != workload_id
    assert [w["Status"] for w in workloads_named(clean_sim, name)].count("ACTIVE") == 1
    claim = _claim(name)
    assert claim is not None and claim["owner"] == again["executionArn"]


def test_a_second_update_waits_for_the_first_and_never_runs_beside_it(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    name = unique_name("busy")
    created = run_execution(sfn, deployed["workload"], create_payload(name))
    workload_id = json.loads(created["output"])["workload_id"]
    clean_sim.set_task_durations(started=0.3, pending=0.3, running=6)
    updates = [
        {"operation": "update", "workload_id": workload_id, "workload_parameters": {"V": str(i)}}
        for i in range(2)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda p: run_execution(sfn, deployed["workload"], p, timeout=400), updates)
        )
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"], [
        (r.get("error"), r.get("cause")) for r in results
    ]
    tasks = [t for t in clean_sim.state()["tasks"] if t["WorkloadId"] == workload_id]
    updates_run = sorted((t["CreatedAt"], t["EndsAt"]) for t in tasks if "Update" in t["Operation"])
    assert len(updates_run) == 2
    assert updates_run[1][0] >= updates_run[0][1], "the two updates ran at the same time"
    busy = [
        e for r in results for e in history(sfn, r["executionArn"])
        if (e.get("lambdaFunctionFailedEventDetails") or e.get("taskFailedEventDetails") or {})
        .get("error") == "WorkloadBusy"
    ]  # fmt: skip
    assert busy, "the second update never waited"


@pytest.mark.parametrize("operation", ["create", "update"])
def test_a_long_task_log_and_null_names_keep_the_structured_cause(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, operation: str
) -> None:
    name = unique_name("longlog")
    payload: dict[str, Any] = create_payload(name)
    if operation == "update":
        created = run_execution(sfn, deployed["workload"], create_payload(name))
        payload = {"operation": "update", "workload_id": json.loads(created["output"])["workload_id"],
                   "catalogue_version_id": VERSION_2}  # fmt: skip
    # Every field the document lets Stax leave null is null (the write's Detail.Workload.Name
    # too), and the failed task writes 20 lines of 1,000 characters.
    clean_sim.set_realism(null_share=1.0)
    lines = [f"{i:02d} " + "x" * 997 for i in range(20)]
    clean_sim.fail_next_tasks(1, logs=lines, operation=operation)
    described = run_execution(sfn, deployed["workload"], payload, timeout=300)
    clean_sim.set_realism(null_share=0.25)
    assert described["status"] == "FAILED"
    assert described["error"] == "WorkloadTaskFailed", described.get("cause")
    cause = json.loads(described["cause"])  # the full cause: JSON, not cut
    [workload] = workloads_named(clean_sim, name)
    assert cause["workload_id"] == workload["Id"]
    assert cause["task_id"] == workload["UserTaskId"]
    assert cause["operation"] == operation
    assert "workload_name" in cause  # null when Stax did not say, never missing
    assert cause["logs_tail"], "the log tail was lost"
    assert cause["logs_tail"][-1].endswith("FAILED")
    assert len(described["cause"].encode()) < 32_768
