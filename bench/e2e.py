"""Row 4 — end to end on the deployed stage: create, update, delete of one workload.

Real executions of the deployed workload machine (and its task-watcher child) on
MiniStack against the simulator, with every Stax task taking ``TASK_SECONDS``
(``sim.set_task_durations(total=20)``). Per operation:

- overhead = execution duration (stopDate − startDate) − task duration: what the
  orchestration adds to the Stax task (validation, Lambda invocations, the detection
  latency of the polling schedule, state transitions);
- Lambda invocations = ``TaskScheduled`` events of Lambda resources, and state
  transitions = ``StateEntered`` events, in the execution's history plus its watcher's
  (found through the ``ExecutionArn`` of the Watch Task result).

A first pass with short tasks (``WARMUP_SECONDS``) runs before the measured one, so the
measured pass sees warm Lambda containers, as steady-state traffic does; that pass's
overhead is reported beside the measured one as "cold containers".

Run alone: ``python -m bench.e2e`` (standard local stack, stage ``local`` deployed) or
``python -m bench.e2e --private`` (private instances and a private deploy of a copy).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from stax_orchestrator.follow import execution_history

TASK_SECONDS = 20.0
WARMUP_SECONDS = 2.0
MAX_OVERHEAD_SECONDS = 5.0
OPERATIONS = ("create", "update", "delete")


def run_execution(sfn: Any, machine: str, payload: dict[str, Any], timeout: float) -> Any:
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution still RUNNING after {timeout:.0f}s")
        time.sleep(0.25)


def _lambda_calls(events: list[dict[str, Any]]) -> int:
    return sum(
        1
        for e in events
        if e["type"] == "TaskScheduled"
        and (
            e.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda"
            or ":function:" in str(e.get("taskScheduledEventDetails", {}).get("resource", ""))
        )
    )


def _entered(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["type"].endswith("StateEntered"))


def _child_arn(events: list[dict[str, Any]]) -> str | None:
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if details and "startExecution" in str(details.get("resource", "")):
            output = json.loads(details.get("output") or "{}")
            if output.get("ExecutionArn"):
                return str(output["ExecutionArn"])
    return None


def measure_operation(
    sfn: Any, machine: str, payload: dict[str, Any], task_seconds: float
) -> dict[str, Any]:
    described = run_execution(sfn, machine, payload, timeout=task_seconds * 4 + 120)
    parent = execution_history(sfn, described["executionArn"])
    child_arn = _child_arn(parent)
    child = execution_history(sfn, child_arn) if child_arn else []
    duration = (described["stopDate"] - described["startDate"]).total_seconds()
    output = json.loads(described.get("output") or "{}")
    return {
        "operation": payload["operation"],
        "status": described["status"],
        "error": described.get("error"),
        "cause": (described.get("cause") or "")[:300],
        "duration": duration,
        "overhead": duration - task_seconds,
        "polls": output.get("polls"),
        "workload_id": output.get("workload_id"),
        "lambda_invocations": _lambda_calls(parent) + _lambda_calls(child),
        "transitions": _entered(parent) + _entered(child),
        "transitions_parent": _entered(parent),
        "transitions_watcher": _entered(child),
    }


def lifecycle(stack: Any, task_seconds: float, label: str) -> list[dict[str, Any]]:
    """create → update → delete of one new workload, tasks of ``task_seconds``."""
    from bench.stack import seed

    if stack.deployment is None:
        raise RuntimeError("no deployed stage (make deploy-local, or --private)")
    machine = stack.deployment.statemachines()["workload"]
    sfn = stack.boto("stepfunctions")
    data = seed()
    catalogue = data["catalogue"][0]
    with stack.sim() as sim:
        sim.set_task_durations(total=task_seconds)
    create = {
        "operation": "create",
        "aws_account_id": data["accounts"][0]["Id"],
        "aws_region": "ap-southeast-2",
        "catalogue_id": catalogue["Id"],
        "catalogue_version_id": catalogue["Versions"][0]["Id"],
        "workload_name": f"bench-e2e-{label}-{int(time.time())}",
        "workload_parameters": {"VpcCidr": "10.0.0.0/16"},
        "workload_tags": {"CostCode": "bench"},
    }
    results = [measure_operation(sfn, machine, create, task_seconds)]
    workload_id = results[0]["workload_id"]
    if results[0]["status"] != "SUCCEEDED" or not workload_id:
        raise RuntimeError(f"create failed: {results[0]['error']}: {results[0]['cause']}")
    update = {
        "operation": "update",
        "workload_id": workload_id,
        "catalogue_version_id": catalogue["Versions"][1]["Id"],
    }
    results.append(measure_operation(sfn, machine, update, task_seconds))
    delete = {"operation": "delete", "workload_id": workload_id}
    results.append(measure_operation(sfn, machine, delete, task_seconds))
    return results


def measure(stack: Any) -> dict[str, list[dict[str, Any]]]:
    from bench.stack import DEFAULT_DURATIONS

    try:
        warmup = lifecycle(stack, WARMUP_SECONDS, "warmup")
        measured = lifecycle(stack, TASK_SECONDS, "measured")
    finally:
        with stack.sim() as sim:
            sim.set_task_durations(**DEFAULT_DURATIONS)
    return {"warmup": warmup, "measured": measured}


def rows(result: dict[str, list[dict[str, Any]]]) -> list[Any]:
    from bench.table import Row

    out = []
    cold = {r["operation"]: r for r in result["warmup"]}
    for run in result["measured"]:
        first = cold.get(run["operation"])
        ok = run["status"] == "SUCCEEDED" and run["overhead"] <= MAX_OVERHEAD_SECONDS
        out.append(
            Row(
                f"e2e {run['operation']}, {TASK_SECONDS:g} s task: overhead",
                f"{run['overhead']:.1f} s (execution {run['duration']:.1f} s, "
                f"{run['status']}) · {run['lambda_invocations']} Lambda invocations · "
                f"{run['transitions']} transitions ({run['transitions_parent']} + watcher "
                f"{run['transitions_watcher']}, {run['polls']} polls)",
                (
                    f"cold containers ({WARMUP_SECONDS:g} s task): {first['overhead']:.1f} s"
                    if first
                    else ""
                ),
                f"≤ {MAX_OVERHEAD_SECONDS:g} s",
                ok,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="end to end on the deployed stage")
    parser.add_argument("--private", action="store_true", help="private stack + private deploy")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--layer", action="store_true", help="private stack, deployed with automatic_layer"
    )
    args = parser.parse_args(argv)
    from bench.stack import deploy_private, open_stack
    from bench.table import exit_code, render

    if args.layer:
        import tempfile
        import time
        from pathlib import Path

        with open_stack(True) as stack, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            started = time.monotonic()
            deploy_private(stack, Path(tmp), automatic_layer=True)
            print(f"deployed with automatic_layer in {time.monotonic() - started:.0f} s")
            runs = lifecycle(stack, WARMUP_SECONDS, "layer")
            print([(r["operation"], r["status"], round(r["duration"], 1)) for r in runs])
        return 0

    with open_stack(args.private, deploy=args.private) as stack:
        try:
            result = measure(stack)
        finally:
            stack.restore_seed()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    table = rows(result)
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
