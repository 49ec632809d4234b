"""``stax-orchestrator run|create|update|delete|watch|list|history|invoke``: one workload.

Role: the workload command group. A payload (a file, or the flags) is validated on this
machine with the same rules as the ``validate_input`` Lambda (``chalicelib.validation``)
before anything is sent; the stage's workload state machine is started and the execution
followed live -- current state, the Stax task's status, poll count, elapsed time --
reading only the new history events at each look (:mod:`stax_orchestrator.follow`).
``list`` and ``history`` read Step Functions through its paginators. ``invoke`` runs one
Lambda of a Chalice project in-process (a development command: it needs the checkout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stax_orchestrator.console import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    Output,
    literal,
    print_refusal,
)
from stax_orchestrator.context import AwsContext
from stax_orchestrator.deploy.names import FUNCTIONS
from stax_orchestrator.inputs import key_value_pairs, load_json_file, parameters

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


# -- payloads --------------------------------------------------------------------
def payload_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The workload request the ``create``/``update``/``delete`` flags describe."""
    payload: dict[str, Any] = {"operation": args.command}
    if args.command == "create":
        payload.update(
            aws_account_id=args.account_id,
            aws_region=args.region,
            catalogue_id=args.catalogue_id,
            workload_name=args.name,
            workload_parameters=parameters(args.param, args.param_file),
            workload_tags=key_value_pairs(args.tag, "--tag"),
        )
        if args.catalogue_version_id:
            payload["catalogue_version_id"] = args.catalogue_version_id
        return payload
    payload["workload_id"] = args.workload_id
    if args.command == "update":
        if args.catalogue_version_id:
            payload["catalogue_version_id"] = args.catalogue_version_id
        if args.param or args.param_file:
            payload["workload_parameters"] = parameters(args.param, args.param_file)
        if args.tag:
            payload["workload_tags"] = key_value_pairs(args.tag, "--tag")
        if args.protection is not None:
            payload["protection"] = args.protection
    return payload


def validate_locally(payload: Any, out: Output) -> dict[str, Any]:
    """The same validation as the ``validate_input`` Lambda; nothing starts on failure."""
    from chalicelib.errors import InvalidWorkloadRequest
    from chalicelib.validation import load_workload_request

    try:
        return load_workload_request(payload)
    except InvalidWorkloadRequest as error:
        print_refusal(error, "invalid request", out)
        raise SystemExit(EXIT_INVALID) from None


# -- following -------------------------------------------------------------------
def _line(progress: Any) -> str:
    task = f"task={progress.task_status}" if progress.task_status else "task=-"
    return (
        f"{progress.elapsed_seconds():7.1f}s  {progress.state or 'starting':<28} "
        f"{task:<16} polls={progress.polls}"
    )


@contextlib.contextmanager
def _display(out: Output) -> Iterator[Any]:
    """A callback that shows progress: a live panel on a terminal, lines otherwise."""
    if out.as_json:
        yield lambda progress: None
        return
    if not out.live:
        last: list[tuple[Any, ...]] = []

        def plain(progress: Any) -> None:
            key = (progress.state, progress.task_status, progress.polls, progress.status)
            if not last or last[-1] != key:
                last.append(key)
                out.say(_line(progress))

        yield plain
        return
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.table import Table

    def view(progress: Any) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            Spinner("dots"),
            f"[bold]{literal(progress.operation or 'operation')}[/] "
            f"{literal(progress.workload_name or progress.workload_id or '')}",
        )
        grid.add_row("", f"state      [cyan]{literal(progress.state or 'starting')}[/]")
        grid.add_row(
            "",
            f"Stax task  [magenta]{literal(progress.task_status or '-')}[/]  "
            f"polls {progress.polls}",
        )
        grid.add_row("", f"elapsed    {progress.elapsed_seconds():.1f}s")
        return grid

    with Live(console=out.console, refresh_per_second=8, transient=True) as live:
        yield lambda progress: live.update(view(progress))


def report(progress: Any, out: Output) -> int:
    """Print the end of an execution; returns the exit code."""
    if out.as_json:
        out.json(progress.as_dict())
        return EXIT_OK if progress.status == "SUCCEEDED" else EXIT_FAILED
    from rich.table import Table

    duration = progress.elapsed_seconds()
    if progress.status == "SUCCEEDED":
        out.console.print(
            f"[bold green]✔ {literal(progress.operation)} succeeded[/] in {duration:.1f}s"
        )
        table = Table(show_header=False, box=None, padding=(0, 2))
        for label, value in (
            ("workload id", progress.workload_id),
            ("workload name", progress.workload_name),
            ("task id", progress.task_id),
            ("task polls", progress.polls),
            ("execution", progress.execution_arn),
        ):
            table.add_row(label, literal(value))
        out.console.print(table)
        return EXIT_OK
    out.console.print(
        f"[bold red]✘ {literal(progress.operation or 'operation')} {literal(progress.status)}[/] "
        f"after {duration:.1f}s: "
        f"[bold]{literal(progress.error or progress.status)}[/]"
    )
    cause = progress.cause_details()
    if cause:
        for key, value in cause.items():
            if key in ("logs_tail", "error"):
                continue
            shown = value if isinstance(value, str) else json.dumps(value)
            out.console.print(f"  {key}: {shown}", markup=False)
    elif progress.cause:
        out.console.print(f"  {progress.cause}", markup=False)
    if progress.logs_tail:
        out.console.print("  Stax task log (last lines):")
        for line in progress.logs_tail[-10:]:
            out.console.print(f"    {line}", markup=False)
    out.console.print(f"  execution: {progress.execution_arn}", markup=False)
    return EXIT_FAILED


def follow_execution(sfn: Any, arn: str, out: Output, interval: float) -> int:
    from stax_orchestrator.follow import follow

    with _display(out) as show:
        progress = follow(sfn, arn, show, interval=interval)
    return report(progress, out)


# -- commands --------------------------------------------------------------------
def cmd_start(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    payload = load_json_file(args.payload) if args.command == "run" else payload_from_flags(args)
    request = validate_locally(payload, out)
    arn = context.state_machine_arn("workload", args.state_machine_arn)
    sfn = context.client_for("stepfunctions", arn)
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(payload)}
    if args.execution_name:
        kwargs["name"] = args.execution_name
    execution = sfn.start_execution(**kwargs)["executionArn"]
    if args.no_wait:
        if out.as_json:
            out.json(
                {"execution_arn": execution, "status": "RUNNING", "operation": request["operation"]}
            )
        else:
            print(execution, file=out.stream)
        return EXIT_OK
    out.say(f"started {request['operation']}: {execution}")
    return follow_execution(sfn, execution, out, args.interval)


def cmd_watch(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    sfn = context.client_for("stepfunctions", args.execution_arn)
    return follow_execution(sfn, args.execution_arn, out, args.interval)


def list_rows(sfn: Any, machine: str, limit: int, status: str | None) -> list[dict[str, Any]]:
    """The ``limit`` newest executions of ``machine`` (all pages up to it), described
    concurrently, newest first."""
    from stax_orchestrator.follow import newest_executions

    described_all = newest_executions(
        sfn, machine, limit, status,
        lambda e: (e, sfn.describe_execution(executionArn=e["executionArn"])),
    )  # fmt: skip
    rows = []
    for execution, described in described_all:
        request = json.loads(described.get("input") or "{}")
        succeeded = described["status"] == "SUCCEEDED"
        output = json.loads(described.get("output") or "null") if succeeded else None
        output = output if isinstance(output, dict) else {}
        start, stop = described["startDate"], described.get("stopDate")
        mapping = isinstance(request, dict)
        rows.append(
            {
                "execution_arn": execution["executionArn"],
                "name": execution["name"],
                "operation": request.get("operation") if mapping else None,
                "workload": (
                    output.get("workload_name")
                    or request.get("workload_name")
                    or request.get("workload_id")
                )
                if mapping
                else None,
                "status": described["status"],
                "error": described.get("error"),
                "started": start.isoformat(),
                "duration_seconds": round((stop - start).total_seconds(), 1) if stop else None,
            }
        )
    return rows


def cmd_list(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    machine = context.state_machine_arn("workload", args.state_machine_arn)
    rows = list_rows(context.client_for("stepfunctions", machine), machine, args.limit, args.status)
    if out.as_json:
        out.json(rows)
        return EXIT_OK
    from rich.table import Table

    table = Table(title="recent workload operations")
    for column in ("started", "operation", "workload", "status", "duration", "execution"):
        table.add_column(column)
    for row in rows:
        status = row["status"] + (f" ({row['error']})" if row["error"] else "")
        duration = "-" if row["duration_seconds"] is None else f"{row['duration_seconds']}s"
        table.add_row(
            row["started"][:19],
            literal(row["operation"]),
            literal(row["workload"]),
            literal(status),
            duration,
            literal(row["name"]),
        )
    out.console.print(table)
    return EXIT_OK


def cmd_history(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from stax_orchestrator.follow import child_execution_arn, execution_history, state_timings

    sfn = context.client_for("stepfunctions", args.execution_arn)
    events = execution_history(sfn, args.execution_arn)
    rows = state_timings(events)
    child = child_execution_arn(events)
    child_rows = state_timings(execution_history(sfn, child)) if child else []
    if out.as_json:
        out.json(
            {
                "execution_arn": args.execution_arn,
                "states": rows,
                "task_watcher": {"execution_arn": child, "states": child_rows},
            }
        )
        return EXIT_OK
    from rich.table import Table

    for title, items in (("workload execution", rows), ("task watcher", child_rows)):
        if not items:
            continue
        table = Table(title=title)
        for column in ("+s", "state", "seconds", "result"):
            table.add_column(column, justify="right" if column in ("+s", "seconds") else "left")
        for row in items:
            seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
            table.add_row(
                f"{row['entered']:.2f}", literal(row["state"]), seconds, literal(row["result"])
            )
        out.console.print(table)
    return EXIT_OK


def _chalice_project(project_dir: str | None) -> Path:
    """The Chalice project ``invoke`` runs (``--project-dir``, default: here).

    Raises:
        CliError: it is not the orchestrator's project, or Chalice is not installed.
    """
    project = Path(project_dir or os.getcwd()).resolve()
    if not (project / "app.py").is_file() or not (project / ".chalice" / "config.json").is_file():
        raise CliError(
            f"{project} is not the orchestrator's Chalice project (no app.py and "
            ".chalice/config.json): invoke runs a Lambda of the project's own code; run it "
            "in a checkout, or pass --project-dir CHECKOUT",
            EXIT_CONFIG,
        )
    try:
        import chalice.test  # noqa: F401 - only to say so when it is missing
    except ImportError:
        raise CliError(
            "invoke needs Chalice, a development tool the installed CLI does not carry: "
            "run the checkout's .venv/bin/stax-orchestrator, or pip install chalice",
            EXIT_CONFIG,
        ) from None
    return project


def cmd_invoke(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    project = _chalice_project(args.project_dir)
    event = load_json_file(args.event)
    from chalice.test import Client

    from chalicelib.errors import OrchestratorError

    sys.path.insert(0, str(project))
    import app as chalice_app  # the project's own app.py

    try:
        with Client(chalice_app.app, stage_name=context.stage, project_dir=str(project)) as client:
            result = client.lambda_.invoke(args.function, event)
    except OrchestratorError as error:
        if out.as_json:
            out.json({"errorType": type(error).__name__, "error": error.as_dict()})
        else:
            out.console.print(f"[bold red]✘ {type(error).__name__}[/]")
            out.console.print(json.dumps(error.as_dict(), indent=2), markup=False)
        return EXIT_FAILED
    out.json(result.payload)
    return EXIT_OK


# -- the parser ------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _values_options(parser: argparse.ArgumentParser) -> None:
    """``--param``, ``--param-file`` and ``--tag`` of create and update."""
    parser.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="a workload parameter (repeatable)"
    )
    parser.add_argument(
        "--param-file",
        metavar="FILE",
        help="workload parameters from a JSON object file (- for stdin), so values stay out "
        "of the shell's history",
    )
    parser.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the workload commands to the top-level subparsers."""

    def starter(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.add_argument(
            "--state-machine-arn", help="the workload state machine (default: the stage's)"
        )
        p.add_argument("--no-wait", action="store_true", help="print the execution ARN and return")
        p.add_argument(
            "--execution-name", help="a name for the execution (unique per state machine)"
        )
        p.add_argument(
            "--interval", type=float, default=1.0, help="seconds between looks (default 1)"
        )
        p.set_defaults(handler=cmd_start)
        return p

    run = starter("run", "start an operation from a payload file (- for stdin) and follow it")
    run.add_argument("payload", help="the workload request (JSON file; - for stdin)")

    create = starter("create", "create a workload")
    create.add_argument(
        "--account-id",
        required=True,
        help="the account: its Stax id (UUID) or its 12-digit AWS account number",
    )
    create.add_argument(
        "--region", required=True, help="the workload's AWS region, e.g. ap-southeast-2"
    )
    create.add_argument("--catalogue-id", required=True, help="the catalogue item (UUID)")
    create.add_argument(
        "--catalogue-version-id", help="the version (UUID; without it, Stax's default)"
    )
    create.add_argument("--name", required=True, help="workload name")
    _values_options(create)

    update = starter("update", "update a workload")
    update.add_argument("--workload-id", required=True, help="the workload (UUID)")
    update.add_argument("--catalogue-version-id", help="move the workload to this version (UUID)")
    _values_options(update)
    update.add_argument(
        "--protection",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="turn Stax's deletion protection of the workload on or off",
    )

    delete = starter("delete", "delete a workload")
    delete.add_argument("--workload-id", required=True, help="the workload (UUID)")

    watch = sub.add_parser("watch", parents=[common], help="follow an existing execution")
    watch.add_argument("execution_arn", help="the execution's ARN")
    watch.add_argument(
        "--interval", type=float, default=1.0, help="seconds between looks (default 1)"
    )
    watch.set_defaults(handler=cmd_watch)

    listing = sub.add_parser(
        "list",
        parents=[common],
        help="recent workload operations",
        description="The stage's recent workload executions, newest first.",
    )
    listing.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    listing.add_argument("--status", choices=STATUSES, help="only executions of this status")
    listing.add_argument(
        "--state-machine-arn", help="the workload state machine (default: the stage's)"
    )
    listing.set_defaults(handler=cmd_list)

    hist = sub.add_parser(
        "history",
        parents=[common],
        help="states an execution entered, with timings",
        description="The states an execution entered, in order, with how long each took.",
    )
    hist.add_argument("execution_arn", help="the execution's ARN")
    hist.set_defaults(handler=cmd_history)

    invoke = sub.add_parser(
        "invoke",
        parents=[common],
        help="run one Lambda in-process (chalice.test.Client; needs the checkout)",
    )
    invoke.add_argument("function", choices=FUNCTIONS, help="the Lambda to invoke")
    invoke.add_argument("event", help="event JSON file (- for stdin)")
    invoke.add_argument(
        "--project-dir", help="the orchestrator's checkout (default: the current directory)"
    )
    invoke.set_defaults(handler=cmd_invoke)
