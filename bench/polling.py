"""Row 3 — polling cost: ReadTask calls, state transitions, detection latency.

Computed from the real code: poll times come from ``chalicelib.polling.next_wait_seconds``
(the function the ``get_task_status`` Lambda calls), state transitions from walking the
real ``statemachines/task_watcher.asl.json`` (:func:`walk`: a small interpreter of the
ASL subset the machines use) — nothing is a hand-written formula.

- ours: ``chalicelib.polling.DEFAULT_SCHEDULE`` (10 s → 60 s, growth 0.2 of elapsed);
- the seed: a fixed 10 s wait (``PollSchedule(10, 10, 0)``).

Detection latency for a task of about T: the watcher polls at t0=0, t1, t2, ...; a task
that ends inside the poll interval (t[k-1], t[k]] containing T is seen at t[k]. Worst
= the interval's length (the task ended just after t[k-1]), mean = half of it (end
uniform in the interval); relative = worst / t[k-1] (the elapsed time when it ended).
The bound row sweeps every interval of tasks from 1 minute to 2 hours.

The scaled-time run confirms it on the deployed stage: real task-watcher executions
on MiniStack, one per simulated task length (minutes ÷ 10: 6 s, 30 s, 90 s, 180 s), all
at once, with the stage's own schedule (``local``: 1–5 s, growth 0.2, read from
``.chalice/config.json``). For each: ReadTask calls in the simulator's request log vs
what ``chalicelib.polling`` predicts for that schedule and task length — ideal
(zero-latency polls) and with the per-poll overhead measured in that execution (Lambda
invocation + state transitions on MiniStack delay every poll a little, so the real
count can only be lower than ideal); every wait the Lambda returned vs
``next_wait_seconds`` for its poll; StateEntered events vs the ASL walk.

Run alone: ``python -m bench.polling`` (computed only), ``--scaled`` adds the run on the
standard local stack, ``--scaled --private`` on private instances with a private deploy.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stax_orchestrator.follow import execution_history

ROOT = Path(__file__).resolve().parent.parent
TASK_MINUTES = (1, 5, 15, 30, 120)
SCALED_SECONDS = (6, 30, 90, 180)
#: Goals of issue 5.
MAX_POLLS_30_MIN = 45
MAX_LATENCY_FRACTION = 0.2
MAX_LATENCY_SECONDS = 60
SWEEP_FROM, SWEEP_TO = 60, 7200


def schedules() -> tuple[Any, Any]:
    """(ours, the seed's fixed 10 s)."""
    from chalicelib.polling import DEFAULT_SCHEDULE, PollSchedule

    return DEFAULT_SCHEDULE, PollSchedule(min_wait=10, max_wait=10, growth=0)


# -- poll times -------------------------------------------------------------------------------


def poll_times(
    task_seconds: float, schedule: Any, overhead: float = 0.0, first: float = 0.0
) -> list[float]:
    """Times of the polls until the first at or after the task's end.

    The first poll is at ``first`` (0: when the task starts) and ``overhead`` seconds
    are added after every wait (the time a real poll takes); with both 0 this is
    exactly ``chalicelib.polling.simulate``.
    """
    from chalicelib.polling import next_wait_seconds

    times = [first]
    while times[-1] < task_seconds:
        now = times[-1]
        times.append(now + next_wait_seconds(len(times) - 1, now, schedule) + overhead)
    return times


def intervals(until: float, schedule: Any) -> Iterator[tuple[float, float]]:
    """Consecutive poll intervals (a, b] of a task still running at ``until``."""
    times = poll_times(until, schedule)
    yield from itertools.pairwise(times)


@dataclass(frozen=True)
class Latency:
    worst: float
    mean: float
    fraction: float  # worst / elapsed at the task's end


def latency(task_seconds: float, schedule: Any) -> Latency:
    """Latency of a task ending in the poll interval that contains ``task_seconds``."""
    for a, b in intervals(task_seconds, schedule):
        if a < task_seconds <= b:
            gap = b - a
            return Latency(gap, gap / 2, gap / a if a > 0 else math.inf)
    return Latency(0.0, 0.0, 0.0)  # task_seconds == 0: seen by the first poll


def bound(schedule: Any, start: float = SWEEP_FROM, end: float = SWEEP_TO) -> Latency:
    """Worst latency and worst latency/elapsed over every task from ``start`` to ``end``."""
    worst, fraction = 0.0, 0.0
    for a, b in intervals(end, schedule):
        if b <= start:
            continue
        ended = max(a, start)
        worst = max(worst, b - ended)
        fraction = max(fraction, (b - ended) / ended)
    return Latency(worst, worst / 2, fraction)


# -- the ASL walk --------------------------------------------------------------------------------
#
# A small interpreter of the ASL subset the orchestrator's machines use, with the JSONPath
# data flow (InputPath, Parameters, Result, ResultSelector, ResultPath, OutputPath), so the
# watcher is walked exactly as deployed: the template rendered by
# ``stax_orchestrator.deploy.render``, its Task states answered by the real
# ``get_task_status`` code (schema + operation) against a fake Stax task, its Wait states
# advancing a virtual clock by the wait the Lambda returned.

CONTEXT_START = "2026-01-01T00:00:00Z"


def _get(data: Any, path: str, ctx: Mapping[str, Any]) -> Any:
    root, rest = (ctx, path[3:]) if path.startswith("$$.") else (data, path[2:])
    if path in ("$", "$$"):
        return data if path == "$" else ctx
    node: Any = root
    for part in rest.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _present(data: Any, path: str, ctx: Mapping[str, Any]) -> bool:
    try:
        _get(data, path, ctx)
    except KeyError:
        return False
    return True


def _resolve(template: Any, data: Any, ctx: Mapping[str, Any]) -> Any:
    """Parameters/ResultSelector: ``key.$`` takes a path's value (intrinsics: opaque)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = (
                    f"<{value}>" if value.startswith("States.") else _get(data, value, ctx)
                )
            else:
                out[key] = _resolve(value, data, ctx)
        return out
    if isinstance(template, list):
        return [_resolve(item, data, ctx) for item in template]
    return template


def _set(data: Any, path: str | None, value: Any) -> Any:
    """ResultPath: ``$`` replaces, ``$.a.b`` sets inside a copy, null keeps the input."""
    if path is None:
        return data
    if path == "$":
        return value
    out = json.loads(json.dumps(data))
    node = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _matches(rule: Mapping[str, Any], data: Any, ctx: Mapping[str, Any]) -> bool:
    if "Or" in rule:
        return any(_matches(r, data, ctx) for r in rule["Or"])
    if "And" in rule:
        return all(_matches(r, data, ctx) for r in rule["And"])
    if "Not" in rule:
        return not _matches(rule["Not"], data, ctx)
    variable = rule["Variable"]
    if "IsPresent" in rule:
        return _present(data, variable, ctx) == rule["IsPresent"]
    if not _present(data, variable, ctx):
        raise KeyError(f"Choice on missing {variable} (States.Runtime on AWS)")
    value = _get(data, variable, ctx)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    for key, operand in rule.items():
        if key in ("Variable", "Next"):
            continue
        test, expected = key, operand
        if key.endswith("Path"):
            test, expected = key[: -len("Path")], _get(data, operand, ctx)
        if test == "IsNumeric":
            return number == expected
        if test == "IsString":
            return isinstance(value, str) == expected
        if test == "IsNull":
            return (value is None) == expected
        if test == "IsBoolean":
            return isinstance(value, bool) == expected
        if test == "BooleanEquals":
            return value is expected
        if test == "StringEquals":
            return value == expected
        if test == "StringMatches":
            import fnmatch

            return isinstance(value, str) and fnmatch.fnmatchcase(value, expected)
        if test.startswith("Numeric"):
            if not number:
                return False
            compare = {
                "NumericEquals": value == expected,
                "NumericLessThan": value < expected,
                "NumericLessThanEquals": value <= expected,
                "NumericGreaterThan": value > expected,
                "NumericGreaterThanEquals": value >= expected,
            }
            return compare[test]
        raise ValueError(f"ASL rule not supported by the benchmark walker: {rule}")
    raise ValueError(f"ASL rule without a test: {rule}")


@dataclass
class Walk:
    entered: list[str]
    task_calls: list[str]  # Task states entered, in order
    poll_times: list[float]  # virtual clock at each Task state
    output: Any = None

    @property
    def transitions(self) -> int:
        """State transitions = states entered (what StateEntered events count)."""
        return len(self.entered)


def walk(
    definition: Mapping[str, Any],
    on_task: Callable[[str, Mapping[str, Any], Any, float], Any],
    data: Any,
    ctx: Mapping[str, Any] | None = None,
    limit: int = 100_000,
) -> Walk:
    """Follow a rendered state machine from StartAt on its successful path.

    ``on_task(name, state, effective_input, clock)`` gives a Task state's result.
    Supports Pass, Task, Choice, Wait (Seconds/SecondsPath), Succeed, Fail; Retry and
    Catch are not taken.
    """
    states = definition["States"]
    context = ctx or {"Execution": {"StartTime": CONTEXT_START, "Id": "bench"}}
    name: str | None = definition["StartAt"]
    result = Walk([], [], [])
    clock = 0.0
    while name is not None:
        if len(result.entered) >= limit:
            raise RuntimeError("state machine walk did not end")
        state = states[name]
        result.entered.append(name)
        kind = state["Type"]
        if kind == "Choice":
            target = next(
                (c["Next"] for c in state["Choices"] if _matches(c, data, context)),
                state.get("Default"),
            )
            if target is None:
                raise RuntimeError(f"no Choice matched in {name}")
            name = target
            continue
        if kind in ("Succeed", "Fail"):
            result.output = data
            break
        effective = _get(data, state.get("InputPath", "$"), context)
        if kind == "Pass":
            if "Parameters" in state:
                value = _resolve(state["Parameters"], effective, context)
            else:
                value = state.get("Result", effective)
            data = _set(data, state.get("ResultPath", "$"), value)
        elif kind == "Task":
            if "Parameters" in state:
                effective = _resolve(state["Parameters"], effective, context)
            result.task_calls.append(name)
            result.poll_times.append(clock)
            value = on_task(name, state, effective, clock)
            if "ResultSelector" in state:
                value = _resolve(state["ResultSelector"], value, context)
            data = _set(data, state.get("ResultPath", "$"), value)
        elif kind == "Wait":
            seconds = state.get("Seconds")
            if seconds is None:
                seconds = _get(effective, state["SecondsPath"], context)
            clock += float(seconds)
        else:
            raise ValueError(f"state type {kind} not supported by the benchmark walker")
        data = _get(data, state.get("OutputPath", "$"), context)
        if state.get("End"):
            result.output = data
            break
        name = state["Next"]
    return result


def rendered(kind: str, watch_timeout: int = 7200) -> dict[str, Any]:
    """``statemachines/<kind>.asl.json`` rendered as deploy.sh renders it (fake account)."""
    from stax_orchestrator import deploy

    target = deploy.Target("bench", "us-east-1", "000000000000")
    arns = {name: target.arn("lambda", f"function:bench-{name}") for name in deploy.FUNCTIONS}
    values = deploy.template_values(arns, target, watch_timeout)
    return dict(deploy.render(deploy.load_template(kind), values))


class _FakeTask:
    """A Stax task that is RUNNING until ``ends_at`` on the walk's clock."""

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self.clock = 0.0

    @contextmanager
    def session(self) -> Iterator[_FakeTask]:
        yield self

    def read_task(self, task_id: str) -> dict[str, Any]:
        status = "SUCCEEDED" if self.clock >= self.ends_at else "RUNNING"
        return {"Status": status, "Logs": []}


def watcher_input(workload_id: str, workload_name: str, task_id: str) -> dict[str, Any]:
    """What the workload machine passes its task watcher (every field Start Watch reads)."""
    return {
        "operation": "create",
        "workload_id": workload_id,
        "workload_name": workload_name,
        "task_id": task_id,
        # No lock to release: the bench's tasks are made outside a workload execution.
        "execution_id": None,
        # null: the deploy-time default.
        "watch_timeout_seconds": None,
    }


def watcher_walk(task_seconds: float, schedule: Any, watch_timeout: int = 7200) -> Walk:
    """The deployed task watcher following a task that ends after ``task_seconds``.

    Its Task state runs the get_task_status Lambda's code (``validation`` +
    ``operations.get_task_status``) with the schedule, at the walk's virtual time.
    """
    import datetime as dt

    from chalicelib import operations, validation
    from chalicelib.settings import DEFAULT_VISIBILITY_GRACE

    task = _FakeTask(task_seconds)
    start = dt.datetime.fromisoformat(CONTEXT_START.replace("Z", "+00:00"))

    def on_task(name: str, state: Mapping[str, Any], event: Any, clock: float) -> Any:
        if "lambda" not in str(state["Resource"]) or not str(state["Resource"]).endswith(
            "get_task_status"
        ):
            raise ValueError(f"unexpected Task {name} in the task watcher")
        task.clock = clock
        request = validation.load_task_status_request(event)
        now = start + dt.timedelta(seconds=clock)
        # No store: the walk follows a watch without a workload lock (nothing to release).
        return operations.get_task_status(  # type: ignore[arg-type]
            request, task, schedule, grace_seconds=DEFAULT_VISIBILITY_GRACE, now=now
        )

    event = watcher_input(
        "6d2e6c4b-1c9a-4e29-9a57-0b7e7f9c2a11", "bench", "2b9a7f0e-5c1d-4f3e-8a6b-9d4c3e2f1a01"
    )
    # The Lambda code logs every poll; thousands of walked polls need no log lines.
    quiet = logging.getLogger("stax_orchestrator")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return walk(rendered("task_watcher", watch_timeout), on_task, event)
    finally:
        quiet.setLevel(level)


# -- computed rows ----------------------------------------------------------------------


def computed() -> list[dict[str, Any]]:
    """Per task length: polls, transitions, latency for ours and the seed."""
    from chalicelib.polling import simulate

    ours, seed = schedules()
    out = []
    for minutes in TASK_MINUTES:
        seconds = minutes * 60
        entry: dict[str, Any] = {"minutes": minutes}
        for label, schedule in (("ours", ours), ("seed", seed)):
            polls, exact = simulate(seconds, schedule)
            walked = watcher_walk(seconds, schedule)
            if len(walked.task_calls) != polls or walked.poll_times != poll_times(
                seconds, schedule
            ):
                raise RuntimeError(
                    f"{label}, {minutes} min: the watcher walk polled {len(walked.task_calls)}"
                    f" times, chalicelib.polling.simulate says {polls}"
                )
            lat = latency(seconds, schedule)
            entry[label] = {
                "read_task": polls,
                "transitions": walked.transitions,
                "worst": lat.worst,
                "mean": lat.mean,
                "fraction": lat.fraction,
                "exact": exact,
            }
        out.append(entry)
    return out


def _describe(side: Mapping[str, Any]) -> str:
    return (
        f"{side['read_task']} ReadTask · {side['transitions']} transitions · latency "
        f"≤ {side['worst']:.0f} s ({side['fraction']:.1%}), mean {side['mean']:.1f} s"
    )


def computed_rows(entries: list[dict[str, Any]]) -> list[Any]:
    from bench.table import Row

    out = []
    for entry in entries:
        ours, seed = entry["ours"], entry["seed"]
        minutes = entry["minutes"]
        latency_ok = (
            ours["worst"] <= MAX_LATENCY_SECONDS and ours["fraction"] <= MAX_LATENCY_FRACTION + 1e-9
        )
        goal = f"latency ≤ {MAX_LATENCY_FRACTION:.0%} and ≤ {MAX_LATENCY_SECONDS} s"
        ok = latency_ok
        if minutes == 30:
            goal = f"≤ {MAX_POLLS_30_MIN} ReadTask; " + goal
            ok = ok and ours["read_task"] <= MAX_POLLS_30_MIN
        if minutes == 1:
            goal = "no worse than seed (calls, latency)"
            ok = ours["read_task"] <= seed["read_task"] and ours["worst"] <= seed["worst"]
        out.append(Row(f"polling, {minutes} min task", _describe(ours), _describe(seed), goal, ok))
    ours_schedule, seed_schedule = schedules()
    b, s = bound(ours_schedule), bound(seed_schedule)
    out.append(
        Row(
            "polling, every task 1 min–2 h: worst latency",
            f"≤ {b.worst:.0f} s, ≤ {b.fraction:.1%} of elapsed",
            f"≤ {s.worst:.0f} s, ≤ {s.fraction:.1%} of elapsed",
            f"≤ {MAX_LATENCY_SECONDS} s and ≤ {MAX_LATENCY_FRACTION:.0%}",
            b.worst <= MAX_LATENCY_SECONDS and b.fraction <= MAX_LATENCY_FRACTION + 1e-9,
        )
    )
    return out


# -- the scaled-time run on the deployed stage ----------------------------------------


def wait_executions(sfn: Any, arns: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """describe_execution of each, once none is RUNNING."""
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(arns):
        for arn in arns:
            if arn not in done:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    done[arn] = described
        if len(done) < len(arns):
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions still RUNNING after {timeout:.0f}s")
            time.sleep(0.5)
    return done


def task_outputs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The get_task_status results of a watcher history, in order."""
    outputs = []
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if details and "lambda" in str(details.get("resource", "")):
            outputs.append(json.loads(details["output"]))
    return outputs


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def create_task(gateway: Any, name: str) -> tuple[str, str, float]:
    """(workload id, task id, local time just after Stax accepted it)."""
    from bench.stack import seed

    data = seed()
    event = gateway.create_workload(
        {
            "Name": name,
            "AccountId": data["accounts"][0]["Id"],
            "CatalogueId": data["catalogue"][0]["Id"],
            "Region": "ap-southeast-2",
        }
    )
    workload = event["Detail"]["Workload"]
    return str(workload["WorkloadId"]), str(workload["TaskId"]), time.time()


def scaled_run(stack: Any, seconds: tuple[float, ...] = SCALED_SECONDS) -> list[dict[str, Any]]:
    """Real task-watcher executions, one per task length, started together."""
    from chalicelib.polling import next_wait_seconds
    from chalicelib.settings import stax_settings
    from chalicelib.stax import StaxCredentials, StaxGateway

    if stack.deployment is None:
        raise RuntimeError("no deployed stage (make deploy-local, or --private)")
    schedule = stack.deployment.poll_schedule()
    watcher = stack.deployment.statemachines()["task_watcher"]
    stack.apply_env()
    gateway = StaxGateway(stax_settings(), StaxCredentials(*stack.api_token()))
    sfn = stack.boto("stepfunctions")
    since = time.time()
    runs = []
    with stack.sim() as sim:
        for length in seconds:
            sim.set_task_durations(total=length)
            name = f"bench-poll-{int(length)}s-{int(time.time())}"
            workload_id, task_id, created = create_task(gateway, name)
            started = sfn.start_execution(
                stateMachineArn=watcher,
                input=json.dumps(watcher_input(workload_id, name, task_id)),
            )
            runs.append(
                {
                    "task_seconds": length,
                    "task_id": task_id,
                    "created": created,
                    "arn": started["executionArn"],
                }
            )
        from bench.stack import DEFAULT_DURATIONS

        sim.set_task_durations(**DEFAULT_DURATIONS)
        described = wait_executions(sfn, [r["arn"] for r in runs], timeout=max(seconds) * 3 + 120)
        log = sim.requests(since=since)
    for run in runs:
        desc = described[run["arn"]]
        events = execution_history(sfn, run["arn"])
        outputs = task_outputs(events)
        start = desc["startDate"].timestamp()
        # The watcher measures elapsed from its own start; the task began a little earlier.
        effective = max(0.0, run["task_seconds"] - (start - run["created"]))
        waits_ok = sum(
            1
            for o in outputs
            if o["next_wait_seconds"]
            == next_wait_seconds(o["polls"] - 1, o["elapsed_seconds"], schedule)
        )
        read_task = [
            r
            for r in log
            if r.get("operation") == "tasks.ReadTask" and r["path"].endswith(run["task_id"])
        ]
        # Real poll times: when each ReadTask reached the simulator (from the execution start).
        times = [r["time"] - start for r in read_task]
        gaps = [
            b - a - o["next_wait_seconds"]
            for a, b, o in zip(times, times[1:], outputs, strict=False)
        ]
        overhead = statistics.median(gaps) if gaps else 0.0
        first = times[0] if times else 0.0
        run.update(
            status=desc["status"],
            effective_seconds=effective,
            lambda_polls=len(outputs),
            read_task_calls=len(read_task),
            predicted_ideal=len(poll_times(effective, schedule)),
            first_poll_seconds=first,
            predicted_with_overhead=len(
                replay_times(
                    effective,
                    schedule,
                    first,
                    outputs[0]["elapsed_seconds"] if outputs else 0.0,
                    overhead,
                )
            ),
            overhead_per_poll=overhead,
            waits_matching=waits_ok,
            transitions=len(entered(events)),
            transitions_predicted=_transitions_for(len(outputs), schedule),
            schedule=f"{schedule.min_wait:g}–{schedule.max_wait:g} s, growth {schedule.growth:g}",
            polls=[
                {k: o.get(k) for k in ("polls", "status", "elapsed_seconds", "next_wait_seconds")}
                for o in outputs
            ],
            read_task_times=[round(t, 3) for t in times],
        )
    return runs


def replay_times(
    task_seconds: float, schedule: Any, first: float, first_elapsed: float, overhead: float
) -> list[float]:
    """Poll times predicted from the schedule once the first real poll has happened.

    ``first``: when the first ReadTask reached Stax (after the Lambda's cold start);
    ``first_elapsed``: the elapsed time that Lambda computed at its start (its wait
    depends on it); every later poll comes ``wait + overhead`` after the previous one.
    """
    from chalicelib.polling import next_wait_seconds

    times = [first]
    while times[-1] < task_seconds:
        k = len(times) - 1
        elapsed = first_elapsed if k == 0 else times[-1]
        times.append(times[-1] + next_wait_seconds(k, elapsed, schedule) + overhead)
    return times


def _transitions_for(polls: int, schedule: Any) -> int:
    """Transitions of the watcher walk for a task seen finished at poll ``polls``."""
    from chalicelib.polling import next_wait_seconds

    if polls < 1:
        return 0
    now = 0.0
    for k in range(polls - 1):
        now += next_wait_seconds(k, now, schedule)
    return watcher_walk(now, schedule).transitions


def scaled_rows(runs: list[dict[str, Any]]) -> list[Any]:
    from bench.table import Row

    out = []
    for run in runs:
        actual = run["read_task_calls"]
        ok = (
            run["status"] == "SUCCEEDED"
            and abs(actual - run["predicted_with_overhead"]) <= 1
            and run["waits_matching"] == run["lambda_polls"]
            and run["transitions"] == run["transitions_predicted"]
        )
        out.append(
            Row(
                f"scaled polling run ({run['schedule']}), {run['task_seconds']:g} s task",
                f"{actual} ReadTask (sim log) · {run['transitions']} transitions · "
                f"waits = schedule {run['waits_matching']}/{run['lambda_polls']}",
                f"predicted {run['predicted_with_overhead']} (ideal {run['predicted_ideal']}; "
                f"from the 1st ReadTask at {run['first_poll_seconds']:.1f} s, "
                f"+{run['overhead_per_poll']:.2f} s/poll) · "
                f"{run['transitions_predicted']} transitions",
                "= prediction ± 1; waits, transitions match",
                ok,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="polling cost: ours vs the seed's fixed 10 s")
    parser.add_argument("--scaled", action="store_true", help="also the run on the stack")
    parser.add_argument("--private", action="store_true", help="private stack + private deploy")
    parser.add_argument("--seconds", type=float, nargs="*", default=list(SCALED_SECONDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from bench.table import exit_code, render

    entries = computed()
    table = computed_rows(entries)
    raw: dict[str, Any] = {"computed": entries}
    if args.scaled:
        from bench.stack import open_stack

        with open_stack(args.private, deploy=args.private) as stack:
            try:
                runs = scaled_run(stack, tuple(args.seconds))
            finally:
                stack.restore_seed()
        raw["scaled"] = runs
        table += scaled_rows(runs)
    if args.json:
        print(json.dumps(raw, indent=2, default=str))
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
