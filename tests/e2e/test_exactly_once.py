"""Exactly one workload per create, one write per write, on the deployed wiring.

On the deployed local stage with the strict simulator and the coordination table on
MiniStack: what only the deployed wiring can show - four executions racing for one name,
a POST that Stax applies after the Lambda's HTTP call gave up (the stage's own timeout
and settle window, Step Functions' own Retry), a lost answer retried by the state
machine, and a failure cause that fits Step Functions' limits. Every other exactly-once
rule is proven faster in the contract tier (``tests/contract/test_contract_exactly_once.py``).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.settings import coordination_settings, stax_settings
from stax_orchestrator.deploy.stage import load_stage
from tests.e2e.conftest import (
    VERSION_2,
    create_payload,
    history,
    run_execution,
    unique_name,
    workloads_named,
)

pytestmark = pytest.mark.e2e


def _live(sim: Any, name: str) -> list[dict[str, Any]]:
    return [w for w in workloads_named(sim, name) if w["Status"] != "DELETED"]


def _held_post_seconds() -> float:
    """How long Stax holds the POST: past the moment the create Lambda gives up on it (its
    HTTP read timeout, or the Lambda's own timeout if shorter), and halfway into the
    stage's settle window after that - the longest a write may take to land, by the
    orchestrator's own rule. Read from the local stage, so the test follows its settings."""
    stage = load_stage("local")
    environment = stage.environment("create_workload")
    gives_up = min(stax_settings(environment).http_timeout_seconds, stage.lambda_timeout)
    return gives_up + coordination_settings(environment).write_settle_seconds / 2


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


def test_a_create_whose_post_stax_applies_after_the_lambda_gave_up_makes_one_workload(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    # Stax holds the first POST, then applies it: the Lambda's HTTP call gives up first,
    # and Step Functions retries while the POST is in flight.
    hold = _held_post_seconds()
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads$", "methods": ["POST"],
          "latency_ms": round(hold * 1000), "count": 1}]
    )  # fmt: skip
    name = unique_name("held")
    started = time.monotonic()
    described = run_execution(sfn, deployed["workload"], create_payload(name), timeout=300)
    clean_sim.clear_faults()
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert time.monotonic() - started >= hold  # it waited for the held POST, never re-sent it
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


@pytest.mark.parametrize(("operation", "loss"), [("create", "502"), ("delete", "dropped")])
def test_a_write_applied_but_answered_with_a_lost_response_succeeds_once(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, operation: str, loss: str
) -> None:
    name = unique_name(f"lost-{operation}")
    payload = create_payload(name)
    if operation == "delete":
        first = run_execution(sfn, deployed["workload"], create_payload(name))
        assert first["status"] == "SUCCEEDED", first.get("cause")
        payload = {"operation": "delete", "workload_id": json.loads(first["output"])["workload_id"]}
    method = {"create": "POST", "delete": "DELETE"}[operation]
    rule = {"statuses": [502]} if loss == "502" else {"mode": "drop"}
    clean_sim.set_faults(
        [{"path_regex": "^/20190206/workloads", "methods": [method], "when": "after",
          "count": 1, **rule}]
    )  # fmt: skip
    described = run_execution(sfn, deployed["workload"], payload, timeout=300)
    lost = [r for r in clean_sim.requests() if (r.get("fault") or "").startswith("after:")]
    clean_sim.clear_faults()
    assert [r["method"] for r in lost] == [method], "the fault never fired"
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    [workload] = workloads_named(clean_sim, name)
    assert workload["Status"] == {"create": "ACTIVE", "delete": "DELETED"}[operation]
    output = json.loads(described["output"])
    assert (output["workload_id"], output["task_id"]) == (workload["Id"], workload["UserTaskId"])
    writes = [r for r in clean_sim.requests() if r["method"] == method]
    assert len(writes) == 1, f"the {method} was sent again"


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
