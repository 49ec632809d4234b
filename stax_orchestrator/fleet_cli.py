"""``stax-orchestrator fleet``: run one workload operation over many targets, live.

Role: the CLI's fleet commands. ``fleet run REQUEST.json`` and ``fleet rollout`` validate
the request locally (the same rules as the plan_fleet Lambda), start the fleet state
machine and follow it with a per-target table (pending / running / succeeded / failed /
already done / not started). Each target's workload execution is named
``<fleet execution name>-<target index>``, so its state is one DescribeExecution away.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

from stax_orchestrator import cli

FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "ALREADY_DONE", "NOT_STARTED"}
STYLES = {
    "pending": "dim",
    "RUNNING": "cyan",
    "SUCCEEDED": "green",
    "ALREADY_DONE": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "red",
    "NOT_STARTED": "yellow",
}


@dataclass
class Row:
    index: int
    target: dict[str, Any]
    status: str = "pending"
    error: str | None = None
    workload_id: str | None = None
    seconds: float | None = None

    def label(self) -> str:
        t = self.target
        if t.get("workload_name"):
            return str(t["workload_name"])
        if t.get("aws_account_id") and t.get("aws_region"):
            return f"{t['aws_account_id'][:8]}/{t['aws_region']}"
        return str(t.get("workload_id"))


@dataclass
class FleetView:
    execution_arn: str
    status: str = "RUNNING"
    rows: dict[int, Row] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None
    started: Any = None
    stopped: Any = None

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


def _plan_output(sfn: Any, arn: str) -> dict[str, Any] | None:
    from stax_orchestrator.follow import execution_history

    for event in execution_history(sfn, arn):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "Plan Fleet":
            return dict(json.loads(details["output"]))
    return None


def look(sfn: Any, view: FleetView, workload_machine: str, window: int) -> None:  # noqa: PLR0912
    """Refresh the view: the fleet execution, then the targets that may be running."""
    from chalicelib.fleet import target_of

    described = sfn.describe_execution(executionArn=view.execution_arn)
    view.status, view.started = described["status"], described.get("startDate")
    view.stopped, view.error, view.cause = (
        described.get("stopDate"),
        described.get("error"),
        described.get("cause"),
    )
    if not view.rows:
        planned = _plan_output(sfn, view.execution_arn)
        if planned:
            view.summary = planned["summary"]
            for wave in planned["waves"]:
                for item in wave:
                    request = {**planned.get("shared", {}), **item["request"]}
                    view.rows[item["index"]] = Row(
                        item["index"], target_of(request, item.get("target"))
                    )
            for done in planned["results"]:
                view.rows[done["index"]] = Row(
                    done["index"],
                    done["target"],
                    done["status"],
                    workload_id=done.get("workload_id"),
                )
    if view.status == "SUCCEEDED" and described.get("output"):
        view.output = json.loads(described["output"])
        for result in view.output.get("results", []):
            row = view.rows.setdefault(result["index"], Row(result["index"], result["target"]))
            row.status, row.error = result["status"], result.get("error")
            row.workload_id = result.get("workload_id") or row.workload_id
            row.seconds = result.get("duration_seconds")
        return
    name = view.execution_arn.rsplit(":", 1)[-1]
    prefix = workload_machine.replace(":stateMachine:", ":execution:")
    open_rows = [
        r for r in sorted(view.rows.values(), key=lambda r: r.index) if r.status not in FINAL
    ]
    for row in open_rows[:window]:
        try:
            child = sfn.describe_execution(executionArn=f"{prefix}:{name}-{row.index}")
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        row.status, row.error = child["status"], child.get("error")
        if child.get("stopDate"):
            row.seconds = round((child["stopDate"] - child["startDate"]).total_seconds(), 1)
        if child.get("output"):
            row.workload_id = json.loads(child["output"]).get("workload_id")
    if view.status not in {"RUNNING", "SUCCEEDED"}:
        for row in view.rows.values():
            if row.status == "pending":
                row.status = "NOT_STARTED"


def _table(view: FleetView, title: str) -> Any:
    from rich.table import Table

    counts = view.counts()
    caption = "  ".join(f"{k.lower()}: {v}" for k, v in sorted(counts.items()))
    table = Table(title=title, caption=caption)
    for column in ("#", "target", "status", "workload id", "seconds", "error"):
        table.add_column(column)
    for row in sorted(view.rows.values(), key=lambda r: r.index):
        style = STYLES.get(row.status, "")
        table.add_row(
            str(row.index),
            row.label(),
            f"[{style}]{row.status.lower()}[/]" if style else row.status.lower(),
            str(row.workload_id or ""),
            "" if row.seconds is None else f"{row.seconds:.1f}",
            row.error or "",
        )
    return table


def follow_fleet(
    sfn: Any, arn: str, workload_machine: str, out: cli.Output, interval: float
) -> int:
    view = FleetView(arn)
    window = 40
    if out.live:
        from rich.live import Live

        with Live(console=out.console, refresh_per_second=4) as live:
            while True:
                look(sfn, view, workload_machine, window)
                live.update(_table(view, f"fleet {view.status.lower()}"))
                if view.status != "RUNNING":
                    break
                time.sleep(interval)
    else:
        seen: dict[int, str] = {}
        while True:
            look(sfn, view, workload_machine, window)
            for row in sorted(view.rows.values(), key=lambda r: r.index):
                if seen.get(row.index) != row.status and not out.as_json:
                    seen[row.index] = row.status
                    out.say(f"  target {row.index:>3} {row.label():<48} {row.status.lower()}")
            if view.status != "RUNNING":
                break
            time.sleep(interval)
    return report_fleet(view, out)


def report_fleet(view: FleetView, out: cli.Output) -> int:
    from stax_orchestrator.follow import parse_cause

    summary = (
        (view.output or {}).get("summary") or parse_cause(view.cause).get("summary") or view.summary
    )
    results = (view.output or {}).get("results") or [
        {"index": r.index, "target": r.target, "status": r.status, "error": r.error,
         "workload_id": r.workload_id, "duration_seconds": r.seconds}
        for r in sorted(view.rows.values(), key=lambda r: r.index)
    ]  # fmt: skip
    code = cli.EXIT_OK if view.status == "SUCCEEDED" else cli.EXIT_FAILED
    if out.as_json:
        body = {
            "execution_arn": view.execution_arn,
            "status": view.status,
            "summary": summary,
            "results": results,
        }
        if view.status != "SUCCEEDED":
            body["error"] = view.error
            body["cause"] = parse_cause(view.cause) or view.cause
        out.json(body)
        return code
    if not out.live:
        out.console.print(_table(view, "fleet targets"))
    mark = (
        "[bold green]✔ fleet succeeded[/]"
        if code == cli.EXIT_OK
        else f"[bold red]✘ fleet {view.status}[/]: {view.error}"
    )
    out.console.print(
        f"{mark}  {summary.get('succeeded', 0)} succeeded, {summary.get('failed', 0)} failed, "
        f"{summary.get('already_done', 0)} already done, "
        f"{summary.get('not_started', 0)} not started "
        f"(tolerated failures: {summary.get('tolerated_failures', 0)})"
    )
    if code != cli.EXIT_OK and not summary:
        out.console.print(f"  {view.cause}", markup=False)
    out.console.print(f"  execution: {view.execution_arn}")
    return code


def _rollout_request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {
        "operation": "rollout",
        "catalogue_id": args.catalogue_id,
        "catalogue_version_id": args.catalogue_version_id,
        "max_concurrency": args.max_concurrency,
    }
    if args.account_id:
        request["accounts"] = args.account_id
    if args.region:
        request["regions"] = args.region
    if args.failure_tolerance is not None:
        tolerance = args.failure_tolerance
        request["failure_tolerance"] = int(tolerance) if tolerance.isdigit() else tolerance
    return request


def cmd_fleet(args: argparse.Namespace, out: cli.Output) -> int:
    from chalicelib.errors import InvalidFleetRequest
    from chalicelib.fleet import validate_fleet_request

    request = (
        cli.load_payload_file(args.request)
        if args.fleet_command == "run"
        else _rollout_request(args)
    )
    try:
        validate_fleet_request(request)
    except InvalidFleetRequest as error:
        if out.as_json:
            out.json({"status": "INVALID", **error.as_dict()})
        else:
            out.console.print(f"[bold red]✘ invalid fleet request:[/] {error.message}")
            for name, messages in (error.details.get("errors") or {}).items():
                for message in messages:
                    out.console.print(f"  [bold]{name}[/]: {message}", markup=True)
            out.console.print("Nothing was started.")
        return cli.EXIT_INVALID
    fleet_machine = cli.state_machine_arn(args, "fleet")
    workload_machine = cli.state_machine_arn(args, "workload")
    sfn = cli._aws_client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=fleet_machine, input=json.dumps(request))[
        "executionArn"
    ]
    if args.no_wait:
        if out.as_json:
            out.json({"execution_arn": arn, "status": "RUNNING"})
        else:
            print(arn, file=out.stream)
        return cli.EXIT_OK
    out.say(f"started fleet {request['operation']}: {arn}")
    return follow_fleet(sfn, arn, workload_machine, out, args.interval)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    fleet = sub.add_parser("fleet", help="one operation over many accounts and regions")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", required=True, metavar="SUBCOMMAND")
    run = fleet_sub.add_parser(
        "run", parents=[common], help="run a fleet request file (- for stdin)"
    )
    run.add_argument("request")
    rollout = fleet_sub.add_parser(
        "rollout", parents=[common], help="update every live workload of a catalogue to a version"
    )
    rollout.add_argument("--catalogue-id", required=True)
    rollout.add_argument("--catalogue-version-id", required=True)
    rollout.add_argument(
        "--account-id", action="append", help="only workloads in this account (repeatable)"
    )
    rollout.add_argument(
        "--region", action="append", help="only workloads in this region (repeatable)"
    )
    rollout.add_argument("--max-concurrency", type=int, default=5)
    rollout.add_argument("--failure-tolerance", help="a count, or a percentage like 20%%")
    for parser in (run, rollout):
        parser.add_argument("--no-wait", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)
        parser.set_defaults(handler=cmd_fleet)
