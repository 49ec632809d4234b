"""``fleet run|rollout --dry-run``: what a fleet would do, target by target; nothing starts.

Role: the fleet's preview. The request is validated as the plan Lambda validates it, then
planned in-process with the stage's token exactly as the plan Lambda plans it (a create's
targets whose workload already lives are done; a rollout lists the live workloads of the
catalogue item), and printed: each target that would run with what it would do, each
target already done with why, and how many failures the fleet would tolerate. No execution
starts, nothing is written to S3 or to the coordination table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stax_orchestrator.console import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    Output,
    literal,
    print_refusal,
)


def _what(item: Mapping[str, Any], operation: str) -> str:
    request = item.get("request") or {}
    kind = request.get("operation") or operation
    version = request.get("catalogue_version_id")
    return f"{kind} (version {version})" if version and kind != "delete" else str(kind)


def dry_run(fleet: Mapping[str, Any], context: Any, out: Output) -> int:
    """Print the fleet's plan; the exit code (0: planned, nothing started)."""
    from chalicelib.errors import InvalidFleetRequest, OrchestratorError
    from chalicelib.fleet.planning import runnable_and_done, target_of, tolerated_failures
    from chalicelib.validation.stages import stage_ends

    try:
        runnable, done = runnable_and_done(fleet, context.stax_access())
    except InvalidFleetRequest as error:
        print_refusal(error, "invalid fleet request", out)
        return EXIT_INVALID
    except OrchestratorError as error:
        out.error(f"{type(error).__name__}: {error}")
        return EXIT_FAILED
    operation = str(fleet["operation"])
    tolerated = tolerated_failures(fleet["failure_tolerance"], len(runnable))
    to_run = [
        {"index": item["index"], "will": _what(item, operation),
         "target": target_of(item["request"], item.get("target"))}
        for item in runnable
    ]  # fmt: skip
    already = [{"index": d["index"], "target": d["target"], "detail": d["detail"]} for d in done]
    stages = stage_ends(fleet.get("stages") or ["100%"], len(runnable))
    if out.as_json:
        out.json({"dry_run": True, "operation": operation, "to_run": to_run,
                  "already_done": already, "max_concurrency": fleet["max_concurrency"],
                  "tolerated_failures": tolerated, "stages": stages,
                  "halt_on_alarms": fleet.get("halt_on_alarms") or [],
                  "started": False})  # fmt: skip
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"fleet {operation} (dry run)")
    for column in ("#", "will", "account", "region", "workload"):
        table.add_column(column)
    rows = [(r["index"], r["will"], r["target"]) for r in to_run]
    rows += [(d["index"], f"nothing: {d['detail']}", d["target"]) for d in already]
    for index, will, target in sorted(rows, key=lambda r: r[0]):
        table.add_row(
            str(index),
            literal(will),
            literal(target.get("aws_account_id")),
            literal(target.get("aws_region")),
            literal(target.get("workload_name") or target.get("workload_id")),
        )
    if rows:
        out.console.print(table)
    out.say(
        f"Dry run: {len(to_run)} target(s) would run ({fleet['max_concurrency']} at a time), "
        f"{len(already)} already done; the fleet would tolerate {tolerated} failure(s). "
        + (
            f"In {len(stages)} stages, ending after target {', '.join(map(str, stages))}"
            + (f", halting on alarm(s) {', '.join(fleet['halt_on_alarms'])}. "
               if fleet.get("halt_on_alarms") else ". ")
            if len(stages) > 1 else ""
        )
        + "Nothing was started."
    )  # fmt: skip
    return EXIT_OK
