"""``stax-orchestrator plan FILE`` and ``apply FILE|PLAN``: baselines against Stax.

Role: the baselines command group. ``plan`` reads a baselines file
(:mod:`chalicelib.baselines`), reads Stax in-process with the stage's token (the
context's Stax access) and prints what would change, target by target, with totals;
``--out`` saves the plan with the fingerprint of the Stax state it was computed from.
``apply`` plans a file (or takes a saved plan, refused if Stax changed since) and runs
the changes as ``apply`` fleets on the stage's fleet machine -- per baseline, deletes
first, then creates and updates -- following each live as ``fleet run`` does, then
prints a summary.

Terraform's contract. ``apply FILE`` prints the plan and asks for ``yes``; ``--auto-approve``
skips the question; without a terminal and without ``--auto-approve`` it refuses and starts
nothing. ``apply PLAN`` (a saved plan) is the approved plan: no question, refused if stale.

Exit codes. plan: 0 planned (changes or not), 1 an error (the file, Stax, a conflict), 3 an
AWS configuration problem; with ``--detailed-exitcode``: 0 no change, 2 changes, and every
error (a usage error too) is 1, as ``terraform plan -detailed-exitcode``. apply: 0 applied
(or nothing to apply), 1 a fleet failed, an error, or the question was not answered
``yes``, 2 the file or the saved plan was refused or approval was impossible (nothing was
started), 3 configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stax_orchestrator.console import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    CliError,
    Output,
    literal,
)
from stax_orchestrator.context import AwsContext

#: plan's exit code when there are changes.
EXIT_CHANGES = 2
_SYMBOLS = {
    "create": "[green]+ create[/]",
    "update": "[yellow]~ update[/]",
    "replace": "[red]-/+ replace[/]",
    "delete": "[red]- delete[/]",
    "wait": "[cyan]… wait[/]",
    "orphan": "[dim]? orphan, kept[/]",
    "noop": "[dim]= no change[/]",
    "skip": "[magenta]! account skipped[/]",
    "protected": "[magenta]! protected, kept[/]",
}


#: The biggest file ``apply`` reads to tell a saved plan from a baselines file (a saved plan
#: of 10,000 targets is a few MB; a baselines file is held to 1 MiB when it is loaded).
MAX_APPLY_FILE_BYTES = 64 * 1024 * 1024


def _read(path: str) -> str:
    """A saved plan or a baselines file, its size checked before it is read."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_APPLY_FILE_BYTES:
            raise CliError(
                f"{path} is {size:,} bytes: bigger than any saved plan or baselines file "
                f"({MAX_APPLY_FILE_BYTES // (1024 * 1024)} MiB)",
                EXIT_INVALID,
            )
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text", EXIT_INVALID) from None


def write_private(path: str, text: str) -> None:
    """Write ``text`` readable by its owner only (0600): a saved plan holds the workloads'
    parameters, which their owners may hold secret. An existing file is narrowed too."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def _read_baselines(path: str) -> str:
    """A baselines file, refused by size before it is read (``InvalidBaselines``)."""
    from chalicelib.baselines.source import read_file

    try:
        return read_file(path)
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_INVALID) from None


def _refused(error: Any, out: Output) -> None:
    """An InvalidBaselines, SavedPlanStale or a Stax error, for a person or as JSON."""
    from chalicelib.baselines import InvalidBaselines

    if out.as_json:
        out.err_json({"status": "ERROR", **error.as_dict()})
        return
    if isinstance(error, InvalidBaselines):
        out.err_console.print(f"[bold red]✘[/] {literal(error.text())}")
    else:
        out.err_console.print(
            f"[bold red]✘ {literal(type(error).__name__)}:[/] {literal(error.message)}"
        )
        for key in ("changes", "workloads"):
            for line in error.details.get(key) or []:
                out.err_console.print(f"  {literal(line)}")
    if error.hint:
        out.err_console.print(error.hint, markup=False)


def print_plan(
    plan: dict[str, Any], out: Output, *, all_rows: bool = False, max_deletes: Any = None
) -> None:
    """The plan, target by target (no-ops counted, not listed), the totals, and each
    baseline whose deletes exceed its budget (apply would refuse)."""
    from chalicelib.baselines.budget import describe, over_budget

    over = over_budget(plan, max_deletes)
    if out.as_json:
        body = {k: plan[k] for k in ("prune", "changes", "totals", "fingerprint")}
        out.json({**body, "over_deletion_budget": over})
        return
    from rich.table import Table

    rows = [c for c in plan["changes"] if all_rows or c["action"] != "noop"]
    if rows:
        table = Table(title="baselines plan")
        for column in ("action", "baseline", "account", "region", "workload", "why"):
            table.add_column(column)
        for change in rows:
            table.add_row(
                _SYMBOLS[change["action"]],
                literal(change["baseline"]),
                literal(change.get("account_name") or change.get("account_id")),
                literal(change.get("region")),
                literal(change.get("workload_name")),
                literal("; ".join(change.get("reasons") or [])),
            )
        out.console.print(table)
    totals = plan["totals"]
    out.say(
        f"Plan: {totals['create']} to create, {totals['update']} to update, "
        f"{totals['replace']} to replace, {totals['delete']} to delete, "
        f"{totals['wait']} in progress, {totals['orphan']} orphan(s) kept, "
        f"{totals['noop']} unchanged."
        + (f" {totals['protected']} protected, kept." if totals.get("protected") else "")
        + (f" {totals['skip']} account(s) skipped." if totals.get("skip") else "")
    )
    for row in over:
        out.say(f"Over the deletion budget, apply would refuse: {describe(row)}")


def plan_cache(context: AwsContext, out: Output, refresh_all: bool = False) -> Any:
    """The stage's plan cache (``chalicelib.baselines.plan_cache``) in its coordination
    table; None, with a warning, when the stage names no table. ``refresh_all``: trust
    none of it (every workload is read by id, and what is read is remembered)."""
    from chalicelib.baselines.plan_cache import PlanCache
    from chalicelib.coordination import CoordinationStore

    try:
        table = context.resources().table_name
    except CliError as error:
        table, why = None, str(error)
    else:
        why = "the stage's stack names no coordination table"
    if not table:
        out.warn(f"no plan cache ({why}): every workload is read from Stax by id")
        return None
    dynamodb = context.client("dynamodb")
    return PlanCache(CoordinationStore(lambda: dynamodb, table), warn=out.warn,
                     trust=not refresh_all)  # fmt: skip


def _plan_file(
    context: AwsContext, path: str, text: str, prune: bool, cache: Callable[[], Any]
) -> dict[str, Any]:
    """The plan of the baselines file ``path``, whose ``text`` the caller has read
    (``cache``: builds the plan cache, once the file is known to be good)."""
    from chalicelib.baselines import compute_plan, load_baselines

    baselines = load_baselines(text, path)
    with context.stax_access().session() as stax:
        return compute_plan(stax, baselines, prune=prune, secrets=context.secrets(), cache=cache())


def _narrowed(args: argparse.Namespace, plan: dict[str, Any]) -> dict[str, Any]:
    """``--baseline`` / ``--target``: the plan limited to them (InvalidBaselines: a name
    that matches nothing)."""
    from chalicelib.baselines.narrowing import narrow

    return narrow(plan, args.baseline or (), args.target or ())


def cmd_plan(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib.baselines import dumps, has_changes
    from chalicelib.errors import OrchestratorError

    try:
        text = _read_baselines(args.file)
        cache = functools.partial(plan_cache, context, out, args.refresh_all)
        plan = _narrowed(args, _plan_file(context, args.file, text, args.prune, cache))
    except OrchestratorError as error:
        _refused(error, out)
        return EXIT_FAILED
    except CliError as error:
        out.error(str(error))
        return EXIT_FAILED
    print_plan(plan, out, max_deletes=args.max_deletes)
    if args.out:
        write_private(args.out, dumps(plan))
        out.say(f"Saved the plan to {args.out} (apply it with: stax-orchestrator apply {args.out})")
    if not has_changes(plan):
        out.say("No changes: Stax matches the baselines.")
        return EXIT_OK
    return EXIT_CHANGES if args.detailed_exitcode else EXIT_OK


#: Terraform's question, word for word where it can be.
QUESTION = (
    "\nDo you want to apply these changes?\n"
    "  Only 'yes' will be accepted to approve.\n\n"
    "  Enter a value: "
)


def approval(auto_approve: bool, stdin: Any, ask: Any, out: Output) -> int | None:
    """None when the changes may be applied; otherwise the exit code (nothing started).

    ``stdin``: where the answer comes from (its ``isatty`` decides whether a person can be
    asked); ``ask``: prompts and reads one line (``input``).
    """
    if auto_approve:
        return None
    if out.as_json or not stdin.isatty():
        out.error(
            "apply needs approval and there is no terminal to ask in: review `plan`, then "
            "run apply with --auto-approve, or save the plan (plan --out PLAN) and apply "
            "that. Nothing was started."
        )
        return EXIT_INVALID
    try:
        answer = ask(QUESTION)
    except EOFError:
        answer = ""
    if answer.strip() != "yes":
        out.error("Apply cancelled: only 'yes' approves. Nothing was started.")
        return EXIT_FAILED
    return None


def _saved_plan(
    context: AwsContext, path: str, text: str, prune: bool, cache: Callable[[], Any]
) -> dict[str, Any]:
    from chalicelib.baselines import check_fresh, load_saved

    plan = load_saved(text, path)
    if prune and not plan.get("prune"):
        raise CliError(
            f"{path} was planned without --prune: plan again with --prune and apply that",
            EXIT_INVALID,
        )
    with context.stax_access().session() as stax:
        check_fresh(stax, plan, cache())
    return plan


def _execution_name(baseline: str, round_name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", baseline)[:40]
    kind = "delete" if round_name == "delete" else "write"
    return f"baseline-{safe}-{kind}-{uuid.uuid4().hex[:8]}"


def _run_fleet(
    context: AwsContext, fleet: dict[str, Any], out: Output, interval: float
) -> tuple[int, str]:
    """Start one apply fleet and follow it to its end: its exit code and ARN."""
    from stax_orchestrator.commands_fleet import follow_fleet, results_store

    machine = context.state_machine_arn("fleet")
    sfn = context.client_for("stepfunctions", machine)
    body = json.dumps(fleet["request"], ensure_ascii=False, separators=(",", ":"))
    arn = str(
        sfn.start_execution(
            stateMachineArn=machine,
            name=_execution_name(fleet["baseline"], fleet["round"]),
            input=body,
        )["executionArn"]
    )
    out.say(
        f"baseline {fleet['baseline']}: {fleet['round']} of "
        f"{len(fleet['request']['targets'])} target(s): {arn}"
    )
    store = None
    with contextlib.suppress(CliError):
        store = results_store(context, arn)
    code = follow_fleet(
        sfn,
        store,
        arn,
        operation=f"apply {fleet['baseline']} ({fleet['round']})",
        out=out,
        interval=interval,
        results_command=f"stax-orchestrator fleet results {arn}"
        + (" --local" if context.options.local else ""),
    )
    return code, arn


def _summary(rows: list[dict[str, Any]], out: Output) -> None:
    if out.as_json:
        out.json({"fleets": rows})
        return
    from rich.table import Table

    table = Table(title="apply")
    for column in ("baseline", "round", "targets", "result", "execution"):
        table.add_column(column)
    for row in rows:
        result = "[green]succeeded[/]" if row["exit_code"] == EXIT_OK else "[red]failed[/]"
        if row.get("failed_dependencies"):
            failed = ", ".join(row["failed_dependencies"])
            result = f"[dim]skipped (depends on {literal(failed)}, which failed)[/]"
        elif row.get("skipped"):
            result = "[dim]skipped (an earlier round failed)[/]"
        table.add_row(
            literal(row["baseline"]),
            literal(row["round"]),
            str(row["targets"]),
            result,
            literal(row.get("execution_arn") or ""),
        )
    out.console.print(table)


def cmd_apply(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    from chalicelib.baselines import InvalidBaselines, SavedPlanStale, fleets, is_saved_plan
    from chalicelib.errors import OrchestratorError
    from chalicelib.validation import validate_fleet_request

    text = _read(args.file)
    saved = is_saved_plan(text)
    try:
        cache = functools.partial(plan_cache, context, out, args.refresh_all)
        if saved:
            plan = _saved_plan(context, args.file, text, args.prune, cache)
        else:
            plan = _plan_file(context, args.file, text, args.prune, cache)  # held to 1 MiB
        plan = _narrowed(args, plan)
        planned = fleets(plan)
        for fleet in planned:
            validate_fleet_request(fleet["request"])
    except (InvalidBaselines, SavedPlanStale) as error:
        _refused(error, out)
        return EXIT_INVALID
    except OrchestratorError as error:
        _refused(error, out)
        return EXIT_FAILED
    if not out.as_json:
        print_plan(plan, out, max_deletes=args.max_deletes)
    if not planned:
        out.say("Nothing to apply: Stax matches the baselines.")
        if out.as_json:
            _summary([], out)
        return EXIT_OK
    refused = _cleared(plan, saved, args, out)
    if refused is not None:
        return refused
    try:
        rows = _run_fleets(context, planned, out, args.interval)
    except KeyboardInterrupt:
        out.error("interrupted: the running fleet goes on; plan again to see where Stax is")
        return EXIT_INTERRUPTED
    _summary(rows, out)
    if plan["totals"].get("wait"):
        out.say(f"{plan['totals']['wait']} target(s) were in progress: apply again once they end.")
    return EXIT_FAILED if any(r["exit_code"] != EXIT_OK for r in rows) else EXIT_OK


def _cleared(plan: dict[str, Any], saved: bool, args: argparse.Namespace, out: Output) -> Any:
    """None when the plan may run: within every deletion budget, and approved (a saved
    plan was reviewed when it was saved: it is the approval, as Terraform's); otherwise
    the exit code, nothing started."""
    from chalicelib.baselines.budget import check_budget
    from chalicelib.baselines.errors import DeletionBudgetExceeded

    try:
        check_budget(plan, args.max_deletes)
    except DeletionBudgetExceeded as error:
        _refused(error, out)
        return EXIT_INVALID
    return None if saved else approval(args.auto_approve, sys.stdin, _ask, out)


def _ask(question: str) -> str:
    """The question on stderr (stdout stays the plan's), the answer from the terminal."""
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\n")


def _run_fleets(
    context: AwsContext, planned: list[dict[str, Any]], out: Output, interval: float
) -> list[dict[str, Any]]:
    """Run the fleets in order; a baseline whose round failed runs no further round, and
    neither does a baseline that depends on it (``depends_on``, directly or not)."""
    rows: list[dict[str, Any]] = []
    failed: set[str] = set()
    # The live view is for a terminal: with --json only the summary is printed.
    follow_out = Output(False, stream=io.StringIO()) if out.as_json else out
    for fleet in planned:
        row = {
            "baseline": fleet["baseline"],
            "round": fleet["round"],
            "targets": len(fleet["request"]["targets"]),
        }
        # blocked_by (chalicelib.baselines.saved.fleets): its baseline and every baseline
        # it depends on, directly or not, from the plan's baselines.
        waits_for = sorted((set(fleet["blocked_by"]) - {fleet["baseline"]}) & failed)
        if fleet["baseline"] in failed or waits_for:
            rows.append({**row, "exit_code": EXIT_FAILED, "skipped": True,
                         **({"failed_dependencies": waits_for} if waits_for else {})})  # fmt: skip
            failed.add(fleet["baseline"])
            continue
        code, arn = _run_fleet(context, fleet, follow_out, interval)
        rows.append({**row, "exit_code": code, "execution_arn": arn})
        if code != EXIT_OK:
            failed.add(fleet["baseline"])
    return rows


def _budget(value: str) -> int | str:
    from chalicelib.baselines.budget import parse_budget

    try:
        return parse_budget(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: ``--max-deletes`` of plan and apply.
_MAX_DELETES: tuple[tuple[str, ...], dict[str, Any]] = (
    ("--max-deletes",),
    {
        "type": _budget,
        "metavar": "N|P%",
        "help": "deletes and replacements each baseline may run, a count or a share of its "
        "targets (default: the baseline's max_deletes, or 10%%)",
    },
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``plan`` and ``apply`` to the top-level subparsers."""
    plan = sub.add_parser(
        "plan",
        parents=[common],
        help="what a baselines file would change in Stax",
    )
    plan.add_argument("file", metavar="FILE", help="the baselines file (YAML)")
    plan.add_argument("--prune", action="store_true", help="plan deletes of orphaned workloads")
    plan.add_argument("--out", metavar="PLAN", help="save the plan (JSON) for apply")

    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when none, 1 on any error (as Terraform)",
    )
    plan.set_defaults(handler=cmd_plan)
    apply = sub.add_parser(
        "apply", parents=[common], help="make Stax match a baselines file (or a saved plan)"
    )
    apply.add_argument("file", metavar="FILE|PLAN", help="the baselines file, or a saved plan")
    apply.add_argument("--prune", action="store_true", help="delete orphaned workloads too")
    apply.add_argument(
        "--auto-approve",
        action="store_true",
        help="apply without asking (a saved plan is never asked about)",
    )
    apply.add_argument(
        "--interval", type=float, default=2.0, help="seconds between looks (default 2)"
    )
    for parser in (plan, apply):
        parser.add_argument(*_MAX_DELETES[0], **_MAX_DELETES[1])
        parser.add_argument(
            "--refresh-all",
            action="store_true",
            help="read every workload from Stax by id, trusting none of what the plan cache "
            "remembers of earlier plans (docs/baselines.md)",
        )
        parser.add_argument(
            "--baseline",
            action="append",
            metavar="NAME",
            help="only this baseline (repeatable)",
        )
        parser.add_argument(
            "--target",
            action="append",
            metavar="ACCOUNT[/REGION]",
            help="only this account (Stax id or name), or one of its regions (repeatable)",
        )
    apply.set_defaults(handler=cmd_apply)
