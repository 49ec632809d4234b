"""``make bench``: every benchmark of issue 5 on the local stack, one table.

Prints the machine it ran on, then one Markdown table (metric | ours | plain way / seed
| goal | pass/fail) and, as its last line, ``goals met: N/M``; exits 1 when a goal is
missed (a section that cannot run counts as a missed goal). Progress goes to stderr.

Sections (modules runnable alone, see bench/README.md):
  coldstart  fresh processes: client ready, validation, first get_task_status
  tracing    what the X-Ray SDK would add to the cold start; none is shipped
  calls      Stax/config/Cognito/SSM calls per operation, cold and warm
  polling    the schedule vs the seed's 10 s, and a scaled-time run of the deployed watcher
  e2e        create/update/delete executions with 20 s tasks: overhead, invocations
  package    what chalice deploy uploads, with and without automatic_layer
  install    the CLI pip-installed from the checkout into a fresh venv
  deploy     a redeploy with nothing to change, before and after the stage's stack
  hostile    the hostile baselines corpus: the worst refusal's time and memory
  events     Stax calls of one account event's plan at 10 and at 300 accounts
  plans      a no-change baselines plan at 180, 1,800 and 10,002 targets, with the cache
  burst      account event -> baselines ACTIVE: one new account, then 50 at once

By default it uses the standard local stack (``make deploy-local`` done, as the
``bench`` target ensures) and leaves the simulator reset to its seed afterwards
(reset + local/seed.json + default task durations). ``--private`` runs on private
instances instead (own simulator, MiniStack and deploy of a copy; nothing shared is
touched).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/run.py
    # The repository root replaces bench/ itself on the path (bench's module names
    # must not shadow anything as top-level modules).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import (
    account_events,
    burst,
    calls,
    coldstart,
    deploy,
    e2e,
    fleet,
    hostile,
    install,
    package,
    plans,
    polling,
    tracing,
)
from bench.stack import open_stack
from bench.table import Row, exit_code, guarded, render

SECTIONS = (
    "coldstart",
    "tracing",
    "calls",
    "polling",
    "events",
    "plans",
    "burst",
    "e2e",
    "fleet",
    "deploy",
    "package",
    "install",
    "hostile",
)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores{memory}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--private", action="store_true", help="private instances + deploy")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--skip", nargs="*", choices=SECTIONS, default=[], help="skip these")
    parser.add_argument("--reps", type=int, default=7, help="cold-start runs per side (>= 5)")
    parser.add_argument("--status-reps", type=int, default=5, help="get_task_status runs")
    parser.add_argument(
        "--scaled-seconds",
        type=float,
        nargs="*",
        default=list(polling.SCALED_SECONDS),
        help="task lengths of the scaled polling run",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    selected = [s for s in (args.only or SECTIONS) if s not in args.skip]
    needs_deploy = bool({"polling", "e2e", "fleet"} & set(selected))
    raw: dict[str, Any] = {}
    rows: list[Row] = []

    def section(name: str, build: Callable[[], list[Row]]) -> None:
        if name not in selected:
            return
        progress(f"{name} ...")
        started = time.monotonic()
        rows.extend(guarded(name, build))
        progress(f"{name} done in {time.monotonic() - started:.0f} s")

    try:
        with open_stack(args.private, deploy=args.private and needs_deploy) as stack:
            try:

                def cold() -> list[Row]:
                    raw["coldstart"] = coldstart.measure(stack, args.reps, args.status_reps)
                    return list(coldstart.rows(raw["coldstart"]))

                def traced() -> list[Row]:
                    raw["tracing"] = tracing.measure(stack, min(args.reps, 5))
                    return list(tracing.rows(raw["tracing"]))

                def call_counts() -> list[Row]:
                    raw["calls"] = calls.measure(stack)
                    return list(calls.rows(raw["calls"]))

                def poll() -> list[Row]:
                    raw["polling"] = {"computed": polling.computed()}
                    out = list(polling.computed_rows(raw["polling"]["computed"]))

                    def scaled() -> list[Row]:
                        runs = polling.scaled_run(stack, tuple(args.scaled_seconds))
                        raw["polling"]["scaled"] = runs
                        return list(polling.scaled_rows(runs))

                    return out + guarded("polling scaled run", scaled)

                def end_to_end() -> list[Row]:
                    raw["e2e"] = e2e.measure(stack)
                    return list(e2e.rows(raw["e2e"]))

                section("coldstart", cold)
                section("tracing", traced)
                section("calls", call_counts)
                section("polling", poll)

                def fleets() -> list[Row]:
                    raw["fleet"] = fleet.measure(stack)
                    return list(fleet.rows(raw["fleet"]))

                def redeploy() -> list[Row]:
                    if args.private:
                        raise RuntimeError("needs the standard local stack's `local` stage")
                    raw["deploy"] = deploy.measure()
                    return list(deploy.rows(raw["deploy"]))

                def event_calls() -> list[Row]:
                    raw["events"] = account_events.measure(stack)
                    return list(account_events.rows(raw["events"]))

                def bursts() -> list[Row]:
                    raw["burst"] = burst.measure(stack)
                    return list(burst.rows(raw["burst"]))

                def no_change_plans() -> list[Row]:
                    raw["plans"] = plans.measure(stack)
                    return list(plans.rows(raw["plans"]))

                section("events", event_calls)
                section("plans", no_change_plans)
                section("burst", bursts)
                section("e2e", end_to_end)
                section("fleet", fleets)
                section("deploy", redeploy)
            finally:
                progress("restoring the simulator's seed")
                try:
                    stack.restore_seed()
                except Exception as error:
                    rows.append(Row("simulator reset to its seed", str(error), "", "done", False))
    except RuntimeError as error:  # the stack is not up
        rows.append(Row("local stack", str(error), "", "up and deployed", False))

    def pack() -> list[Row]:
        raw["package"] = package.measure()
        return list(package.rows(raw["package"]))

    section("package", pack)

    def installing() -> list[Row]:
        raw["install"] = install.measure()
        return list(install.rows(raw["install"]))

    section("install", installing)

    def refusals() -> list[Row]:
        raw["hostile"] = hostile.measure()
        return list(hostile.rows(raw["hostile"]))

    section("hostile", refusals)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    print(machine())
    print()
    print(render(rows))
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
