"""A standard execution started by another (``states:startExecution.sync:2``) sends its
status changes to EventBridge like any other, as on AWS.

AWS: "Step Functions sends events to EventBridge for every status change of a Standard
workflow execution" (User Guide, "Automating Step Functions event delivery with
EventBridge": ``Step Functions Execution Status Change``, RUNNING and each end); how the
execution was started does not matter, and a child started by a parent's
``startExecution.sync`` task is a Standard execution of its own machine. Only Express
workflows send none -- and StartSyncExecution runs Express workflows only (a Standard
machine is refused: ``StateMachineTypeNotSupported``).

MiniStack 1.5.33 runs a nested ``.sync`` child through its StartSyncExecution path, which
marks the record ``sync`` and so emits nothing for it: a fleet's targets (workload
executions) and an account baseline's fleets sent no status events locally.

Patched: ``_emit_execution_status_event`` emits for a ``sync`` record whose state machine
is STANDARD (the record as a standard one), and ``_run_execution`` emits the RUNNING event
of such a record as it starts (StartExecution emits it for the others).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._patching import Expectation, wrap

EXPECTED = {
    "_emit_execution_status_event": Expectation(("execution",), "9c89e45693e353eb"),
    "_run_execution": Expectation(("exec_arn",), "996dff84e0e0605a"),
}


def _standard(sf: Any, execution: Any) -> bool:
    machine = sf._state_machines.get(str((execution or {}).get("stateMachineArn") or ""))
    return bool(machine) and machine.get("type", "STANDARD") == "STANDARD"


def install(sf: Any) -> None:
    def emitting(original: Callable[..., Any]) -> Callable[..., Any]:
        def emit(execution: Any) -> Any:
            if isinstance(execution, dict) and execution.get("sync") and _standard(sf, execution):
                return original({k: v for k, v in execution.items() if k != "sync"})
            return original(execution)

        return emit

    def running(original: Callable[..., Any]) -> Callable[..., Any]:
        def run_execution(exec_arn: Any) -> Any:
            execution = sf._executions.get(exec_arn)
            if (
                isinstance(execution, dict)
                and execution.get("sync")
                and execution.get("status") == "RUNNING"
                and _standard(sf, execution)
            ):
                sf._emit_execution_status_event(execution)
            return original(exec_arn)

        return run_execution

    wrap(sf, "_emit_execution_status_event", emitting)
    wrap(sf, "_run_execution", running)
