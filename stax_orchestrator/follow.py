"""What an execution is doing, read from Step Functions: state, Stax task status, polls.

Role: the CLI's model of a running workload operation. :class:`ExecutionWatch` builds a
``Progress`` from ``describe_execution`` and the execution histories of the workload
execution and of its task-watcher child, reading each history whole once and then only
its new events (:class:`HistoryReader`); the parsing functions are pure so they are
unit-tested on recorded histories.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: The workload machine's state that runs the task watcher.
WATCH_STATE = "Watch Task"
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_TASK_OUTPUT_EVENTS = ("LambdaFunctionSucceeded", "TaskSucceeded")


@dataclass
class Progress:
    """One look at a workload execution."""

    execution_arn: str
    status: str = "RUNNING"
    state: str | None = None
    operation: str | None = None
    workload_name: str | None = None
    workload_id: str | None = None
    task_id: str | None = None
    task_status: str | None = None
    polls: int = 0
    logs_tail: list[str] = field(default_factory=list)
    child_arn: str | None = None
    state_machine_arn: str | None = None
    started: dt.datetime | None = None
    stopped: dt.datetime | None = None
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    def elapsed_seconds(self, now: dt.datetime | None = None) -> float:
        if self.started is None:
            return 0.0
        end = self.stopped or now or dt.datetime.now(dt.UTC)
        return max(0.0, (end - self.started).total_seconds())

    def cause_details(self) -> dict[str, Any]:
        """The cause as a dict: the orchestrator's JSON, unwrapped from Lambda's error object."""
        return parse_cause(self.cause)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "execution_arn": self.execution_arn,
            "status": self.status,
            "operation": self.operation,
            "workload_name": self.workload_name,
            "workload_id": self.workload_id,
            "task_id": self.task_id,
            "task_status": self.task_status,
            "polls": self.polls,
            "duration_seconds": round(self.elapsed_seconds(), 3),
        }
        if self.finished and self.status != "SUCCEEDED":
            body["error"] = self.error
            body["cause"] = self.cause_details() or self.cause
            body["logs_tail"] = self.logs_tail
        if self.output is not None:
            body["output"] = self.output
        return body


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_cause(cause: str | None) -> dict[str, Any]:
    """Decode a Step Functions cause: our JSON, possibly inside Lambda's ``errorMessage``."""
    decoded = _loads(cause)
    if isinstance(decoded, dict) and isinstance(decoded.get("errorMessage"), str):
        inner = _loads(decoded["errorMessage"])
        if isinstance(inner, dict):
            return inner
        return {"message": decoded["errorMessage"], "error": decoded.get("errorType")}
    return decoded if isinstance(decoded, dict) else {}


def _event_details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def current_state(events: Iterable[dict[str, Any]]) -> str | None:
    """The name of the last state entered."""
    name = None
    for event in events:
        if event.get("type", "").endswith("StateEntered"):
            name = _event_details(event).get("name", name)
    return name


def child_execution_arn(events: Iterable[dict[str, Any]]) -> str | None:
    """The task watcher execution started by ``Watch Task`` (from TaskSubmitted/TaskStarted)."""
    arn = None
    for event in events:
        if event.get("type") in ("TaskSubmitted", "TaskSucceeded", "TaskFailed"):
            output = _loads(_event_details(event).get("output"))
            if isinstance(output, dict) and isinstance(output.get("ExecutionArn"), str):
                arn = output["ExecutionArn"]
    return arn


def last_task_outputs(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs of successful Lambda tasks, oldest first."""
    outputs = []
    for event in events:
        if event.get("type") in _TASK_OUTPUT_EVENTS:
            output = _loads(_event_details(event).get("output"))
            if isinstance(output, dict):
                outputs.append(output)
    return outputs


def apply_events(
    progress: Progress, parent: list[dict[str, Any]], child: list[dict[str, Any]]
) -> None:
    """Fold what the histories say into ``progress``."""
    progress.state = current_state(parent) or progress.state
    for output in last_task_outputs(parent):
        for key in ("operation", "workload_name", "workload_id", "task_id"):
            if output.get(key):
                setattr(progress, key, output[key])
    watcher_polls = [o for o in last_task_outputs(child) if "polls" in o and "status" in o]
    if watcher_polls:
        last = watcher_polls[-1]
        progress.task_status = last.get("status")
        progress.polls = int(last.get("polls") or 0)
        progress.logs_tail = list(last.get("logs_tail") or [])
        progress.task_id = last.get("task_id") or progress.task_id
        progress.workload_id = last.get("workload_id") or progress.workload_id
    if progress.finished and progress.status == "FAILED" and not progress.logs_tail:
        progress.logs_tail = list(parse_cause(progress.cause).get("logs_tail") or [])


def execution_history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history (all pages), oldest first."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, PaginationConfig={"PageSize": 1000}
    )
    return [event for page in pages for event in page.get("events", [])]


class HistoryReader:
    """One execution's history, read whole once and then only what is new.

    Step Functions gives no ``nextToken`` on the last page of a history, so a forward
    read cannot resume where it ended; every later look reads the history newest first
    (``reverseOrder``) in small pages and stops at the first event it already has. A
    look then costs one call of ``page_size`` events however long the history is -- a
    task watcher that polled Stax for two hours has thousands -- instead of all of them.
    """

    def __init__(self, sfn: Any, arn: str, page_size: int = 25) -> None:
        self.sfn, self.arn, self.page_size = sfn, arn, page_size
        self.events: list[dict[str, Any]] = []
        self.calls = 0

    @property
    def last_id(self) -> int:
        return int(self.events[-1]["id"]) if self.events else 0

    def read(self) -> list[dict[str, Any]]:
        """The events added since the last read (all of them the first time), oldest first."""
        new = self._first() if not self.events else self._since(self.last_id)
        self.events.extend(new)
        return new

    def _first(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.arn, "maxResults": 1000}
        while True:
            page = self._call(kwargs)
            events.extend(page.get("events", []))
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def _since(self, last_id: int) -> list[dict[str, Any]]:
        newest_first: list[dict[str, Any]] = []
        # The token belongs to this page size and order: both stay fixed while paging.
        kwargs: dict[str, Any] = {
            "executionArn": self.arn,
            "maxResults": self.page_size,
            "reverseOrder": True,
        }
        while True:
            page = self._call(kwargs)
            for event in page.get("events", []):
                if int(event["id"]) <= last_id:
                    return newest_first[::-1]
                newest_first.append(event)
            if not page.get("nextToken"):
                return newest_first[::-1]
            kwargs["nextToken"] = page["nextToken"]

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return dict(self.sfn.get_execution_history(**kwargs))


def watcher_state_machine(definition: dict[str, Any]) -> str | None:
    """The state machine a ``startExecution`` task of ``definition`` runs (the task watcher)."""
    for state in definition.get("States", {}).values():
        if str(state.get("Resource", "")).startswith("arn:aws:states:::states:startExecution"):
            arn = (state.get("Parameters") or {}).get("StateMachineArn")
            return str(arn) if arn else None
    return None


def find_child_execution(sfn: Any, parent: Progress, scan: int = 20) -> str | None:
    """The task-watcher execution this one started, by its input's parent link.

    Used when the history does not name it (AWS records it in ``TaskSubmitted``; some
    emulators only when the child ends).
    """
    if not parent.state_machine_arn:
        return None
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=parent.state_machine_arn)["definition"]
    )
    watcher = watcher_state_machine(definition)
    if not watcher:
        return None
    listed = sfn.list_executions(stateMachineArn=watcher, maxResults=scan)["executions"]
    for execution in listed:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        request = _loads(described.get("input")) or {}
        if request.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID") == parent.execution_arn:
            return str(execution["executionArn"])
    return None


class ExecutionWatch:
    """Looks at one workload execution again and again, reading each history only as
    far as it is new (:class:`HistoryReader`), the task watcher's included."""

    def __init__(self, sfn: Any, execution_arn: str) -> None:
        self.sfn = sfn
        self.progress = Progress(execution_arn)
        self.parent = HistoryReader(sfn, execution_arn)
        self.child: HistoryReader | None = None

    def look(self) -> Progress:
        """Look at the execution once (describe + what is new in the histories)."""
        sfn, progress = self.sfn, self.progress
        described = sfn.describe_execution(executionArn=progress.execution_arn)
        progress.status = described["status"]
        progress.state_machine_arn = described.get("stateMachineArn")
        progress.started = described.get("startDate")
        progress.stopped = described.get("stopDate")
        progress.error = described.get("error")
        progress.cause = described.get("cause")
        request = _loads(described.get("input")) or {}
        if isinstance(request, dict):
            progress.operation = progress.operation or request.get("operation")
            progress.workload_name = progress.workload_name or request.get("workload_name")
            progress.workload_id = progress.workload_id or request.get("workload_id")
        if progress.status == "SUCCEEDED" and described.get("output"):
            output = _loads(described["output"])
            progress.output = output if isinstance(output, dict) else None
        self.parent.read()
        parent = self.parent.events
        progress.child_arn = child_execution_arn(parent) or progress.child_arn
        if progress.child_arn is None and current_state(parent) == WATCH_STATE:
            progress.child_arn = find_child_execution(sfn, progress)
        if progress.child_arn and (self.child is None or self.child.arn != progress.child_arn):
            self.child = HistoryReader(sfn, progress.child_arn)
        if self.child is not None:
            self.child.read()
        apply_events(progress, parent, self.child.events if self.child else [])
        if progress.output:
            for key in ("workload_id", "workload_name", "task_id"):
                setattr(progress, key, progress.output.get(key) or getattr(progress, key))
            progress.task_status = progress.output.get("status", progress.task_status)
        cause = progress.cause_details()
        for key in ("workload_id", "task_id", "workload_name"):
            if cause.get(key) and not getattr(progress, key):
                setattr(progress, key, cause[key])
        return progress

    @property
    def history_calls(self) -> int:
        return self.parent.calls + (self.child.calls if self.child else 0)


def read_progress(sfn: Any, execution_arn: str) -> Progress:
    """Look at the execution once (describe + whole histories)."""
    return ExecutionWatch(sfn, execution_arn).look()


def follow(
    sfn: Any,
    execution_arn: str,
    on_change: Callable[[Progress], None],
    *,
    interval: float = 1.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    watch: ExecutionWatch | None = None,
) -> Progress:
    """Poll the execution until it ends, calling ``on_change`` after every look."""
    deadline = None if timeout is None else time.monotonic() + timeout
    watch = watch or ExecutionWatch(sfn, execution_arn)
    progress = watch.look()
    on_change(progress)
    while not progress.finished:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still {progress.status} after {timeout}s")
        sleep(interval)
        progress = watch.look()
        on_change(progress)
    return progress


def state_timings(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """States entered, with when (seconds after the start) and for how long."""
    if not events:
        return []
    start = events[0]["timestamp"]
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.get("type", "")
        details = _event_details(event)
        offset = (event["timestamp"] - start).total_seconds()
        if kind.endswith("StateEntered"):
            row = {"state": details.get("name"), "entered": offset, "seconds": None, "result": ""}
            rows.append(row)
            open_rows[str(details.get("name"))] = row
        elif kind.endswith("StateExited"):
            row_or_none = open_rows.pop(str(details.get("name")), None)
            if row_or_none is not None:
                row_or_none["seconds"] = offset - row_or_none["entered"]
        elif kind.endswith("Failed") and rows:
            rows[-1]["result"] = str(details.get("error") or "failed")
    return rows


def largest_state_bytes(sfn: Any, execution_arn: str) -> int:
    """The largest input or output any state of the execution had (UTF-8 bytes), from its
    history: what Step Functions' 256 KiB limit is measured against."""
    largest = 0
    for event in execution_history(sfn, execution_arn):
        for details in event.values():
            if isinstance(details, dict):
                for key in ("input", "output"):
                    if isinstance(details.get(key), str):
                        largest = max(largest, len(details[key].encode("utf-8")))
    return largest


#: Executions described at once by :func:`newest_executions` (Step Functions'
#: DescribeExecution bucket refills at 15 a second per account and region, a burst of 250).
DESCRIBE_WORKERS = 8


def newest_executions(
    sfn: Any, machine: str, limit: int, status: str | None, describe: Callable[[dict], Any]
) -> list[Any]:
    """``describe(execution)`` of the ``limit`` newest executions of ``machine`` (every
    page up to it; only ``status`` ones when given), a few at a time, newest first."""
    from concurrent.futures import ThreadPoolExecutor

    kwargs: dict[str, Any] = {
        "stateMachineArn": machine,
        "PaginationConfig": {"MaxItems": limit, "PageSize": min(limit, 1000)},
    }
    if status:
        kwargs["statusFilter"] = status
    pages = sfn.get_paginator("list_executions").paginate(**kwargs)
    listed = [e for page in pages for e in page["executions"]]
    with ThreadPoolExecutor(max_workers=DESCRIBE_WORKERS) as pool:
        return list(pool.map(describe, listed))
