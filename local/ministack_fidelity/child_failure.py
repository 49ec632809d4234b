"""Child executions and execution names, as Step Functions' own API integration has them.

**A failed child.** A ``startExecution.sync`` / ``.sync:2`` task whose child execution
fails (or times out, or is aborted) fails with ``States.TaskFailed``, and its cause is
the child's description as JSON — the same object the task returns on success, with the
child's ``Error`` and ``Cause`` added
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html; the
parent never sees the child's error name itself). MiniStack 1.5.33 hands the parent the
child's own error name and cause, which lets a parent ``Catch`` on a child's error name
that on AWS it would never see. Harsher reading of the undocumented key spelling: the
keys are those of the ``.sync:2`` success output (``ExecutionArn``, ``Status``, …), and a
parent must not rely on more than ``Error`` and ``Cause`` being there.

**Execution names.** ``StartExecution``'s ``name`` is 1-80 characters and may not hold
white space, brackets, wildcards, control characters or any of ``" # % \\ ^ | ~ ` $ & ,
; : /`` (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
MiniStack accepts any name; a parent that builds child names from its own (a fleet's
``<fleet execution>-<index>``) must stay within them.

Patched: ``_nested_execution_failure`` (wrapping the terminal-name patch of
``terminal_errors``, which it supersedes for children) and ``_start_execution``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

TASK_FAILED = "States.TaskFailed"
MAX_NAME = 80
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")

EXPECTED = {
    "_nested_execution_failure": Expectation(("payload",), "aa53a760707b05bc"),
    "_start_execution": Expectation(("data",), "9923282fc76c57b9"),
}


def describe_child(payload: dict[str, Any], error: Any, cause: Any) -> str:
    """The cause AWS gives a parent whose child failed: the child described, as JSON."""
    described = {
        "ExecutionArn": payload.get("executionArn"),
        "Input": payload.get("input", "{}"),
        "InputDetails": {"Included": True},
        "Name": payload.get("name"),
        "StartDate": payload.get("startDate"),
        "StateMachineArn": payload.get("stateMachineArn"),
        "Status": payload.get("status", "FAILED"),
        "StopDate": payload.get("stopDate"),
        "Error": error,
        "Cause": cause,
    }
    return json.dumps(described, separators=(",", ":"), default=str)


def name_problem(name: Any) -> str | None:
    """Why AWS would refuse this execution name, or None."""
    if name is None:
        return None
    text = str(name)
    if not 1 <= len(text) <= MAX_NAME:
        return (
            f"1 validation error detected: Value '{text}' at 'name' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME}"
        )
    if _BAD_NAME.search(text):
        return f"Invalid Name: '{text}'"
    return None


def install(sf: Any) -> None:
    def make_nested(original: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
        def nested_execution_failure(payload: Any) -> tuple[Any, Any]:
            error, cause = original(payload)
            if not isinstance(payload, dict):
                return TASK_FAILED, cause
            return TASK_FAILED, describe_child(payload, error, cause)

        return nested_execution_failure

    wrap(sf, "_nested_execution_failure", make_nested)

    def make_start(original: Callable[..., Any]) -> Callable[..., Any]:
        def start_execution(data: Any) -> Any:
            problem = name_problem(data.get("name") if isinstance(data, dict) else None)
            if problem:
                return sf.error_response_json("InvalidName", problem, 400)
            return original(data)

        return start_execution

    wrap(sf, "_start_execution", make_start)
