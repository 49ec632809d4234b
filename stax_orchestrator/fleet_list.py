"""``stax-orchestrator fleet list``: the stage's recent fleets, each with its counters.

Role: an inventory of fleets. The fleet machine's executions (newest first), each described
with its Map Run's item counts (``ListMapRuns`` / ``DescribeMapRun``, the CLI user's calls,
as ``fleet run`` follows them) or, for a fleet that ran no target, its summary. The calls
of the executions listed run a few at a time (``follow.newest_executions``, as ``list``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from stax_orchestrator.console import EXIT_OK, Output, literal
from stax_orchestrator.context import AwsContext
from stax_orchestrator.follow import newest_executions

COUNTERS = ("total", "succeeded", "failed", "aborted", "running", "pending")


def _counts(sfn: Any, execution_arn: str, output: Any) -> dict[str, int | None]:
    """The Map Run's item counts; for a fleet without one, its summary's."""
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns") or []
    if runs:
        counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts") or {}
        found = {key: counts.get(key) for key in COUNTERS}
        found["failed"] = (counts.get("failed") or 0) + (counts.get("timedOut") or 0)
        return found
    summary = output.get("summary") if isinstance(output, dict) else None
    summary = summary if isinstance(summary, dict) else {}
    return {key: summary.get(key) for key in COUNTERS}


def fleet_row(sfn: Any, execution: dict[str, Any]) -> dict[str, Any]:
    """One fleet: what it was asked, where it stands, its counters."""
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    request = json.loads(described.get("input") or "null")
    output = json.loads(described.get("output") or "null")
    start, stop = described["startDate"], described.get("stopDate")
    return {
        "fleet": execution["name"],
        "execution_arn": execution["executionArn"],
        "operation": request.get("operation") if isinstance(request, dict) else None,
        "status": described["status"],
        "error": described.get("error"),
        "started": start.isoformat(),
        "duration_seconds": round((stop - start).total_seconds(), 1) if stop else None,
        **_counts(sfn, execution["executionArn"], output),
    }


def fleet_rows(sfn: Any, machine: str, limit: int, status: str | None) -> list[dict[str, Any]]:
    """The ``limit`` newest fleets of ``machine``, newest first."""
    return newest_executions(sfn, machine, limit, status, lambda e: fleet_row(sfn, e))


def cmd_list(args: argparse.Namespace, context: AwsContext, out: Output) -> int:
    machine = context.state_machine_arn("fleet")
    rows = fleet_rows(context.client_for("stepfunctions", machine), machine, args.limit,
                      args.status)  # fmt: skip
    if out.as_json:
        out.json(rows)
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"fleets of stage {context.stage}")
    for column in ("fleet", "operation", "status", *COUNTERS[:4], "started", "seconds"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            literal(row["fleet"]), literal(row["operation"] or "?"), literal(row["status"]),
            *(str(row[k]) if row[k] is not None else "-" for k in COUNTERS[:4]),
            row["started"][:19], str(row["duration_seconds"] or "-"),
        )  # fmt: skip
    out.console.print(table)
    return EXIT_OK


def register(fleet_sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``fleet list`` to the fleet subcommands."""
    listing = fleet_sub.add_parser(
        "list", parents=[common], help="the stage's recent fleets, with their counters"
    )
    listing.add_argument("--limit", type=int, default=20, help="how many fleets (default 20)")
    listing.add_argument(
        "--status",
        choices=("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"),
        help="only fleets with this status",
    )
    listing.set_defaults(handler=cmd_list)
