"""Fleet operations: one request runs a workload operation on many targets.

Role: the use cases behind the fleet state machine (``statemachines/fleet.asl.json``):

- ``plan``: validates the whole fleet request up front (every target, all errors at
  once, at most ``MAX_TARGETS``), expands it into one seed-shaped workload request per
  target (each checked by the same rules as ``validate_input``), finds the workloads of
  a rollout (``ReadWorkloads(catalogue_ids=...)``, paged), marks targets that are
  already done (a re-run after a partial failure skips them), and cuts the rest into
  waves of ``max_concurrency``.
- ``record_wave``: folds one wave's results into the fleet state and decides whether
  the failure tolerance is exceeded (then no further wave starts).

Targets run in waves: at most ``max_concurrency`` workload executions at once, and a
wave starts only when the previous one has ended, so a tolerance breach stops the fleet
with the running targets finished and no new one started.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from marshmallow import ValidationError

from chalicelib.errors import (
    FleetFailureToleranceExceeded,
    InvalidFleetRequest,
    InvalidWorkloadRequest,
)
from chalicelib.logs import log_event
from chalicelib.schemas import (
    MAX_WATCH_TIMEOUT_SECONDS,
    Region,
    StrictInteger,
    UuidText,
    _Problems,
    load_workload_request,
)
from chalicelib.stax import StaxAccess, is_live

#: Targets per fleet request (Step Functions' 256 KiB state must hold the plan).
MAX_TARGETS = 500
MAX_CONCURRENCY = 20
DEFAULT_CONCURRENCY = 5
#: Serialised fleet request.
MAX_FLEET_REQUEST_BYTES = 200 * 1024
#: What of a target's error cause the fleet output keeps (the state holds 500 targets).
MAX_CAUSE_CHARS = 600
LOG_LINES_KEPT = 3
FLEET_OPERATIONS = ("create", "rollout", "delete")
#: Workloads a rollout updates: the live ones, and those whose last update failed.
ROLLOUT_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_FAILED", "NEW", "INITIALIZING"})
#: A create target whose workload is in one of these is done. A workload whose create
#: failed (or that is being created or deleted) is not: its target runs, and the create
#: refuses by name while that workload holds the name.
CREATED_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED"})
#: A workload on the rollout's version in one of these needs nothing more.
SETTLED_STATUSES = frozenset({"ACTIVE", "UPDATE_COMPLETE"})
#: The plan travels in the fleet execution's state (Step Functions allows 256 KiB); what
#: is left is for the per-wave results.
MAX_PLAN_BYTES = 160 * 1024
NAME_PLACEHOLDERS = ("name", "account_short", "region", "index")
#: What the plan_fleet and record_fleet_wave Lambdas return, as the fleet machine reads
#: it (``stax_orchestrator.asl_contract`` shapes: "<value>" is present, "<any>" unknown).
OUTPUT_SHAPES: dict[str, Any] = {
    "plan_fleet": {
        "summary": "<any>",
        "shared": "<any>",
        "waves": "<value>",
        "results": "<value>",
        "exceeded": "<value>",
    },
    "record_fleet_wave": {
        "summary": "<any>",
        "shared": "<any>",
        "waves": "<value>",
        "results": "<value>",
        "exceeded": "<value>",
        "failure": {"Error": "<value>", "Cause": "<value>"},
    },
}
#: Fields of a create fleet that every target shares; their errors are reported once.
_SHARED_FIELDS = ("catalogue_id", "catalogue_version_id")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TOLERANCE = re.compile(r"^(\d{1,3}(?:\.\d+)?)%$")

_FIELDS: dict[str, tuple[str, ...]] = {
    "create": (
        "catalogue_id",
        "catalogue_version_id",
        "workload_name",
        "name",
        "workload_parameters",
        "workload_tags",
        "targets",
    ),
    "rollout": ("catalogue_id", "catalogue_version_id", "accounts", "regions"),
    "delete": ("workload_ids",),
}
_COMMON = ("operation", "max_concurrency", "failure_tolerance", "watch_timeout_seconds")
_TARGET_FIELDS = (
    "aws_account_id",
    "aws_region",
    "workload_name",
    "workload_parameters",
    "workload_tags",
)


def _load(field: Any, value: Any, problems: _Problems, path: str) -> Any:
    try:
        return field.deserialize(value)
    except ValidationError as error:
        problems.merge(error, path)
        return None


def tolerated_failures(tolerance: Any, runnable: int) -> int:
    """How many targets may fail: a count, or a percentage of the targets that run."""
    if isinstance(tolerance, int):
        return tolerance
    match = _TOLERANCE.match(str(tolerance))
    assert match is not None  # validated before
    # Exact arithmetic: 29% of 100 is 29, not 28.999... floored to 28.
    return math.floor(Fraction(match.group(1)) * runnable / 100)


def _tolerance(value: Any, problems: _Problems) -> Any:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TARGETS:
        return value
    if isinstance(value, str) and (m := _TOLERANCE.match(value)) and float(m.group(1)) <= 100:
        return value
    problems.add(
        "failure_tolerance",
        f"must be a whole number of targets (0-{MAX_TARGETS}) or a percentage like '20%'",
    )
    return 0


def render_name(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}``, ``{account_short}`` (first block of the account id), ``{region}``,
    ``{index}``; an unknown placeholder stays as it is (validation names it)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _check_template(template: str, request: Mapping[str, Any], problems: _Problems) -> None:
    unknown = [p for p in _PLACEHOLDER.findall(template) if p not in NAME_PLACEHOLDERS]
    if unknown:
        problems.add(
            "workload_name",
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"use {', '.join('{' + p + '}' for p in NAME_PLACEHOLDERS)}",
        )
    if "{name}" in template and not request.get("name"):
        problems.add("name", "is required: workload_name uses {name}")


def _unknown_fields(
    request: Mapping[str, Any], allowed: tuple[str, ...], problems: _Problems
) -> None:
    for key in request:
        if key not in allowed:
            problems.add(
                str(key),
                f"unknown field; a fleet {request.get('operation')!r} accepts: "
                + ", ".join(allowed),
            )


def _list(value: Any, path: str, problems: _Problems, limit: int = MAX_TARGETS) -> list[Any]:
    if not isinstance(value, list) or not value:
        problems.add(path, "must be a non-empty list")
        return []
    if len(value) > limit:
        problems.add(
            path, f"has {len(value)} entries; at most {limit} are allowed per fleet request"
        )
        return []
    return value


def _merged(shared: Mapping[str, Any], target: Mapping[str, Any], key: str) -> Any:
    """The target's map over the shared one; a non-object is passed on for validation to name."""
    base, own = shared.get(key), target.get(key)
    if base is not None and not isinstance(base, Mapping):
        return base
    if own is not None and not isinstance(own, Mapping):
        return own
    return {**(base or {}), **(own or {})}


def _create_targets(request: Mapping[str, Any], problems: _Problems) -> list[dict[str, Any]]:
    template = request.get("workload_name")
    if not isinstance(template, str) or not template:
        problems.add(
            "workload_name",
            "is required: a name or a template like '{name}-{account_short}-{region}'",
        )
        template = ""
    _check_template(template, request, problems)
    planned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, target in enumerate(_list(request.get("targets"), "targets", problems)):
        path = f"targets[{index}]"
        if not isinstance(target, Mapping):
            problems.add(path, 'must be an object like {"aws_account_id": ..., "aws_region": ...}')
            continue
        for key in target:
            if key not in _TARGET_FIELDS:
                problems.add(
                    f"{path}.{key}", f"unknown field; a target accepts: {', '.join(_TARGET_FIELDS)}"
                )
        account = str(target.get("aws_account_id", ""))
        name = target.get("workload_name") or render_name(
            template,
            {
                "name": request.get("name", ""),
                "account_short": account.split("-", 1)[0].lower(),
                "region": target.get("aws_region", ""),
                "index": index,
            },
        )
        payload = {
            "operation": "create",
            "aws_account_id": target.get("aws_account_id"),
            "aws_region": target.get("aws_region"),
            "catalogue_id": request.get("catalogue_id"),
            "workload_name": name,
            "workload_parameters": _merged(request, target, "workload_parameters"),
            "workload_tags": _merged(request, target, "workload_tags"),
        }
        if request.get("catalogue_version_id"):
            payload["catalogue_version_id"] = request["catalogue_version_id"]
        if request.get("watch_timeout_seconds") is not None:
            payload["watch_timeout_seconds"] = request["watch_timeout_seconds"]
        try:
            normalised = load_workload_request(payload)
        except InvalidWorkloadRequest as error:
            # The target's problems under its own path; shared fields once, at the top.
            for field, messages in (error.details.get("errors") or {}).items():
                where = field if field in _SHARED_FIELDS else f"{path}.{field}"
                for message in messages:
                    if message not in problems.errors.get(where, []):
                        problems.add(where, message)
            continue
        if normalised["workload_name"] in seen:
            problems.add(
                f"{path}.workload_name",
                f"{normalised['workload_name']!r} is also the name of "
                f"targets[{seen[normalised['workload_name']]}]; "
                "names must be unique (add {account_short} or {region} to the template)",
            )
        seen[normalised["workload_name"]] = index
        planned.append(
            {
                "index": index,
                "target": {
                    "aws_account_id": normalised["aws_account_id"],
                    "aws_region": normalised["aws_region"],
                    "workload_name": normalised["workload_name"],
                },
                "request": normalised,
            }
        )
    return planned


def validate_fleet_request(payload: object) -> dict[str, Any]:
    """Validate a fleet request as a whole; returns it normalised with create targets expanded.

    Raises:
        InvalidFleetRequest: every problem at once, per target as ``targets[i].field``.
    """
    problems = _Problems("The fleet request", InvalidFleetRequest)
    if not isinstance(payload, Mapping):
        problems.add(
            "_schema", "must be a JSON object with an 'operation' of create, rollout or delete"
        )
        raise problems.build()
    if len(json.dumps(payload, default=str)) > MAX_FLEET_REQUEST_BYTES:
        problems.add("_schema", f"is larger than {MAX_FLEET_REQUEST_BYTES // 1024} KiB")
        raise problems.build()
    operation = payload.get("operation")
    if operation not in FLEET_OPERATIONS:
        problems.add("operation", f"is required: one of {', '.join(FLEET_OPERATIONS)}")
        raise problems.build()
    _unknown_fields(payload, _COMMON + _FIELDS[operation], problems)
    fleet: dict[str, Any] = {"operation": operation}
    concurrency = payload.get("max_concurrency", DEFAULT_CONCURRENCY)
    fleet["max_concurrency"] = _load(
        StrictInteger(minimum=1, maximum=MAX_CONCURRENCY), concurrency, problems, "max_concurrency"
    )
    fleet["failure_tolerance"] = _tolerance(payload.get("failure_tolerance"), problems)
    if payload.get("watch_timeout_seconds") is not None:
        fleet["watch_timeout_seconds"] = _load(
            StrictInteger(minimum=1, maximum=MAX_WATCH_TIMEOUT_SECONDS),
            payload["watch_timeout_seconds"],
            problems,
            "watch_timeout_seconds",
        )  # fmt: skip
    if operation == "create":
        fleet["targets"] = _create_targets(payload, problems)
    elif operation == "rollout":
        fleet["catalogue_id"] = _load(
            UuidText(required=True), payload.get("catalogue_id"), problems, "catalogue_id"
        )
        fleet["catalogue_version_id"] = _load(
            UuidText(required=True),
            payload.get("catalogue_version_id"),
            problems,
            "catalogue_version_id",
        )
        for key, field in (("accounts", UuidText()), ("regions", Region())):
            if key in payload:
                values = _list(payload[key], key, problems, limit=MAX_TARGETS)
                fleet[key] = [
                    _load(field, v, problems, f"{key}[{i}]") for i, v in enumerate(values)
                ]
    else:
        ids = _list(payload.get("workload_ids"), "workload_ids", problems)
        fleet["workload_ids"] = [
            _load(UuidText(), v, problems, f"workload_ids[{i}]") for i, v in enumerate(ids)
        ]
        if len(set(fleet["workload_ids"])) != len(fleet["workload_ids"]):
            problems.add("workload_ids", "lists a workload more than once")
    problems.raise_if_any()
    return fleet


# -- planning --------------------------------------------------------------------
#: Request fields that say which target a result is about.
TARGET_KEYS = ("workload_name", "aws_account_id", "aws_region", "workload_id")


def target_of(request: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The target a (merged) workload request is for, plus what only the plan knew."""
    return {**{k: request[k] for k in TARGET_KEYS if request.get(k)}, **(extra or {})}


def _share_common(
    items: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fields every request shares once, and per target only what differs.

    The fleet machine merges them back (``States.JsonMerge``) when the target starts,
    so the plan of 500 targets fits the execution's state.
    """
    if not items:
        return {}, []
    requests = [item["request"] for item in items]
    shared = {
        key: value
        for key, value in requests[0].items()
        if all(key in r and r[key] == value for r in requests)
    }
    compact = []
    for item in items:
        request = item["request"]
        compact.append(
            {
                "index": item["index"],
                "request": {k: v for k, v in request.items() if k not in shared},
                "target": {k: v for k, v in item["target"].items() if request.get(k) != v},
            }
        )
    return shared, compact


def _waves(planned: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [planned[i : i + size] for i in range(0, len(planned), size)]


def _done(item: Mapping[str, Any], detail: str, workload_id: str | None) -> dict[str, Any]:
    return {
        "index": item["index"],
        "target": item["target"],
        "status": "ALREADY_DONE",
        "workload_id": workload_id,
        "detail": detail,
    }


def _plan_create(
    fleet: dict[str, Any], stax: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Targets whose workload already lives (same name, same catalogue) are done already."""
    catalogue_id = fleet["targets"][0]["request"]["catalogue_id"] if fleet["targets"] else None
    live = (
        {w.get("Name"): w for w in stax.list_workloads(catalogue_ids=catalogue_id) if is_live(w)}
        if catalogue_id
        else {}
    )
    runnable, done = [], []
    for item in fleet["targets"]:
        existing = live.get(item["target"]["workload_name"])
        if (
            existing
            and existing.get("AccountId") == item["target"]["aws_account_id"]
            and existing.get("Region") == item["target"]["aws_region"]
            and existing.get("Status") in CREATED_STATUSES
        ):
            done.append(
                _done(item, f"workload exists ({existing.get('Status')})", existing.get("Id"))
            )
        else:
            runnable.append(item)
    return runnable, done


def _plan_rollout(
    fleet: dict[str, Any], stax: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    accounts = set(fleet.get("accounts") or [])
    regions = set(fleet.get("regions") or [])
    runnable, done = [], []
    workloads = [
        w for w in stax.list_workloads(catalogue_ids=fleet["catalogue_id"])
        if w.get("Status") in ROLLOUT_STATUSES and w.get("CatalogueId") == fleet["catalogue_id"]
        and (not accounts or w.get("AccountId") in accounts)
        and (not regions or w.get("Region") in regions)
    ]  # fmt: skip
    if len(workloads) > MAX_TARGETS:
        raise InvalidFleetRequest(
            f"The rollout would update {len(workloads)} workloads; "
            f"at most {MAX_TARGETS} per request",
            errors={
                "catalogue_id": [f"narrow it with 'accounts' or 'regions' (at most {MAX_TARGETS})"]
            },
        )
    for index, workload in enumerate(
        sorted(
            workloads,
            key=lambda w: (w.get("AccountId", ""), w.get("Region", ""), w.get("Name", "")),
        )
    ):
        item = {
            "index": index,
            "target": {
                "workload_id": workload["Id"],
                "workload_name": workload.get("Name"),
                "aws_account_id": workload.get("AccountId"),
                "aws_region": workload.get("Region"),
            },
            "request": {
                "operation": "update",
                "workload_id": workload["Id"],
                "catalogue_version_id": fleet["catalogue_version_id"],
                **(
                    {"watch_timeout_seconds": fleet["watch_timeout_seconds"]}
                    if fleet.get("watch_timeout_seconds")
                    else {}
                ),
            },
        }
        on_version = workload.get("CatalogueVersionId") == fleet["catalogue_version_id"]
        if on_version and workload.get("Status") in SETTLED_STATUSES:
            done.append(_done(item, "already on the version", workload["Id"]))
        else:
            runnable.append(item)
    return runnable, done


def _plan_delete(fleet: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # A workload already deleted is adopted by the delete itself (success), so every
    # id runs; nothing to look up here.
    extra = (
        {"watch_timeout_seconds": fleet["watch_timeout_seconds"]}
        if fleet.get("watch_timeout_seconds")
        else {}
    )
    return [
        {
            "index": index,
            "target": {"workload_id": workload_id},
            "request": {"operation": "delete", "workload_id": workload_id, **extra},
        }
        for index, workload_id in enumerate(fleet["workload_ids"])
    ], []


def plan(payload: object, access: StaxAccess, execution_id: str | None = None) -> dict[str, Any]:
    """Validate and expand a fleet request into waves of workload requests.

    Raises:
        InvalidFleetRequest, StaxAuthenticationFailed, StaxApiUnavailable,
        StaxCredentialsMissing.
    """
    fleet = validate_fleet_request(payload)
    operation = fleet["operation"]
    if operation == "delete":
        runnable, done = _plan_delete(fleet)
    else:
        with access.session() as stax:
            runnable, done = (_plan_create if operation == "create" else _plan_rollout)(fleet, stax)
    tolerated = tolerated_failures(fleet["failure_tolerance"], len(runnable))
    summary = {
        "operation": operation,
        "total": len(runnable) + len(done),
        "to_run": len(runnable),
        "already_done": len(done),
        "max_concurrency": fleet["max_concurrency"],
        "failure_tolerance": fleet["failure_tolerance"],
        "tolerated_failures": tolerated,
        "succeeded": 0,
        "failed": 0,
        "not_started": 0,
    }
    shared, compact = _share_common(runnable)
    planned = {
        "summary": summary,
        "shared": shared,
        "waves": _waves(compact, fleet["max_concurrency"]),
        "results": sorted(done, key=lambda r: r["index"]),
        "exceeded": False,
    }
    size = len(json.dumps(planned, separators=(",", ":")))
    if size > MAX_PLAN_BYTES:
        raise InvalidFleetRequest(
            f"The fleet plan is {size // 1024} KiB; a fleet execution holds at most "
            f"{MAX_PLAN_BYTES // 1024} KiB of plan",
            errors={"targets": ["split the request into smaller fleets (fewer targets, or "
                                "fewer shared parameters and tags)"]},
        )  # fmt: skip
    log_event("fleet_planned", execution_id=execution_id, **summary)
    return planned


def plan_event(event: object, access: StaxAccess) -> dict[str, Any]:
    """The plan_fleet Lambda's event: ``{"request", "execution_id"}`` from the fleet
    machine, or a bare fleet request (``chalice invoke``).

    Raises:
        as ``plan``.
    """
    if isinstance(event, Mapping) and "request" in event and "operation" not in event:
        return plan(event["request"], access, event.get("execution_id"))
    return plan(event, access)


# -- recording -------------------------------------------------------------------
def _child_failure(failure: Mapping[str, Any]) -> tuple[str, str]:
    """The workload execution's own error and cause (AWS wraps it in States.TaskFailed)."""
    error, cause = str(failure.get("Error") or "Unknown"), str(failure.get("Cause") or "")
    if error == "States.TaskFailed":
        try:
            described = json.loads(cause)
        except ValueError:
            described = None
        if isinstance(described, dict) and described.get("Error"):
            return str(described["Error"]), str(described.get("Cause") or "")
    return error, cause


def _brief_cause(cause: str) -> Any:
    """A target's cause, short: its message, ids and last log lines (or the text, cut)."""
    try:
        decoded = json.loads(cause)
        if isinstance(decoded, dict) and isinstance(decoded.get("errorMessage"), str):
            decoded = json.loads(decoded["errorMessage"])  # a Lambda error object
    except ValueError:
        return cause[:MAX_CAUSE_CHARS]
    if not isinstance(decoded, dict):
        return cause[:MAX_CAUSE_CHARS]
    brief = {
        key: decoded[key]
        for key in ("message", "workload_id", "task_id", "status", "errors", "stax_error")
        if key in decoded
    }
    if decoded.get("logs_tail"):
        brief["logs_tail"] = [str(line)[:200] for line in decoded["logs_tail"][-LOG_LINES_KEPT:]]
    return brief


def _seconds(started: Any, finished: Any) -> float | None:
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(finished).replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((end - start).total_seconds(), 3)


def _compact(outcome: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "index": outcome["index"],
        "target": target_of(outcome["request"], outcome.get("target")),
        "status": outcome["status"],
        "duration_seconds": _seconds(outcome.get("started"), outcome.get("finished")),
    }
    if outcome["status"] == "SUCCEEDED":
        output = outcome.get("output") or {}
        if isinstance(output, str):
            output = json.loads(output)
        result["workload_id"] = output.get("workload_id")
        result["task_id"] = output.get("task_id")
    else:
        error, cause = _child_failure(outcome.get("failure") or {})
        result["error"] = error
        result["cause"] = _brief_cause(cause)
        known = result["cause"].get("workload_id") if isinstance(result["cause"], dict) else None
        result["workload_id"] = result["target"].get("workload_id") or known
    return result


def record_wave(state: Mapping[str, Any]) -> dict[str, Any]:
    """Fold the finished wave into the fleet state; flag a breached failure tolerance."""
    waves = list(state.get("waves") or [])
    finished = [_compact(o) for o in state.get("wave_results") or []]
    results = sorted([*state.get("results", []), *finished], key=lambda r: r["index"])
    summary = dict(state["summary"])
    summary["succeeded"] = sum(r["status"] == "SUCCEEDED" for r in results)
    summary["failed"] = sum(r["status"] == "FAILED" for r in results)
    remaining = waves[1:]
    exceeded = summary["failed"] > summary["tolerated_failures"]
    shared = state.get("shared") or {}
    new_state: dict[str, Any] = {
        "summary": summary,
        "shared": shared,
        "results": results,
        "exceeded": exceeded,
        # Always present, so the machine never reads a missing path (null unless exceeded).
        "failure": {"Error": None, "Cause": None},
    }
    if exceeded:
        not_started = [
            {
                "index": item["index"],
                "target": target_of({**shared, **item["request"]}, item.get("target")),
                "status": "NOT_STARTED",
            }
            for wave in remaining
            for item in wave
        ]
        summary["not_started"] = len(not_started)
        new_state["results"] = sorted([*results, *not_started], key=lambda r: r["index"])
        new_state["waves"] = []
        error = FleetFailureToleranceExceeded(
            f"{summary['failed']} of {summary['to_run']} targets failed; "
            f"{summary['tolerated_failures']} tolerated",
            summary=summary,
            failed_targets=[r for r in results if r["status"] == "FAILED"][:20],
        )
        new_state["failure"] = {"Error": type(error).__name__, "Cause": str(error)}
    else:
        new_state["waves"] = remaining
    log_event("fleet_wave_recorded", **summary, exceeded=exceeded)
    return new_state
