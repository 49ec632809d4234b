"""Execution timeout: a state machine's top-level ``TimeoutSeconds`` ends a longer
execution TIMED_OUT with error States.Timeout.

AWS (https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html,
``TimeoutSeconds``: "The maximum number of seconds an execution of the state machine can
run. If it runs longer than the specified time, the execution fails with a States.Timeout
Error name"; DescribeExecution reports the status TIMED_OUT and the history an
``ExecutionTimedOut`` event). The cause text is not documented; the one written here is
this stack's. The timeout is measured in real seconds (MiniStack's ``SFN_WAIT_SCALE``
shortens Wait states, not this), like MiniStack's task ``TimeoutSeconds``.

MiniStack 1.5.33 ignores it. Patched: ``_run_execution`` (runs the walk in a thread and
stops waiting for it at the timeout; MiniStack's walk stops at the next state because
the status is no longer RUNNING) and ``_fail_execution`` (a state failing after the
timeout does not turn TIMED_OUT into FAILED).
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

TIMEOUT_ERROR = "States.Timeout"

EXPECTED = {
    "_run_execution": Expectation(("exec_arn",), "996dff84e0e0605a"),
    "_fail_execution": Expectation(("execution", "error", "cause"), "e6da895fa0b74cdd"),
    "_add_event": Expectation(("execution", "event_type", "details"), "b1db143ccd21809d"),
    "_emit_execution_status_event": Expectation(("execution",), "9c89e45693e353eb"),
    "now_iso": Expectation((), "f75b8f2114211a94"),
}


def timeout_seconds(definition: Any) -> int | None:
    """The top-level ``TimeoutSeconds`` of a definition (JSON text), if it sets a valid one."""
    try:
        parsed = json.loads(definition) if isinstance(definition, str) else definition
    except ValueError:
        return None
    value = parsed.get("TimeoutSeconds") if isinstance(parsed, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def install(sf: Any) -> None:
    lock = threading.Lock()

    def time_out(execution: dict[str, Any], limit: int) -> None:
        cause = f"The execution ran longer than the state machine's TimeoutSeconds ({limit})."
        with lock:
            if execution.get("status") != "RUNNING":
                return
            execution.update(
                status="TIMED_OUT", error=TIMEOUT_ERROR, cause=cause, stopDate=sf.now_iso()
            )
        sf._add_event(
            execution,
            "ExecutionTimedOut",
            {"executionTimedOutEventDetails": {"error": TIMEOUT_ERROR, "cause": cause}},
        )
        sf._emit_execution_status_event(execution)

    def make_run(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_execution(exec_arn: Any) -> Any:
            execution = sf._executions.get(exec_arn)
            machine = sf._state_machines.get(execution["stateMachineArn"]) if execution else None
            limit = timeout_seconds(machine.get("definition")) if machine else None
            if execution is None or limit is None:
                return original(exec_arn)
            # The walk keeps the request's account and region (contextvars), as MiniStack's
            # own execution threads do.
            walk = threading.Thread(
                target=contextvars.copy_context().run,
                args=(original, exec_arn),
                daemon=True,
                name="ministack-sfn-timed-walk",
            )
            walk.start()
            walk.join(limit)
            if walk.is_alive():
                time_out(execution, limit)
            return None

        return run_execution

    wrap(sf, "_run_execution", make_run)

    def make_fail(original: Callable[..., Any]) -> Callable[..., Any]:
        def fail_execution(execution: Any, error: Any, cause: Any) -> Any:
            if isinstance(execution, dict) and execution.get("status") == "TIMED_OUT":
                return None
            return original(execution, error, cause)

        return fail_execution

    wrap(sf, "_fail_execution", make_fail)
