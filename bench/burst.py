"""Row 12 — Stax account events end to end: one new account, then 50 at once (issue 22).

On the standard local stack's ``local`` stage: the post-deploy step of ``deploy.sh
--baselines`` (a fresh MiniStack bus, the stage's rule -> account events queue ->
``start_account_baselines``), the simulator's quick tasks (0.3 / 0.3 / 1.0 s, as the e2e
tier), and production accounts whose baseline is two VPC workloads (two regions).

- **One account**: seconds from the seed that announces it (the simulator sends the
  AccountCreateEvent) to its two workloads ACTIVE; 13.6 s before the queue (issue 22).
- **A burst of** :data:`BURST` **accounts in one seed**: the same seconds for each account
  (p50, p95, max), and the most account baselines that held a slot at once, from each
  execution's history (start to its ``Give Back Slot``): never more than the stage's
  limit (``STAX_MAX_ACCOUNT_BASELINES``).

The helpers (:func:`burst_accounts`, :func:`baselined_after`, :func:`slot_intervals`,
:func:`most_at_once`) are also what ``tests/e2e/test_account_baselines.py`` asserts with.
Run alone: ``python -m bench.burst`` (stage ``local`` deployed: ``make deploy-local``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/burst.py
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.account_events import FILE as EVENTS_FILE
from bench.account_events import REGIONS
from bench.stack import ROOT, Stack, open_stack, seed
from bench.table import Row, check_row, info_row

BURST = 50
#: Before the account events queue (issue 22): one account's event to ACTIVE.
BEFORE_SECONDS = 13.6
#: One account may take this much longer than before: the queue's hop (EventBridge ->
#: SQS -> the starter's poll) is a second or two.
ONE_ACCOUNT_GOAL = 20.0
#: The burst's makespan (its last account ACTIVE) against the best any scheduler of
#: ``limit`` slots could do with the account baselines' own durations (start to slot given
#: back): ``max(sum / limit, longest)``. The queue's waiting (delays of 2-10 s) may add half.
WAVE_SLACK = 1.5
#: The simulator as the e2e tier runs it (strict document, read-after-write lag, nulls).
REALISM = {"strict": True, "read_after_write_lag_seconds": 1.0, "null_share": 0.25,
           "seed": 20261201}  # fmt: skip
#: Row 11's file (one baseline, two VPC workloads per production account), two at a time.
FILE = EVENTS_FILE + "    max_concurrency: 2\n"
QUICK_TASKS = {"started": 0.3, "pending": 0.3, "running": 1.0}
GIVE_BACK = "Give Back Slot"


def burst_accounts(count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` new production accounts named ``{prefix}-RUN-NN`` (RUN: this call's, so a
    name a run before still holds in the coordination store is not asked for again)."""
    run = uuid.uuid4().hex[:6]
    return [
        {"Id": str(uuid.uuid4()), "Name": f"{prefix}-{run}-{n:02d}",
         "AwsAccountId": f"{int(uuid.uuid4().int % 10**12):012d}", "AccountType": "production"}
        for n in range(count)
    ]  # fmt: skip


def baselined_after(
    sim: Any,
    accounts: Iterable[Mapping[str, Any]],
    per_account: int,
    timeout: float,
    started: float | None = None,
) -> dict[str, float]:
    """Seconds (from ``started``, monotonic) until each account had ``per_account``
    workloads, all ACTIVE; the accounts that never did are missing."""
    started = time.monotonic() if started is None else started
    wanted = {a["Id"]: a["Name"] for a in accounts}
    done: dict[str, float] = {}
    while time.monotonic() - started < timeout and len(done) < len(wanted):
        by_account: dict[str, list[str]] = {}
        for workload in sim.state()["workloads"]:
            if workload.get("AccountId") in wanted and workload.get("Status") != "DELETED":
                by_account.setdefault(workload["AccountId"], []).append(workload.get("Status"))
        now = time.monotonic() - started
        for account, statuses in by_account.items():
            ready = len(statuses) >= per_account and set(statuses) == {"ACTIVE"}
            if ready and wanted[account] not in done:
                done[wanted[account]] = now
        time.sleep(0.5)
    return done


def slot_intervals(sfn: Any, execution_arns: Iterable[str]) -> list[tuple[float, float]]:
    """(start, slot given back) of each execution, epoch seconds, from its history."""
    intervals = []
    for arn in execution_arns:
        start = sfn.describe_execution(executionArn=arn)["startDate"].timestamp()
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)
        given = [e["timestamp"].timestamp() for e in events["events"]
                 if e.get("stateEnteredEventDetails", {}).get("name") == GIVE_BACK]  # fmt: skip
        if not given:
            raise AssertionError(f"{arn} never reached {GIVE_BACK!r}")
        intervals.append((start, given[0]))
    return intervals


def most_at_once(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end before a start at the same time)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in points:
        current += step
        most = max(most, current)
    return most


def wait_executions(sfn: Any, machine: str, before: set[str], count: int,
                    timeout: float) -> list[str]:  # fmt: skip
    """The ``count`` executions started since ``before``, once none of them runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
        new = [e for e in listed if e["executionArn"] not in before]
        if len(new) >= count and all(e["status"] != "RUNNING" for e in new):
            return sorted(e["executionArn"] for e in new)
        time.sleep(1.0)
    raise AssertionError(f"fewer than {count} account baselines ended in {timeout:.0f} s")


def limit_of(lambda_client: Any, stage: str = "local") -> int:
    """The stage's ``STAX_MAX_ACCOUNT_BASELINES`` (its default when unset)."""
    from chalicelib import settings

    function = f"stax-orchestrator-{stage}-start_account_baselines"
    environment = lambda_client.get_function_configuration(FunctionName=function)
    return settings.max_account_baselines(environment.get("Environment", {}).get("Variables", {}))


def _post_deploy(*flags: str) -> None:
    """The post-deploy step as ``make deploy-local`` runs it (the local operator may write
    the stage bucket: without it the next bench sections could not put fleet requests)."""
    from stax_orchestrator.local_env import LOCAL_OPERATOR

    key = json.loads((ROOT / ".local" / "deployer.json").read_text())
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "stax_orchestrator.deploy", "post-deploy", "--stage", "local",
         "--bucket-writer", LOCAL_OPERATOR, *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"post-deploy {' '.join(flags)} failed: {done.stderr[-1500:]}")


def measure(stack: Stack) -> dict[str, Any]:
    """One account, then the burst, on the `local` stage with baselining switched on."""
    if stack.private:
        raise RuntimeError("needs the standard local stack's `local` stage")
    stack.apply_env()
    events, sfn = stack.boto("events"), stack.boto("stepfunctions")
    machine = stack.boto("sts").get_caller_identity()["Account"]
    machine = f"arn:aws:states:{stack.region}:{machine}:stateMachine:" + (
        "stax-orchestrator-local-account-baseline"
    )
    bus = f"bench-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baselines.yaml"
        path.write_text(FILE)
        _post_deploy("--baselines", str(path), "--stax-event-bus", bus,
                     "--stax-event-source", "stax.simulator")  # fmt: skip
    try:
        with stack.sim() as sim:
            sim.reset()
            sim.seed(**seed())
            sim.set_realism(**REALISM)
            sim.set_task_durations(**QUICK_TASKS)
            sim.set_account_events(bus, endpoint_url=stack.ministack_url, region=stack.region,
                                   source="stax.simulator")  # fmt: skip
            try:
                result = _run(sim, sfn, machine, limit_of(stack.boto("lambda")))
            finally:
                sim.set_account_events(None)
    finally:
        _post_deploy()
        events.delete_event_bus(Name=bus)
    return result


def _run(sim: Any, sfn: Any, machine: str, limit: int) -> dict[str, Any]:
    listed = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    before = {e["executionArn"] for e in listed}
    [one] = burst_accounts(1, "bench-one")
    started = time.monotonic()
    sim.seed(accounts=[one])
    single = baselined_after(sim, [one], len(REGIONS), 180, started).get(one["Name"])
    before |= set(wait_executions(sfn, machine, before, 1, 120))
    accounts = burst_accounts(BURST, "bench-burst")
    started = time.monotonic()
    sim.seed(accounts=accounts)
    times = baselined_after(sim, accounts, len(REGIONS), 900, started)
    ended = wait_executions(sfn, machine, before, BURST, 300)
    intervals = slot_intervals(sfn, ended)
    return {
        "limit": limit,
        "one": single,
        "burst": sorted(times.values()),
        "baselined": len(times),
        "at_once": most_at_once(intervals),
        "durations": sorted(end - start for start, end in intervals),
    }


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, math.ceil(share * len(values)) - 1)]


def ideal_makespan(durations: list[float], limit: int) -> float:
    """The least time ``limit`` slots can run these durations in (a lower bound)."""
    return max(sum(durations) / limit, *durations) if durations else 0.0


def rows(result: dict[str, Any]) -> list[Row]:
    limit, burst, one = result["limit"], result["burst"], result["one"]
    ideal = ideal_makespan(result["durations"], limit)
    figures = (
        f"p50 {_percentile(burst, 0.5):.1f} / p95 {_percentile(burst, 0.95):.1f} / "
        f"max {burst[-1]:.1f} s"
        if burst
        else "none baselined"
    )
    durations = result["durations"]
    return [
        check_row("account event → 2 workloads ACTIVE, one new account",
                  one is not None and one <= ONE_ACCOUNT_GOAL,
                  f"{one:.1f} s" if one is not None else "never",
                  f"{BEFORE_SECONDS} s before the queue (cold Lambdas)",
                  f"≤ {ONE_ACCOUNT_GOAL:.0f} s"),
        check_row(f"burst of {BURST} new accounts: every one baselined",
                  result["baselined"] == BURST, f"{result['baselined']}/{BURST}", "",
                  f"{BURST}/{BURST}"),
        check_row(f"burst of {BURST}: event → ACTIVE per account (max = makespan)",
                  bool(burst) and burst[-1] <= WAVE_SLACK * ideal, figures,
                  f"ideal {ideal:.1f} s with {limit} slots",
                  f"max ≤ {WAVE_SLACK}× ideal"),
        info_row(f"burst of {BURST}: one account baseline, start to slot given back",
                 f"p50 {_percentile(durations, 0.5):.1f} / max {durations[-1]:.1f} s"
                 if durations else "-", "10 running at once on 2 cores"),
        check_row(f"burst of {BURST}: account baselines holding a slot at once",
                  result["at_once"] <= limit, str(result["at_once"]), "unbounded before",
                  f"≤ {limit}"),
        info_row("burst: what bounds it", f"{limit} at once (STAX_MAX_ACCOUNT_BASELINES)",
                 "the rest wait in the account events queue"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from bench.table import exit_code, render

    with open_stack(False) as stack:
        try:
            table = rows(measure(stack))
        finally:
            stack.restore_seed()
    print(render(table))
    return exit_code(table)


if __name__ == "__main__":
    sys.exit(main())
