"""Reliability on the local stack: faults, lost responses, named failures, alerts.

Faults come from the simulator's fault injection; everything else is real: the deployed
Lambdas, Step Functions retries on MiniStack, the EventBridge rule that turns failed,
timed-out and aborted executions into SNS alerts (read here from a subscribed SQS queue).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import (
    ROOT,
    create_payload,
    history,
    run_execution,
    unique_name,
    workloads_named,
    write_calls,
)
from tests.e2e.helpers import LOCAL_TOKEN

pytestmark = pytest.mark.e2e
FAULT_STATUSES = [429, 500, 502, 503]


def run_all(sfn: Any, machine: str, payloads: list[Any], workers: int = 8) -> list[dict[str, Any]]:
    # A write answered 5xx stays in doubt for a settle window (STAX_WRITE_SETTLE_SECONDS:
    # 15 s on the local stage) before it is sent again.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run_execution(sfn, machine, p, timeout=900), payloads))


#: What an operation may end with when every retry met a fault: named and transient.
GAVE_UP = "StaxApiUnavailable"


def run_until_done(
    sfn: Any, machine: str, payloads: list[Any], attempts: int = 3
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run each payload; one that failed after its bounded retries with the transient
    ``StaxApiUnavailable`` is run again, as a user would (up to ``attempts`` runs). Returns
    each payload's last run and every run. Any other failure is returned as it is."""
    runs = run_all(sfn, machine, payloads)
    every = list(runs)
    for _ in range(attempts - 1):
        again = [
            i for i, r in enumerate(runs) if r["status"] == "FAILED" and r.get("error") == GAVE_UP
        ]
        if not again:
            break
        for i, rerun in zip(
            again, run_all(sfn, machine, [payloads[i] for i in again]), strict=True
        ):
            runs[i] = rerun
            every.append(rerun)
    return runs, every


def retries_in(sfn: Any, described: dict[str, Any]) -> int:
    """Task attempts beyond the first, in the execution and its task watcher."""
    arns = [described["executionArn"]]
    events = history(sfn, described["executionArn"])
    for event in events:
        output = (event.get("taskSucceededEventDetails") or {}).get("output") or ""
        if '"ExecutionArn"' in output:
            arns.append(json.loads(output)["ExecutionArn"])
    scheduled = 0
    entered = 0
    for arn in arns:
        for event in history(sfn, arn):
            scheduled += event["type"] in ("TaskScheduled", "LambdaFunctionScheduled")
            entered += event["type"] == "TaskStateEntered"
    return scheduled - entered


def _why(sfn: Any, described: dict[str, Any]) -> dict[str, Any]:
    """What ended an execution that did not succeed: its failure event's error and cause."""
    events = history(sfn, described["executionArn"])
    failed = [e for e in events if "executionFailedEventDetails" in e]
    details = failed[-1]["executionFailedEventDetails"] if failed else {}
    return {"execution": described["executionArn"].rsplit(":", 1)[-1],
            "status": described["status"], **details}  # fmt: skip


def test_thirty_percent_faults_everywhere_lose_and_duplicate_nothing(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    clean_sim.set_faults(
        [
            {"path_regex": "^/20190206/", "probability": 0.3, "statuses": FAULT_STATUSES,
             "latency_ms": [0, 1000]},
            {"path_regex": "^/20190206/", "latency_ms": [0, 1000]},
        ],
        seed=20261127,
    )  # fmt: skip
    machine = deployed["workload"]
    names = [unique_name("soak") for _ in range(8)]
    # With 30% of calls failing, an operation can exhaust its bounded retries: it then fails
    # by name (StaxApiUnavailable) and is run again, and the rerun must neither duplicate
    # nor lose anything (exactly once across runs).
    created, runs = run_until_done(sfn, machine, [create_payload(name) for name in names])
    assert [c["status"] for c in created] == ["SUCCEEDED"] * 8, [_why(sfn, c) for c in created]
    ids = [json.loads(c["output"])["workload_id"] for c in created]
    updates = [
        {"operation": "update", "workload_id": w, "workload_parameters": {"VpcCidr": "10.7.0.0/16"}}
        for w in ids[:6]
    ]
    updated, update_runs = run_until_done(sfn, machine, updates)
    deletes = [{"operation": "delete", "workload_id": w} for w in ids[2:8]]
    deleted, delete_runs = run_until_done(sfn, machine, deletes)
    final = created + updated + deleted
    assert len(final) == 20
    assert [d["status"] for d in final] == ["SUCCEEDED"] * 20, [
        _why(sfn, d) for d in final if d["status"] != "SUCCEEDED"
    ]
    everything = runs + update_runs + delete_runs
    gave_up = [_why(sfn, d) for d in everything if d["status"] != "SUCCEEDED"]
    assert all(g.get("error") == GAVE_UP for g in gave_up), gave_up

    faults = [r for r in clean_sim.requests() if (r.get("fault") or "").startswith("before:")]
    clean_sim.clear_faults()
    assert faults, "the soak injected no fault"
    state = {w["Name"]: w for w in clean_sim.state()["workloads"]}
    for name, workload_id in zip(names, ids, strict=True):
        assert len(workloads_named(clean_sim, name)) == 1, f"{name} duplicated"
        assert state[name]["Id"] == workload_id
    assert all(state[n]["Status"] in ("UPDATE_COMPLETE", "ACTIVE") for n in names[:2])
    assert all(state[n]["Status"] == "DELETED" for n in names[2:])
    assert all(state[n]["Parameters"]["VpcCidr"] == "10.7.0.0/16" for n in names[:2])
    assert len(clean_sim.state()["workloads"]) == 8
    assert sum(retries_in(sfn, d) for d in everything) > 0, "no retry visible in the histories"


def _set_function_env(name: str, **changes: str) -> dict[str, str]:
    lam = boto3.client("lambda")
    before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**before, **changes}}
    )
    return dict(before)


@pytest.fixture()
def create_function() -> Iterator[str]:
    name = "stax-orchestrator-local-create_workload"
    before = boto3.client("lambda").get_function_configuration(FunctionName=name)
    yield name
    boto3.client("lambda").update_function_configuration(
        FunctionName=name, Environment=before["Environment"]
    )


def test_a_token_parameter_outside_the_function_policy_is_refused_by_iam(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, create_function: str
) -> None:
    # The function's role reads exactly the two token parameters its stage names: pointed
    # at another one, IAM refuses the read (evaluated, as on AWS) and nothing is written.
    ssm = boto3.client("ssm")
    ssm.put_parameter(
        Name="/orchestrator/test/other-secret", Value="not-the-secret-1A!", Type="SecureString",
        Overwrite=True,
    )  # fmt: skip
    _set_function_env(create_function, STAX_SECRET_KEY_PARAMETER="/orchestrator/test/other-secret")
    described = run_execution(sfn, deployed["workload"], create_payload(unique_name("otherkey")))
    assert described["status"] == "FAILED"
    assert described["error"] == "StaxCredentialsMissing"
    cause = json.loads(json.loads(described["cause"])["errorMessage"])
    assert cause["aws_error"] == "AccessDeniedException"
    assert write_calls(clean_sim) == []


@pytest.fixture()
def wrong_secret() -> Iterator[None]:
    """The stage's secret key parameter holds a wrong value (restored afterwards)."""
    ssm = boto3.client("ssm")
    name = LOCAL_TOKEN[1]
    kept = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    ssm.put_parameter(Name=name, Value="not-the-secret-1A!", Type="SecureString", Overwrite=True)
    yield
    ssm.put_parameter(Name=name, Value=kept, Type="SecureString", Overwrite=True)


def test_wrong_secret_fails_fast_without_retry_storm(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, create_function: str, wrong_secret: None
) -> None:
    # A fresh container reads the parameter again (the function's configuration changed).
    _set_function_env(create_function, STAX_TEST_FRESH_CONTAINER=unique_name("fresh"))
    described = run_execution(sfn, deployed["workload"], create_payload(unique_name("badkey")))
    assert described["status"] == "FAILED"
    assert described["error"] == "StaxAuthenticationFailed"
    cause = json.loads(json.loads(described["cause"])["errorMessage"])
    assert "SSM SecureString" in cause["hint"]
    attempts = [
        e
        for e in history(sfn, described["executionArn"])
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resource"].endswith("create_workload")
    ]
    assert len(attempts) == 1, "an auth failure must not be retried"
    assert write_calls(clean_sim) == []


def test_unreachable_stax_is_api_unavailable_after_bounded_retries(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, create_function: str
) -> None:
    _set_function_env(create_function, STAX_API_HOST="127.0.0.1:9")
    described = run_execution(
        sfn, deployed["workload"], create_payload(unique_name("unreachable")), timeout=200
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "StaxApiUnavailable"
    cause = json.loads(json.loads(described["cause"])["errorMessage"])
    assert cause["reason"] == "ConnectionError"
    attempts = [
        e
        for e in history(sfn, described["executionArn"])
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resource"].endswith("create_workload")
    ]
    assert len(attempts) == 6  # the first attempt and five retries, then it stops


def test_each_failure_kind_is_named_and_alerted_once(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any, alerts: Callable[[], list[dict[str, Any]]]
) -> None:
    machine = deployed["workload"]
    existing = json.loads(
        run_execution(sfn, machine, create_payload(unique_name("exists")))["output"]
    )
    outcomes: dict[str, dict[str, Any]] = {}

    clean_sim.fail_next_tasks(1, logs=["AWS::EC2::VPC Vpc CREATE_FAILED quota"])
    outcomes["WorkloadTaskFailed"] = run_execution(sfn, machine, create_payload(unique_name("f")))

    clean_sim.set_task_durations(started=0.2, pending=0.2, running=60)
    outcomes["WorkloadTaskTimedOut"] = run_execution(
        sfn, machine, {**create_payload(unique_name("slow")), "watch_timeout_seconds": 3}
    )
    clean_sim.set_task_durations(started=0.3, pending=0.3, running=1.0)

    outcomes["WorkloadAlreadyExists"] = run_execution(
        sfn, machine, create_payload(existing["workload_name"])
    )
    outcomes["WorkloadNotFound"] = run_execution(
        sfn, machine, {"operation": "delete", "workload_id": str(uuid.uuid4())}
    )
    outcomes["InvalidWorkloadRequest"] = run_execution(sfn, machine, ["not", "an", "object"])

    clean_sim.set_task_durations(started=0.2, pending=0.2, running=60)
    aborted = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps(create_payload(unique_name("aborted")))
    )["executionArn"]
    # Stop it while it watches the task (a Lambda already running would finish its write,
    # on AWS too: stopping an execution does not cancel an invocation in flight).
    deadline = time.monotonic() + 60
    while "Watch Task" not in [
        e["stateEnteredEventDetails"]["name"]
        for e in history(sfn, aborted)
        if "stateEnteredEventDetails" in e
    ]:
        assert time.monotonic() < deadline, "the execution never reached Watch Task"
        time.sleep(0.3)
    sfn.stop_execution(executionArn=aborted, error="Cancelled", cause="the operator stopped it")
    clean_sim.set_task_durations(started=0.3, pending=0.3, running=1.0)

    for error, described in outcomes.items():
        assert described["status"] == "FAILED", error
        assert described["error"] == error
    timed_out = json.loads(outcomes["WorkloadTaskTimedOut"]["cause"])
    assert timed_out["watch_timeout_seconds"] == 3 and timed_out["last_status"] == "RUNNING"
    assert timed_out["task_id"] and timed_out["workload_id"]
    task_failed = json.loads(outcomes["WorkloadTaskFailed"]["cause"])
    assert any("CREATE_FAILED quota" in line for line in task_failed["logs_tail"])

    expected = {d["executionArn"]: error for error, d in outcomes.items()}
    expected[aborted] = None
    deadline = time.monotonic() + 30
    while True:
        mine = [a for a in alerts() if a["execution_arn"] in expected]
        if len({a["execution_arn"] for a in mine}) == len(expected) or time.monotonic() > deadline:
            break
    by_execution: dict[str, list[dict[str, Any]]] = {}
    for alert in mine:
        by_execution.setdefault(alert["execution_arn"], []).append(alert)
    assert set(by_execution) == set(expected)
    for arn, error in expected.items():
        [alert] = by_execution[arn]  # exactly one alert per failed operation
        if error is None:
            assert alert["status"] == "ABORTED"
        else:
            assert alert["status"] == "FAILED"
            assert alert["error"] == error
            assert alert["cause"]
        assert "request" not in alert  # the payload may hold secrets: never in an alert
        assert "10.0.0.0/16" not in json.dumps(alert)  # the payload's parameter value
        assert alert["state_machine_arn"] == deployed["workload"]


#: The corpus entries whose bytes the deployed path could treat otherwise than the unit
#: tier's in-process load (which checks every entry of ``events/invalid``): payloads that
#: are not objects, control and bidirectional characters, lone surrogates, size and depth
#: limits, a user-supplied ``orchestration`` field, and the file with every problem at once.
TRANSPORT_SENSITIVE = (
    "not_object_array.json", "not_object_deep_array.json", "not_object_null.json",
    "not_object_number.json", "not_object_string.json", "empty_object.json",
    "oversize_payload.json", "everything_wrong.json", "catalogue_id_nul.json",
    "params_nul_in_value.json", "params_lone_surrogate.json", "name_rtl_override.json",
    "params_value_emoji_over_4096_bytes.json", "params_deep_nesting.json",
    "unknown_field_nested_too_deeply.json", "orchestration_from_user.json",
    "tags_reserved_orchestrator_key.json",
)  # fmt: skip


def test_malformed_payloads_are_refused_by_the_deployed_machine_without_stax_writes(
    sfn: Any, deployed: dict[str, Any], clean_sim: Any
) -> None:
    corpus = ROOT / "events" / "invalid"
    expected: dict[str, list[str]] = json.loads((corpus / "EXPECTED.json").read_text())
    assert set(TRANSPORT_SENSITIVE) <= set(expected)
    files = sorted(TRANSPORT_SENSITIVE)
    payloads = [json.loads(Path(corpus / name).read_text()) for name in files]
    results = run_all(sfn, deployed["workload"], payloads, workers=6)
    for name, described in zip(files, results, strict=True):
        assert described["status"] == "FAILED", name
        assert described["error"] == "InvalidWorkloadRequest", name
        errors = json.loads(json.loads(described["cause"])["errorMessage"])["errors"]
        assert set(errors) == set(expected[name]), (name, sorted(errors))
    assert write_calls(clean_sim) == []
