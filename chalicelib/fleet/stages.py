"""Canary stages: a fleet runs its targets stage by stage, and halts itself.

Role: the next_fleet_stage Lambda's use case, and the stage part of a fleet's plan. A
fleet request's ``stages`` (``[1, "25%", "100%"]``; one stage when absent) cut the
runnable targets, in plan order, into consecutive slices, each written as its own plan
object and run as its own Distributed Map run (``statemachines/fleet.asl.json``: ``Next
Stage`` → ``Run Targets`` → ``Next Stage`` ...). Before each stage, :func:`next_stage`
decides:

- the stage before ended by its Map's failure (its failure tolerance crossed, or another
  Map error) and stages are left: **halt** -- the targets of the later stages are left
  untouched;
- an alarm of ``halt_on_alarms`` is in ALARM, does not exist, or cannot be read: **halt**
  (a brake that cannot be read stops the rollout);
- no stage is left: **end**; otherwise **run** the next stage, its failure tolerance its
  own: a percentage of its targets, or what a count leaves after the failures so far.

When nothing is to be checked -- before the first stage of a fleet without
``halt_on_alarms``, after its last stage -- the fleet machine goes on without the Lambda:
:func:`first_stage` is part of the plan (``Keep The Plan`` puts it in the state) and a
stage marked ``last`` goes straight to the summary, which completes the record of the Map
runs (``results.manifests_run``). Two Lambda invocations fewer for every fleet.

A halted fleet ends ``FleetHalted``, its cause naming the stage, why, and how to resume
(``stax-orchestrator fleet resume EXECUTION``: the same request again, done targets
skipped). The state holds one stage at a time and the manifests of the Map runs so far
(at most ``MAX_STAGES``): its size does not grow with the number of targets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from chalicelib.coordination import CoordinationStore
from chalicelib.fleet.results import (
    FAILED,
    NOT_STARTED,
    TOLERANCE_ERROR,
    manifests_run,
    map_failure_error,
    read_results,
)
from chalicelib.logs import log_event
from chalicelib.validation import TOLERANCE_PATTERN

#: The stage object before the first stage when the alarms are to be read first.
BEFORE_FIRST: dict[str, Any] = {"index": -1, "manifests": [], "next": "check"}


def tolerated(plan: Mapping[str, Any], stage: Mapping[str, Any], failed_so_far: int) -> int:
    """The failures a stage may have: a percentage of its own targets, or what a count
    leaves after the failures of the stages before."""
    tolerance = plan["failure_tolerance"]
    if isinstance(tolerance, int):
        return max(0, tolerance - failed_so_far)
    match = TOLERANCE_PATTERN.match(str(tolerance))
    assert match is not None  # validated before
    return math.floor(Fraction(match.group(1)) * int(stage["count"]) / 100)


def _why_the_map_stopped(error: str, stage: Mapping[str, Any]) -> str:
    if error == TOLERANCE_ERROR:
        return (
            f"stage {stage['index'] + 1} crossed its failure tolerance "
            f"({stage.get('tolerated_failures')} failure(s) tolerated of {stage['count']})"
        )
    return f"stage {stage['index'] + 1} stopped: {error}"


def alarms_firing(cloudwatch: Callable[[], Any], names: list[str]) -> tuple[list[str], str | None]:
    """The alarms of ``names`` in ALARM, and why the check itself failed (a missing alarm,
    no permission, CloudWatch unreachable), if it did."""
    try:
        found = cloudwatch().describe_alarms(
            AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
        )
    except Exception as error:  # any failure to read a brake stops the rollout
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return [], f"the alarms could not be read ({code or type(error).__name__})"
    alarms = [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
    states = {a.get("AlarmName"): a.get("StateValue") for a in alarms}
    missing = [n for n in names if n not in states]
    if missing:
        return [], f"no CloudWatch alarm named {', '.join(repr(n) for n in missing)}"
    return [n for n in names if states[n] == "ALARM"], None


def next_stage(
    event: Mapping[str, Any],
    store: CoordinationStore,
    cloudwatch: Callable[[], Any],
) -> dict[str, Any]:
    """The fleet's next step: ``{"next": "run" | "end", ...}`` with the stage to run, or
    the halt (``halt``: why, which stage) -- see the module docstring.

    ``event``: ``{"plan", "stage", "map_failure", "map_result", "execution_arn"}``.

    Raises:
        CoordinationUnavailable: the failures so far could not be counted (retried).
    """
    plan = event["plan"]
    stage: Mapping[str, Any] = event.get("stage") or BEFORE_FIRST
    stages = plan.get("stages") or []
    manifests = manifests_run(stage, event.get("map_result"))
    done = int(stage.get("index", -1))
    kept = {"manifests": manifests, "of": len(stages)}
    error = map_failure_error(event)
    names = list(plan.get("halt_on_alarms") or [])
    counts: Counter[str] = Counter()
    if done >= 0 and (names or isinstance(plan["failure_tolerance"], int)):
        counts = Counter(r["status"] for r in read_results(store, plan["fleet_id"]))
    # Targets a stage did not start because an alarm was in ALARM as they were to start
    # (the item processor's own check): the only NOT_STARTED results before the summary.
    if counts[NOT_STARTED]:
        why = (f"an alarm of halt_on_alarms was in ALARM during stage {done + 1}: "
               f"{counts[NOT_STARTED]} of its targets not started")  # fmt: skip
        return _halt(event, kept, done + 1, why, skipped=counts[NOT_STARTED])
    if done + 1 >= len(stages):
        return {**dict(stage), **kept, "next": "end", "halt": None}
    if error:
        why = _why_the_map_stopped(error, stage)
        return _halt(event, kept, done + 1, why)
    if names:
        firing, unreadable = alarms_firing(cloudwatch, names)
        if unreadable or firing:
            why = unreadable or f"alarm {', '.join(repr(n) for n in firing)} in ALARM"
            return _halt(event, kept, done + 1, why, alarms=firing)
    upcoming = _ready(plan, done + 1, counts[FAILED], manifests)
    log_event("fleet_stage_started", fleet_id=plan["fleet_id"], stage=upcoming["index"] + 1,
              of=len(stages), targets=upcoming["count"],
              tolerated_failures=upcoming["tolerated_failures"])  # fmt: skip
    return upcoming


def _ready(
    plan: Mapping[str, Any], index: int, failed_so_far: int, manifests: list[Any]
) -> dict[str, Any]:
    """Stage ``index`` ready to run: its plan object, its tolerance, whether it is the last."""
    stages = plan["stages"]
    upcoming = dict(stages[index])
    upcoming["tolerated_failures"] = tolerated(plan, upcoming, failed_so_far)
    return {**upcoming, "manifests": manifests, "of": len(stages),
            "last": index + 1 == len(stages), "next": "run", "halt": None}  # fmt: skip


def first_stage(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The stage the fleet machine starts from: the first, ready to run, when nothing is to
    be checked before it (no ``halt_on_alarms``; no stage before it to have failed);
    otherwise :data:`BEFORE_FIRST`, and ``Next Stage`` reads the alarms first."""
    if plan.get("halt_on_alarms"):
        return dict(BEFORE_FIRST)
    return _ready(plan, 0, 0, [])


def _halt(
    event: Mapping[str, Any],
    kept: Mapping[str, Any],
    halted_before: int,
    why: str,
    *,
    alarms: list[str] | None = None,
    skipped: int = 0,
) -> dict[str, Any]:
    plan, stage = event["plan"], event.get("stage") or BEFORE_FIRST
    stages = plan.get("stages") or []
    untouched = skipped + sum(int(s["count"]) for s in stages[halted_before:])
    execution = event.get("execution_arn") or "EXECUTION_ARN"
    halt: dict[str, Any] = {
        "before_stage": halted_before + 1,
        "of": len(stages),
        "reason": why,
        "alarms": alarms or [],
        "untouched_targets": untouched,
        "resume": f"stax-orchestrator fleet resume {execution}",
    }
    log_event("fleet_halted", fleet_id=plan["fleet_id"], **{k: v for k, v in halt.items()
              if k != "resume"})  # fmt: skip
    return {**dict(stage), **kept, "next": "end", "halt": halt}
