"""A parent's ``startExecution.sync`` task is refused a name its child machine already used,
as StartExecution is on AWS.

AWS: StartExecution is idempotent for a RUNNING execution "if the name and the input are
the same"; otherwise an execution name that was used in the last 90 days is refused with
``ExecutionAlreadyExists`` (API reference, StartExecution), which a task reaches as
``StepFunctions.ExecutionAlreadyExistsException`` (the optimized integration's error
names). A ``.sync`` task that finds its running twin (same name, same input) follows it to
its end.

MiniStack 1.5.33 runs a nested ``.sync`` child through its StartSyncExecution path, which
never looks at the name: a second parent starting ``fleet:baseline-<event>-0`` overwrote
the first one's record, and both ran the same children (whose records overwrote each
other's in turn) -- two account baselines for one event raced where AWS runs one.

Patched: ``_invoke_nested_start_execution_sync``: a named start whose execution exists
fails ``StepFunctions.ExecutionAlreadyExistsException`` unless that execution is RUNNING
with the same input, in which case the task waits for it and returns it as its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

EXPECTED = {
    "_invoke_nested_start_execution_sync": Expectation(
        ("resource", "input_data"), "d9f13c4aabeda589"
    ),
}
ALREADY_EXISTS = "StepFunctions.ExecutionAlreadyExistsException"


def _execution_arn(sf: Any, request: dict[str, Any]) -> str | None:
    """The child's execution ARN, for a named start of a STANDARD machine (Express
    workflows do not manage idempotency: same-name starts run side by side)."""
    machine = sf._state_machines.get(request.get("stateMachineArn", ""))
    name = request.get("name")
    if not machine or not name or machine.get("type", "STANDARD") != "STANDARD":
        return None
    return (f"arn:aws:states:{sf.get_region()}:{sf.get_account_id()}"
            f":execution:{machine['name']}:{name}")  # fmt: skip


#: How long a task follows its running twin (the longest our machines run, and more).
FOLLOW_SECONDS = 4 * 3600


def _followed(sf: Any, resource: str, existing: dict[str, Any]) -> Any:
    """The running twin, once it ended, as the task's result (or its failure)."""
    deadline = time.monotonic() + FOLLOW_SECONDS
    while existing.get("status") == "RUNNING":
        if time.monotonic() > deadline:
            raise sf._ExecutionError("States.Timeout", "the followed execution did not end")
        time.sleep(0.2)
    payload = dict(existing)
    if payload.get("status") != "SUCCEEDED":
        error, cause = sf._nested_execution_failure(payload)
        raise sf._ExecutionError(error, cause)
    output = payload.get("output") or "{}"
    if resource.endswith(".sync:2") and isinstance(output, str):
        import json

        output = json.loads(output)
    return {
        "ExecutionArn": payload.get("executionArn"), "Input": payload.get("input", "{}"),
        "InputDetails": {"included": True}, "Name": payload.get("name"), "Output": output,
        "OutputDetails": {"included": True}, "StartDate": payload.get("startDate"),
        "StateMachineArn": payload.get("stateMachineArn"), "Status": payload.get("status"),
        "StopDate": payload.get("stopDate"),
    }  # fmt: skip


def install(sf: Any) -> None:
    # Names being started (under the lock) until their record exists: two parents racing
    # for one name cannot both pass the check.
    starting: set[str] = set()
    lock = threading.Lock()

    def checking(original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: Any, input_data: Any) -> Any:
            request = sf._nested_start_execution_request(input_data)
            arn = _execution_arn(sf, request)
            if arn is None:
                return original(resource, input_data)
            with lock:
                existing = sf._executions.get(arn)
                if existing is None and arn not in starting:
                    starting.add(arn)
                    existing = None
                    mine = True
                else:
                    mine = False
            if mine:
                try:
                    return original(resource, input_data)
                finally:
                    with lock:
                        starting.discard(arn)
            while existing is None and arn in starting:  # the other's record is coming
                time.sleep(0.05)
                existing = sf._executions.get(arn)
            if existing is None:  # the other start made no execution: this one may
                return invoke(resource, input_data)
            if existing.get("status") == "RUNNING" and existing.get("input") == request.get(
                "input"
            ):
                return _followed(sf, str(resource), existing)
            raise sf._ExecutionError(ALREADY_EXISTS, f"Execution Already Exists: '{arn}'")

        return invoke

    wrap(sf, "_invoke_nested_start_execution_sync", checking)
