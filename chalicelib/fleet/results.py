"""Fleet results: one item per target in the coordination store, and the fleet's summary.

Role: the record_fleet_target and summarise_fleet Lambdas' use cases, and the reading side
the CLI uses (``fleet results``). Every target's outcome lives outside the execution's
state, in the stage's coordination table: partition ``fleet#<fleet id>``, sort key
``target#<index>`` (and, for a failed target, a copy under ``failed#<index>`` so the
failures can be read alone while a fleet runs), expiring after ``RESULT_DAYS``.

A result holds the target, its status (SUCCEEDED, FAILED, ALREADY_DONE, NOT_STARTED,
ABORTED), the workload and task ids, the error and a cause cut to ``MAX_CAUSE_BYTES``, and
the duration. The fleet machine marks each target ``started#<index>`` (a DynamoDB PutItem
of its own) before the target's workload operation starts, so a fleet the Map stopped --
the tolerance crossed, targets still running are aborted -- tells a target that never
started (NOT_STARTED) from one stopped while it ran (ABORTED: its workload operation may
have reached Stax; re-running the fleet is safe, creates are exactly-once).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from chalicelib.coordination import CoordinationStore
from chalicelib.errors import FleetHalted
from chalicelib.logs import log_event

SUCCEEDED, FAILED, ALREADY_DONE = "SUCCEEDED", "FAILED", "ALREADY_DONE"
NOT_STARTED, ABORTED = "NOT_STARTED", "ABORTED"
STATUSES = (SUCCEEDED, FAILED, ALREADY_DONE, NOT_STARTED, ABORTED)
#: The detail an ABORTED result carries.
ABORTED_DETAIL = (
    "stopped while it ran (the fleet ended); its workload operation may have reached Stax: "
    "run the same fleet request again to finish it (done targets are skipped, creates are "
    "exactly-once)"
)
#: A target's cause, as kept: UTF-8 bytes of its JSON.
MAX_CAUSE_BYTES = 4096
LOG_LINES_KEPT = 5
#: Results expire (DynamoDB TTL on ``expires_at``) this many days after they are written.
RESULT_DAYS = 90
#: The failed targets a fleet's own failure cause names, within this many bytes (the
#: fleet's state stays under 8 KiB, whatever the number of targets).
CAUSE_TARGETS = 20
MAX_FLEET_CAUSE_BYTES = 5 * 1024
#: What the Map's Catch leaves when the Map ended by tolerance.
TOLERANCE_ERROR = "States.ExceedToleratedFailureThreshold"
#: The error of a fleet that halted between canary stages (``chalicelib.fleet.stages``).
HALTED_ERROR = FleetHalted.__name__


def partition(fleet_id: str) -> str:
    return f"fleet#{fleet_id}"


def _sort_key(kind: str, index: int) -> str:
    return f"{kind}#{index:06d}"


def _cap(value: Any, limit: int = MAX_CAUSE_BYTES) -> Any:
    """A cause small enough to keep: its message, ids and last log lines, cut in bytes."""
    if isinstance(value, Mapping):
        brief = {
            key: value[key]
            for key in ("error", "message", "workload_id", "task_id", "status", "errors",
                        "stax_error", "hint", "claimed_by", "owner")
            if key in value
        }  # fmt: skip
        if value.get("logs_tail"):
            brief["logs_tail"] = [str(line)[:500] for line in value["logs_tail"][-LOG_LINES_KEPT:]]
        while len(json.dumps(brief).encode()) > limit and brief.get("logs_tail"):
            brief["logs_tail"] = brief["logs_tail"][1:]
        text = json.dumps(brief)
        return (
            brief if len(text.encode()) <= limit else text.encode()[:limit].decode(errors="ignore")
        )
    text = str(value or "")
    return text.encode()[:limit].decode(errors="ignore")


def _decode(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def child_failure(failure: Mapping[str, Any]) -> tuple[str, Any]:
    """The workload execution's own error and cause. Step Functions reports a failed child
    as States.TaskFailed whose cause describes the child; Lambda errors wrap ours."""
    error, cause = str(failure.get("Error") or "Unknown"), _decode(failure.get("Cause"))
    if error == "States.TaskFailed" and isinstance(cause, Mapping) and cause.get("Error"):
        error, cause = str(cause["Error"]), _decode(cause.get("Cause"))
    if isinstance(cause, Mapping) and isinstance(cause.get("errorMessage"), str):
        inner = _decode(cause["errorMessage"])
        cause = inner if isinstance(inner, Mapping) else cause["errorMessage"]
    return error, cause


def result_item(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result as stored (the target and cause as JSON text)."""
    return {
        "index": int(result["index"]),
        "status": result["status"],
        "target": json.dumps(result.get("target") or {}, separators=(",", ":")),
        "workload_id": result.get("workload_id"),
        "task_id": result.get("task_id"),
        "error": result.get("error"),
        "cause": None if result.get("cause") is None else json.dumps(result["cause"]),
        "detail": result.get("detail"),
        "duration_seconds": result.get("duration_seconds"),
        "execution_name": result.get("execution_name"),
        "finished_at": result.get("finished_at"),
        "expires_at": int(time.time()) + RESULT_DAYS * 86_400,
    }


def put_results(store: CoordinationStore, fleet_id: str, items: Iterable[Mapping[str, Any]]):
    """Write results (a failed one twice: under target# and failed#)."""
    rows = []
    for item in items:
        rows.append((_sort_key("target", item["index"]), item))
        if item["status"] == FAILED:
            rows.append((_sort_key("failed", item["index"]), item))
    store.put_items(partition(fleet_id), rows)


def started_indexes(store: CoordinationStore, fleet_id: str) -> set[int]:
    """The targets the fleet machine marked started (``started#<index>``)."""
    found = set()
    for row in store.query(partition(fleet_id), sort_prefix="started#"):
        try:
            found.add(int(str(row["sk"]).split("#", 1)[1]))
        except (KeyError, IndexError, ValueError):
            continue  # not a marker of ours
    return found


def _seconds(started: Any, finished: float) -> float | None:
    from chalicelib.ownership import timestamp

    start = timestamp(started)
    return None if start is None else round(max(0.0, finished - start), 3)


def record_target(
    event: Mapping[str, Any], store: CoordinationStore, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """Record one target's outcome; returns ``{}`` (the Map keeps no result per item).

    ``event``: ``{"fleet_id", "item": {index, target, execution_name}, "status",
    "output" | "failure", "started_at"}`` from the fleet machine's item processor.

    Raises:
        CoordinationUnavailable: the store could not be written (retried).
    """
    from datetime import UTC, datetime

    item, now = event["item"], clock()
    result: dict[str, Any] = {
        "index": item["index"],
        "target": item.get("target"),
        "status": event["status"],
        "execution_name": item.get("execution_name"),
        "duration_seconds": _seconds(event.get("started_at"), now),
        "finished_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
    }
    if event["status"] == SUCCEEDED:
        output = _decode(event.get("output")) or {}
        result["workload_id"] = output.get("workload_id") if isinstance(output, Mapping) else None
        result["task_id"] = output.get("task_id") if isinstance(output, Mapping) else None
    else:
        error, cause = child_failure(event.get("failure") or {})
        result["error"] = error
        result["cause"] = _cap(cause)
        known = cause if isinstance(cause, Mapping) else {}
        target = item.get("target") or {}
        result["workload_id"] = target.get("workload_id") or known.get("workload_id")
        result["task_id"] = known.get("task_id")
    put_results(store, event["fleet_id"], [result_item(result)])
    # One line per target: a fleet's failures are one Logs Insights query. The error's
    # class only -- a cause may carry what a Stax answer said, never a log's business.
    log_event("fleet_target_recorded", fleet_id=event["fleet_id"], index=result["index"],
              status=result["status"], duration_seconds=result["duration_seconds"],
              error=result.get("error"), workload_id=result.get("workload_id"),
              task_id=result.get("task_id"))  # fmt: skip
    return {}


def read_results(
    store: CoordinationStore, fleet_id: str, failed_only: bool = False
) -> Iterator[dict[str, Any]]:
    """Every result of a fleet, in target order (``failed_only``: the failures)."""
    prefix = "failed#" if failed_only else "target#"
    for stored in store.query(partition(fleet_id), sort_prefix=prefix):
        row = dict(stored)
        for key in ("target", "cause"):
            if isinstance(row.get(key), str):
                row[key] = _decode(row[key])
        yield row


def summarise(
    event: Mapping[str, Any], store: CoordinationStore, read_object: Callable[..., str]
) -> dict[str, Any]:
    """Count the fleet's results; mark the targets without a result ABORTED when the
    fleet machine had started them, NOT_STARTED when it had not.

    ``event``: ``{"plan": <plan_fleet's output>, "map_failure": {"Error", "Cause"},
    "map_result": {"MapRunArn", "ResultWriterDetails"}}`` (``Error`` null when the Map
    ended normally; ``map_result`` its ResultWriter's answer, nulls when it did not end).
    Returns ``{"summary", "exceeded", "error", "cause"}``: ``exceeded`` when more targets
    failed than tolerated; ``error`` a Map failure of another kind (e.g. the plan could not
    be read).

    Raises:
        CoordinationUnavailable: the store could not be read or written (retried).
    """
    plan = event["plan"]
    fleet_id = plan["fleet_id"]
    map_error = map_failure_error(event)
    stage = event.get("stage") or {}
    halt = stage.get("halt")
    manifests = manifests_run(stage, event.get("map_result"))
    results = {r["index"]: r for r in read_results(store, fleet_id)}
    if (map_error or halt) and plan["to_run"]:
        missing, started = [], started_indexes(store, fleet_id)
        for line in read_object(plan["bucket"], plan["key"], plan.get("version_id")).splitlines():
            if line.strip():
                planned = json.loads(line)
                if planned["index"] in results:
                    continue
                missing.append({"index": planned["index"], "target": planned["target"],
                                "execution_name": planned.get("execution_name")})  # fmt: skip
                if planned["index"] in started:
                    missing[-1].update(status=ABORTED, error="FleetTargetAborted",
                                       cause={"message": ABORTED_DETAIL})  # fmt: skip
                else:
                    missing[-1]["status"] = NOT_STARTED
        put_results(store, fleet_id, [result_item(m) for m in missing])
        results.update({m["index"]: m for m in missing})
    counts = Counter(r["status"] for r in results.values())
    summary = {
        "operation": plan["operation"],
        "total": plan["total"],
        "to_run": plan["to_run"],
        "already_done": counts[ALREADY_DONE],
        "succeeded": counts[SUCCEEDED],
        "failed": counts[FAILED],
        "not_started": counts[NOT_STARTED],
        "aborted": counts[ABORTED],
        "max_concurrency": plan["max_concurrency"],
        "failure_tolerance": plan["failure_tolerance"],
        "tolerated_failures": plan["tolerated_failures"],
        "results": {"table": store.table_name, "partition": partition(fleet_id)},
        # Step Functions' own record of every child (the Map's ResultWriter), when the
        # last stage's Map ended and wrote one (each stage's below).
        "execution_records": stage_manifest(stage, event.get("map_result")),
        "stages": {
            "planned": len(plan.get("stages") or [None]),
            "run": stages_run(stage, event),
            "execution_records": manifests,
            "halted": halt,
        },
    }
    if halt:
        log_event("fleet_summarised", fleet_id=fleet_id, halted=True, **{k: summary[k] for k in
                  ("succeeded", "failed", "not_started", "aborted", "already_done")})  # fmt: skip
        return {"summary": summary, "exceeded": False, "error": HALTED_ERROR,
                "cause": _halt_cause(halt, summary)}  # fmt: skip
    exceeded = map_error == TOLERANCE_ERROR or counts[FAILED] > plan["tolerated_failures"]
    failing = exceeded or bool(map_error)
    log_event("fleet_summarised", fleet_id=fleet_id, **{k: summary[k] for k in
              ("succeeded", "failed", "not_started", "aborted", "already_done")})  # fmt: skip
    return {
        "summary": summary,
        "exceeded": exceeded,
        "error": None if exceeded or not map_error else map_error,
        # Only a failing fleet needs a cause (its Fail state's), and it stays small.
        "cause": _fleet_cause(plan, summary, results, map_error) if failing else None,
    }


def manifest_location(map_result: Any) -> str | None:
    """``s3://bucket/key`` of the ResultWriter's manifest in the Map's result, or None."""
    details = map_result.get("ResultWriterDetails") if isinstance(map_result, Mapping) else None
    if isinstance(details, Mapping) and details.get("Bucket") and details.get("Key"):
        return f"s3://{details['Bucket']}/{details['Key']}"
    return None


def stage_manifest(stage: Mapping[str, Any], map_result: Any) -> str | None:
    """The ResultWriter manifest in ``map_result`` when it is ``stage``'s own (under its
    ``results_prefix``: the ResultWriter writes ``<Prefix>/<map run id>/manifest.json``),
    else None: a Map that failed leaves the result of the run before it in the state."""
    location = manifest_location(map_result)
    prefix = str(stage.get("results_prefix") or "").strip("/")
    key = (location or "").removeprefix("s3://").partition("/")[2]
    return location if location and prefix and key.startswith(f"{prefix}/") else None


def manifests_run(stage: Mapping[str, Any], map_result: Any) -> list[Any]:
    """The ResultWriter manifests of the fleet's Map runs so far: the stage's list and this
    stage's own (:func:`stage_manifest`), once. ``Next Stage`` adds each stage's; a last
    stage that went straight to the summary has not had its own added."""
    manifests = list(stage.get("manifests") or [])
    location = stage_manifest(stage, map_result)
    if location and location not in manifests:
        manifests.append(location)
    return manifests


def map_failure_error(event: Mapping[str, Any]) -> str | None:
    """The error of the Map's failure the machine passed (``map_failure``), if any."""
    return (event.get("map_failure") or {}).get("Error")


def stages_run(stage: Mapping[str, Any], event: Mapping[str, Any]) -> int:
    """How many stages started a Map run: those before ``stage`` and ``stage`` itself
    when its Map ran (a result or a failure of it in the state)."""
    index = int(stage.get("index", -1))
    ran = bool((event.get("map_result") or {}).get("MapRunArn") or map_failure_error(event))
    return index + 1 if index >= 0 and ran else max(index, 0)


def _fleet_cause(
    plan: Mapping[str, Any],
    summary: Mapping[str, Any],
    results: Mapping[int, Mapping[str, Any]],
    map_error: str | None,
) -> str:
    """The failed fleet's cause: the summary and as many failed targets as fit
    ``MAX_FLEET_CAUSE_BYTES`` (all of them are in the results)."""
    failed = [r for _, r in sorted(results.items()) if r["status"] == FAILED]
    cause: dict[str, Any] = {
        "message": (
            f"{summary['failed']} of {plan['to_run']} targets failed; "
            f"{plan['tolerated_failures']} tolerated"
        ),
        "summary": summary,
        "map_error": map_error,
        "failed_targets": [],
        "hint": "Fix the failed targets, then run the same fleet request again: "
        "done targets are skipped. All results: stax-orchestrator fleet results EXECUTION.",
    }
    for result in failed[:CAUSE_TARGETS]:
        brief = {
            "index": result["index"],
            "target": result.get("target"),
            "error": result.get("error"),
            "cause": _cap(result.get("cause"), 400),
        }
        cause["failed_targets"].append(brief)
        if len(json.dumps(cause, default=str).encode()) > MAX_FLEET_CAUSE_BYTES:
            cause["failed_targets"].pop()
            break
    cause["failed_targets_not_shown"] = len(failed) - len(cause["failed_targets"])
    return json.dumps(cause, default=str)


def _halt_cause(halt: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """The cause of a fleet that halted: which stage, why, what it left, how to resume."""
    return json.dumps(
        {
            "message": (
                f"halted before stage {halt['before_stage']} of {halt['of']}: {halt['reason']}; "
                f"{halt['untouched_targets']} target(s) left untouched"
            ),
            "halt": dict(halt),
            "summary": dict(summary),
            "hint": f"Fix what halted it, then resume: {halt['resume']} (done targets are "
            "skipped; a baseline's fleet resumes with `stax-orchestrator apply` again).",
        },
        default=str,
    )
