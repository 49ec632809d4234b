"""Where a fleet's time goes beyond its Stax tasks (issue 24, row 6).

A fleet's makespan is its Stax tasks' own time (what ``max_concurrency`` slots of them
allow) plus the orchestrator's: the fixed steps before and after the Distributed Map, the
time the Map's slots stand idle, and each target's overhead -- its Map child's start to
its end minus its Stax task. This module splits that overhead by what was running, from
the execution histories of each target's three executions (the Map child, its workload
execution, the task watcher) and the simulator's task clock:

- **Lambda**: a Lambda task of any of the three (record, validate, create/update/delete,
  each poll), its own Stax and DynamoDB calls included;
- **coordination store**: the Map child's DynamoDB tasks (``Record Start``);
- **polling wait**: a watcher's ``Wait`` state after its task had ended (the time until
  the poll that saw it);
- **Step Functions**: the rest -- executions starting (MiniStack waits 0.15 s before it
  walks a new execution), transitions, the ``.sync`` integrations noticing a child's end.

Only the time outside the task's own window counts (the child's start to the task's
creation, the task's end to the child's end). :func:`attribute` is pure (unit-tested);
:func:`measure` reads the histories.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Most specific first: where two kinds overlap (a poll Lambda inside nothing else, the
#: nested executions' spans) the segment goes to the first kind that covers it.
KINDS = ("polling wait", "Lambda", "coordination store")
REST = "Step Functions"

Interval = tuple[float, float, str]
_TASK_ENDS = ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "LambdaFunctionSucceeded",
              "LambdaFunctionFailed", "LambdaFunctionTimedOut")  # fmt: skip


def _seconds(stamp: Any) -> float:
    if isinstance(stamp, dt.datetime):
        return stamp.timestamp()
    return float(stamp)


def intervals(events: Sequence[Mapping[str, Any]]) -> list[Interval]:
    """The Lambda, DynamoDB and Wait spans of one execution's history (its states run one
    after another: no Map or Parallel in the target's machines)."""
    spans: list[Interval] = []
    task: tuple[float, str] | None = None
    wait: float | None = None
    for event in events:
        kind, at = str(event.get("type", "")), _seconds(event["timestamp"])
        if kind == "LambdaFunctionScheduled":  # a Task state with a bare function ARN (AWS)
            task = (at, "Lambda")
        elif kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails") or {}
            resource_type = str(details.get("resourceType", ""))
            if resource_type == "lambda" or ":function:" in str(details.get("resource", "")):
                task = (at, "Lambda")
            elif resource_type == "dynamodb":
                task = (at, "coordination store")
            else:
                task = None
        elif kind in _TASK_ENDS and task is not None:
            spans.append((task[0], at, task[1]))
            task = None
        elif kind == "WaitStateEntered":
            wait = at
        elif kind == "WaitStateExited" and wait is not None:
            spans.append((wait, at, "polling wait"))
            wait = None
    return spans


def attribute(
    window: tuple[float, float], task: tuple[float, float], spans: Iterable[Interval]
) -> dict[str, float]:
    """Seconds of ``window`` (a target: its child's start and end) outside ``task`` (its
    Stax task's creation and end), by kind; what no span covers is Step Functions'."""
    start, end = window
    outside = [(start, min(task[0], end)), (max(task[1], start), end)]
    outside = [(a, b) for a, b in outside if b > a]
    spans = [(max(a, start), min(b, end), k) for a, b, k in spans if b > start and a < end]
    points = sorted(
        {p for a, b in outside for p in (a, b)} | {p for a, b, _ in spans for p in (a, b)}
    )
    totals = dict.fromkeys((*KINDS, REST), 0.0)
    for left, right in itertools.pairwise(points):
        middle = (left + right) / 2
        if not any(a <= middle < b for a, b in outside):
            continue
        covering = {k for a, b, k in spans if a <= middle < b}
        kind = next((k for k in KINDS if k in covering), REST)
        if kind == "polling wait" and middle < task[1]:
            kind = REST  # a wait before the task ended is the task's time, not a latency
        totals[kind] += right - left
    return totals


def fleet_phases(events: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The fleet execution's seconds before its first Map run, in its Map runs, and
    between and after them (plan, plan check, Next Stage, summary)."""
    start, end = _seconds(events[0]["timestamp"]), _seconds(events[-1]["timestamp"])
    in_map, opened = 0.0, None
    first = None
    for event in events:
        kind, at = event.get("type"), _seconds(event["timestamp"])
        if kind == "MapStateEntered":
            opened = at
            first = at if first is None else first
        elif kind == "MapStateExited" and opened is not None:
            in_map += at - opened
            opened = None
    first = end if first is None else first
    return {"before": first - start, "maps": in_map, "between and after": end - first - in_map}


def _target(sfn: Any, child: str) -> dict[str, Any]:
    from stax_orchestrator.follow import child_execution_arn, execution_history

    events = execution_history(sfn, child)
    spans = intervals(events)
    workload = child_execution_arn(events)
    if workload:
        workload_events = execution_history(sfn, workload)
        spans += intervals(workload_events)
        watcher = child_execution_arn(workload_events)
        if watcher:
            spans += intervals(execution_history(sfn, watcher))
    return {
        "window": (_seconds(events[0]["timestamp"]), _seconds(events[-1]["timestamp"])),
        "workload_name": workload.rsplit(":", 1)[-1] if workload else None,
        "spans": spans,
    }


def measure(
    sfn: Any, fleet_arn: str, tasks: Mapping[str, tuple[float, float]], concurrency: int
) -> dict[str, Any]:
    """The fleet's phases, its Map slots' idle time, and each target's overhead by kind.

    ``tasks``: the simulator's tasks of this fleet by workload name (created, ended).
    """
    from concurrent.futures import ThreadPoolExecutor

    from stax_orchestrator.follow import execution_history

    events = execution_history(sfn, fleet_arn)
    runs = sfn.list_map_runs(executionArn=fleet_arn)["mapRuns"]
    children = [
        e["executionArn"]
        for run in runs
        for page in sfn.get_paginator("list_executions").paginate(mapRunArn=run["mapRunArn"])
        for e in page["executions"]
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        targets = list(pool.map(lambda arn: _target(sfn, arn), children))
    phases = fleet_phases(events)
    by_kind: dict[str, list[float]] = {k: [] for k in (*KINDS, REST)}
    busy = 0.0
    for target in targets:
        busy += target["window"][1] - target["window"][0]
        task = tasks.get(_workload_of(target["workload_name"]))
        if task is None:
            continue
        for kind, seconds in attribute(target["window"], task, target["spans"]).items():
            by_kind[kind].append(seconds)
    return {
        "phases": phases,
        "slot_idle": max(0.0, phases["maps"] * concurrency - busy),
        "targets": len(targets),
        "by_kind": by_kind,
    }


def _workload_of(execution_name: str | None) -> str | None:
    """The workload execution's name is the target's execution name and ``-r<redrive>``."""
    return execution_name.rsplit("-r", 1)[0] if execution_name else None


def summary(result: Mapping[str, Any]) -> str:
    """One line: the overhead's mean per kind and the fleet's fixed and idle seconds. The
    means add up to the mean of each Map child's whole window less its task: a little more
    than the overhead row's, whose durations end when ``Record Success`` takes its clock."""
    parts = [
        f"{kind} {sum(values) / len(values):.2f}"
        for kind, values in result["by_kind"].items()
        if values
    ]
    phases = result["phases"]
    return (
        f"per target (mean s): {', '.join(parts)} · fleet: before the Map "
        f"{phases['before']:.1f} s, after {phases['between and after']:.1f} s, "
        f"slots idle {result['slot_idle']:.1f} slot-s"
    )
