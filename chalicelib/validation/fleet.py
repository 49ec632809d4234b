"""Fleet requests: validation of the whole request before anything runs.

Role: the rules of the plan_fleet Lambda's event and of ``stax-orchestrator fleet``
(checked locally before a fleet starts). :func:`validate_fleet_request` judges a fleet
request as a whole -- every target, all problems at once, at most ``MAX_TARGETS`` -- and
expands a create fleet into one seed-shaped workload request per target, each checked by
:func:`~chalicelib.validation.workload.load_workload_request` (the ``validate_input``
rules, so CloudFormation's parameter names and byte counts apply per target).
:func:`load_fleet_event` unwraps the fleet machine's ``{"request", "execution_id"}``.
Planning (Stax look-ups, waves) is ``chalicelib.fleet``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields

from chalicelib.errors import InvalidFleetRequest, InvalidWorkloadRequest
from chalicelib.validation.fields import Region, StrictInteger, Text, UuidText
from chalicelib.validation.limits import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    MAX_EXECUTION_ID_LENGTH,
    MAX_FLEET_REQUEST_BYTES,
    MAX_TARGETS,
    MAX_WATCH_TIMEOUT_SECONDS,
    STARTED_BY_FIELD,
)
from chalicelib.validation.problems import (
    WHOLE,
    Problems,
    Shape,
    json_size,
    nesting_problem,
    segment,
)
from chalicelib.validation.stages import load_alarm_names, load_stages
from chalicelib.validation.workload import load_workload_request

FLEET_OPERATIONS = ("create", "rollout", "delete", "apply")
NAME_PLACEHOLDERS = ("name", "account_short", "region", "index")
#: ``failure_tolerance`` as a percentage ("20%", "12.5%").
TOLERANCE_PATTERN = re.compile(r"^(\d{1,3}(?:\.\d+)?)%$")
#: Fields of a create fleet that every target shares; their errors are reported once.
_SHARED_FIELDS = ("catalogue_id", "catalogue_version_id")
#: Maps a create fleet shares with its targets (a target's own entries win).
_SHARED_MAPS = ("workload_parameters", "workload_tags")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Where a big target list lives: ``s3://bucket/key`` (a .csv, .jsonl or .json file).
S3_URL = re.compile(
    r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+\.(csv|jsonl|ndjson|json))$", re.I
)

_FIELDS: dict[str, tuple[str, ...]] = {
    "create": (
        "catalogue_id",
        "catalogue_version_id",
        "workload_name",
        "name",
        "workload_parameters",
        "workload_tags",
        "targets",
        "targets_location",
    ),
    "rollout": ("catalogue_id", "catalogue_version_id", "accounts", "regions"),
    "delete": ("workload_ids",),
    # Explicit per-target workload requests (what `stax-orchestrator apply` sends for a
    # baseline): each target is a whole create, update or delete request.
    "apply": ("targets",),
}
_COMMON = (
    "operation",
    "max_concurrency",
    "failure_tolerance",
    "watch_timeout_seconds",
    "stages",
    "halt_on_alarms",
)
_TARGET_FIELDS = (
    "aws_account_id",
    "aws_region",
    "workload_name",
    "workload_parameters",
    "workload_tags",
)
_ENTRIES: Shape = {str: None}
#: The fields of a fleet request, for naming where it nests too deeply.
FLEET_SHAPE: Shape = {
    "targets": {
        int: {"workload_parameters": _ENTRIES, "workload_tags": _ENTRIES, str: None},
    },
    "accounts": {int: None},
    "regions": {int: None},
    "workload_ids": {int: None},
    "stages": {int: None},
    "halt_on_alarms": {int: None},
    "workload_parameters": _ENTRIES,
    "workload_tags": _ENTRIES,
    str: None,
}


@dataclass(frozen=True)
class FleetEvent:
    """The plan_fleet Lambda's event, loaded: the validated fleet request (the output of
    :func:`validate_fleet_request`) and the fleet execution's id, if the machine sent it."""

    request: dict[str, Any]
    execution_id: str | None = None
    #: The fleet execution's name: the fleet's id (results, plan, child names).
    execution_name: str | None = None
    #: The stage's fleet bucket, where the plan is written (the machine passes it).
    bucket: str | None = None


def _load(field: fields.Field, value: Any, problems: Problems, path: str) -> Any:
    try:
        return field.deserialize(value)
    except ValidationError as error:
        problems.merge(error, path)
        return None


def _tolerance(value: Any, problems: Problems) -> Any:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TARGETS:
        return value
    if (
        isinstance(value, str)
        and (m := TOLERANCE_PATTERN.match(value))
        and float(m.group(1)) <= 100
    ):
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


def _check_template(template: str, request: Mapping[str, Any], problems: Problems) -> None:
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
    request: Mapping[str, Any], allowed: tuple[str, ...], problems: Problems
) -> None:
    for key in request:
        # STARTED_BY_FIELD: how Step Functions links a fleet to the execution that started it.
        if key not in allowed and key != STARTED_BY_FIELD:
            problems.add(
                str(key),
                f"unknown field; a fleet {request.get('operation')!r} accepts: "
                + ", ".join(allowed),
            )


def _list(value: Any, path: str, problems: Problems, limit: int = MAX_TARGETS) -> list[Any]:
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


def _shared_paths(request: Mapping[str, Any], target: Mapping[str, Any]) -> set[str]:
    """The error paths of a target's request that come from the fleet's shared maps: the
    map itself when the shared one is not an object, and each shared entry the target does
    not override. Their problems are the fleet's, reported once at the top."""
    paths: set[str] = set()
    for name in _SHARED_MAPS:
        shared, own = request.get(name), target.get(name)
        if shared is not None and not isinstance(shared, Mapping):
            paths.add(name)
        elif isinstance(shared, Mapping):
            overridden = own if isinstance(own, Mapping) else {}
            paths.update(f"{name}.{segment(key)}" for key in shared if key not in overridden)
    return paths


def _create_targets(request: Mapping[str, Any], problems: Problems) -> list[dict[str, Any]]:
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
            # The target's problems under its own path; what it shares, once, at the top.
            shared = set(_SHARED_FIELDS) | _shared_paths(request, target)
            for field, messages in (error.details.get("errors") or {}).items():
                where = field if field in shared else f"{path}.{field}"
                for message in messages:
                    problems.add_once(where, message)
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


def _check_size(payload: Mapping[str, Any], problems: Problems, limit: int) -> None:
    """Refuse a request bigger than ``limit`` UTF-8 bytes (the execution input's, unless
    its targets came from a file in S3)."""
    try:
        size = json_size(payload)
    except ValueError:
        return  # not JSON data (only Python callers build it); the field checks name it
    if size > limit:
        advice = (
            "send the targets as a file (targets_location; the CLI does it for you)"
            if limit == MAX_FLEET_REQUEST_BYTES
            else "split it into smaller fleets"
        )
        problems.refuse(
            WHOLE,
            f"is {size:,} bytes as UTF-8 JSON; at most {limit:,} bytes "
            f"({limit // 1024} KiB) are accepted; {advice}",
        )


def _create_fleet(payload: Mapping[str, Any], fleet: dict[str, Any], problems: Problems) -> None:
    location = payload.get("targets_location")
    if location is None:
        fleet["targets"] = _create_targets(payload, problems)
        return
    # Read by the plan Lambda (the list is too big for the execution's input); the
    # targets are validated there, with the rest of the request, once read.
    if "targets" in payload:
        problems.add("targets_location", "give either targets or targets_location")
    if not (isinstance(location, str) and S3_URL.match(location)):
        problems.add("targets_location", "must be an S3 URL like s3://bucket/fleet.csv")
    _check_template(str(payload.get("workload_name") or ""), payload, problems)
    fleet["targets_location"] = location
    fleet["request"] = dict(payload)


def _rollout_fleet(payload: Mapping[str, Any], fleet: dict[str, Any], problems: Problems) -> None:
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
            fleet[key] = [_load(field, v, problems, f"{key}[{i}]") for i, v in enumerate(values)]


def _delete_fleet(payload: Mapping[str, Any], fleet: dict[str, Any], problems: Problems) -> None:
    ids = _list(payload.get("workload_ids"), "workload_ids", problems)
    fleet["workload_ids"] = [
        _load(UuidText(), v, problems, f"workload_ids[{i}]") for i, v in enumerate(ids)
    ]
    if len(set(fleet["workload_ids"])) != len(fleet["workload_ids"]):
        problems.add("workload_ids", "lists a workload more than once")


def _apply_key(request: Mapping[str, Any]) -> tuple[str, ...]:
    """What two requests of one apply fleet may not share: the workload they write."""
    if request["operation"] == "create":
        return ("name", request["aws_account_id"], request["aws_region"], request["workload_name"])
    return ("id", request["workload_id"])


def _apply_fleet(payload: Mapping[str, Any], fleet: dict[str, Any], problems: Problems) -> None:
    """Each target is a whole workload request, judged by the validate_input rules."""
    planned: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    for index, target in enumerate(_list(payload.get("targets"), "targets", problems)):
        path = f"targets[{index}]"
        try:
            normalised = load_workload_request(target)
        except InvalidWorkloadRequest as error:
            for field, messages in (error.details.get("errors") or {}).items():
                where = path if field == WHOLE else f"{path}.{field}"
                for message in messages:
                    problems.add(where, message)
            continue
        key = _apply_key(normalised)
        if key in seen:
            problems.add(
                path, f"writes the same workload as targets[{seen[key]}]; one request per workload"
            )
        seen[key] = index
        planned.append({"index": index, "request": normalised})
    fleet["targets"] = planned


_BY_OPERATION = {
    "create": _create_fleet,
    "rollout": _rollout_fleet,
    "delete": _delete_fleet,
    "apply": _apply_fleet,
}


def validate_fleet_request(
    payload: object, *, max_bytes: int = MAX_FLEET_REQUEST_BYTES
) -> dict[str, Any]:
    """Validate a fleet request as a whole; returns it normalised with create targets expanded.

    Raises:
        InvalidFleetRequest: every problem at once, per target as ``targets[i].field``
            (what the targets share -- catalogue ids, shared parameters and tags -- once,
            at the top); a request that is not an object, nests too deeply, is too big or
            has no valid operation is refused with that problem alone.
    """
    problems = Problems("The fleet request", InvalidFleetRequest)
    if not isinstance(payload, Mapping):
        problems.refuse(
            WHOLE, "must be a JSON object with an 'operation' of create, rollout, delete or apply"
        )
    # Depth before size: measuring the size walks the request recursively (json.dumps).
    too_deep = nesting_problem(payload, FLEET_SHAPE)
    if too_deep is not None:
        problems.refuse(*too_deep)
    _check_size(payload, problems, max_bytes)
    operation = payload.get("operation")
    if operation not in FLEET_OPERATIONS:
        problems.refuse("operation", f"is required: one of {', '.join(FLEET_OPERATIONS)}")
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
    fleet["stages"] = load_stages(payload.get("stages"), problems)
    fleet["halt_on_alarms"] = load_alarm_names(payload.get("halt_on_alarms"), problems)
    _BY_OPERATION[operation](payload, fleet, problems)
    problems.raise_if_any()
    return fleet


_EXECUTION_ID = Text(min_length=1, max_length=MAX_EXECUTION_ID_LENGTH, allow_none=True)


def load_fleet_event(event: object) -> FleetEvent:
    """The plan_fleet Lambda's event: ``{"request", "execution_id", "execution_name",
    "bucket"}`` from the fleet machine, or a bare fleet request (``chalice invoke``),
    validated.

    Raises:
        InvalidFleetRequest: the fleet request is invalid (see
            :func:`validate_fleet_request`), or one of the machine's fields is not a
            non-empty string.
    """
    problems = Problems("The plan_fleet input", InvalidFleetRequest)
    if isinstance(event, Mapping) and "request" in event and "operation" not in event:
        given = {
            name: _load(_EXECUTION_ID, event.get(name), problems, name)
            for name in ("execution_id", "execution_name", "bucket")
        }
        if not given["bucket"]:
            problems.add("bucket", "is required: the fleet machine names the stage's fleet bucket")
        problems.raise_if_any()
        return FleetEvent(validate_fleet_request(event["request"]), **given)
    fleet = validate_fleet_request(event)
    # A bare request (chalice invoke) can be judged, not planned: the plan needs a bucket.
    problems.refuse("bucket", "start fleets through the fleet state machine, which names it")
    return FleetEvent(fleet)  # pragma: no cover - refuse() raised


#: The fleet machine's events to record_fleet_target and summarise_fleet: the fields each
#: must carry (they come from the machine, never from a person; a missing one is a bug
#: of the machine, named here rather than as a KeyError deep in the code).
_MACHINE_EVENTS: dict[str, tuple[str, ...]] = {
    "record_fleet_target": ("fleet_id", "item", "status"),
    "summarise_fleet": ("plan", "map_failure"),
    "next_fleet_stage": ("plan", "stage", "map_failure"),
}


def load_machine_event(function: str, event: object) -> dict[str, Any]:
    """An event the fleet machine sends ``function``, checked for its fields.

    Raises:
        InvalidFleetRequest: the event is not an object or lacks a field.
    """
    problems = Problems(f"The {function} input", InvalidFleetRequest)
    if not isinstance(event, Mapping):
        problems.refuse(WHOLE, "must be a JSON object (the fleet machine's own event)")
    for name in _MACHINE_EVENTS[function]:
        if name not in event:
            problems.add(name, "is required (sent by the fleet machine)")
    problems.raise_if_any()
    return dict(event)
